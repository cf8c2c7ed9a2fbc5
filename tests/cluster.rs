//! Launching on a running cluster — the stack `scripts/test.sh` starts (Flink REST on
//! `FLINKIT_FLINK_URL`, SQL Gateway on `FLINKIT_GATEWAY_URL`, defaults 8081/8083): the same script
//! through the REST API and the SQL Gateway, `jobs list`/`status`/`cancel`, stop with a savepoint
//! and `--replace`, a runtime failure's exception, located SQL errors, and an unreachable URL.
//! Outside CI, without a cluster, the tests say so and stop.

mod common;

use std::process::Output;
use std::time::{Duration, Instant};

use common::{flink_url, json, unique};
use serde_json::Value;

fn flinkit(args: &[&str]) -> Output {
    common::flinkit_command()
        .args(args)
        .env("FLINKIT_FLINK_URL", flink_url())
        .env("FLINKIT_GATEWAY_URL", common::gateway_url())
        .output()
        .unwrap()
}

/// Whether a cluster answers; in CI it must.
fn cluster_up() -> bool {
    let out = flinkit(&["jobs", "list", "--format", "json"]);
    if out.status.success() {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI runs these against the stack: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!(
        "no Flink cluster at {}; run `flinkit stack up` to run these",
        flink_url()
    );
    false
}

fn script(dir: &std::path::Path, name: &str, sql: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, sql).unwrap();
    path.to_str().unwrap().to_string()
}

const STREAM: &str = "CREATE TABLE gen (id BIGINT) WITH ('connector' = 'datagen', 'rows-per-second' = '20');\n\
CREATE TABLE sink (id BIGINT) WITH ('connector' = 'blackhole');\n\
INSERT INTO sink SELECT id FROM gen;\n";

fn launch(file: &str, target: &str, name: &str, extra: &[&str]) -> Value {
    let mut args = vec![
        "launch",
        "--format",
        "json",
        "--target",
        target,
        "--job-name",
        name,
        "-f",
        file,
    ];
    args.extend(extra);
    let out = flinkit(&args);
    common::assert_success(&out);
    json(&out)
}

/// Cancels a job when dropped, so a test that fails leaves no job holding a task slot.
struct CancelOnDrop(String);

impl CancelOnDrop {
    fn of(report: &Value) -> Self {
        Self(report["job_id"].as_str().unwrap_or_default().to_string())
    }
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if !self.0.is_empty() && state_of(&self.0) == "RUNNING" {
            cancel(&self.0);
        }
    }
}

fn state_of(id: &str) -> String {
    let out = flinkit(&["jobs", "status", id, "--format", "json"]);
    json(&out)["state"].as_str().unwrap_or_default().to_string()
}

fn cancel(id: &str) {
    let out = flinkit(&["jobs", "cancel", id, "--format", "json"]);
    common::assert_success(&out);
}

#[test]
fn the_same_script_runs_through_rest_and_the_gateway() {
    if !cluster_up() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = script(dir.path(), "stream.sql", STREAM);
    let via_rest = launch(&file, "rest", &unique("cluster-rest"), &[]);
    let _rest = CancelOnDrop::of(&via_rest);
    let via_gateway = launch(&file, "gateway", &unique("cluster-gateway"), &[]);
    let _gateway = CancelOnDrop::of(&via_gateway);
    for report in [&via_rest, &via_gateway] {
        assert_eq!(report["state"], "RUNNING", "{report}");
    }
    let list = json(&flinkit(&["jobs", "list", "--format", "json"]));
    for report in [&via_rest, &via_gateway] {
        let listed = list["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|j| j["id"] == report["job_id"])
            .unwrap_or_else(|| panic!("{report} not in {list}"));
        assert_eq!(listed["state"], "RUNNING");
        assert_eq!(listed["name"], report["name"]);
        assert!(listed["start_time"].as_i64().unwrap() > 0);
    }
    let id = via_rest["job_id"].as_str().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let status = json(&flinkit(&["jobs", "status", id, "--format", "json"]));
        let vertices = status["vertices"].as_array().unwrap();
        assert_eq!(vertices.len(), 2, "{status}");
        // Flink's metric snapshot is not atomic across tasks: the sink may count records
        // before the source's count shows them, so both are waited for.
        if vertices[1]["records_in"].as_u64().unwrap() > 0
            && vertices[0]["records_out"].as_u64().unwrap() > 0
        {
            break;
        }
        assert!(Instant::now() < deadline, "no records counted: {status}");
        std::thread::sleep(Duration::from_secs(1));
    }
    for report in [&via_rest, &via_gateway] {
        let id = report["job_id"].as_str().unwrap();
        cancel(id);
        assert_eq!(state_of(id), "CANCELED");
    }
}

#[test]
fn stop_with_a_savepoint_then_replace_and_resume() {
    if !cluster_up() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let savepoints = format!("file://{}", dir.path().join("savepoints").display());
    let file = script(dir.path(), "stream.sql", STREAM);
    let name = unique("cluster-replace");
    let first = launch(&file, "rest", &name, &[]);
    let _first = CancelOnDrop::of(&first);
    let replaced = launch(
        &file,
        "rest",
        &name,
        &["--replace", "--savepoint-dir", &savepoints],
    );
    let _replaced = CancelOnDrop::of(&replaced);
    let savepoint = replaced["restored_from"]
        .as_str()
        .expect("restored from a savepoint");
    assert!(savepoint.contains("savepoint-"), "{replaced}");
    assert_eq!(state_of(first["job_id"].as_str().unwrap()), "FINISHED");
    let id = replaced["job_id"].as_str().unwrap();
    let out = flinkit(&[
        "jobs",
        "stop",
        id,
        "--savepoint-dir",
        &savepoints,
        "--format",
        "json",
    ]);
    common::assert_success(&out);
    let stopped = json(&out)["savepoint"].as_str().unwrap().to_string();
    let resumed = launch(
        &file,
        "gateway",
        &unique("cluster-resumed"),
        &["--from-savepoint", &stopped],
    );
    let _resumed = CancelOnDrop::of(&resumed);
    assert_eq!(resumed["state"], "RUNNING");
    cancel(resumed["job_id"].as_str().unwrap());
}

/// Regression: through the SQL Gateway, `--allow-non-restored-state` was ignored (it was sent
/// under the deprecated `execution.savepoint.ignore-unclaimed-state`, which the session's
/// default of `execution.state-recovery.ignore-unclaimed-state` overrides).
#[test]
fn a_savepoint_with_state_the_new_script_lacks_restores_with_allow_non_restored_state_on_both_targets()
 {
    if !cluster_up() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let savepoints = format!("file://{}", dir.path().join("savepoints").display());
    let counting = script(
        dir.path(),
        "count.sql",
        "CREATE TABLE gen (k INT) WITH ('connector' = 'datagen', 'rows-per-second' = '20', \
         'fields.k.min' = '1', 'fields.k.max' = '5');\n\
         CREATE TABLE counts (k INT, n BIGINT) WITH ('connector' = 'blackhole');\n\
         INSERT INTO counts SELECT k, COUNT(*) FROM gen GROUP BY k;\n",
    );
    let first = launch(&counting, "rest", &unique("cluster-unmapped"), &[]);
    let _first = CancelOnDrop::of(&first);
    let out = flinkit(&[
        "jobs",
        "stop",
        first["job_id"].as_str().unwrap(),
        "--savepoint-dir",
        &savepoints,
        "--format",
        "json",
    ]);
    common::assert_success(&out);
    let savepoint = json(&out)["savepoint"].as_str().unwrap().to_string();
    let plain = script(dir.path(), "stream.sql", STREAM);
    for target in ["rest", "gateway"] {
        let name = unique(&format!("cluster-unmapped-{target}"));
        let refused = flinkit(&[
            "launch",
            "--target",
            target,
            "--job-name",
            &name,
            "--from-savepoint",
            &savepoint,
            "-f",
            &plain,
        ]);
        let err = String::from_utf8_lossy(&refused.stderr);
        assert_eq!(refused.status.code(), Some(2), "{target}: {err}");
        assert!(err.contains("allowNonRestoredState"), "{target}: {err}");
        let resumed = launch(
            &plain,
            target,
            &name,
            &["--from-savepoint", &savepoint, "--allow-non-restored-state"],
        );
        let _resumed = CancelOnDrop::of(&resumed);
        assert_eq!(resumed["state"], "RUNNING", "{target}: {resumed}");
        let id = resumed["job_id"].as_str().unwrap();
        let restored = common::block_on(async {
            flinkit::flink::rest::RestClient::new(&flink_url(), Duration::from_secs(10))
                .checkpoints(id)
                .await
                .unwrap()
                .restored
        });
        let restored = restored.unwrap_or_else(|| panic!("{target}: not restored"));
        assert!(restored.is_savepoint, "{target}: {restored:?}");
        assert!(
            restored
                .path
                .as_deref()
                .is_some_and(|p| savepoint.ends_with(p.trim_start_matches("file:"))),
            "{target}: restored {restored:?}, savepoint {savepoint}"
        );
        cancel(id);
    }
}

#[test]
fn a_runtime_failure_reports_its_exception() {
    if !cluster_up() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = script(
        dir.path(),
        "fail.sql",
        "CREATE TABLE gen (id INT) WITH ('connector' = 'datagen', 'rows-per-second' = '5');\n\
         CREATE TABLE sink (id INT) WITH ('connector' = 'blackhole');\n\
         INSERT INTO sink SELECT 10 / (id - id) FROM gen;\n",
    );
    let report = launch(&file, "rest", &unique("cluster-fail"), &["--detach"]);
    let id = report["job_id"].as_str().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while state_of(id) != "FAILED" {
        assert!(Instant::now() < deadline, "the job never failed");
        std::thread::sleep(Duration::from_millis(500));
    }
    let out = flinkit(&["jobs", "exceptions", id, "--format", "json"]);
    let cause = json(&out)["root_cause"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(cause.contains("by zero"), "{cause}");
    assert!(!cause.contains("\tat "), "no stack trace: {cause}");
}

#[test]
fn sql_errors_are_located_on_both_targets() {
    if !cluster_up() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = script(
        dir.path(),
        "bad.sql",
        "CREATE TABLE gen (id BIGINT) WITH ('connector' = 'datagen');\n\
         CREATE TABLE sink (id BIGINT) WITH ('connector' = 'blackhole');\n\
         INSERT INTO sink SELECT nope FROM gen;\n",
    );
    for target in ["rest", "gateway"] {
        let out = flinkit(&["launch", "--target", target, "-f", &file]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{target}: {err}");
        assert!(
            err.contains("statement 2") && err.contains("bad.sql:3:1"),
            "{target}: {err}"
        );
        assert!(err.contains("nope"), "{target}: {err}");
        assert!(!err.contains("\tat "), "{target}: {err}");
        // JSON: the same place as fields, like a syntax error's.
        let out = flinkit(&[
            "launch", "--target", target, "-f", &file, "--format", "json",
        ]);
        assert_eq!(out.status.code(), Some(2), "{target}");
        let error = &json(&out)["error"];
        assert_eq!(
            (&error["statement"], &error["line"], &error["column"]),
            (&Value::from(2), &Value::from(3), &Value::from(1)),
            "{target}: {error}"
        );
        assert!(
            error["source"].as_str().unwrap().ends_with("bad.sql"),
            "{error}"
        );
    }
}

#[test]
fn jobs_watch_samples_a_job_that_just_started() {
    if !cluster_up() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = script(dir.path(), "stream.sql", STREAM);
    // A datagen source reports its busy time as "NaN" for its first seconds; the samples
    // say 0 ms/s for it instead of failing.
    let report = launch(&file, "rest", &unique("watch-new"), &[]);
    let _cancel = CancelOnDrop::of(&report);
    let id = report["job_id"].as_str().unwrap();
    let out = flinkit(&[
        "jobs", "watch", id, "--every", "1s", "--count", "3", "--format", "json",
    ]);
    common::assert_success(&out);
    let samples: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(samples.len(), 3);
    for sample in &samples {
        for vertex in sample["vertices"].as_array().unwrap() {
            assert!(vertex["busy_ms_per_s"].as_f64().is_some(), "{sample}");
        }
    }
}

#[test]
fn an_unreachable_cluster_fails_fast_and_says_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let file = script(dir.path(), "stream.sql", STREAM);
    for (target, flag) in [("rest", "--flink-url"), ("gateway", "--gateway-url")] {
        let started = Instant::now();
        let out = flinkit(&[
            "launch",
            "--target",
            target,
            flag,
            "http://127.0.0.1:9",
            "-f",
            &file,
        ]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(err.contains("http://127.0.0.1:9"), "names the URL: {err}");
        assert!(err.contains("flinkit stack up"), "{err}");
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "fast: {:?}",
            started.elapsed()
        );
    }
}

#[test]
fn ctrl_c_before_a_cluster_job_runs_cancels_it_on_both_targets() {
    use std::io::BufRead as _;
    if !cluster_up() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = script(dir.path(), "stream.sql", STREAM);
    for (target, submitting) in [
        ("rest", "submitting to"),
        ("gateway", "through the SQL Gateway"),
    ] {
        let name = unique("ctrl-c-submitting");
        let mut child = common::flinkit_command()
            .args(["launch", "--format", "json", "--target", target])
            .args(["--job-name", &name, "-f", &file])
            .env("FLINKIT_FLINK_URL", flink_url())
            .env("FLINKIT_GATEWAY_URL", common::gateway_url())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = std::io::BufReader::new(child.stderr.take().unwrap());
        let mut seen = String::new();
        for line in stderr.lines() {
            let line = line.unwrap();
            seen.push_str(&line);
            seen.push('\n');
            if line.contains(submitting) {
                break;
            }
        }
        // Ctrl-C while the script is being submitted (the SQL is planned on the cluster,
        // which takes far longer than this signal): the job it makes is cancelled.
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(child.id() as i32),
            nix::sys::signal::Signal::SIGINT,
        )
        .unwrap();
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(130), "{target}: {seen}");
        let report = json(&out);
        assert_eq!(
            (&report["name"], &report["state"]),
            (&Value::from(name.clone()), &Value::from("CANCELED")),
            "{target}: {report}"
        );
        assert_eq!(state_of(report["job_id"].as_str().unwrap()), "CANCELED");
    }
}
