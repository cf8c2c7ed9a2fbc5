//! `flinkit pipeline` against the local stack's Flink: a three-level folder (two datagen
//! sources, an intermediate in files, a fact) deployed, redeployed unchanged, evolved
//! (a stateless change upgrades from a savepoint, a stateful one restarts) and undeployed. Every
//! job a test starts is cancelled when it ends, also when it fails.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{flink_url, flinkit_command, json, unique};
use flinkit::flink::JobState;
use flinkit::flink::rest::RestClient;
use serde_json::Value;

/// Cancels every live job whose name starts with `prefix` when dropped.
struct CancelJobs {
    prefix: String,
}

impl Drop for CancelJobs {
    fn drop(&mut self) {
        let prefix = self.prefix.clone();
        let _ = std::thread::spawn(move || {
            common::block_on(async {
                let rest = RestClient::new(&flink_url(), Duration::from_secs(10));
                for job in rest.jobs().await.unwrap_or_default() {
                    if job.name.starts_with(&prefix) && !job.state.is_terminal() {
                        let _ = rest.cancel(&job.id).await;
                    }
                }
            })
        })
        .join();
    }
}

/// A checkpoint a second: the file sink of `mid` commits its files on checkpoints, and only
/// then does the fact read them.
const CHECKPOINTS: &str = "SET 'execution.checkpointing.interval' = '1 s';\n";

/// A three-level folder: sources `a` and `b`, the intermediate `mid` (files the fact watches),
/// the fact `fact` (a count per key, so stateful).
struct Folder {
    dir: tempfile::TempDir,
    suffix: String,
}

impl Folder {
    fn new() -> Self {
        let suffix = unique("p").replace('-', "_");
        let folder = Self {
            dir: tempfile::tempdir().unwrap(),
            suffix,
        };
        let s = &folder.suffix;
        for source in ["a", "b"] {
            folder.write(
                &format!("sources/{source}.sql"),
                &format!(
                    "CREATE TABLE {source}_{s} (k STRING) WITH ('connector' = 'datagen', \
                     'rows-per-second' = '2', 'fields.k.length' = '1');"
                ),
            );
        }
        let data = folder.dir.path().join("data").display().to_string();
        folder.write(
            &format!("intermediates/mid/ddl.mid_{s}.sql"),
            &format!(
                "CREATE TABLE mid_{s} (k STRING) WITH ('connector' = 'filesystem', \
                 'path' = 'file://{data}/${{ENV}}-mid', 'format' = 'json', \
                 'source.monitor-interval' = '1s', 'sink.rolling-policy.rollover-interval' = '1s', \
                 'sink.rolling-policy.check-interval' = '1s');"
            ),
        );
        folder.write(
            &format!("intermediates/mid/dml.mid_{s}.sql"),
            &format!(
                "{CHECKPOINTS}INSERT INTO mid_{s} SELECT k FROM a_{s} UNION ALL SELECT k FROM b_{s};"
            ),
        );
        folder.write(
            &format!("facts/fact/ddl.fact_{s}.sql"),
            &format!(
                "CREATE TABLE fact_{s} (k STRING, n BIGINT) WITH ('connector' = 'blackhole');"
            ),
        );
        folder.write(
            &format!("facts/fact/dml.fact_{s}.sql"),
            &format!(
                "SET 'execution.checkpointing.interval' = '1 s';\n\
                 INSERT INTO fact_{s} SELECT k, COUNT(*) FROM mid_{s} GROUP BY k;"
            ),
        );
        folder
    }

    fn write(&self, path: &str, sql: &str) {
        let path = self.dir.path().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, sql).unwrap();
    }

    fn table(&self, name: &str) -> String {
        format!("{name}_{}", self.suffix)
    }
}

/// Runs `flinkit pipeline ARGS -f DIR --env ENV --format json` with its own state directory.
fn pipeline(folder: &Folder, state: &Path, env: &str, args: &[&str]) -> std::process::Output {
    flinkit_command()
        .arg("pipeline")
        .args(args)
        .arg("-f")
        .arg(folder.dir.path())
        .args([
            "--env",
            env,
            "--format",
            "json",
            "--flink-url",
            &flink_url(),
        ])
        .env("FLINKIT_STATE_DIR", state)
        .output()
        .unwrap()
}

/// Each job's table and action, in the order printed.
fn actions(doc: &Value) -> Vec<(String, String)> {
    doc["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| {
            (
                j["table"].as_str().unwrap().to_string(),
                j["action"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// One lifecycle at a time: each keeps two of the shared cluster's slots busy.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn a_pipeline_deploys_stays_evolves_and_undeploys_through_rest() {
    lifecycle("rest");
}

#[test]
fn a_pipeline_deploys_stays_evolves_and_undeploys_through_the_gateway() {
    lifecycle("gateway");
}

/// Deploy → all started; redeploy → all unchanged; a stateless change → upgraded; a stateful
/// change → restarted; status; undeploy → stopped, children first.
fn lifecycle(target: &str) {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let folder = Folder::new();
    let env = format!("t{}", &folder.suffix[2..]);
    let state = tempfile::tempdir().unwrap();
    let _guard = CancelJobs {
        prefix: format!("{env}."),
    };
    let (mid, fact) = (folder.table("mid"), folder.table("fact"));
    let run = |args: &[&str]| {
        let args = [args, &["--target", target]].concat();
        let out = pipeline(&folder, state.path(), &env, &args);
        assert!(
            out.status.success(),
            "{args:?}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        json(&out)
    };
    let pair = |m: &str, f: &str| vec![(mid.clone(), m.to_string()), (fact.clone(), f.to_string())];

    let first = run(&["deploy", "--parallelism", "1"]);
    assert_eq!(actions(&first), pair("started", "started"));
    for job in first["jobs"].as_array().unwrap() {
        assert_eq!(job["state"], "RUNNING", "{first}");
        assert!(
            job["name"]
                .as_str()
                .unwrap()
                .starts_with(&format!("{env}."))
        );
    }

    let plan = run(&["deploy", "--dry-run"]);
    let planned: Vec<&str> = plan["plan"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["action"].as_str().unwrap())
        .collect();
    assert_eq!(planned, ["stay", "stay"], "{plan}");

    let again = run(&["deploy", "--parallelism", "1"]);
    assert_eq!(actions(&again), pair("unchanged", "unchanged"));
    assert_eq!(again["jobs"][0]["job_id"], first["jobs"][0]["job_id"]);

    // A stateless change: the intermediate resumes from a savepoint; its stateful child stays.
    folder.write(
        &format!("intermediates/mid/dml.mid_{}.sql", folder.suffix),
        &format!(
            "{CHECKPOINTS}INSERT INTO {mid} SELECT UPPER(k) FROM {a} UNION ALL SELECT k FROM {b};",
            a = folder.table("a"),
            b = folder.table("b")
        ),
    );
    let upgraded = run(&["deploy", "--parallelism", "1"]);
    assert_eq!(actions(&upgraded), pair("upgraded", "unchanged"));
    let mid_id = upgraded["jobs"][0]["job_id"].clone();
    assert_ne!(mid_id, first["jobs"][0]["job_id"]);

    // A stateful change: the fact restarts with fresh state.
    let fact_dml = format!("facts/fact/dml.fact_{}.sql", folder.suffix);
    let fact_sql = |select: &str| {
        format!(
            "SET 'execution.checkpointing.interval' = '1 s';\n\
             INSERT INTO {fact} SELECT k, {select} FROM {mid} WHERE k <> 'x' GROUP BY k;"
        )
    };
    folder.write(&fact_dml, &fact_sql("COUNT(*)"));
    let restarted = run(&["deploy", "--parallelism", "1"]);
    assert_eq!(actions(&restarted), pair("unchanged", "restarted"));

    // Status: the upgraded job resumed from its savepoint; records flow; the fact checkpoints.
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        let status = run(&["status"]);
        let row = |name: &str| {
            status["tables"]
                .as_array()
                .unwrap()
                .iter()
                .find(|t| t["name"] == name)
                .unwrap()
                .clone()
        };
        let flowing = row(&mid)["records_out"].as_u64().unwrap_or(0) > 0
            && row(&fact)["records_in"].as_u64().unwrap_or(0) > 0;
        if flowing && row(&fact)["last_checkpoint"]["id"].as_u64().is_some() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "no records or checkpoint: {status}"
        );
        std::thread::sleep(Duration::from_secs(2));
    };
    let tables = status["tables"].as_array().unwrap();
    let row = |name: &str| tables.iter().find(|t| t["name"] == name).unwrap().clone();
    assert_eq!(row(&mid)["state"], "RUNNING", "{status}");
    assert_eq!(row(&mid)["job_id"], mid_id);
    assert_eq!(row(&mid)["job"], format!("{env}.{mid}"));
    assert_eq!(row(&mid)["restored_from"]["is_savepoint"], true, "{status}");
    assert_eq!(row(&fact)["restored_from"], Value::Null, "{status}");
    assert_eq!(
        row(&mid)["parents"],
        serde_json::json!([folder.table("a"), folder.table("b")])
    );
    assert_eq!(row(&mid)["children"], serde_json::json!([fact.clone()]));
    assert_eq!(row(&folder.table("a"))["job_id"], Value::Null);
    let tree = flinkit_command()
        .args(["pipeline", "status", "-f"])
        .arg(folder.dir.path())
        .args(["--env", &env, "--flink-url", &flink_url()])
        .env("FLINKIT_STATE_DIR", state.path())
        .output()
        .unwrap();
    let tree = String::from_utf8(tree.stdout).unwrap();
    assert!(
        tree.contains(&format!("└─ {mid}  {env}.{mid}  RUNNING"))
            && tree.contains(&format!("   └─ {fact}  {env}.{fact}  RUNNING"))
            && tree.contains(&format!("└─ {mid}  (↑ shown above)")),
        "{tree}"
    );

    // --keep-state: a change Flink can map (a filter's constant) resumes the stateful fact from
    // a savepoint, its state kept.
    folder.write(&fact_dml, &fact_sql("COUNT(*)").replace("'x'", "'y'"));
    let kept = run(&["deploy", "--parallelism", "1", "--keep-state"]);
    assert_eq!(actions(&kept), pair("unchanged", "upgraded"));
    // Named tables select the rows; a name that is not a table of the folder is refused.
    let one = run(&["status", &fact]);
    let names: Vec<&Value> = one["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| &t["name"])
        .collect();
    assert_eq!(names, [&Value::from(fact.clone())], "{one}");
    let unknown = flinkit_command()
        .args(["pipeline", "status", "nosuch", "--format", "json", "-f"])
        .arg(folder.dir.path())
        .args(["--env", &env, "--flink-url", &flink_url()])
        .env("FLINKIT_STATE_DIR", state.path())
        .output()
        .unwrap();
    assert_eq!(unknown.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&unknown.stdout).contains("nosuch is not a table of the folder")
    );
    let kept_status = run(&["status"]);
    let fact_row = kept_status["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == fact.as_str())
        .unwrap()
        .clone();
    assert_eq!(
        fact_row["restored_from"]["is_savepoint"], true,
        "{kept_status}"
    );

    // A change Flink cannot map (another aggregate): refused, said so, nothing restarted
    // silently; the savepoint is kept for the next --keep-state deploy.
    folder.write(&fact_dml, &fact_sql("COUNT(*) + SUM(CHAR_LENGTH(k))"));
    let refused = pipeline(
        &folder,
        state.path(),
        &env,
        &[
            "deploy",
            "--parallelism",
            "1",
            "--keep-state",
            "--target",
            target,
        ],
    );
    assert_eq!(
        refused.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    let error = json(&refused)["error"].clone();
    let message = error["message"].as_str().unwrap();
    assert!(
        message.contains(&format!(
            "Flink refused to resume {fact} from its savepoint"
        )),
        "{error}"
    );
    assert!(
        error["help"]
            .as_str()
            .unwrap()
            .contains("without --keep-state"),
        "{error}"
    );
    assert_eq!(
        error["running"],
        serde_json::json!([mid.clone()]),
        "{error}"
    );
    assert_eq!(
        error["not_deployed"],
        serde_json::json!([fact.clone()]),
        "{error}"
    );
    let plan = run(&["deploy", "--dry-run", "--keep-state"]);
    assert_eq!(plan["plan"][1]["action"], "upgrade", "{plan}");
    assert!(
        plan["plan"][1]["savepoint"]
            .as_str()
            .unwrap()
            .contains("savepoint-"),
        "{plan}"
    );
    // Without the flag, the fact starts with fresh state.
    let fresh = run(&["deploy", "--parallelism", "1"]);
    assert_eq!(actions(&fresh), pair("unchanged", "started"));

    let stopped = run(&["undeploy"]);
    assert_eq!(
        actions(&stopped),
        vec![
            (fact.clone(), "stopped".into()),
            (mid.clone(), "stopped".into())
        ]
    );
    for job in stopped["jobs"].as_array().unwrap() {
        assert_eq!(job["state"], "CANCELED", "{stopped}");
    }
    let after = run(&["status"]);
    assert!(
        after["tables"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["job_id"].is_null())
    );
    // No job of the pipeline failed on the way (an upgrade that could not restore would).
    let failed: Vec<String> = common::block_on(async {
        let rest = RestClient::new(&flink_url(), Duration::from_secs(10));
        rest.jobs().await.unwrap()
    })
    .into_iter()
    .filter(|j| j.name.starts_with(&format!("{env}.")) && j.state == JobState::Failed)
    .map(|j| format!("{} {}", j.id, j.name))
    .collect();
    assert!(failed.is_empty(), "failed jobs: {failed:?}");
}

#[test]
fn bad_folders_and_unknown_tables_exit_2_before_anything_runs() {
    let folder = Folder::new();
    let state = tempfile::tempdir().unwrap();
    let out = pipeline(&folder, state.path(), "bad", &["deploy", "no_such_table"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = json(&out);
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no_such_table"),
        "{err}"
    );

    let s = &folder.suffix;
    folder.write(
        "loop.sql",
        &format!("INSERT INTO a_{s} SELECT k FROM fact_{s};"),
    );
    let out = pipeline(&folder, state.path(), "bad", &["deploy"]);
    assert_eq!(out.status.code(), Some(2));
    let message = json(&out)["error"]["message"].as_str().unwrap().to_string();
    assert!(
        message.contains("cycle") && message.contains(&format!("mid_{s}")),
        "{message}"
    );
}

#[test]
fn the_example_folder_plans_what_its_readmes_show() {
    let out = flinkit_command()
        .args([
            "pipeline",
            "deploy",
            "-f",
            "examples/pipeline",
            "--env",
            "dev",
            "--var",
            "KAFKA=localhost:9092",
            "--dry-run",
            "--flink-url",
            &flink_url(),
        ])
        .output()
        .unwrap();
    common::assert_success(&out);
    let printed = String::from_utf8(out.stdout).unwrap();
    for readme in ["README.md", "examples/pipeline/README.md"] {
        let text = std::fs::read_to_string(common::root().join(readme)).unwrap();
        assert!(
            text.contains(&printed),
            "{readme} does not show what the dry run prints:\n{printed}"
        );
    }
}

#[test]
fn a_deploy_that_fails_half_way_says_what_runs_and_a_second_one_finishes() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let folder = Folder::new();
    let env = format!("h{}", &folder.suffix[2..]);
    let state = tempfile::tempdir().unwrap();
    let _guard = CancelJobs {
        prefix: format!("{env}."),
    };
    let (mid, fact) = (folder.table("mid"), folder.table("fact"));
    let fact_dml = format!("facts/fact/dml.fact_{}.sql", folder.suffix);
    let deploy = || {
        pipeline(
            &folder,
            state.path(),
            &env,
            &["deploy", "--parallelism", "1"],
        )
    };
    let refused = |out: &std::process::Output, needle: &str| {
        assert_eq!(
            out.status.code(),
            Some(2),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let error = json(out)["error"].clone();
        assert!(
            error["message"].as_str().unwrap().contains(needle),
            "{error}"
        );
        assert!(
            error["message"]
                .as_str()
                .unwrap()
                .contains(&format!("running now: {mid}; not deployed: {fact}")),
            "{error}"
        );
        assert_eq!(
            error["running"],
            serde_json::json!([mid.clone()]),
            "{error}"
        );
        assert_eq!(
            error["not_deployed"],
            serde_json::json!([fact.clone()]),
            "{error}"
        );
    };

    // The fact's SQL fails planning: the intermediate runs, the fact is not deployed.
    folder.write(
        &fact_dml,
        &format!("INSERT INTO {fact} SELECT k, COUNT(no_such_column) FROM {mid} GROUP BY k;"),
    );
    refused(&deploy(), "no_such_column");

    // Fixed: the second deploy leaves the intermediate alone and finishes the fact.
    folder.write(
        &fact_dml,
        &format!("INSERT INTO {fact} SELECT k, COUNT(*) FROM {mid} GROUP BY k;"),
    );
    let out = deploy();
    common::assert_success(&out);
    let done = json(&out);
    assert_eq!(
        actions(&done),
        vec![
            (mid.clone(), "unchanged".to_string()),
            (fact.clone(), "started".to_string())
        ]
    );
    assert_eq!(done["jobs"][1]["state"], "RUNNING", "{done}");
    common::assert_success(&pipeline(&folder, state.path(), &env, &["undeploy"]));
}

#[test]
fn a_confluent_folder_gets_its_report_though_it_cannot_be_deployed() {
    let dir = "tests/fixtures/pipeline/confluent";
    let report = |format: &str| {
        let out = common::flinkit(&[
            "pipeline",
            "report",
            "int_enriched_orders",
            "-f",
            dir,
            "--format",
            format,
        ]);
        common::assert_success(&out);
        out
    };
    let doc = json(&report("json"));
    assert_eq!(doc["table"], "int_enriched_orders");
    assert_eq!(
        doc["ancestors"],
        serde_json::json!(["customers_raw", "src_customers", "orders_raw", "src_orders"])
    );
    assert_eq!(
        doc["descendants"],
        serde_json::json!(["fct_big_orders", "fct_revenue_by_country"])
    );
    let layers: Vec<(String, u64)> = doc["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["name"].as_str().unwrap().to_string(),
                n["layer"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(layers.len(), 7);
    assert!(
        layers.contains(&("int_enriched_orders".into(), 2)),
        "{layers:?}"
    );
    assert!(
        layers.contains(&("fct_revenue_by_country".into(), 3)),
        "{layers:?}"
    );
    let table = doc["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["name"] == "int_enriched_orders")
        .unwrap()
        .clone();
    assert_eq!(table["connector"], Value::Null);
    assert_eq!(table["stateful"], "JOIN");
    assert!(
        table["dml"]["file"]
            .as_str()
            .unwrap()
            .ends_with("dml.int_enriched_orders.sql")
    );
    assert_eq!(doc["edges"].as_array().unwrap().len(), 6);

    let html = String::from_utf8(report("html").stdout).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains("<svg"));
    for node in layers.iter().map(|(n, _)| n) {
        assert!(html.contains(&format!("<title>{node}</title>")), "{node}");
    }
    for fetch in ["src=", "href=", "@import", "url(http", "<script", "<link"] {
        assert!(!html.contains(fetch), "the page fetches something: {fetch}");
    }
    let mermaid = String::from_utf8(report("mermaid").stdout).unwrap();
    assert!(mermaid.starts_with("flowchart LR\n"), "{mermaid}");
    assert_eq!(mermaid.matches(" --> ").count(), 6, "{mermaid}");

    // Deploying it is refused, with the table to blame, before any cluster is asked.
    let out = common::flinkit(&[
        "pipeline",
        "deploy",
        "-f",
        dir,
        "--dry-run",
        "--format",
        "json",
        "--flink-url",
        "http://localhost:1",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let message = json(&out)["error"]["message"].as_str().unwrap().to_string();
    assert!(
        message.contains("has no CREATE TABLE anywhere in the folder"),
        "{message}"
    );
}
