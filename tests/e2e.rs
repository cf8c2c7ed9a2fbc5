//! End to end, against the running stack (`scripts/test.sh` starts one; Flink REST on
//! `FLINKIT_FLINK_URL`, SQL Gateway on `FLINKIT_GATEWAY_URL`, Kafka and Pulsar on the defaults):
//!
//! - every tutorial on both brokers — Kafka jobs submitted with `launch --target rest`, Pulsar
//!   jobs with `launch --target gateway` — each on topics of its own (the tutorial's SQL rewritten
//!   with a random suffix), fed with `flinkit produce`, its sink read with
//!   `flinkit consume --upsert --format json` until it is exactly the tutorial's table;
//! - `flinkit demo`, in JSON and in text;
//! - the READMEs' shell blocks marked `<!-- tested -->`, run as written, their output compared
//!   with the `<!-- output -->` block that follows them.
//!
//! The stack's TaskManager has 4 slots and is shared, so these tests take turns (a mutex) and
//! every job they start is cancelled when the test ends, passing or failing (a drop guard).
//! Outside CI, without a stack, each test says so and stops; in CI (`CI` set) that fails.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

mod common;

use common::{block_on, flink_url, root};
use flinkit::bridge::Broker;
use flinkit::demo::{self, Rewrite, Tutorial};
use flinkit::flink::JobState;
use flinkit::flink::rest::RestClient;
use flinkit::stack::{Service, Stack};
use serde_json::Value;

/// One job at a time on the shared TaskManager.
static SLOTS: Mutex<()> = Mutex::new(());

fn take_turn() -> MutexGuard<'static, ()> {
    SLOTS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn flinkit(args: &[&str]) -> Output {
    common::flinkit(args)
}

fn ok_json(args: &[&str]) -> Value {
    let out = flinkit(args);
    assert!(
        out.status.success(),
        "flinkit {}: {}{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "flinkit {}: not JSON ({e}): {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// Whether Flink, the Gateway and the broker answer; in CI they must.
fn stack_ready(broker: Option<Broker>) -> bool {
    let mut services = vec![Service::Flink, Service::Gateway];
    services.extend(broker.map(|b| match b {
        Broker::Kafka => Service::Kafka,
        Broker::Pulsar => Service::Pulsar,
        Broker::Jdbc => Service::Postgres,
    }));
    if broker.is_none() {
        services.extend([Service::Kafka, Service::Pulsar]);
    }
    let stack = Stack::from_env(None).unwrap();
    let down: Vec<String> = stack
        .status(&services)
        .into_iter()
        .filter(|s| !s.healthy)
        .map(|s| format!("{} ({})", s.service, s.reason.unwrap_or_default()))
        .collect();
    if down.is_empty() {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI runs these against the stack, and these services are down: {}",
        down.join(", ")
    );
    eprintln!(
        "skipped: {} not running; `flinkit stack up` to run these",
        down.join(", ")
    );
    false
}

/// Cancels its job when dropped, so no test leaves a job holding a slot.
struct JobGuard {
    client: RestClient,
    id: String,
}

impl JobGuard {
    fn new(id: &str) -> Self {
        Self {
            client: RestClient::new(&flink_url(), Duration::from_secs(30)),
            id: id.to_string(),
        }
    }

    fn state(&self) -> String {
        block_on(self.client.summary(&self.id))
            .unwrap()
            .map(|j| j.state.to_string())
            .unwrap_or_default()
    }
}

impl Drop for JobGuard {
    fn drop(&mut self) {
        if block_on(self.client.cancel(&self.id)).is_ok() {
            let state = block_on(self.client.wait_ended(&self.id, Duration::from_secs(30)));
            eprintln!("job {} {state:?}", self.id);
        }
    }
}

/// Reads the sink as a table until it equals `expected` (or `timeout` passes, then fails
/// showing the last table read). The sink's topic appears with the job's first write, so
/// until then `consume` may fail; that is read again too.
fn await_rows(
    sql: &str,
    table: &str,
    expected: &[flinkit::bridge::upsert::Row],
    timeout: Duration,
) -> Duration {
    let started = Instant::now();
    let expected = Value::Array(expected.iter().cloned().map(Value::Object).collect());
    let args = [
        "consume",
        "--table",
        table,
        "-f",
        sql,
        "--upsert",
        "--timeout",
        "3s",
        "--format",
        "json",
    ];
    loop {
        let out = flinkit(&args);
        let found = if out.status.success() {
            serde_json::from_slice::<Value>(&out.stdout).unwrap()["rows"].clone()
        } else {
            Value::String(String::from_utf8_lossy(&out.stderr).trim().to_string())
        };
        if found == expected {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < timeout,
            "`{table}` is not the tutorial's table after {:?}:\n  expected {expected}\n  found    {found}",
            started.elapsed(),
        );
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// Runs a tutorial through the CLI: the job first (on `target`, or `FLINKIT_E2E_TARGET`), then
/// each step's records, each followed by a check of the sink's materialized table.
fn tutorial(name: &str, broker: Broker, target: &str) {
    if !stack_ready(Some(broker)) {
        return;
    }
    // scripts/test.sh runs the Kafka tutorials on the Flink 2.x stack through each target.
    let target = std::env::var("FLINKIT_E2E_TARGET").unwrap_or_else(|_| target.to_string());
    let target = target.as_str();
    let _turn = take_turn();
    let started = Instant::now();
    let tutorial = Tutorial::named(name).unwrap();
    let suffix = format!("-e2e-{}", demo::run_id());
    let sql = demo::rewrite(
        tutorial.sql(broker).unwrap(),
        &Rewrite {
            topic_suffix: suffix.clone(),
            // The stack's broker (`FLINKIT_KAFKA_URL` when it runs on other ports).
            kafka: (broker == Broker::Kafka).then(common::kafka_url),
            ..Rewrite::default()
        },
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(format!("{name}.sql"));
    std::fs::write(&file, &sql).unwrap();
    let file = file.to_str().unwrap();
    let job_name = format!("e2e {name}{suffix}");
    let mut job: Option<JobGuard> = None;
    let mut waits = Vec::new();
    for step in &tutorial.steps {
        for feed in &step.produce {
            let records = root().join(tutorial.dir()).join(&feed.file);
            let mut args = vec![
                "produce",
                "--table",
                &feed.table,
                "-f",
                file,
                "--file",
                records.to_str().unwrap(),
                "--format",
                "json",
            ];
            if feed.envelope {
                args.push("--envelope");
            }
            let sent = ok_json(&args);
            let lines = std::fs::read_to_string(&records).unwrap().lines().count();
            assert_eq!(sent["sent"], lines, "{sent}");
            assert_eq!(sent["failed"], 0, "{sent}");
            assert!(sent["topic"].as_str().unwrap().ends_with(&suffix), "{sent}");
        }
        // The job starts once its source topics exist (a Kafka source fails on a missing one).
        let job = job.get_or_insert_with(|| {
            let launched = ok_json(&[
                "launch",
                "--target",
                target,
                "--job-name",
                &job_name,
                "-f",
                file,
                "--format",
                "json",
            ]);
            let guard = JobGuard::new(launched["job_id"].as_str().unwrap());
            assert_eq!(launched["state"], "RUNNING", "{launched}");
            assert_eq!(launched["target"], target);
            guard
        });
        let waited = await_rows(file, &tutorial.sink, &step.expect, Duration::from_secs(120));
        waits.push(format!("{:.1}s", waited.as_secs_f64()));
        assert_eq!(job.state(), "RUNNING");
    }
    drop(job);
    eprintln!(
        "e2e: {name} on {broker} via {target}: {:.1}s (tables after {})",
        started.elapsed().as_secs_f64(),
        waits.join(", ")
    );
}

#[test]
fn user_count_on_kafka_through_rest() {
    tutorial("user-count", Broker::Kafka, "rest");
}

#[test]
fn user_count_on_pulsar_through_the_gateway() {
    tutorial("user-count", Broker::Pulsar, "gateway");
}

#[test]
fn favorite_color_cheese_on_kafka_through_rest() {
    tutorial("favorite-color-cheese", Broker::Kafka, "rest");
}

/// The LEFT JOIN retracts rows, so the upsert-pulsar sink writes DELETEs: Apache's Pulsar
/// connector 4.1.0 refuses them ("Message should be provided") and the runner jar carries
/// patched classes that fix it (jars/README.md). The gateway runs the cluster's runner jar, so
/// the stack must run this build's runner (`scripts/test.sh` starts it so).
#[test]
fn favorite_color_cheese_on_pulsar_through_the_gateway() {
    tutorial("favorite-color-cheese", Broker::Pulsar, "gateway");
}

#[test]
fn user_delete_on_kafka_through_rest() {
    tutorial("user-delete", Broker::Kafka, "rest");
}

#[test]
fn user_delete_on_pulsar_through_the_gateway() {
    tutorial("user-delete", Broker::Pulsar, "gateway");
}

/// A Pulsar namespace of the test's own, taking only producers that announce the topic's
/// schema (`schemaValidationEnforced`), deleted when dropped.
struct EnforcingNamespace {
    admin: String,
    name: String,
}

impl EnforcingNamespace {
    fn new(admin: &str) -> Self {
        let name = format!("public/e2e{}", demo::run_id());
        let http = reqwest::blocking::Client::new();
        let ok = |answer: reqwest::Result<reqwest::blocking::Response>| {
            let answer = answer.unwrap();
            assert!(answer.status().is_success(), "{}", answer.text().unwrap());
        };
        ok(http
            .put(format!("{admin}/admin/v2/namespaces/{name}"))
            .send());
        ok(http
            .post(format!(
                "{admin}/admin/v2/namespaces/{name}/schemaValidationEnforced"
            ))
            .json(&true)
            .send());
        Self {
            admin: admin.to_string(),
            name,
        }
    }

    /// Registers a schema of `kind` (`AVRO`, `JSON`) for `topic` with `definition`; returns
    /// the topic's full name.
    fn topic_with_schema(&self, topic: &str, kind: &str, definition: &Value) -> String {
        let answer = reqwest::blocking::Client::new()
            .post(format!(
                "{}/admin/v2/schemas/{}/{topic}/schema",
                self.admin, self.name
            ))
            .json(&serde_json::json!({
                "type": kind, "schema": definition.to_string(), "properties": {}
            }))
            .send()
            .unwrap();
        assert!(answer.status().is_success(), "{}", answer.text().unwrap());
        format!("persistent://{}/{topic}", self.name)
    }

    /// The latest schema version of `topic` (a full name).
    fn schema_version(&self, topic: &str) -> Value {
        let path = topic.trim_start_matches("persistent://");
        let answer: Value =
            reqwest::blocking::get(format!("{}/admin/v2/schemas/{path}/schema", self.admin))
                .unwrap()
                .json()
                .unwrap();
        answer["version"].clone()
    }
}

impl Drop for EnforcingNamespace {
    fn drop(&mut self) {
        let _ = reqwest::blocking::Client::new()
            .delete(format!(
                "{}/admin/v2/namespaces/{}?force=true",
                self.admin, self.name
            ))
            .send();
    }
}

/// The values `flinkit consume --table TABLE` reads, once there are `count` of them (or the
/// timeout passes, then fails showing what was read).
fn await_values(sql: &str, table: &str, count: usize, timeout: Duration) -> Vec<Value> {
    let started = Instant::now();
    loop {
        let out = flinkit(&["consume", "--table", table, "-f", sql, "--timeout", "3s"]);
        let values: Vec<Value> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|line| serde_json::from_str::<Value>(line).unwrap()["value"].clone())
            .collect();
        if values.len() >= count {
            return values;
        }
        assert!(
            started.elapsed() < timeout,
            "`{table}` has {values:?} after {:?}: {}",
            started.elapsed(),
            String::from_utf8_lossy(&out.stderr)
        );
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// Pulsar topics with a registered AVRO or JSON schema, in a namespace that enforces schemas,
/// through a Flink job (Apache's Pulsar connector, `'format' = 'avro'` / `'json'`): flinkit
/// produces rows that announce each topic's schema, the job reads them and writes to topics
/// with schemas of their own, and `flinkit consume` shows the job's rows. Flink's sink sends
/// its records without a schema unless `'pulsar.sink.validateSinkMessageBytes' = 'true'`,
/// which the namespace would refuse, so `launch` explains that before anything runs.
#[test]
fn schema_topics_on_pulsar_through_a_flink_job() {
    if !stack_ready(Some(Broker::Pulsar)) {
        return;
    }
    let _turn = take_turn();
    let started = Instant::now();
    let stack = Stack::from_env(None).unwrap();
    let namespace = EnforcingNamespace::new(&stack.pulsar_admin());
    // What Java's Schema.AVRO / Schema.JSON register for a class { String name; int age; }.
    let record = serde_json::json!({"type": "record", "name": "User", "namespace": "e2e",
        "fields": [{"name": "name", "type": ["null", "string"], "default": null},
                   {"name": "age", "type": "int"}]});
    let topics: Vec<String> = [
        ("in-avro", "AVRO"),
        ("out-avro", "AVRO"),
        ("in-json", "JSON"),
        ("out-json", "JSON"),
    ]
    .iter()
    .map(|(topic, kind)| namespace.topic_with_schema(topic, kind, &record))
    .collect();
    let service = stack.endpoint(Service::Pulsar);
    let table = |name: &str, topic: &str, format: &str, extra: &str| {
        format!(
            "CREATE TABLE {name} (name STRING, age INT NOT NULL) WITH ('connector' = 'pulsar', \
             'topics' = '{topic}', 'service-url' = '{service}', 'format' = '{format}'{extra});\n"
        )
    };
    let validates = ", 'pulsar.sink.validateSinkMessageBytes' = 'true'";
    let job = "EXECUTE STATEMENT SET BEGIN\n\
               INSERT INTO out_avro SELECT UPPER(name), age + 1 FROM in_avro;\n\
               INSERT INTO out_json SELECT UPPER(name), age + 1 FROM in_json;\nEND;\n";
    let script = |sink_option: &str| {
        [
            table("in_avro", &topics[0], "avro", ""),
            table("out_avro", &topics[1], "avro", sink_option),
            table("in_json", &topics[2], "json", ""),
            table("out_json", &topics[3], "json", sink_option),
            job.to_string(),
        ]
        .concat()
    };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("schemas.sql");
    std::fs::write(&file, script(validates)).unwrap();
    let file = file.to_str().unwrap();
    let rows = dir.path().join("rows.jsonl");
    std::fs::write(
        &rows,
        "{\"name\":\"ann\",\"age\":30}\n{\"name\":null,\"age\":7}\n\
         {\"name\":\"Zoë \\\"q\\\"\",\"age\":2147483646}\n",
    )
    .unwrap();
    for source in ["in_avro", "in_json"] {
        let sent = ok_json(&[
            "produce",
            "--table",
            source,
            "-f",
            file,
            "--file",
            rows.to_str().unwrap(),
            "--format",
            "json",
        ]);
        assert_eq!(sent["sent"], 3, "{sent}");
    }

    // Without the sink option the broker would refuse Flink's sink: explained, nothing runs.
    let refused = dir.path().join("refused.sql");
    std::fs::write(&refused, script("")).unwrap();
    let jobs_before = job_states(&RestClient::new(&flink_url(), Duration::from_secs(30))).len();
    let out = flinkit(&[
        "launch",
        "--target",
        "gateway",
        "-f",
        refused.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("refused.sql:2: table `out_avro`")
            && err.contains("schemaValidationEnforced")
            && err.contains("'pulsar.sink.validateSinkMessageBytes' = 'true'"),
        "{err}"
    );
    // `pipeline deploy` checks each job it starts the same way (regression: only `launch` did).
    let folder = dir.path().join("pipeline");
    std::fs::create_dir(&folder).unwrap();
    std::fs::copy(&refused, folder.join("refused.sql")).unwrap();
    let out = flinkit(&[
        "pipeline",
        "deploy",
        "-f",
        folder.to_str().unwrap(),
        "--target",
        "gateway",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("refused.sql:2: table `out_avro`") && err.contains("schemaValidationEnforced"),
        "{err}"
    );
    assert_eq!(
        job_states(&RestClient::new(&flink_url(), Duration::from_secs(30))).len(),
        jobs_before
    );

    let launched = ok_json(&[
        "launch",
        "--target",
        "gateway",
        "--job-name",
        &format!("e2e schemas {}", namespace.name),
        "-f",
        file,
        "--format",
        "json",
    ]);
    let job = JobGuard::new(launched["job_id"].as_str().unwrap());
    assert_eq!(launched["state"], "RUNNING", "{launched}");
    let expected = [
        serde_json::json!({"name": "ANN", "age": 31}),
        serde_json::json!({"name": null, "age": 8}),
        serde_json::json!({"name": "ZOË \"Q\"", "age": 2147483647}),
    ];
    for sink in ["out_avro", "out_json"] {
        let values = await_values(file, sink, expected.len(), Duration::from_secs(120));
        assert_eq!(values, expected, "{sink}");
    }
    // The sink wrote with the topic's own schema: no new version was registered.
    assert_eq!(namespace.schema_version(&topics[1]), 0);
    assert_eq!(namespace.schema_version(&topics[3]), 0);
    assert_eq!(job.state(), "RUNNING");
    drop(job);
    eprintln!(
        "e2e: AVRO and JSON schema topics on pulsar via gateway: {:.1}s",
        started.elapsed().as_secs_f64()
    );
}

/// Every job of the cluster, by id.
fn job_states(client: &RestClient) -> Vec<(String, String, String)> {
    block_on(client.jobs())
        .unwrap()
        .into_iter()
        .map(|j| (j.id, j.name, j.state.to_string()))
        .collect()
}

#[test]
fn the_demo_shows_the_joined_row_and_cancels_its_job() {
    if !stack_ready(Some(Broker::Kafka)) {
        return;
    }
    let _turn = take_turn();
    let started = Instant::now();
    let report = ok_json(&[
        "demo",
        "favorite-color-cheese",
        "--broker",
        "kafka",
        "--format",
        "json",
    ]);
    let tutorial = Tutorial::named("favorite-color-cheese").unwrap();
    let expected = Value::Array(
        tutorial
            .expected()
            .iter()
            .cloned()
            .map(Value::Object)
            .collect(),
    );
    assert_eq!(report["rows"], expected, "{report}");
    assert_eq!(report["rows"][0]["cheese"], "brie");
    assert_eq!(report["table"], "user_favorite_color_and_cheese");
    assert_eq!(report["state"], "CANCELED", "{report}");
    let id = report["job_id"].as_str().unwrap();
    let client = RestClient::new(&flink_url(), Duration::from_secs(30));
    let listed = job_states(&client)
        .into_iter()
        .find(|(job, _, _)| job == id)
        .expect("the demo's job is known to the cluster");
    assert_eq!(listed.2, "CANCELED");
    let topics: Vec<&str> = report["steps"][0]["produced"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["topic"].as_str().unwrap())
        .collect();
    assert_eq!(topics.len(), 3);
    assert!(
        topics.iter().all(|t| t.contains("-demo-")),
        "fresh topics per run: {topics:?}"
    );
    eprintln!(
        "e2e: demo favorite-color-cheese --broker kafka: {:.1}s",
        started.elapsed().as_secs_f64()
    );
}

#[test]
fn the_demo_runs_a_pulsar_job_through_rest_and_prints_each_step() {
    if !stack_ready(Some(Broker::Pulsar)) {
        return;
    }
    let _turn = take_turn();
    let started = Instant::now();
    let out = flinkit(&["demo", "user-delete", "--broker", "pulsar"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "user_count_by_account after users.jsonl:\n\
         accountId | userCount\n\
         ----------+----------\n\
         100       |         2\n\
         101       |         3\n\
         (2 rows)\n\
         \n\
         user_count_by_account after delete.jsonl:\n\
         accountId | userCount\n\
         ----------+----------\n\
         100       |         2\n\
         101       |         1\n\
         (2 rows)\n"
    );
    assert!(stderr.contains("CANCELED"), "{stderr}");
    eprintln!(
        "e2e: demo user-delete --broker pulsar: {:.1}s",
        started.elapsed().as_secs_f64()
    );
}

#[test]
fn an_unknown_tutorial_is_invalid_input_naming_the_tutorials() {
    let out = flinkit(&["demo", "no-such-tutorial"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("user-count, favorite-color-cheese, user-delete"),
        "{err}"
    );
}

/// A README shell block marked for testing, and the output shown for it.
#[derive(Debug, PartialEq, Eq)]
struct Block {
    /// The 1-based line of the opening fence.
    line: usize,
    /// The commands, one per entry (continuation lines joined, comments dropped).
    commands: Vec<String>,
    /// The last command's expected standard output, when an `<!-- output -->` block follows.
    output: Option<String>,
}

/// The blocks of `markdown` marked `<!-- tested -->`: a fenced `sh` block right after the
/// marker; an `<!-- output -->` marker before the next fence makes the fenced block after it
/// the last command's expected standard output.
fn tested_blocks(markdown: &str) -> Vec<Block> {
    let lines: Vec<&str> = markdown.lines().collect();
    let fence = |from: usize| -> Option<(usize, usize)> {
        let open = (from..lines.len()).find(|&i| lines[i].trim_start().starts_with("```"))?;
        let close = (open + 1..lines.len()).find(|&i| lines[i].trim_start().starts_with("```"))?;
        Some((open, close))
    };
    let mut blocks = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if lines[i].trim() != "<!-- tested -->" {
            i += 1;
            continue;
        }
        let Some((open, close)) = fence(i + 1) else {
            panic!("line {}: <!-- tested --> without a code block", i + 1);
        };
        let mut commands: Vec<String> = Vec::new();
        let mut pending = String::new();
        for line in &lines[open + 1..close] {
            let line = line.trim();
            if pending.is_empty() && (line.is_empty() || line.starts_with('#')) {
                continue;
            }
            match line.strip_suffix('\\') {
                Some(head) => {
                    pending.push_str(head);
                    pending.push(' ');
                }
                None => {
                    pending.push_str(line);
                    commands.push(std::mem::take(&mut pending));
                }
            }
        }
        let mut output = None;
        for j in close + 1..lines.len() {
            let line = lines[j].trim();
            if line == "<!-- output -->" {
                let (o_open, o_close) = fence(j + 1).expect("an output block after the marker");
                output = Some(lines[o_open + 1..o_close].join("\n") + "\n");
                break;
            }
            if line.starts_with("```") || line == "<!-- tested -->" {
                break;
            }
        }
        blocks.push(Block {
            line: open + 1,
            commands,
            output,
        });
        i = close + 1;
    }
    blocks
}

#[test]
fn tested_blocks_are_found_with_their_output() {
    let markdown = "# T\n\n<!-- tested -->\n```sh\n# a comment\nflinkit a \\\n  --b\n\nflinkit c\n```\n\
        You will see:\n\n<!-- output -->\n```text\nrow 1\nrow 2\n```\n\n```sh\nnot tested\n```\n\
        <!-- tested -->\n```sh\nflinkit d\n```\n\n```text\nnot an output\n```\n";
    assert_eq!(
        tested_blocks(markdown),
        [
            Block {
                line: 4,
                commands: vec!["flinkit a  --b".into(), "flinkit c".into()],
                output: Some("row 1\nrow 2\n".into()),
            },
            Block {
                line: 23,
                commands: vec!["flinkit d".into()],
                output: None,
            },
        ]
    );
}

/// The Markdown files whose blocks are run: the README and the tutorials'.
fn documents() -> Vec<PathBuf> {
    let mut docs = vec![root().join("README.md"), root().join("examples/README.md")];
    let mut tutorials: Vec<PathBuf> = std::fs::read_dir(root().join("examples"))
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path().join("README.md"))
        .filter(|p| p.is_file())
        .collect();
    tutorials.sort();
    docs.extend(tutorials);
    docs.retain(|p| p.is_file());
    docs
}

/// Runs one command as the README shows it, with `flinkit` (and `cargo run --release --`)
/// being the binary under test, from the repository's root.
fn shell(bin_dir: &Path, command: &str) -> Output {
    let command = command.replace("cargo run --release --", "flinkit");
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    Command::new("bash")
        .args(["-o", "pipefail", "-c", &command])
        .env("PATH", path)
        .current_dir(root())
        .output()
        .unwrap()
}

/// Cancels the jobs a document started: RUNNING jobs that were not there before and are named
/// after a tutorial's sink (what `launch` names them) or a demo.
struct StartedJobs {
    client: RestClient,
    before: HashSet<String>,
    names: Vec<String>,
}

impl StartedJobs {
    fn new() -> Self {
        let client = RestClient::new(&flink_url(), Duration::from_secs(30));
        let before = job_states(&client)
            .into_iter()
            .map(|(id, _, _)| id)
            .collect();
        let mut names: Vec<String> = Tutorial::all()
            .unwrap()
            .into_iter()
            .map(|t| format!("flinkit: {}", t.sink))
            .collect();
        names.sort();
        names.dedup();
        Self {
            client,
            before,
            names,
        }
    }
}

impl Drop for StartedJobs {
    fn drop(&mut self) {
        let Ok(jobs) = block_on(self.client.jobs()) else {
            return;
        };
        for job in jobs {
            let ours = self.names.contains(&job.name) || job.name.starts_with("flinkit demo:");
            if job.state == JobState::Running && ours && !self.before.contains(&job.id) {
                let _ = block_on(self.client.cancel(&job.id));
                let state = block_on(self.client.wait_ended(&job.id, Duration::from_secs(30)));
                eprintln!("cancelled job {} ({}): {state:?}", job.id, job.name);
            }
        }
    }
}

#[test]
fn the_readme_commands_print_what_the_readmes_show() {
    if !stack_ready(None) {
        return;
    }
    let _turn = take_turn();
    let bin = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_flinkit"), bin.path().join("flinkit")).unwrap();
    let mut ran = 0;
    for doc in documents() {
        let blocks = tested_blocks(&std::fs::read_to_string(&doc).unwrap());
        if blocks.is_empty() {
            continue;
        }
        let _jobs = StartedJobs::new();
        let name = doc.strip_prefix(root()).unwrap().display().to_string();
        for block in blocks {
            let started = Instant::now();
            let Some((last, first)) = block.commands.split_last() else {
                continue;
            };
            for command in first {
                let out = shell(bin.path(), command);
                assert!(
                    out.status.success(),
                    "{name}:{}: `{command}` failed: {}",
                    block.line,
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            // A streaming job's results arrive within seconds: the shown output is awaited.
            loop {
                let out = shell(bin.path(), last);
                let stdout = String::from_utf8_lossy(&out.stdout).to_string();
                let matches = out.status.success()
                    && block.output.as_ref().is_none_or(|want| *want == stdout);
                if matches {
                    break;
                }
                assert!(
                    out.status.success() || block.output.is_some(),
                    "{name}:{}: `{last}` failed: {}",
                    block.line,
                    String::from_utf8_lossy(&out.stderr)
                );
                assert!(
                    started.elapsed() < Duration::from_secs(120),
                    "{name}:{}: `{last}` printed\n{stdout}\nnot what the README shows:\n{}\n(stderr: {})",
                    block.line,
                    block.output.as_deref().unwrap_or_default(),
                    String::from_utf8_lossy(&out.stderr)
                );
                std::thread::sleep(Duration::from_secs(2));
            }
            ran += 1;
            eprintln!(
                "{name}:{}: {} command(s) in {:.1}s",
                block.line,
                block.commands.len(),
                started.elapsed().as_secs_f64()
            );
        }
    }
    assert!(ran > 0, "no README block is marked <!-- tested -->");
}
