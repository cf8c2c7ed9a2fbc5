//! `flinkit produce` and `flinkit consume` end to end against the local stack's real Kafka and
//! Pulsar, a fresh topic per test: table-aware produce (check first, nothing sent when a record
//! is bad), updates and tombstones through `--upsert`, envelopes, stdin, exit codes, and an
//! unreachable broker. Outside CI, without the stack, the tests say so and stop.

mod common;

use std::process::{Output, Stdio};

use serde_json::{Value, json};

use common::{flinkit_stdin as flinkit, json, unique};

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Whether the broker answers (a produce to a scratch topic); in CI it must.
fn up(broker: &str) -> bool {
    let out = flinkit(
        &[
            "produce",
            broker,
            &unique("probe"),
            "--value",
            "1",
            "--connect-timeout",
            "5s",
        ],
        None,
    );
    if out.status.success() {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI runs these against the stack: {}",
        stderr(&out)
    );
    eprintln!("no {broker} on the local stack; run `flinkit stack up` to run these");
    false
}

/// The users table of the tutorials, on a fresh topic.
fn users_ddl(broker: &str, topic: &str) -> String {
    let connector = match broker {
        "kafka" => format!(
            "'connector' = 'upsert-kafka', 'topic' = '{topic}', \
             'properties.bootstrap.servers' = 'localhost:9092'"
        ),
        _ => format!(
            "'connector' = 'upsert-pulsar', 'topics' = 'persistent://public/default/{topic}', \
             'service-url' = 'pulsar://localhost:6650'"
        ),
    };
    format!(
        "CREATE TABLE users (\n  uid STRING,\n  accountId STRING,\n  id INT,\n  fullName STRING,\n  \
         PRIMARY KEY (uid) NOT ENFORCED\n) WITH (\n  {connector},\n  \
         'key.format' = 'raw',\n  'value.format' = 'json'\n);"
    )
}

fn upsert_round_trip(broker: &str) {
    if !up(broker) {
        return;
    }
    let topic = unique("users");
    let ddl = users_ddl(broker, &topic);
    let records = "\
{\"uid\":\"100-1\",\"accountId\":\"100\",\"id\":1,\"fullName\":\"Ann Émile\"}
{\"uid\":\"100-2\",\"accountId\":\"100\",\"id\":2,\"fullName\":\"Bo 北京\"}

{\"uid\":\"101-1\",\"accountId\":\"101\",\"id\":3,\"fullName\":\"Cy\"}
{\"uid\":\"100-1\",\"accountId\":\"100\",\"id\":1,\"fullName\":\"Ann Updated\"}
";
    let out = flinkit(
        &[
            "produce", "--table", "users", "--sql", &ddl, "--file", "-", "--format", "json",
        ],
        Some(records),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let report = json(&out);
    assert_eq!(report["sent"], 4);
    assert_eq!(report["failed"], 0);
    assert_eq!(report["delivered_lines"], 5);

    let out = flinkit(
        &[
            "produce",
            "--table",
            "users",
            "--sql",
            &ddl,
            "--tombstone",
            "100-2",
            "--format",
            "json",
        ],
        None,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(json(&out)["sent"], 1);

    // Every record, decoded per the table.
    let out = flinkit(
        &[
            "consume",
            "--table",
            "users",
            "--sql",
            &ddl,
            "--timeout",
            "20s",
        ],
        None,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let lines: Vec<Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 5, "{}", stdout(&out));
    assert_eq!(lines[1]["key"], "100-2");
    assert_eq!(lines[1]["value"]["fullName"], "Bo 北京");
    assert_eq!(lines[4]["key"], "100-2");
    assert_eq!(lines[4]["value"], Value::Null);

    // The materialized table: the update wins, the tombstone removes 100-2.
    let out = flinkit(
        &[
            "consume", "--table", "users", "--sql", &ddl, "--upsert", "--format", "json",
        ],
        None,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        json(&out),
        json!({"rows": [
            {"uid": "100-1", "accountId": "100", "id": 1, "fullName": "Ann Updated"},
            {"uid": "101-1", "accountId": "101", "id": 3, "fullName": "Cy"},
        ]})
    );
    let out = flinkit(
        &["consume", "--table", "users", "--sql", &ddl, "--upsert"],
        None,
    );
    assert_eq!(
        stdout(&out),
        "uid   | accountId | id | fullName\n\
         ------+-----------+----+------------\n\
         100-1 | 100       |  1 | Ann Updated\n\
         101-1 | 101       |  3 | Cy\n\
         (2 rows)\n"
    );
}

#[test]
fn kafka_upsert_round_trip() {
    upsert_round_trip("kafka");
}

#[test]
fn pulsar_upsert_round_trip() {
    upsert_round_trip("pulsar");
}

fn bad_record_sends_nothing(broker: &str) {
    if !up(broker) {
        return;
    }
    let topic = unique("users");
    let ddl = users_ddl(broker, &topic);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("users.jsonl");
    std::fs::write(
        &path,
        "{\"uid\":\"1\",\"accountId\":\"1\",\"id\":1}\n\
         {\"uid\":\"2\",\"accountId\":\"1\",\"id\":\"two\"}\n\
         {\"uid\":\"3\",\"acountId\":\"1\"}\n",
    )
    .unwrap();
    let file = path.to_str().unwrap();
    let out = flinkit(
        &["produce", "--table", "users", "--sql", &ddl, "--file", file],
        None,
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "{file}:2: field `id`: expected INT, \"two\" is not a whole number"
        )),
        "{err}"
    );
    assert!(
        err.contains("unknown field `acountId` (did you mean `accountId`?)"),
        "{err}"
    );
    assert!(
        err.contains("2 of 3 records are invalid, so nothing was sent"),
        "{err}"
    );
    // Nothing reached the topic: on Kafka it was not even created (Pulsar creates topics on
    // first use, so there it is empty).
    let out = flinkit(
        &[
            "consume",
            "--table",
            "users",
            "--sql",
            &ddl,
            "--timeout",
            "3s",
        ],
        None,
    );
    assert_eq!(stdout(&out), "");
    if broker == "kafka" {
        assert_eq!(out.status.code(), Some(1));
        assert!(stderr(&out).contains("does not exist"), "{}", stderr(&out));
    } else {
        assert!(out.status.success(), "{}", stderr(&out));
    }

    // --skip-invalid sends the valid one and says what it skipped.
    let out = flinkit(
        &[
            "produce",
            "--table",
            "users",
            "--sql",
            &ddl,
            "--file",
            file,
            "--skip-invalid",
            "--format",
            "json",
        ],
        None,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(json(&out)["sent"], 1);
    assert!(
        stderr(&out).contains("skipped 2 invalid records"),
        "{}",
        stderr(&out)
    );
}

/// Regression: a row with a lone surrogate escape in a text column (`"\ud800"`, which Flink
/// reads as `?`) was sent by the fast path for flat rows, while the full path refuses it as
/// not JSON; it is refused at its line whichever path the row takes.
#[test]
fn a_lone_surrogate_is_refused_at_its_line() {
    if !up("kafka") {
        return;
    }
    let ddl = users_ddl("kafka", &unique("users"));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("users.jsonl");
    std::fs::write(
        &path,
        "{\"uid\":\"1\",\"fullName\":\"Ada\"}\n{\"uid\":\"2\",\"fullName\":\"\\ud800\"}\n",
    )
    .unwrap();
    let file = path.to_str().unwrap();
    let out = flinkit(
        &["produce", "--table", "users", "--sql", &ddl, "--file", file],
        None,
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!("{file}:2: not JSON: ")),
        "{}",
        stderr(&out)
    );
}

#[test]
fn kafka_bad_record_sends_nothing() {
    bad_record_sends_nothing("kafka");
}

#[test]
fn pulsar_bad_record_sends_nothing() {
    bad_record_sends_nothing("pulsar");
}

#[test]
fn plain_topics_carry_keys_properties_and_envelopes() {
    for broker in ["kafka", "pulsar"] {
        if !up(broker) {
            return;
        }
        let topic = unique("plain");
        let lines = "\
{\"key\":\"k1\",\"value\":{\"n\":1},\"properties\":{\"source\":\"test\"},\"timestamp\":1700000000000}
{\"key\":\"k2\",\"value\":\"text ✓\"}
{\"key\":\"k1\",\"value\":null}
";
        let out = flinkit(
            &[
                "produce",
                broker,
                &topic,
                "--file",
                "-",
                "--envelope",
                "--format",
                "json",
            ],
            Some(lines),
        );
        assert!(out.status.success(), "{broker}: {}", stderr(&out));
        assert_eq!(json(&out)["sent"], 3, "{broker}");
        let out = flinkit(&["consume", broker, &topic, "--count", "3"], None);
        assert!(out.status.success(), "{broker}: {}", stderr(&out));
        let records: Vec<Value> = stdout(&out)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(records.len(), 3, "{broker}: {}", stdout(&out));
        assert_eq!(records[0]["key"], "k1");
        assert_eq!(records[0]["value"], json!({"n": 1}));
        assert_eq!(records[0]["properties"], json!({"source": "test"}));
        assert_eq!(records[0]["timestamp"], 1_700_000_000_000_i64);
        assert_eq!(records[1]["value"], "text ✓");
        assert_eq!(records[2]["value"], Value::Null);
        let out = flinkit(
            &["consume", broker, &topic, "--upsert", "--format", "json"],
            None,
        );
        assert_eq!(
            json(&out),
            json!({"rows": [{"key": "k2", "value": "text ✓"}]}),
            "{broker}"
        );
    }
}

#[test]
fn an_unreachable_broker_is_named() {
    for (broker, endpoint) in [("kafka", "localhost:1"), ("pulsar", "pulsar://localhost:1")] {
        let started = std::time::Instant::now();
        let out = flinkit(
            &[
                "produce",
                broker,
                "t",
                "--endpoint",
                endpoint,
                "--value",
                "1",
                "--connect-timeout",
                "2s",
            ],
            None,
        );
        assert_eq!(out.status.code(), Some(1), "{broker}: {}", stderr(&out));
        assert!(
            stderr(&out).contains(endpoint),
            "{broker}: {}",
            stderr(&out)
        );
        assert!(
            started.elapsed() < std::time::Duration::from_secs(30),
            "{broker} took {:?}",
            started.elapsed()
        );
    }
}

#[test]
fn bad_flags_are_input_errors() {
    let out = flinkit(&["produce", "kafka", "t"], None);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--value JSON"), "{}", stderr(&out));
    let out = flinkit(
        &[
            "produce",
            "--table",
            "nope",
            "--sql",
            &users_ddl("kafka", "t"),
            "--value",
            "{}",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("no CREATE TABLE named `nope`"),
        "{}",
        stderr(&out)
    );
    let out = flinkit(&["produce", "kafka", "t", "--value", "{oops"], None);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    // An encoding the bridge does not write is refused before anything is sent.
    let utf16 = users_ddl("kafka", "t").replace(
        "'key.format' = 'raw'",
        "'key.format' = 'raw', 'key.raw.charset' = 'UTF-16'",
    );
    let out = flinkit(
        &[
            "produce",
            "--table",
            "users",
            "--sql",
            &utf16,
            "--tombstone",
            "1",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("'key.raw.charset' = 'UTF-16'"),
        "{}",
        stderr(&out)
    );
}

/// Regression: Ctrl-C while `--file -` waited on an idle pipe was swallowed; the run went on
/// until the pipe closed and then reported no interruption.
#[test]
fn ctrl_c_while_the_input_is_read_stops_at_once() {
    let child = common::flinkit_command()
        .args([
            "produce",
            "kafka",
            &unique("idle"),
            "--file",
            "-",
            "--format",
            "json",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut child = child;
    let stdin = child.stdin.take();
    // Once Ctrl-C is handled (SIGINT in the caught signals of /proc's status), it may come.
    let status = format!("/proc/{}/status", child.id());
    let handled = || {
        std::fs::read_to_string(&status)
            .unwrap()
            .lines()
            .find_map(|line| line.strip_prefix("SigCgt:"))
            .is_some_and(|mask| u64::from_str_radix(mask.trim(), 16).unwrap() & 0b10 != 0)
    };
    let started = std::time::Instant::now();
    while !handled() {
        assert!(started.elapsed().as_secs() < 60, "Ctrl-C is never handled");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap()),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let started = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed().as_secs() >= 30 {
            child.kill().unwrap();
            panic!("Ctrl-C did not stop a run reading an idle pipe");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    // The pipe stayed open, idle, until the run had ended.
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(
        json(&out)["error"]["message"],
        "interrupted while reading and checking the input; nothing was sent"
    );
}

#[test]
fn ctrl_c_flushes_and_reports_the_resume_point() {
    if !up("kafka") {
        return;
    }
    let topic = unique("users");
    let ddl = users_ddl("kafka", &topic);
    let child = common::flinkit_command()
        .args([
            "produce",
            "--table",
            "users",
            "--sql",
            &ddl,
            "--generate",
            "100000",
            "--rate",
            "2000",
            "--seed",
            "3",
            "--format",
            "json",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(2500));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap()),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let report = json(&out);
    assert_eq!(report["interrupted"], true);
    assert_eq!(
        report["error"]["message"],
        format!(
            "interrupted: input lines 1 to {0} are delivered; resume with --skip {0}",
            report["delivered_lines"]
        )
    );
    let delivered = report["delivered_lines"].as_u64().unwrap();
    assert_eq!(report["sent"].as_u64(), Some(delivered));
    assert!((1000..100_000).contains(&delivered), "{report}");
    // Exactly what was reported reached the topic.
    let out = flinkit(
        &[
            "consume", "--table", "users", "--sql", &ddl, "--format", "json",
        ],
        None,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).lines().count() as u64, delivered);
}
