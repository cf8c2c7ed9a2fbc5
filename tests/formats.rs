//! The bridge's `csv` and `debezium-json` formats through real Flink jobs on the stack (Flink
//! REST on `FLINKIT_FLINK_URL`, Kafka on `FLINKIT_KAFKA_URL`), with clients flinkit did not
//! write reading what it wrote: `kcat` takes the raw records off Kafka, Python's `csv` and
//! `json` modules parse them. Bad input — a wrong field count, an unknown `op`, a wrong
//! before-image, hostile bytes — exits 2 naming the file and line.
//!
//! Each test uses topics of its own; jobs take turns on the shared TaskManager and are
//! cancelled when the test ends. Without a stack each test says so and stops (in CI it fails).

use std::process::{Command, Output};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

mod common;

use common::{assert_success, block_on, flink_url, json, kafka_url, root, unique};
use flinkit::demo::{Rewrite, rewrite};
use flinkit::flink::rest::RestClient;
use serde_json::{Value, json};

static SLOTS: Mutex<()> = Mutex::new(());

fn take_turn() -> MutexGuard<'static, ()> {
    SLOTS.lock().unwrap_or_else(|p| p.into_inner())
}

/// Whether Flink and Kafka answer (and `kcat` is there); in CI they must.
fn ready() -> bool {
    let flink = block_on(RestClient::new(&flink_url(), Duration::from_secs(5)).version()).is_ok();
    let kafka = Command::new("kcat")
        .args(["-b", &kafka_url(), "-L", "-m", "5"])
        .output()
        .is_ok_and(|o| o.status.success());
    if flink && kafka {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI runs these against the stack with kcat installed (Flink answers: {flink}, Kafka \
         through kcat: {kafka})"
    );
    eprintln!("skipped: Flink or Kafka (through kcat) not there; `flinkit stack up` first");
    false
}

/// Cancels its job when dropped.
struct JobGuard(String);

impl Drop for JobGuard {
    fn drop(&mut self) {
        let client = RestClient::new(&flink_url(), Duration::from_secs(30));
        if block_on(client.cancel(&self.0)).is_ok() {
            let _ = block_on(client.wait_ended(&self.0, Duration::from_secs(30)));
        }
    }
}

fn launch(sql: &str) -> JobGuard {
    let out = common::flinkit(&["launch", "--target", "rest", "-f", sql, "--format", "json"]);
    assert_success(&out);
    let launched = json(&out);
    assert_eq!(launched["state"], "RUNNING", "{launched}");
    JobGuard(launched["job_id"].as_str().unwrap().to_string())
}

/// A tutorial-style script with its topics suffixed and Kafka pointed at the stack's: the
/// file's path, and the suffix.
fn script(sql: &str, dir: &std::path::Path, name: &str) -> (String, String) {
    let suffix = format!("-{}", unique("formats"));
    let sql = rewrite(
        sql,
        &Rewrite {
            topic_suffix: suffix.clone(),
            kafka: Some(kafka_url()),
            pulsar: None,
        },
    )
    .unwrap();
    let path = dir.join(name);
    std::fs::write(&path, sql).unwrap();
    (path.to_str().unwrap().to_string(), suffix)
}

/// The rows of `consume --table T --upsert` (or the records' values without `upsert`) once
/// they equal `expected`, failing after two minutes with what was read last.
fn await_rows(sql: &str, table: &str, upsert: bool, expected: &Value) {
    let started = Instant::now();
    loop {
        let mut args = vec!["consume", "--table", table, "-f", sql, "--timeout", "3s"];
        if upsert {
            args.extend(["--upsert", "--format", "json"]);
        }
        let out = common::flinkit(&args);
        let found = if !out.status.success() {
            Value::String(String::from_utf8_lossy(&out.stderr).into_owned())
        } else if upsert {
            json(&out)["rows"].clone()
        } else {
            Value::Array(
                String::from_utf8_lossy(&out.stdout)
                    .lines()
                    .map(|l| serde_json::from_str::<Value>(l).unwrap()["value"].clone())
                    .collect(),
            )
        };
        if &found == expected {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "`{table}` after {:?}:\n  expected {expected}\n  found    {found}",
            started.elapsed()
        );
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// The record values of a topic as `kcat` reads them, one per line.
fn kcat_values(topic: &str) -> String {
    let out = Command::new("kcat")
        .args([
            "-b",
            &kafka_url(),
            "-C",
            "-t",
            topic,
            "-e",
            "-q",
            "-f",
            "%s\\n",
        ])
        .output()
        .unwrap();
    assert_success(&out);
    String::from_utf8(out.stdout).unwrap()
}

/// Runs Python 3 with `program`, `input` on its stdin, and returns its stdout as JSON.
fn python(program: &str, input: &str) -> Value {
    use std::io::Write as _;
    let mut child = Command::new("python3")
        .args(["-c", program])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out: Output = child.wait_with_output().unwrap();
    assert_success(&out);
    serde_json::from_slice(&out.stdout).unwrap()
}

const CSV_SQL: &str = "\
CREATE TABLE orders_csv (id INT, customer STRING, amount DECIMAL(10, 2), tags ARRAY<STRING>,
  ts TIMESTAMP(3), ok BOOLEAN
) WITH ('connector' = 'kafka', 'topic' = 'formats.orders_csv',
  'properties.bootstrap.servers' = 'localhost:9092', 'scan.startup.mode' = 'earliest-offset',
  'format' = 'csv', 'csv.field-delimiter' = '|', 'csv.null-literal' = 'NULL');
CREATE TABLE doubled (id INT, customer STRING, amount DECIMAL(10, 2), tags ARRAY<STRING>,
  ts TIMESTAMP(3), ok BOOLEAN
) WITH ('connector' = 'kafka', 'topic' = 'formats.doubled',
  'properties.bootstrap.servers' = 'localhost:9092', 'format' = 'csv',
  'csv.null-literal' = '-', 'csv.array-element-delimiter' = '/');
CREATE TABLE per_customer (customer STRING, orders BIGINT, PRIMARY KEY (customer) NOT ENFORCED
) WITH ('connector' = 'upsert-kafka', 'topic' = 'formats.per_customer',
  'properties.bootstrap.servers' = 'localhost:9092', 'key.format' = 'csv',
  'value.format' = 'csv', 'value.csv.field-delimiter' = ';');
EXECUTE STATEMENT SET BEGIN
INSERT INTO doubled SELECT id, customer, amount * 2, tags, ts, ok FROM orders_csv;
INSERT INTO per_customer SELECT customer, COUNT(*) FROM orders_csv WHERE customer IS NOT NULL
  GROUP BY customer;
END;
";

#[test]
fn csv_round_trips_through_a_flink_job_and_python_reads_what_flinkit_wrote() {
    if !ready() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (sql, suffix) = script(CSV_SQL, dir.path(), "csv.sql");
    // JSON rows and csv lines (in the table's own dialect) alike.
    let rows = dir.path().join("rows.txt");
    std::fs::write(
        &rows,
        "{\"id\":1,\"customer\":\"Ann, \\\"the\\\" first\",\"amount\":12.50,\"tags\":[\"a b\",\"c\"],\
         \"ts\":\"2024-05-01 10:00:00.123\",\"ok\":true}\n\
         2|Bob|3|x;y|2024-05-01 11:00:00|false\n\
         {\"id\":3,\"customer\":null,\"amount\":null,\"tags\":[],\"ts\":null,\"ok\":null}\n",
    )
    .unwrap();
    let out = common::flinkit(&[
        "produce",
        "--table",
        "orders_csv",
        "-f",
        &sql,
        "--file",
        rows.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_success(&out);
    assert_eq!(json(&out)["sent"], 3);

    // What flinkit wrote, read by kcat and parsed by Python's csv module in the table's dialect.
    let written = kcat_values(&format!("formats.orders_csv{suffix}"));
    let parsed = python(
        "import csv, json, sys; print(json.dumps(list(csv.reader(sys.stdin, delimiter='|'))))",
        &written,
    );
    assert_eq!(
        parsed,
        json!([
            [
                "1",
                "Ann, \"the\" first",
                "12.5",
                "a b;c",
                "2024-05-01 10:00:00.123",
                "true"
            ],
            ["2", "Bob", "3", "x;y", "2024-05-01 11:00:00", "false"],
            ["3", "NULL", "NULL", "", "NULL", "NULL"]
        ])
    );

    // Flink reads flinkit's csv and writes its own (other options); flinkit reads Flink's.
    let _turn = take_turn();
    let _job = launch(&sql);
    await_rows(
        &sql,
        "doubled",
        false,
        &json!([
            {"id": 1, "customer": "Ann, \"the\" first", "amount": 25, "tags": ["a b", "c"],
             "ts": "2024-05-01 10:00:00.123", "ok": true},
            {"id": 2, "customer": "Bob", "amount": 6, "tags": ["x", "y"],
             "ts": "2024-05-01 11:00:00", "ok": false},
            {"id": 3, "customer": null, "amount": null, "tags": [], "ts": null, "ok": null}
        ]),
    );
    // A csv key and a csv value with options of its own, written by Flink, read as a table.
    await_rows(
        &sql,
        "per_customer",
        true,
        &json!([
            {"customer": "Ann, \"the\" first", "orders": 1},
            {"customer": "Bob", "orders": 1}
        ]),
    );
    let flinks = kcat_values(&format!("formats.doubled{suffix}"));
    assert_eq!(
        flinks,
        "1,\"Ann, \"\"the\"\" first\",25,\"a b/c\",\"2024-05-01 10:00:00.123\",true\n\
         2,Bob,6,x/y,\"2024-05-01 11:00:00\",false\n\
         3,-,-,,-,-\n"
    );
}

#[test]
fn a_debezium_changelog_feeds_an_aggregation() {
    if !ready() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let tutorial = root().join("sql/debezium-totals");
    let (sql, suffix) = script(
        &std::fs::read_to_string(tutorial.join("kafka.sql")).unwrap(),
        dir.path(),
        "kafka.sql",
    );
    let produce = |file: &str, envelope: bool| {
        let path = tutorial.join(file);
        let mut args = vec![
            "produce",
            "--table",
            "orders",
            "-f",
            &sql,
            "--file",
            path.to_str().unwrap(),
            "--format",
            "json",
        ];
        if envelope {
            args.push("--envelope");
        }
        let out = common::flinkit(&args);
        assert_success(&out);
        assert_eq!(json(&out)["sent"], 4);
    };
    // Events as a CDC connector writes them, and plain rows turned into events.
    produce("orders.jsonl", false);
    let _turn = take_turn();
    let _job = launch(&sql);
    await_rows(
        &sql,
        "totals",
        true,
        &json!([
            {"customer": "ann", "orders": 2, "total": 12.25},
            {"customer": "bob", "orders": 1, "total": 5.5},
            {"customer": "cy", "orders": 1, "total": 4}
        ]),
    );
    // An update given as an event, one turned from a plain row (order 1 moves to bob), and
    // two deletes from tombstones: their before-images come from the topic.
    produce("changes.jsonl", true);
    let expected = json!([{"customer": "bob", "orders": 2, "total": 8.5}]);
    await_rows(&sql, "totals", true, &expected);
    // Flink's own Debezium changelog of the same totals, applied by `consume --upsert`.
    await_rows(&sql, "totals_changelog", true, &expected);
    // The library's producer starts from the topic's rows too: order 2's tombstone is a `d`
    // carrying the row it removes.
    let script = flinkit::sql::Script::parse_str(&std::fs::read_to_string(&sql).unwrap()).unwrap();
    let orders = flinkit::demo::table(&script, "orders").unwrap();
    block_on(async {
        let producer =
            flinkit::bridge::client::TableProducer::open(&orders, Duration::from_secs(10))
                .await
                .unwrap();
        producer.send_tombstone(json!(2)).await.unwrap();
    });
    await_rows(
        &sql,
        "totals",
        true,
        &json!([{"customer": "bob", "orders": 1, "total": 1}]),
    );

    // What flinkit wrote, read by kcat and parsed by Python's json module.
    let written = kcat_values(&format!("debezium-totals.orders{suffix}"));
    let events = python(
        "import json, sys; print(json.dumps([[e['op'], (e['before'] or {}).get('amount'), \
         (e['after'] or {}).get('customer')] for e in map(json.loads, sys.stdin)]))",
        &written,
    );
    assert_eq!(
        events,
        json!([
            ["r", null, "ann"],
            ["c", null, "bob"],
            ["c", null, "ann"],
            ["c", null, "cy"],
            ["u", 5.5, "bob"],
            ["u", 10.0, "bob"],
            ["d", 2.25, null],
            ["d", 4.0, null],
            ["d", 7.5, null]
        ])
    );
}

#[test]
fn bad_changelog_and_csv_lines_exit_2_naming_the_file_and_line() {
    if !ready() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (sql, _) = script(
        &std::fs::read_to_string(root().join("sql/debezium-totals/kafka.sql")).unwrap(),
        dir.path(),
        "kafka.sql",
    );
    let (csv_sql, _) = script(CSV_SQL, dir.path(), "csv.sql");
    let run = |sql: &str, table: &str, lines: &[u8]| {
        let file = dir.path().join("lines.txt");
        std::fs::write(&file, lines).unwrap();
        let out = common::flinkit(&[
            "produce",
            "--table",
            table,
            "-f",
            sql,
            "--file",
            file.to_str().unwrap(),
        ]);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert!(!stderr.contains("panicked"), "{stderr}");
        stderr
    };
    let stderr = run(
        &sql,
        "orders",
        b"{\"op\":\"c\",\"after\":{\"id\":1,\"customer\":\"a\",\"amount\":1}}\n\
          {\"op\":\"x\",\"after\":{\"id\":2}}\n\
          {\"op\":\"u\",\"before\":{\"id\":1,\"customer\":\"a\",\"amount\":9},\"after\":{\"id\":1,\"customer\":\"a\",\"amount\":2}}\n\
          {\"op\":\"d\",\"before\":null}\n\
          {\"key\":5,\"value\":null}\n",
    );
    for expected in [
        "lines.txt:2: `op` is \"x\"",
        "lines.txt:3: the \"u\" event's `before` is not the key's current row",
        "lines.txt:4: a \"d\" event needs `before`",
        "lines.txt:5: ",
        "4 of 5 records are invalid, so nothing was sent",
    ] {
        assert!(stderr.contains(expected), "{expected}: {stderr}");
    }
    let stderr = run(
        &csv_sql,
        "orders_csv",
        b"1|a|2|x|2024-05-01 10:00:00|true\n1|2\n",
    );
    assert!(
        stderr.contains("lines.txt:2: the csv record has 2 fields, and 6 are expected"),
        "{stderr}"
    );
    // Hostile bytes: not UTF-8, unterminated quotes, endless exponents, NUL.
    let stderr = run(
        &csv_sql,
        "orders_csv",
        b"\xff\xfe|\x00\n\"unterminated|x\n1|a|1e99999999999999999999|x|y|z\n{\"id\":\"\xff\"}\n",
    );
    assert!(stderr.contains("4 of 4 records are invalid"), "{stderr}");
    let stderr = run(
        &sql,
        "orders",
        b"{\"op\":\"c\",\"after\":[]}\n\xff\n{\"payload\":1}\n",
    );
    assert!(stderr.contains("3 of 3 records are invalid"), "{stderr}");
}

/// The stack's Pulsar service URL and admin API, if the admin API answers (in CI it must).
fn pulsar() -> Option<(String, String)> {
    let url =
        std::env::var("FLINKIT_PULSAR_URL").unwrap_or_else(|_| "pulsar://localhost:6650".into());
    let admin = std::env::var("FLINKIT_PULSAR_ADMIN_URL")
        .unwrap_or_else(|_| "http://localhost:8080".into());
    let up = reqwest::blocking::get(format!("{admin}/admin/v2/clusters"))
        .is_ok_and(|r| r.status().is_success());
    assert!(
        up || std::env::var_os("CI").is_none(),
        "CI runs these against the stack's Pulsar (admin {admin})"
    );
    if !up {
        eprintln!("skipped: no Pulsar admin API at {admin}; `flinkit stack up` first");
    }
    up.then_some((url, admin))
}

/// Deletes its Pulsar namespace (and its topics) when dropped.
struct Namespace(String, String);

impl Drop for Namespace {
    fn drop(&mut self) {
        let _ = reqwest::blocking::Client::new()
            .delete(format!(
                "{}/admin/v2/namespaces/{}?force=true",
                self.0, self.1
            ))
            .send();
    }
}

#[test]
fn pulsar_topics_with_registered_schemas_are_written_compatibly_or_explained() {
    let Some((url, admin)) = pulsar() else {
        return;
    };
    let http = reqwest::blocking::Client::new();
    // A namespace whose topics take only producers that announce their schema.
    let namespace = format!("public/{}", unique("schemas").replace(['-'], ""));
    let ok = |r: reqwest::Result<reqwest::blocking::Response>| {
        let r = r.unwrap();
        assert!(r.status().is_success(), "{}", r.text().unwrap_or_default());
    };
    ok(http
        .put(format!("{admin}/admin/v2/namespaces/{namespace}"))
        .send());
    let _namespace = Namespace(admin.clone(), namespace.clone());
    ok(http
        .post(format!(
            "{admin}/admin/v2/namespaces/{namespace}/schemaValidationEnforced"
        ))
        .json(&true)
        .send());
    let register = |topic: &str, kind: &str, fields: Value| {
        let definition = json!({"type": "record", "name": "User", "fields": fields});
        ok(http
            .post(format!(
                "{admin}/admin/v2/schemas/{namespace}/{topic}/schema"
            ))
            .json(&json!({"type": kind, "schema": definition.to_string(), "properties": {}}))
            .send());
    };
    register(
        "users",
        "JSON",
        json!([{"name": "uid", "type": ["null", "string"]}, {"name": "n", "type": ["null", "int"]}]),
    );
    register("legacy", "AVRO", json!([{"name": "uid", "type": "string"}]));
    let dir = tempfile::tempdir().unwrap();
    let sql = dir.path().join("pulsar.sql");
    std::fs::write(
        &sql,
        format!(
            "CREATE TABLE users (uid STRING, n INT) WITH ('connector' = 'pulsar', \
             'topics' = 'persistent://{namespace}/users', 'service-url' = '{url}', \
             'admin-url' = '{admin}', 'format' = 'json');\n\
             CREATE TABLE legacy (uid STRING) WITH ('connector' = 'pulsar', \
             'topics' = 'persistent://{namespace}/legacy', 'service-url' = '{url}', \
             'admin-url' = '{admin}', 'format' = 'json');\n\
             CREATE TABLE misfit (uid STRING, age INT) WITH ('connector' = 'pulsar', \
             'topics' = 'persistent://{namespace}/users', 'service-url' = '{url}', \
             'admin-url' = '{admin}', 'format' = 'json');\n"
        ),
    )
    .unwrap();
    let sql = sql.to_str().unwrap();
    let produce = |table: &str, value: &str| {
        common::flinkit(&[
            "produce", "--table", table, "-f", sql, "--value", value, "--format", "json",
        ])
    };
    // A schemaless producer is refused here; flinkit announces the topic's JSON schema.
    let out = produce("users", r#"{"uid":"a","n":1}"#);
    assert_success(&out);
    assert_eq!(json(&out)["sent"], 1);
    let out = common::flinkit(&["consume", "--table", "users", "-f", sql, "--timeout", "2s"]);
    assert_success(&out);
    let read: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(read["value"], json!({"uid": "a", "n": 1}));
    // Columns the schema lacks, and an AVRO schema: explained, nothing sent.
    for (table, expected) in [
        (
            "misfit",
            "column `age` is not a field of the schema (it has uid, n)",
        ),
        ("legacy", "has a registered AVRO schema (version 0)"),
    ] {
        let out = produce(table, r#"{"uid":"b"}"#);
        assert_eq!(out.status.code(), Some(2), "{table}");
        let error = json(&out)["error"]["message"].as_str().unwrap().to_string();
        assert!(error.contains(expected), "{error}");
        assert!(
            error.contains("What to do: write to a topic without a schema"),
            "{error}"
        );
    }
    let out = common::flinkit(&["consume", "--table", "legacy", "-f", sql, "--timeout", "2s"]);
    assert!(
        out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

const NATIVE_SQL: &str = "\
CREATE TABLE canal_orders (id INT, customer STRING, amount DECIMAL(10, 2),
  PRIMARY KEY (id) NOT ENFORCED
) WITH ('connector' = 'kafka', 'topic' = 'formats.canal_orders',
  'properties.bootstrap.servers' = 'localhost:9092', 'scan.startup.mode' = 'earliest-offset',
  'format' = 'canal-json');
CREATE TABLE maxwell_orders (id INT, customer STRING, amount DECIMAL(10, 2),
  PRIMARY KEY (id) NOT ENFORCED
) WITH ('connector' = 'kafka', 'topic' = 'formats.maxwell_orders',
  'properties.bootstrap.servers' = 'localhost:9092', 'scan.startup.mode' = 'earliest-offset',
  'format' = 'maxwell-json');
CREATE TABLE canal_totals (customer STRING, orders BIGINT, total DECIMAL(20, 2),
  PRIMARY KEY (customer) NOT ENFORCED
) WITH ('connector' = 'kafka', 'topic' = 'formats.canal_totals',
  'properties.bootstrap.servers' = 'localhost:9092', 'format' = 'canal-json');
CREATE TABLE maxwell_totals (customer STRING, orders BIGINT, total DECIMAL(20, 2),
  PRIMARY KEY (customer) NOT ENFORCED
) WITH ('connector' = 'kafka', 'topic' = 'formats.maxwell_totals',
  'properties.bootstrap.servers' = 'localhost:9092', 'format' = 'maxwell-json');
EXECUTE STATEMENT SET BEGIN
INSERT INTO canal_totals SELECT customer, COUNT(*), SUM(amount) FROM canal_orders GROUP BY customer;
INSERT INTO maxwell_totals SELECT customer, COUNT(*), SUM(amount) FROM maxwell_orders
  GROUP BY customer;
END;
";

#[test]
fn canal_and_maxwell_changelogs_feed_aggregations_both_ways() {
    if !ready() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (sql, suffix) = script(NATIVE_SQL, dir.path(), "native.sql");
    let tutorial = root().join("sql/debezium-totals");
    // The tutorial's Debezium-shaped events, plain rows and tombstones, written in each
    // table's own format; Flink writes the totals back in the same formats.
    let produce = |table: &str, file: &str, envelope: bool| {
        let path = tutorial.join(file);
        let mut args = vec![
            "produce",
            "--table",
            table,
            "-f",
            &sql,
            "--file",
            path.to_str().unwrap(),
            "--format",
            "json",
        ];
        if envelope {
            args.push("--envelope");
        }
        let out = common::flinkit(&args);
        assert_success(&out);
        assert_eq!(json(&out)["sent"], 4);
    };
    for table in ["canal_orders", "maxwell_orders"] {
        produce(table, "orders.jsonl", false);
    }
    let _turn = take_turn();
    let _job = launch(&sql);
    let first = json!([
        {"customer": "ann", "orders": 2, "total": 12.25},
        {"customer": "bob", "orders": 1, "total": 5.5},
        {"customer": "cy", "orders": 1, "total": 4}
    ]);
    for table in ["canal_totals", "maxwell_totals"] {
        await_rows(&sql, table, true, &first);
    }
    for table in ["canal_orders", "maxwell_orders"] {
        produce(table, "changes.jsonl", true);
    }
    let expected = json!([{"customer": "bob", "orders": 2, "total": 8.5}]);
    for table in ["canal_totals", "maxwell_totals"] {
        await_rows(&sql, table, true, &expected);
    }
    // What flinkit wrote, read by kcat and parsed by Python: native updates carry `old`.
    let written = kcat_values(&format!("formats.canal_orders{suffix}"));
    let events = python(
        "import json, sys; print(json.dumps([[e['type'], (e.get('old') or [{}])[0].get('amount')] \
         for e in map(json.loads, sys.stdin)]))",
        &written,
    );
    assert_eq!(
        events,
        json!([
            ["INSERT", null],
            ["INSERT", null],
            ["INSERT", null],
            ["INSERT", null],
            ["UPDATE", 5.5],
            ["UPDATE", 10.0],
            ["DELETE", null],
            ["DELETE", null]
        ])
    );
}

const ISO_SQL: &str = "\
CREATE TABLE events_iso (id INT, happened TIMESTAMP(3) NOT NULL, seen TIMESTAMP_LTZ(3) NOT NULL
) WITH ('connector' = 'kafka', 'topic' = 'formats.events_iso',
  'properties.bootstrap.servers' = 'localhost:9092', 'scan.startup.mode' = 'earliest-offset',
  'format' = 'json', 'json.timestamp-format.standard' = 'ISO-8601');
CREATE TABLE events_sql (id INT, happened TIMESTAMP(3), seen TIMESTAMP_LTZ(3), hour_of BIGINT
) WITH ('connector' = 'kafka', 'topic' = 'formats.events_sql',
  'properties.bootstrap.servers' = 'localhost:9092', 'format' = 'json');
INSERT INTO events_sql SELECT id, happened, seen, HOUR(happened) FROM events_iso;
";

/// `'json.timestamp-format.standard' = 'ISO-8601'`: flinkit takes and generates timestamps with
/// a `T` for such a table, refuses the SQL form, and Flink reads what it wrote.
#[test]
fn iso_8601_timestamps_are_taken_generated_and_read_by_flink() {
    if !ready() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (sql, suffix) = script(ISO_SQL, dir.path(), "iso.sql");
    let rows = dir.path().join("rows.jsonl");
    let produce = |text: &str| {
        std::fs::write(&rows, text).unwrap();
        common::flinkit(&[
            "produce",
            "--table",
            "events_iso",
            "-f",
            &sql,
            "--file",
            rows.to_str().unwrap(),
            "--format",
            "json",
        ])
    };
    // The SQL form is what Flink's ISO-8601 reader fails on: refused, located, nothing sent.
    let refused = produce(
        "{\"id\":0,\"happened\":\"2024-05-01 10:00:00\",\"seen\":\"2024-05-01T10:00:00Z\"}\n",
    );
    assert_eq!(refused.status.code(), Some(2), "{refused:?}");
    let error = json(&refused)["error"]["message"].to_string();
    assert!(error.contains("yyyy-MM-ddTHH:mm:ss[.fff]"), "{error}");
    assert!(error.contains("rows.jsonl:1:"), "{error}");
    let out = produce(
        "{\"id\":1,\"happened\":\"2024-05-01T10:00:00.123\",\"seen\":\"2024-05-01T10:00:00Z\"}\n",
    );
    assert_success(&out);
    assert_eq!(json(&out)["sent"], 1);
    let out = common::flinkit(&[
        "produce",
        "--table",
        "events_iso",
        "-f",
        &sql,
        "--generate",
        "3",
        "--seed",
        "7",
        "--format",
        "json",
    ]);
    assert_success(&out);
    let written = kcat_values(&format!("formats.events_iso{suffix}"));
    let generated: Vec<Value> = written
        .lines()
        .skip(1)
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(generated.len(), 3, "{written}");
    for row in &generated {
        let happened = row["happened"].as_str().unwrap();
        let seen = row["seen"].as_str().unwrap();
        assert_eq!(&happened[10..11], "T", "{row}");
        assert!(seen.ends_with('Z') && &seen[10..11] == "T", "{row}");
    }

    // Flink reads all four with its ISO-8601 reader and writes them in its SQL form.
    let _turn = take_turn();
    let _job = launch(&sql);
    // Flink's SQL form: a space for the `T`, and the fraction without its trailing zeros.
    let sql_form = |iso: &str| {
        let (text, zone) = iso.strip_suffix('Z').map_or((iso, ""), |t| (t, "Z"));
        let text = text.replacen('T', " ", 1);
        let text = match text.split_once('.') {
            Some((whole, fraction)) if fraction.trim_end_matches('0').is_empty() => {
                whole.to_string()
            }
            Some((whole, fraction)) => format!("{whole}.{}", fraction.trim_end_matches('0')),
            None => text,
        };
        format!("{text}{zone}")
    };
    let mut expected = vec![json!({"id": 1, "happened": "2024-05-01 10:00:00.123",
        "seen": "2024-05-01 10:00:00Z", "hour_of": 10})];
    for row in &generated {
        let happened = row["happened"].as_str().unwrap();
        expected.push(json!({"id": row["id"], "happened": sql_form(happened),
            "seen": sql_form(row["seen"].as_str().unwrap()),
            "hour_of": happened[11..13].parse::<i64>().unwrap()}));
    }
    await_rows(&sql, "events_sql", false, &Value::Array(expected));
}
