//! The `avro-confluent` format against the stack's Kafka and Schema Registry: Confluent's own
//! Python client (confluent-kafka with fastavro, which this project did not write) reads what
//! flinkit wrote and flinkit reads what that client wrote, both through the registry; a real
//! Flink job reads and writes the same format (user-count in Avro, end to end); and the bad
//! inputs: a registry that does not answer, a row the schema cannot hold.
//!
//! Needs Kafka and the Schema Registry (`flinkit stack up`), and for the interoperability
//! tests a Python with `confluent-kafka[avro,schemaregistry]` (`FLINKIT_PYTHON`, else
//! `python3`; `.ci/run` makes a venv). Outside CI a missing piece skips the test, saying why.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{assert_success, flink_url, flinkit, json, kafka_url, root, unique};
use flinkit::demo::{self, Rewrite};
use flinkit::stack::{Service, Stack};
use serde_json::{Value, json};

/// The registry's Confluent-compatible API as tables name it (`FLINKIT_SCHEMA_REGISTRY_URL`,
/// else the stack's default).
fn registry_url() -> String {
    std::env::var("FLINKIT_SCHEMA_REGISTRY_URL")
        .unwrap_or_else(|_| "http://localhost:8085/apis/ccompat/v7".into())
}

/// Whether `services` answer; in CI they must.
fn ready(services: &[Service]) -> bool {
    let stack = Stack::from_env(None).unwrap();
    let down: Vec<String> = stack
        .status(services)
        .into_iter()
        .filter(|s| !s.healthy)
        .map(|s| format!("{} ({})", s.service, s.reason.unwrap_or_default()))
        .collect();
    skip_unless(down.is_empty(), &format!("{} not running", down.join(", ")))
}

fn skip_unless(ok: bool, why: &str) -> bool {
    if !ok {
        assert!(std::env::var_os("CI").is_none(), "CI needs it: {why}");
        eprintln!("skipped: {why}");
    }
    ok
}

/// The Python that has Confluent's client, if any.
fn python() -> Option<String> {
    let python = std::env::var("FLINKIT_PYTHON").unwrap_or_else(|_| "python3".into());
    let found = Command::new(&python)
        .args([
            "-c",
            "import confluent_kafka.schema_registry.avro, fastavro",
        ])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    skip_unless(
        found,
        &format!("{python} has no confluent-kafka[avro,schemaregistry] (set FLINKIT_PYTHON)"),
    )
    .then_some(python)
}

/// A table of account counts on `topic`, key and value in `avro-confluent` at `registry`.
fn table_sql(topic: &str, registry: &str) -> String {
    format!(
        "CREATE TABLE counts (accountId STRING, userCount BIGINT, price DECIMAL(10, 2), \
         seen TIMESTAMP(3), PRIMARY KEY (accountId) NOT ENFORCED) WITH ( \
         'connector' = 'upsert-kafka', 'topic' = '{topic}', \
         'properties.bootstrap.servers' = '{kafka}', \
         'key.format' = 'avro-confluent', 'key.avro-confluent.url' = '{registry}', \
         'value.format' = 'avro-confluent', 'value.avro-confluent.url' = '{registry}')",
        kafka = kafka_url()
    )
}

fn write_temp(dir: &tempfile::TempDir, name: &str, text: &str) -> String {
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

fn confluent_client(python: &str, args: &[&str], stdin: Option<&str>) -> String {
    let script = root().join("tests/fixtures/avro/confluent_client.py");
    let mut command = Command::new(python);
    command.arg(script).args(args);
    let out = common::output_with_stdin(command, stdin);
    assert!(
        out.status.success(),
        "confluent_client.py {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn confluents_client_reads_what_flinkit_wrote_through_the_registry() {
    if !ready(&[Service::Kafka, Service::SchemaRegistry]) {
        return;
    }
    let Some(python) = python() else { return };
    let topic = unique("avro-to-python");
    let dir = tempfile::tempdir().unwrap();
    let sql = write_temp(&dir, "t.sql", &table_sql(&topic, &registry_url()));
    let rows = write_temp(
        &dir,
        "rows.jsonl",
        "{\"accountId\":\"a\",\"userCount\":9007199254740993,\"price\":12345678.91,\"seen\":\"2024-02-29 23:59:58.123\"}\n\
         {\"accountId\":\"b\",\"userCount\":null}\n",
    );
    let out = flinkit(&[
        "produce", "--table", "counts", "-f", &sql, "--file", &rows, "--format", "json",
    ]);
    assert_success(&out);
    assert_eq!(json(&out)["sent"], 2);
    let read = confluent_client(
        &python,
        &["read", &kafka_url(), &registry_url(), &topic, "2"],
        None,
    );
    let lines: Vec<Value> = read
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        lines,
        [
            json!({"key": {"accountId": "a"}, "value": {"accountId": "a",
                "userCount": 9007199254740993_i64, "price": "12345678.91",
                "seen": "2024-02-29T23:59:58.123000+00:00"}}),
            json!({"key": {"accountId": "b"}, "value": {"accountId": "b", "userCount": null,
                "price": null, "seen": null}}),
        ]
    );
}

#[test]
fn flinkit_reads_what_confluents_client_wrote_with_its_own_schema() {
    if !ready(&[Service::Kafka, Service::SchemaRegistry]) {
        return;
    }
    let Some(python) = python() else { return };
    let topic = unique("python-to-avro");
    confluent_client(
        &python,
        &["write", &kafka_url(), &registry_url(), &topic],
        Some(
            "{\"accountId\":\"x\",\"userCount\":7,\"price\":12.34}\n\
             {\"accountId\":\"y\",\"userCount\":null}\n\
             {\"accountId\":\"x\",\"userCount\":8,\"price\":0.05}\n",
        ),
    );
    let dir = tempfile::tempdir().unwrap();
    let sql = write_temp(&dir, "t.sql", &table_sql(&topic, &registry_url()));
    let out = flinkit(&[
        "consume",
        "--table",
        "counts",
        "-f",
        &sql,
        "--timeout",
        "3s",
        "--upsert",
        "--format",
        "json",
    ]);
    assert_success(&out);
    assert_eq!(
        json(&out),
        json!({"rows": [
            {"accountId": "x", "userCount": 8, "price": 0.05, "seen": null},
            {"accountId": "y", "userCount": null, "price": null, "seen": null},
        ]})
    );
}

/// Records Confluent's client wrote with Avro types Flink maps to its own
/// (`AvroSchemaConverter.convertToDataType`, Flink 1.20's default legacy timestamp mapping):
/// `enum` → STRING, `fixed` → VARBINARY(size), `decimal` on `fixed` → DECIMAL,
/// `timestamp-micros` → TIMESTAMP(6), `local-timestamp-millis`/`-micros` → BIGINT, and unions
/// of `null` with one type, in either order, → that type, nullable. `consume --upsert` shows
/// them as Flink reads them, with the table as written and with the table giving that schema
/// in `'value.avro-confluent.schema'`, which Flink needs to read an enum (FLINK-24544); writing
/// with that option is refused, saying why.
#[test]
fn flinkit_reads_the_avro_types_flink_maps_from_confluents_client() {
    if !ready(&[Service::Kafka, Service::SchemaRegistry]) {
        return;
    }
    let Some(python) = python() else { return };
    let topic = unique("python-types");
    let schema = confluent_client(
        &python,
        &["types", &kafka_url(), &registry_url(), &topic],
        None,
    );
    let table = |own_schema: &str| {
        format!(
            "CREATE TABLE readings (id STRING NOT NULL, status STRING NOT NULL, \
             digest VARBINARY(4) NOT NULL, amount DECIMAL(9, 2) NOT NULL, \
             at_us TIMESTAMP(6) NOT NULL, local_ms BIGINT NOT NULL, local_us BIGINT NOT NULL, \
             note STRING, mode STRING, PRIMARY KEY (id) NOT ENFORCED) WITH ( \
             'connector' = 'upsert-kafka', 'topic' = '{topic}', \
             'properties.bootstrap.servers' = '{kafka}', 'key.format' = 'raw', \
             'value.format' = 'avro-confluent', 'value.avro-confluent.url' = '{registry}'{own_schema})",
            kafka = kafka_url(),
            registry = registry_url(),
        )
    };
    let expected = json!({"rows": [
        {"id": "r1", "status": "ON", "digest": "AAH+/w==", "amount": 1234567.89,
         "at_us": "2024-02-29 23:59:58.123456", "local_ms": 1_704_164_645_678_i64,
         "local_us": 1_704_164_645_678_901_i64, "note": "x", "mode": "B"},
        {"id": "r2", "status": "OFF", "digest": "YWJjZA==", "amount": -0.05,
         "at_us": "1970-01-01 00:00:00.000001", "local_ms": -1,
         "local_us": 946_684_800_000_000_i64, "note": null, "mode": null},
    ]});
    let dir = tempfile::tempdir().unwrap();
    let own = format!(", 'value.avro-confluent.schema' = '{}'", schema.trim());
    for (name, sql) in [("plain.sql", table("")), ("own.sql", table(&own))] {
        let sql = write_temp(&dir, name, &sql);
        let out = flinkit(&[
            "consume",
            "--table",
            "readings",
            "-f",
            &sql,
            "--timeout",
            "3s",
            "--upsert",
            "--format",
            "json",
        ]);
        assert_success(&out);
        assert_eq!(json(&out), expected, "{name}");
    }
    let out = flinkit(&[
        "produce",
        "--table",
        "readings",
        "-f",
        &dir.path().join("own.sql").display().to_string(),
        "--value",
        "{\"id\":\"r3\",\"status\":\"ON\"}",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("'value.avro-confluent.schema' is set"),
        "{stderr}"
    );
}

#[test]
fn a_registry_that_does_not_answer_is_a_runtime_failure_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let sql = write_temp(
        &dir,
        "t.sql",
        &table_sql("never-written", "http://127.0.0.1:9/apis/ccompat/v7"),
    );
    for args in [
        vec![
            "produce",
            "--table",
            "counts",
            "-f",
            &sql,
            "--value",
            "{\"accountId\":\"a\"}",
        ],
        vec![
            "consume",
            "--table",
            "counts",
            "-f",
            &sql,
            "--timeout",
            "1s",
        ],
    ] {
        let out = flinkit(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(
            stderr
                .contains("schema registry at http://127.0.0.1:9/apis/ccompat/v7 does not answer"),
            "{stderr}"
        );
    }
}

#[test]
fn a_row_the_schema_cannot_hold_is_refused_before_anything_is_sent() {
    if !ready(&[Service::Kafka, Service::SchemaRegistry]) {
        return;
    }
    let topic = unique("avro-refused");
    let dir = tempfile::tempdir().unwrap();
    let sql = write_temp(&dir, "t.sql", &table_sql(&topic, &registry_url()));
    let rows = write_temp(
        &dir,
        "rows.jsonl",
        "{\"accountId\":\"a\",\"userCount\":1}\n{\"accountId\":\"b\",\"price\":123456789.5}\n",
    );
    let out = flinkit(&["produce", "--table", "counts", "-f", &sql, "--file", &rows]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("rows.jsonl:2") && stderr.contains("price"),
        "located, naming the field: {stderr}"
    );
    let out = flinkit(&[
        "consume",
        "--table",
        "counts",
        "-f",
        &sql,
        "--timeout",
        "2s",
        "--format",
        "json",
    ]);
    // Nothing was sent: the topic was never even created (or, auto-created, holds nothing).
    let read = String::from_utf8_lossy(&out.stdout);
    assert!(
        read.is_empty() || read.contains("does not exist"),
        "nothing was sent: {read}"
    );
}

/// The user-count tutorial with every key and value in `avro-confluent`: flinkit produces the
/// users, a Flink job (submitted over REST; the runner bundles Flink's Avro formats) counts
/// them per account into an Avro sink, and `consume --upsert` reads the counts back.
#[test]
fn user_count_in_avro_through_a_flink_job() {
    if !ready(&[Service::Kafka, Service::SchemaRegistry, Service::Flink]) {
        return;
    }
    let suffix = format!("-{}", unique("avro"));
    let sql = std::fs::read_to_string(root().join("sql/user-count/kafka-avro.sql")).unwrap();
    let sql = demo::rewrite(
        &sql,
        &Rewrite {
            topic_suffix: suffix,
            kafka: Some(kafka_url()),
            ..Rewrite::default()
        },
    )
    .unwrap()
    .replace("http://localhost:8085/apis/ccompat/v7", &registry_url());
    let dir = tempfile::tempdir().unwrap();
    let file = write_temp(&dir, "user-count.sql", &sql);
    let users = root().join("sql/user-count/users.jsonl");
    let out = flinkit(&[
        "produce",
        "--table",
        "users",
        "-f",
        &file,
        "--file",
        users.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_success(&out);
    assert_eq!(json(&out)["sent"], 5);
    let out = flinkit(&[
        "launch",
        "--target",
        "rest",
        "--flink-url",
        &flink_url(),
        "--detach",
        "-f",
        &file,
        "--format",
        "json",
    ]);
    assert_success(&out);
    let job = json(&out)["job_id"].as_str().unwrap().to_string();
    let expected = json!([
        {"accountId": "100", "userCount": 2},
        {"accountId": "101", "userCount": 2},
    ]);
    let started = Instant::now();
    let found = loop {
        let out = flinkit(&[
            "consume",
            "--table",
            "user_count_by_account",
            "-f",
            &file,
            "--upsert",
            "--timeout",
            "3s",
            "--format",
            "json",
        ]);
        let found = if out.status.success() {
            json(&out)["rows"].clone()
        } else {
            Value::String(String::from_utf8_lossy(&out.stderr).into_owned())
        };
        if found == expected || started.elapsed() > Duration::from_secs(120) {
            break found;
        }
        std::thread::sleep(Duration::from_secs(1));
    };
    let cancel = flinkit(&["jobs", "cancel", &job, "--flink-url", &flink_url()]);
    assert_eq!(found, expected);
    assert_success(&cancel);
}
