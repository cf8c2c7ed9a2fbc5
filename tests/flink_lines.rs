//! Flink lines: `--flink-version`, the line read from a cluster, and what a Flink 2.x target
//! refuses before anything is submitted (a Pulsar table, options 2.0 removed). The cluster tests
//! run against the Flink 2.x stack `scripts/test.sh` starts (`FLINKIT_FLINK2_URL`,
//! `FLINKIT_GATEWAY2_URL`); outside CI, without one, they say so and stop.

mod common;

use std::process::Output;
use std::sync::{Mutex, MutexGuard};

use common::{assert_success, json, root, unique};
use flinkit::flink::line::FlinkLine;
use flinkit::provision::Cache;
use serde_json::Value;

/// The Flink 2.x stack's REST address, when one runs (in CI it must).
fn flink2() -> Option<(String, String)> {
    let rest = std::env::var("FLINKIT_FLINK2_URL").ok();
    let gateway = std::env::var("FLINKIT_GATEWAY2_URL").ok();
    match (rest, gateway) {
        (Some(rest), Some(gateway)) => Some((rest, gateway)),
        _ => {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI runs these against a Flink 2.x stack: set FLINKIT_FLINK2_URL and FLINKIT_GATEWAY2_URL"
            );
            eprintln!(
                "no Flink 2.x stack: `flinkit stack up --flink-version 2` on other ports and set FLINKIT_FLINK2_URL and FLINKIT_GATEWAY2_URL to run these"
            );
            None
        }
    }
}

/// One cluster test at a time: one uploads the runner, another checks that nothing is uploaded.
fn take_turn() -> MutexGuard<'static, ()> {
    static TURN: Mutex<()> = Mutex::new(());
    TURN.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// flinkit against the 2.x stack.
fn flinkit2(urls: &(String, String), args: &[&str]) -> Output {
    common::flinkit_command()
        .args(args)
        .env("FLINKIT_FLINK_URL", &urls.0)
        .env("FLINKIT_GATEWAY_URL", &urls.1)
        .output()
        .unwrap()
}

fn script(dir: &std::path::Path, sql: &str) -> String {
    let path = dir.join("job.sql");
    std::fs::write(&path, sql).unwrap();
    path.to_str().unwrap().to_string()
}

const STREAM: &str = "CREATE TABLE gen (id BIGINT) WITH ('connector' = 'datagen', 'rows-per-second' = '20');\n\
CREATE TABLE sink (id BIGINT) WITH ('connector' = 'blackhole');\n\
INSERT INTO sink SELECT id FROM gen;\n";

fn pulsar_tutorial() -> String {
    root()
        .join("sql/user-count/pulsar.sql")
        .to_str()
        .unwrap()
        .to_string()
}

/// The first JSON document on stdout (a refused launch prints its findings, then the error).
fn first_json(out: &Output) -> Value {
    serde_json::Deserializer::from_slice(&out.stdout)
        .into_iter::<Value>()
        .next()
        .unwrap_or_else(|| panic!("no JSON: {}", stderr(out)))
        .unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).to_string()
}

#[test]
fn a_flink_version_flinkit_has_no_runner_for_is_refused_naming_those_it_has() {
    for flag in ["2.1", "1.19", "3"] {
        let out = common::flinkit(&[
            "launch",
            "--flink-version",
            flag,
            "--dry-run",
            "-f",
            "x.sql",
        ]);
        assert_eq!(out.status.code(), Some(2), "{flag}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("flinkit runs Flink 1.20.3 and 2.2.0"),
            "{flag}: {}",
            stderr(&out)
        );
    }
}

#[test]
fn a_pulsar_table_is_refused_on_flink_2_before_anything_starts_and_runs_on_1_20() {
    let out = common::flinkit(&[
        "launch",
        "--flink-version",
        "2",
        "--format",
        "json",
        "-f",
        &pulsar_tutorial(),
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let report = first_json(&out);
    let refusals: Vec<&Value> = report["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["code"] == "connector-not-on-line")
        .collect();
    assert!(!refusals.is_empty(), "{report}");
    for d in &refusals {
        let message = d["message"].as_str().unwrap();
        assert!(
            message.contains("no release for Flink 2.x") && message.contains("Flink 2.2.0"),
            "{message}"
        );
        assert!(
            d["suggestion"].as_str().unwrap().contains("Flink 1.20"),
            "{d}"
        );
        assert_eq!(d["option"], "connector");
    }
    assert!(
        report["diagnostics"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["code"] != "unknown-connector"),
        "one clear reason, not also an unknown connector: {report}"
    );
    let on_120 = common::flinkit(&[
        "launch",
        "--dry-run",
        "--format",
        "json",
        "-f",
        &pulsar_tutorial(),
    ]);
    assert_success(&on_120);
    assert_eq!(json(&on_120)["ok"], true);
}

#[test]
fn an_option_flink_2_removed_is_an_error_there_naming_what_replaces_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = script(
        dir.path(),
        &format!("SET 'table.exec.shuffle-mode' = 'ALL_EDGES_BLOCKING';\n{STREAM}"),
    );
    let out = common::flinkit(&[
        "launch",
        "--flink-version",
        "2.2",
        "--format",
        "json",
        "-f",
        &file,
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let report = first_json(&out);
    let d = &report["diagnostics"][0];
    assert_eq!(d["code"], "removed-option", "{report}");
    assert_eq!(d["line"], 1);
    assert_eq!(d["column"], 6);
    assert!(
        d["suggestion"]
            .as_str()
            .unwrap()
            .contains("execution.batch-shuffle-mode"),
        "{d}"
    );
    let on_120 = common::flinkit(&["launch", "--dry-run", "--format", "json", "-f", &file]);
    assert_success(&on_120);
    assert_eq!(json(&on_120)["ok"], true);
}

/// The SHA-256 of the 2.x runner jar flinkit provisions (its cached build).
fn runner_2_sha() -> String {
    let cache = Cache::from_env().unwrap().for_line(FlinkLine::V2);
    let jar = cache.runner_jar(false, &mut |_| {}).unwrap();
    cache.runner_jar_sha256(&jar).unwrap()
}

/// The names of the jars uploaded to the cluster at `url`.
fn uploaded(url: &str) -> Vec<String> {
    let jars: Value = reqwest::blocking::get(format!("{url}/jars"))
        .unwrap()
        .json()
        .unwrap();
    jars["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn rest_and_the_gateway_read_the_clusters_version_and_run_on_the_2x_runner() {
    let Some(urls) = flink2() else {
        return;
    };
    let _turn = take_turn();
    let dir = tempfile::tempdir().unwrap();
    let file = script(dir.path(), STREAM);
    for target in ["rest", "gateway"] {
        let name = unique(&format!("flink2-{target}"));
        let out = flinkit2(
            &urls,
            &[
                "launch",
                "--format",
                "json",
                "--target",
                target,
                "--job-name",
                &name,
                "-f",
                &file,
            ],
        );
        assert_success(&out);
        let report = json(&out);
        assert_eq!(report["state"], "RUNNING", "{report}");
        let id = report["job_id"].as_str().unwrap();
        let cancelled = flinkit2(&urls, &["jobs", "cancel", id, "--format", "json"]);
        assert_success(&cancelled);
    }
    let sha = runner_2_sha();
    let name = format!("flinkit-runner-{}.jar", &sha[..16]);
    assert!(
        uploaded(&urls.0).contains(&name),
        "the 2.x runner ({name}) is the jar on the 2.x cluster: {:?}",
        uploaded(&urls.0)
    );
}

#[test]
fn a_pulsar_script_is_refused_by_a_2x_cluster_before_anything_is_uploaded() {
    let Some(urls) = flink2() else {
        return;
    };
    let _turn = take_turn();
    for target in ["rest", "gateway"] {
        let before = uploaded(&urls.0);
        let out = flinkit2(
            &urls,
            &["launch", "--target", target, "-f", &pulsar_tutorial()],
        );
        assert_eq!(out.status.code(), Some(2), "{target}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("no release for Flink 2.x"),
            "{target}: {}",
            stderr(&out)
        );
        assert!(!stderr(&out).contains("ClassNotFoundException"));
        assert_eq!(uploaded(&urls.0), before, "{target}: nothing uploaded");
    }
}

#[test]
fn a_flink_version_that_disagrees_with_the_cluster_is_an_error() {
    let Some(urls) = flink2() else {
        return;
    };
    let _turn = take_turn();
    let dir = tempfile::tempdir().unwrap();
    let file = script(dir.path(), STREAM);
    let out = flinkit2(
        &urls,
        &[
            "launch",
            "--target",
            "rest",
            "--flink-version",
            "1.20",
            "-f",
            &file,
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("--flink-version 1.20, but the cluster at")
            && stderr(&out).contains("runs Flink 2.2"),
        "{}",
        stderr(&out)
    );
}
