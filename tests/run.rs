//! `flinkit run` against the stack's Flink, Kafka and Pulsar: a short run of the user-count
//! tutorial on each broker whose figures must agree with each other (rows produced = rows the
//! source operator emitted; records read from the sink = records the sink operator received;
//! latency above zero and below the run's length), its HTML report rendered by a real headless
//! Chromium with its charts drawn, the Pulsar run's topics gone afterwards (asked of Pulsar's
//! admin API, `FLINKIT_PULSAR_ADMIN_URL`), a job that fails mid-run still reported (exit 1), and
//! sources flinkit cannot feed refused before anything starts (exit 2).

mod common;

use std::path::Path;
use std::process::Command;
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

use common::{flink_url, flinkit, gateway_url, json, kafka_url};
use serde_json::Value;

/// One run at a time on the stack's shared TaskManager (its four slots), so that a run's figures
/// and its time to RUNNING are its own.
static SLOTS: Mutex<()> = Mutex::new(());

fn take_turn() -> MutexGuard<'static, ()> {
    SLOTS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn run_args<'a>(kafka: &'a str, flink: &'a str, report: &'a str) -> Vec<&'a str> {
    vec![
        "run",
        "-f",
        "sql/user-count/kafka.sql",
        "--target",
        "rest",
        "--flink-url",
        flink,
        "--kafka",
        kafka,
        "--duration",
        "8s",
        "--rate",
        "40",
        "--report",
        report,
        "--format",
        "json",
    ]
}

/// The DOM of `page` after headless Chromium loaded it.
fn rendered_dom(page: &Path) -> String {
    let out = Command::new("chromium")
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--dump-dom"])
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("chromium is installed (apt-get install chromium; .ci/run does)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The polylines' point counts of the chart titled `title` in a rendered DOM.
fn chart_points(dom: &str, title: &str) -> Vec<usize> {
    let start = dom
        .find(&format!("aria-label=\"{title}\""))
        .unwrap_or_else(|| panic!("no chart {title:?} in the page"));
    let chart = &dom[start..start + dom[start..].find("</svg>").unwrap()];
    chart
        .split("<polyline")
        .skip(1)
        .map(|p| {
            let points = p.split("points=\"").nth(1).unwrap();
            points[..points.find('"').unwrap()]
                .split_whitespace()
                .count()
        })
        .collect()
}

/// Checks that a user-count run's figures agree with each other, in a run of `length_ms`.
fn assert_figures_agree(doc: &Value, length_ms: f64) {
    let produced = doc["produced"]["users"].as_u64().unwrap();
    assert!(produced >= 100, "8 s at 40/s produced {produced}");
    let last = doc["samples"].as_array().unwrap().last().unwrap();
    assert_eq!(last["source_records"], produced, "{doc}");
    let source = last["vertices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"].as_str().unwrap().starts_with("Source: users"))
        .unwrap();
    assert_eq!(source["records_out"], produced);
    let consumed = doc["consumed"]["user_count_by_account"].as_u64().unwrap();
    assert!(consumed > 0);
    assert_eq!(last["sink_records"], consumed, "{doc}");
    assert_eq!(doc["lag"].as_array().unwrap().last().unwrap()["records"], 0);

    let latency = &doc["latency_ms"];
    for p in ["p50", "p95", "p99"] {
        let ms = latency[p].as_f64().unwrap();
        assert!(
            ms > 0.0 && ms < length_ms,
            "{p} {ms} ms in a run of {length_ms} ms"
        );
    }
    assert!(latency["p50"].as_f64() <= latency["p99"].as_f64());
    assert!(doc["throughput"]["in_per_s"].as_f64().unwrap() > 0.0);
    assert_eq!(doc["job"]["state"], "CANCELED");
    assert_eq!(doc["failure"], Value::Null);
    assert_eq!(doc["sinks"][0]["match_columns"][0], "accountId");
}

#[test]
fn a_run_of_user_count_has_figures_that_agree_and_a_report_chromium_draws() {
    let _turn = take_turn();
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("run.html");
    let (kafka, flink) = (kafka_url(), flink_url());
    let started = Instant::now();
    let out = flinkit(&run_args(&kafka, &flink, report.to_str().unwrap()));
    let length_ms = started.elapsed().as_millis() as f64;
    common::assert_success(&out);
    let doc = json(&out);
    assert_figures_agree(&doc, length_ms);

    let dom = rendered_dom(&report);
    assert_eq!(dom.matches("<svg class=\"chart\"").count(), 6, "{dom}");
    for title in ["Throughput", "End-to-end latency", "Source lag"] {
        let lines = chart_points(&dom, title);
        assert!(
            lines.iter().any(|n| *n >= 3),
            "{title}: lines of {lines:?} points"
        );
    }
    assert!(
        dom.contains("class=\"node source\""),
        "the job graph is drawn"
    );
    assert!(dom.contains("user-count.users-run-"));
}

/// The Pulsar tutorial runs through the same loop: launched through the SQL Gateway, as
/// tests/e2e.rs launches Pulsar jobs (the gateway runs the cluster's runner jar); its Pulsar
/// broker is `FLINKIT_PULSAR_URL`, inherited by the run.
#[test]
fn a_run_of_user_count_on_pulsar_has_figures_that_agree_and_deletes_its_topics() {
    let _turn = take_turn();
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("pulsar.html");
    let (flink, gateway) = (flink_url(), gateway_url());
    let started = Instant::now();
    let out = flinkit(&[
        "run",
        "-f",
        "sql/user-count/pulsar.sql",
        "--target",
        "gateway",
        "--gateway-url",
        &gateway,
        "--flink-url",
        &flink,
        "--duration",
        "8s",
        "--rate",
        "40",
        "--report",
        report.to_str().unwrap(),
        "--format",
        "json",
    ]);
    let length_ms = started.elapsed().as_millis() as f64;
    common::assert_success(&out);
    let doc = json(&out);
    assert_figures_agree(&doc, length_ms);

    let suffix = doc["config"]["topic_suffix"].as_str().unwrap();
    assert_eq!(
        doc["sources"][0]["topic"],
        format!("persistent://public/default/user-count.users{suffix}")
    );
    let admin = std::env::var("FLINKIT_PULSAR_ADMIN_URL")
        .unwrap_or_else(|_| "http://localhost:8080".into());
    let topics: Vec<String> =
        reqwest::blocking::get(format!("{admin}/admin/v2/persistent/public/default"))
            .unwrap()
            .error_for_status()
            .unwrap()
            .json()
            .unwrap();
    let left: Vec<&String> = topics.iter().filter(|t| t.contains(suffix)).collect();
    assert!(
        left.is_empty(),
        "the run's topics are still there: {left:?}"
    );
    let dom = rendered_dom(&report);
    assert!(
        chart_points(&dom, "End-to-end latency")
            .iter()
            .any(|n| *n >= 3)
    );
}

#[test]
fn a_job_that_fails_mid_run_is_reported_with_its_failure_and_exit_1() {
    let _turn = take_turn();
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("failed.html");
    let (kafka, flink) = (kafka_url(), flink_url());
    let mut args = run_args(&kafka, &flink, report.to_str().unwrap());
    // Every accountId null: the sink's NOT NULL primary key fails the job.
    args.extend(["--null-ratio", "1"]);
    let out = flinkit(&args);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    let doc = json(&out);
    let failure = doc["failure"].as_str().unwrap();
    assert!(
        failure.contains("FAILED") && failure.contains("accountId"),
        "{failure}"
    );
    let page = std::fs::read_to_string(&report).unwrap();
    assert!(page.contains("The run failed"));
}

#[test]
fn sources_flinkit_cannot_feed_are_refused_before_anything_starts() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "CREATE TABLE g (x INT) WITH ('connector' = 'datagen');
             CREATE TABLE o (x INT) WITH ('connector' = 'kafka', 'topic' = 'o', 'format' = 'json',
               'properties.bootstrap.servers' = 'localhost:1');
             INSERT INTO o SELECT x FROM g;",
            "table `g`: its connector is 'datagen'",
        ),
        (
            "CREATE TABLE s (k STRING, d INTERVAL DAY) WITH ('connector' = 'kafka', 'topic' = 's',
               'format' = 'json', 'properties.bootstrap.servers' = 'localhost:1');
             CREATE TABLE o (k STRING) WITH ('connector' = 'kafka', 'topic' = 'o',
               'format' = 'json', 'properties.bootstrap.servers' = 'localhost:1');
             INSERT INTO o SELECT k FROM s;",
            "table `s`, column `d`: flinkit cannot generate values of type INTERVAL",
        ),
    ];
    for (i, (sql, expected)) in cases.iter().enumerate() {
        let path = dir.path().join(format!("{i}.sql"));
        std::fs::write(&path, sql).unwrap();
        let out = flinkit(&["run", "-f", path.to_str().unwrap(), "--target", "rest"]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains(expected), "{stderr}");
        assert!(!stderr.contains("created topics"), "{stderr}");
    }
    let out = flinkit(&[
        "run",
        "-f",
        "sql/user-count/kafka.sql",
        "--rows",
        "user_count_by_account=x.jsonl",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("it is not a source table of the script (its sources: users)")
    );
}

#[test]
fn keep_leaves_the_job_running_and_jobs_watch_samples_it() {
    let _turn = take_turn();
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("kept.html");
    let (kafka, flink) = (kafka_url(), flink_url());
    let mut args = run_args(&kafka, &flink, report.to_str().unwrap());
    args[10] = "3s";
    args.push("--keep");
    let out = flinkit(&args);
    common::assert_success(&out);
    let doc = json(&out);
    let id = doc["job"]["id"].as_str().unwrap().to_string();
    assert_eq!(doc["job"]["state"], "RUNNING");
    let produced = doc["produced"]["users"].as_u64().unwrap();

    let out = flinkit(&[
        "jobs",
        "watch",
        &id,
        "--flink-url",
        &flink,
        "--every",
        "1s",
        "--count",
        "2",
        "--format",
        "json",
    ]);
    common::assert_success(&out);
    let samples: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(samples.len(), 2);
    assert!(samples[1]["at_ms"].as_u64() > samples[0]["at_ms"].as_u64());
    assert_eq!(samples[1]["state"], "RUNNING");
    assert_eq!(samples[1]["source_records"], produced);

    let out = flinkit(&["jobs", "cancel", &id, "--flink-url", &flink]);
    common::assert_success(&out);
}
