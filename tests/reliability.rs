//! Faults, for real, at CI size (`benches/reliability.sh` measures them at 1M records): the
//! Pulsar broker killed with SIGKILL in the middle of a produce and brought back by
//! `flinkit stack up` loses and duplicates nothing — the client resends what was not
//! acknowledged under its producer name and sequence ids, and the broker's deduplication drops
//! what it had stored already. The test starts its own Pulsar on its own ports and state
//! folder, and always stops it.

mod common;

use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// Records produced: enough that the produce is still sending when the broker dies.
const RECORDS: u64 = 500_000;

/// The stack's ports in this test.
const PORTS: &str = "[stack]\npulsar_port = 29760\npulsar_http_port = 29780\n";
const BROKER: &str = "pulsar://localhost:29760";
const ADMIN: &str = "http://localhost:29780";

struct Stack {
    dir: tempfile::TempDir,
}

impl Stack {
    fn command(&self, args: &[&str]) -> Command {
        let mut command = common::flinkit_command();
        command
            .args(args)
            .current_dir(self.dir.path())
            .env("FLINKIT_STATE_DIR", self.dir.path().join("state"))
            .env_remove("FLINKIT_LOG");
        command
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("flinkit runs")
    }

    fn pulsar_pid(&self) -> u32 {
        let status = self.run(&[
            "--format",
            "json",
            "stack",
            "status",
            "--services",
            "pulsar",
        ]);
        let doc: Value = serde_json::from_slice(&status.stdout).unwrap();
        let pid = doc["services"][0]["pids"][0].as_u64();
        u32::try_from(pid.unwrap_or_else(|| panic!("no Pulsar pid: {doc}"))).unwrap()
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        let out = self.run(&["stack", "down", "--purge"]);
        if !out.status.success() {
            eprintln!("stack down: {}", String::from_utf8_lossy(&out.stderr));
        }
    }
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// How many messages the broker took on `topic` so far (0 before it exists).
fn messages_in(topic: &str) -> u64 {
    let url = format!("{ADMIN}/admin/v2/persistent/public/default/{topic}/stats");
    reqwest::blocking::get(url)
        .ok()
        .filter(|answer| answer.status().is_success())
        .and_then(|answer| answer.json::<Value>().ok())
        .and_then(|stats| stats["msgInCounter"].as_u64())
        .unwrap_or(0)
}

#[test]
fn a_pulsar_broker_killed_mid_produce_loses_and_duplicates_nothing() {
    let stack = Stack {
        dir: tempfile::tempdir().unwrap(),
    };
    std::fs::write(stack.dir.path().join("flinkit.toml"), PORTS).unwrap();
    let up = stack.run(&[
        "stack",
        "up",
        "--runtime",
        "process",
        "--services",
        "pulsar",
    ]);
    assert!(up.status.success(), "stack up: {}", text(&up));

    let records: PathBuf = stack.dir.path().join("records.jsonl");
    let mut file = std::io::BufWriter::new(std::fs::File::create(&records).unwrap());
    for id in 1..=RECORDS {
        writeln!(file, "{{\"id\":{id}}}").unwrap();
    }
    file.flush().unwrap();
    drop(file);

    let topic = common::unique("reliability");
    let producer = stack
        .command(&[
            "--format",
            "json",
            "produce",
            "pulsar",
            &topic,
            "--endpoint",
            BROKER,
            "--file",
            records.to_str().unwrap(),
            "--timeout",
            "120s",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Killed as soon as the broker has taken records, while the produce is still sending.
    let started = Instant::now();
    while messages_in(&topic) == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "no record reached the broker"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let taken = messages_in(&topic);
    assert!(
        Command::new("kill")
            .args(["-9", &stack.pulsar_pid().to_string()])
            .status()
            .unwrap()
            .success()
    );
    assert!(
        taken < RECORDS,
        "the produce ended before the broker was killed: raise RECORDS"
    );
    let up = stack.run(&[
        "stack",
        "up",
        "--runtime",
        "process",
        "--services",
        "pulsar",
    ]);
    assert!(up.status.success(), "stack up after kill -9: {}", text(&up));
    eprintln!(
        "broker killed after {taken} records, back after {:.1?}",
        started.elapsed()
    );

    let produced = producer.wait_with_output().unwrap();
    let report: Value = serde_json::from_slice(&produced.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(&produced)));
    let consumed = stack.run(&[
        "consume",
        "pulsar",
        &topic,
        "--endpoint",
        BROKER,
        "--timeout",
        "60s",
    ]);
    assert!(consumed.status.success(), "{}", text(&consumed));
    let mut ids: Vec<u64> = String::from_utf8_lossy(&consumed.stdout)
        .lines()
        .map(|line| {
            let record: Value = serde_json::from_str(line).unwrap();
            record["value"]["id"].as_u64().unwrap()
        })
        .collect();
    let read = ids.len();
    ids.sort_unstable();
    ids.dedup();
    let duplicated = read - ids.len();
    assert_eq!(
        duplicated, 0,
        "{duplicated} records read twice; produce: {report}"
    );
    // Every record arrived, or produce failed naming, by input line, every one that did not.
    let named: std::collections::HashSet<u64> = report["failed_lines"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|range| range[0].as_u64().unwrap()..=range[1].as_u64().unwrap())
        .collect();
    let lost: Vec<u64> = (1..=RECORDS)
        .filter(|id| ids.binary_search(id).is_err())
        .collect();
    let unnamed: Vec<&u64> = lost.iter().filter(|id| !named.contains(id)).collect();
    assert!(
        unnamed.is_empty(),
        "{} records lost without being named (first {:?}); produce: {report}",
        unnamed.len(),
        unnamed.first()
    );
    assert_eq!(
        produced.status.success(),
        lost.is_empty() && named.is_empty(),
        "{report}"
    );
    assert_eq!(report["sent"].as_u64(), Some(RECORDS - named.len() as u64));
}
