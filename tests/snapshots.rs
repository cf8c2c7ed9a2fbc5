//! Snapshots of what the CLI prints, text and JSON, for the commands that need no service:
//! `split`, `validate`, `graph`, `launch --dry-run`, and a cluster that does not answer. Paths,
//! temporary names and timings are filtered; `cargo insta review` shows a change to accept.

mod common;

use common::flinkit_stdin;

const SCRIPT: &str = "SET 'pipeline.name' = 'orders';
CREATE TABLE orders (
  id BIGINT,
  amount DECIMAL(10, 2),
  ts TIMESTAMP(3),
  WATERMARK FOR ts AS ts - INTERVAL '5' SECOND
) WITH ('connector' = 'kafka', 'topic' = 'orders', 'properties.bootstrap.servers' = '${KAFKA}',
        'properties.sasl.jaas.config' = 'secret-jaas', 'format' = 'json', 'scan.startup.mode' = 'earliest');
CREATE TABLE totals (id BIGINT, total DECIMAL(10, 2), PRIMARY KEY (id) NOT ENFORCED)
  WITH ('connector' = 'upsert-kafka', 'topic' = 'totals', 'properties.bootstrap.servers' = 'localhost:9092',
        'key.format' = 'json', 'value.format' = 'json', 'scan.startup.mod' = 'x');
INSERT INTO totals SELECT id, SUM(amount) FROM orders GROUP BY id;
";

/// Runs `flinkit ARGS` on the script (stdin) and returns exit code, stdout and stderr.
fn run(args: &[&str]) -> String {
    let mut all = args.to_vec();
    all.extend([
        "--color",
        "never",
        "--var",
        "KAFKA=broker.internal:9093",
        "-",
    ]);
    let out = flinkit_stdin(&all, Some(SCRIPT));
    format!(
        "exit: {:?}\n--- stdout\n{}--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

macro_rules! snapshot {
    ($name:literal, $value:expr) => {
        insta::with_settings!({filters => vec![
            (r"\d+\.\d+s", "[SECS]"),
            (r"/tmp/\S+", "[TMP]"),
        ]}, {
            insta::assert_snapshot!($name, $value);
        });
    };
}

#[test]
fn split_json() {
    snapshot!("split_json", run(&["split", "--format", "json"]));
}

#[test]
fn validate_text() {
    snapshot!("validate_text", run(&["validate"]));
}

#[test]
fn validate_json() {
    snapshot!("validate_json", run(&["validate", "--format", "json"]));
}

#[test]
fn graph_text() {
    snapshot!("graph_text", run(&["graph"]));
}

#[test]
fn dry_run_text() {
    snapshot!("dry_run_text", run(&["launch", "--dry-run"]));
}

#[test]
fn dry_run_json() {
    snapshot!(
        "dry_run_json",
        run(&["launch", "--dry-run", "--format", "json"])
    );
}

#[test]
fn jobs_list_without_a_cluster() {
    let out = common::flinkit(&[
        "jobs",
        "list",
        "--format",
        "json",
        "--flink-url",
        "http://127.0.0.1:9",
    ]);
    snapshot!(
        "jobs_list_without_a_cluster",
        format!(
            "exit: {:?}\n--- stdout\n{}--- stderr\n{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    );
}
