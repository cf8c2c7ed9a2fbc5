//! The local stack, for real: `flinkit stack up` from nothing, `status`, `up` again (a no-op),
//! a killed service repaired by `up`, and `down` leaving no process and no port open. One test
//! runs the whole lifecycle so the stack starts once per run; it uses a private state directory
//! and its own ports (so it never touches a user's stack) and always stops what it started.
//! PostgreSQL, which needs no JVM, also has a lifecycle of its own: initialised, read by `psql`,
//! killed with `kill -9` and repaired with its data, stopped, purged.
//!
//! Also: the Docker Compose file agrees with the process runtime (services, ports, versions)
//! and with the Docker runtime (the official images it builds on).

mod common;

use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use flinkit::stack::docker::{COMPOSE_FILE, compose_env, compose_services};
use flinkit::stack::images::StackImage;
use flinkit::stack::{Ports, Service};
use flinkit::versions;
use serde_json::Value;

/// Ports no default stack uses.
const TEST_PORTS: Ports = Ports {
    kafka_port: 19092,
    kafka_controller_port: 19093,
    pulsar_port: 16650,
    pulsar_http_port: 18080,
    flink_port: 18081,
    flink_rpc_port: 16123,
    gateway_port: 18083,
    postgres_port: 15432,
    schema_registry_port: 18085,
};

/// Ports of the PostgreSQL-only test (which runs beside the whole stack's).
const POSTGRES_ONLY: Ports = Ports {
    postgres_port: 15433,
    ..TEST_PORTS
};

fn flinkit(dir: &Path, args: &[&str]) -> Output {
    common::flinkit_command()
        .args(args)
        .current_dir(dir)
        .env("FLINKIT_STATE_DIR", dir.join("state"))
        .env_remove("FLINKIT_LOG")
        .output()
        .expect("flinkit runs")
}

use common::json;

/// `(name, healthy, pids)` per service.
fn services(doc: &Value) -> Vec<(String, bool, Vec<u64>)> {
    doc["services"]
        .as_array()
        .expect("a services array")
        .iter()
        .map(|s| {
            let pids = s["pids"]
                .as_array()
                .map(|p| p.iter().filter_map(Value::as_u64).collect())
                .unwrap_or_default();
            (
                s["name"].as_str().unwrap_or_default().to_string(),
                s["healthy"].as_bool().unwrap_or_default(),
                pids,
            )
        })
        .collect()
}

fn pids_of(doc: &Value, name: &str) -> Vec<u64> {
    services(doc)
        .into_iter()
        .find(|(n, _, _)| n == name)
        .map(|(_, _, pids)| pids)
        .unwrap_or_default()
}

fn assert_ok(output: &Output, what: &str) {
    assert!(
        output.status.success(),
        "{what} failed ({}):\nstdout: {}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn all_healthy(doc: &Value) {
    let services = services(doc);
    assert_eq!(services.len(), Service::ALL.len(), "{doc}");
    for (name, healthy, pids) in services {
        assert!(healthy, "{name} is healthy: {doc}");
        assert!(!pids.is_empty(), "{name} has recorded pids: {doc}");
    }
}

fn port_open(port: u16) -> bool {
    TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_millis(300)).is_ok()
}

fn alive(pid: u64) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit(')')
            .next()
            .is_some_and(|r| !r.starts_with(" Z"))
    })
}

/// Stops the test's stack however the test ends.
struct Down<'a>(&'a Path);

impl Drop for Down<'_> {
    fn drop(&mut self) {
        let out = flinkit(self.0, &["stack", "down", "--purge"]);
        eprintln!(
            "stack down --purge: {}{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn the_process_stack_comes_up_repairs_itself_and_goes_down() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write_config(root, TEST_PORTS);
    for port in TEST_PORTS_LIST {
        assert!(!port_open(port), "port {port} is free before the test");
    }
    let _down = Down(root);

    // A port held by someone else: `up` names it and its holder before starting anything.
    let squatter = std::net::TcpListener::bind(("127.0.0.1", TEST_PORTS.gateway_port)).unwrap();
    let taken = flinkit(root, &["stack", "up", "--services", "gateway"]);
    assert_eq!(taken.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&taken.stderr);
    assert!(
        stderr.contains(&format!(
            "port {} is taken by pid {}",
            TEST_PORTS.gateway_port,
            std::process::id()
        )),
        "{stderr}"
    );
    drop(squatter);

    let started = Instant::now();
    let up = flinkit(
        root,
        &["stack", "up", "--runtime", "process", "--format", "json"],
    );
    assert_ok(&up, "stack up");
    let cold = started.elapsed();
    let first = json(&up);
    all_healthy(&first);
    let rss: u64 = first["services"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["rss_bytes"].as_u64())
        .sum();
    eprintln!(
        "stack up from nothing: {:.1}s, {} MB resident\n{}",
        cold.as_secs_f64(),
        rss / 1_000_000,
        String::from_utf8_lossy(&up.stderr)
    );

    let status = flinkit(root, &["stack", "status", "--format", "json"]);
    assert_ok(&status, "stack status");
    all_healthy(&json(&status));
    let endpoints: Vec<String> = json(&status)["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["endpoint"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(
        endpoints,
        [
            "http://localhost:18081",
            "http://localhost:18083",
            "localhost:19092",
            "pulsar://localhost:16650",
            "jdbc:postgresql://localhost:15432/flinkit",
            "http://localhost:18085/apis/ccompat/v7"
        ]
    );

    let started = Instant::now();
    let again = flinkit(root, &["stack", "up", "--format", "json"]);
    assert_ok(&again, "stack up again");
    let noop = started.elapsed();
    eprintln!("stack up again: {:.1}s", noop.as_secs_f64());
    assert!(noop < Duration::from_secs(15), "a no-op, took {noop:?}");
    for name in [
        "flink",
        "gateway",
        "kafka",
        "pulsar",
        "postgres",
        "schema-registry",
    ] {
        assert_eq!(
            pids_of(&json(&again), name),
            pids_of(&first, name),
            "{name} was left alone"
        );
    }

    // Kill Kafka and the TaskManager (Flink's second process) as a crash would.
    let kafka = pids_of(&first, "kafka")[0];
    let flink = pids_of(&first, "flink");
    let taskmanager = flink[1];
    for pid in [kafka, taskmanager] {
        Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status()
            .unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while (alive(kafka) || alive(taskmanager)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let broken = flinkit(root, &["stack", "status", "--format", "json"]);
    assert_eq!(
        broken.status.code(),
        Some(1),
        "status fails when one is down"
    );
    let kafka_status = services(&json(&broken))
        .into_iter()
        .find(|(n, _, _)| n == "kafka")
        .unwrap();
    assert!(!kafka_status.1, "kafka is down");

    let started = Instant::now();
    let repaired = flinkit(root, &["stack", "up", "--format", "json"]);
    assert_ok(&repaired, "stack up (repair)");
    eprintln!(
        "stack up repairing kafka and the taskmanager: {:.1}s\n{}",
        started.elapsed().as_secs_f64(),
        String::from_utf8_lossy(&repaired.stderr)
    );
    let repaired = json(&repaired);
    all_healthy(&repaired);
    assert_ne!(pids_of(&repaired, "kafka"), [kafka], "kafka was restarted");
    let new_flink = pids_of(&repaired, "flink");
    assert_eq!(new_flink[0], flink[0], "the JobManager was left alone");
    assert_ne!(new_flink[1], taskmanager, "the TaskManager was restarted");
    assert_eq!(pids_of(&repaired, "pulsar"), pids_of(&first, "pulsar"));

    let logs = flinkit(root, &["stack", "logs", "kafka", "-n", "5"]);
    assert_ok(&logs, "stack logs");
    assert!(!logs.stdout.is_empty(), "kafka has a log");
    let logs = flinkit(
        root,
        &["stack", "logs", "kafka", "-n", "5", "--format", "json"],
    );
    assert_ok(&logs, "stack logs --format json");
    let lines: Vec<Value> = String::from_utf8_lossy(&logs.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).expect("one JSON document per log line"))
        .collect();
    assert_eq!(lines.len(), 5, "{lines:?}");
    assert!(
        lines
            .iter()
            .all(|l| l["service"] == "kafka" && l["line"].is_string()),
        "{lines:?}"
    );

    let started = Instant::now();
    let down = flinkit(root, &["stack", "down"]);
    assert_ok(&down, "stack down");
    eprintln!("stack down: {:.1}s", started.elapsed().as_secs_f64());
    let all_pids: Vec<u64> = services(&repaired)
        .into_iter()
        .flat_map(|(_, _, pids)| pids)
        .collect();
    for pid in all_pids {
        assert!(!alive(pid), "pid {pid} is gone");
    }
    for port in TEST_PORTS_LIST {
        assert!(!port_open(port), "port {port} is closed");
    }
    let after = flinkit(root, &["stack", "status", "--format", "json"]);
    assert_eq!(after.status.code(), Some(1));
    assert!(
        services(&json(&after))
            .iter()
            .all(|(_, healthy, pids)| !healthy && pids.is_empty())
    );
}

const TEST_PORTS_LIST: [u16; 9] = [
    TEST_PORTS.kafka_port,
    TEST_PORTS.kafka_controller_port,
    TEST_PORTS.pulsar_port,
    TEST_PORTS.pulsar_http_port,
    TEST_PORTS.flink_port,
    TEST_PORTS.flink_rpc_port,
    TEST_PORTS.gateway_port,
    TEST_PORTS.postgres_port,
    TEST_PORTS.schema_registry_port,
];

fn write_config(root: &Path, ports: Ports) {
    let config = toml::to_string(&toml::Table::from_iter([(
        "stack".to_string(),
        toml::Value::try_from(ports).unwrap(),
    )]))
    .unwrap();
    std::fs::write(root.join("flinkit.toml"), config).unwrap();
}

/// `psql` (PostgreSQL's own client) as the stack's user: `-c SQL`, unaligned, tuples only.
fn psql(port: u16, sql: &str) -> Output {
    Command::new("psql")
        .args(["-h", "localhost", "-p", &port.to_string()])
        .args([
            "-U",
            "flinkit",
            "-d",
            "flinkit",
            "-X",
            "-A",
            "-t",
            "-v",
            "ON_ERROR_STOP=1",
        ])
        .args(["-c", sql])
        .env_remove("PGPASSWORD")
        .output()
        .expect("psql runs (apt-get install postgresql-client)")
}

#[test]
fn postgres_comes_up_keeps_its_data_through_a_crash_and_is_purged() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write_config(root, POSTGRES_ONLY);
    let port = POSTGRES_ONLY.postgres_port;
    assert!(!port_open(port), "port {port} is free before the test");
    let _down = Down(root);
    let only = ["--services", "postgres", "--format", "json"];

    let started = Instant::now();
    let up = flinkit(root, &[&["stack", "up"][..], &only].concat());
    assert_ok(&up, "stack up --services postgres");
    eprintln!(
        "postgres up from nothing (initdb included): {:.1}s",
        started.elapsed().as_secs_f64()
    );
    let first = json(&up);
    let status = &first["services"][0];
    assert_eq!(status["name"], "postgres", "{first}");
    assert_eq!(status["healthy"], true, "{first}");
    assert_eq!(
        status["endpoint"],
        format!("jdbc:postgresql://localhost:{port}/flinkit")
    );
    let pid = pids_of(&first, "postgres");
    assert_eq!(pid.len(), 1, "one recorded server process: {first}");
    let data = root.join("state/stack/postgres/data");
    assert!(
        data.join("PG_VERSION").is_file(),
        "initialised under the state directory"
    );

    // A client this project did not write: the user is trusted, the database exists.
    let who = psql(port, "SELECT current_user || ' ' || current_database()");
    assert_ok(&who, "psql");
    assert_eq!(
        String::from_utf8_lossy(&who.stdout).trim(),
        "flinkit flinkit"
    );
    assert_ok(
        &psql(
            port,
            "CREATE TABLE kept (id INT PRIMARY KEY); INSERT INTO kept VALUES (7)",
        ),
        "psql create",
    );

    // From a folder without that flinkit.toml, the state directory's stack on the ports its
    // `up` used (regression: the default ports were asked, and the stack reported down).
    let elsewhere = root.join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    let status = common::flinkit_command()
        .args([&["stack", "status"][..], &only].concat())
        .current_dir(&elsewhere)
        .env("FLINKIT_STATE_DIR", root.join("state"))
        .env_remove("FLINKIT_LOG")
        .output()
        .unwrap();
    assert_ok(&status, "stack status from another folder");
    assert_eq!(
        json(&status)["services"][0]["endpoint"],
        format!("jdbc:postgresql://localhost:{port}/flinkit")
    );

    let logs = flinkit(root, &["stack", "logs", "postgres", "-n", "20"]);
    assert_ok(&logs, "stack logs postgres");
    let log = String::from_utf8_lossy(&logs.stdout);
    assert!(
        log.contains("database system is ready to accept connections"),
        "{log}"
    );

    // A crash: the server is killed without a shutdown, its pid files stay behind.
    Command::new("kill")
        .args(["-KILL", &pid[0].to_string()])
        .status()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while alive(pid[0]) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        data.join("postmaster.pid").exists(),
        "a stale postmaster.pid"
    );
    let broken = flinkit(root, &[&["stack", "status"][..], &only].concat());
    assert_eq!(
        broken.status.code(),
        Some(1),
        "status fails when it is down"
    );
    // As if the server were still exiting when `up` looks (a process killed just before it,
    // which a large JVM is for a second or more): the recorded process is alive, the service
    // is not healthy, and the process goes away while `up` waits. Regression: `up` waited for
    // the health of a service with no process until its timeout.
    let mut exiting = Command::new("sleep").arg("3").spawn().unwrap();
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", exiting.id())).unwrap();
    let ticks = stat[stat.rfind(')').unwrap() + 2..]
        .split_whitespace()
        .nth(19)
        .unwrap()
        .to_string();
    std::fs::write(
        root.join("state/stack/postgres/pid"),
        format!("{} {ticks}\n", exiting.id()),
    )
    .unwrap();
    let repaired = flinkit(
        root,
        &[&["stack", "up", "--timeout", "60s"][..], &only].concat(),
    );
    exiting.wait().unwrap();
    assert_ok(&repaired, "stack up (repair)");
    let new_pid = pids_of(&json(&repaired), "postgres");
    assert_eq!(new_pid.len(), 1);
    assert_ne!(new_pid, pid, "a new server");
    let kept = psql(port, "SELECT id FROM kept");
    assert_ok(&kept, "psql after the crash");
    assert_eq!(
        String::from_utf8_lossy(&kept.stdout).trim(),
        "7",
        "the data survived"
    );

    let started = Instant::now();
    let down = flinkit(root, &["stack", "down", "--services", "postgres"]);
    assert_ok(&down, "stack down");
    eprintln!("postgres down: {:.1}s", started.elapsed().as_secs_f64());
    assert!(!alive(new_pid[0]), "the server is gone");
    assert!(!port_open(port), "port {port} is closed");
    assert!(data.join("PG_VERSION").is_file(), "down keeps the data");
    assert!(!data.join("postmaster.pid").exists(), "a clean shutdown");

    let purge = flinkit(
        root,
        &["stack", "down", "--services", "postgres", "--purge"],
    );
    assert_ok(&purge, "stack down --purge");
    assert!(!data.exists(), "--purge deletes the data");
}

fn compose() -> serde_yaml_ng::Value {
    serde_yaml_ng::from_str(COMPOSE_FILE).expect("the compose file is YAML")
}

/// Every `${NAME:-DEFAULT}` in the compose file.
fn variables() -> Vec<(String, String)> {
    let mut found = Vec::new();
    let mut rest = COMPOSE_FILE;
    while let Some(start) = rest.find("${") {
        let end = rest[start..].find('}').expect("closed") + start;
        let inner = &rest[start + 2..end];
        if let Some((name, default)) = inner.split_once(":-") {
            found.push((name.to_string(), default.to_string()));
        }
        rest = &rest[end..];
    }
    found
}

#[test]
fn the_compose_file_has_the_process_runtimes_services() {
    let doc = compose();
    let mut names: Vec<&str> = doc["services"]
        .as_mapping()
        .expect("services")
        .keys()
        .filter_map(|k| k.as_str())
        .collect();
    names.sort();
    let mut expected: Vec<&str> = Service::ALL
        .iter()
        .flat_map(|&s| compose_services(s).iter().copied())
        .collect();
    expected.sort();
    assert_eq!(names, expected);
    for name in names {
        assert_eq!(
            doc["services"][name]["network_mode"].as_str(),
            Some("host"),
            "{name} uses the host's network, so endpoints are the process runtime's"
        );
    }
}

#[test]
fn the_compose_file_pins_the_same_versions() {
    let doc = compose();
    let image = |s: &str| doc["services"][s]["image"].as_str().unwrap().to_string();
    let flink = format!("flink:{}-java17", versions::flink());
    for s in ["jobmanager", "taskmanager", "sql-gateway"] {
        assert_eq!(image(s), flink);
        let volumes = format!("{:?}", doc["services"][s]["volumes"]);
        assert!(
            volumes.contains("/opt/flink/lib/flink-sql-runner.jar"),
            "{s} has the runner jar (connectors) in lib: {volumes}"
        );
    }
    assert_eq!(
        image("kafka"),
        format!(
            "apache/kafka:{}",
            versions::property("kafka.version").unwrap()
        )
    );
    assert_eq!(
        image("pulsar"),
        format!(
            "apachepulsar/pulsar:{}",
            versions::property("pulsar.version").unwrap()
        )
    );
    assert_eq!(
        image("schema-registry"),
        format!(
            "apicurio/apicurio-registry-mem:{}",
            versions::property("apicurio.registry.version").unwrap()
        ),
        "the image is the Apicurio release the process runtime builds"
    );
    let server = flinkit::stack::postgres::Server::find().expect("PostgreSQL is installed");
    assert_eq!(
        image("postgres"),
        format!("postgres:{}", server.major_version().unwrap()),
        "the image is the major version the process runtime runs"
    );
    for service in Service::ALL {
        for name in compose_services(service) {
            assert_eq!(
                image(name),
                StackImage::of(service).official(),
                "the Docker runtime builds {name}'s image on the compose file's"
            );
        }
    }
}

#[test]
fn the_compose_file_uses_the_same_ports_and_settings() {
    let defaults = compose_env(&Ports::default());
    let vars = variables();
    assert!(!vars.is_empty());
    for (name, default) in &vars {
        if name == "FLINKIT_RUNNER_JAR" || name == "FLINKIT_GATEWAY_JARS" {
            continue;
        }
        let expected = defaults
            .iter()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("flinkit sets {name}"));
        assert_eq!(
            &expected.1, default,
            "{name}'s default is the process runtime's"
        );
    }
    for (name, _) in &defaults {
        assert!(
            vars.iter().any(|(n, _)| n == name),
            "{name} is used by the compose file"
        );
    }
    let doc = compose();
    let kafka = &doc["services"]["kafka"]["environment"];
    let setting = |v: &serde_yaml_ng::Value| match v {
        serde_yaml_ng::Value::String(s) => s.clone(),
        other => serde_yaml_ng::to_string(other).unwrap().trim().to_string(),
    };
    let gateway = serde_yaml_ng::to_string(&doc["services"]["sql-gateway"]["volumes"]).unwrap();
    assert!(
        gateway.contains("${FLINKIT_GATEWAY_JARS")
            && gateway.contains("target: /opt/flink/lib/flinkit-jdbc"),
        "the Gateway has the jdbc catalog's jars in its lib/, as on the process runtime: {gateway}"
    );
    let flink = setting(&doc["x-flink-properties"]);
    assert!(
        flink.contains(
            "classloader.parent-first-patterns.additional: org.apache.pulsar.;org.postgresql."
        ),
        "the process runtime's class loading: {flink}"
    );
    assert_eq!(
        setting(&kafka["KAFKA_TRANSACTION_MAX_TIMEOUT_MS"]),
        "3600000"
    );
    assert_eq!(setting(&kafka["KAFKA_TRANSACTION_STATE_LOG_MIN_ISR"]), "1");
    assert_eq!(
        setting(&kafka["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"]),
        "1"
    );
    let pulsar = &doc["services"]["pulsar"];
    assert_eq!(
        setting(&pulsar["environment"]["defaultRetentionTimeInMinutes"]),
        "-1"
    );
    assert_eq!(
        setting(&pulsar["environment"]["defaultRetentionSizeInMB"]),
        "-1"
    );
    assert_eq!(
        setting(&pulsar["environment"]["brokerDeleteInactiveTopicsEnabled"]),
        "false"
    );
    let command = setting(&pulsar["command"]);
    assert!(command.contains("--no-functions-worker") && command.contains("--no-stream-storage"));
    let postgres = &doc["services"]["postgres"];
    assert_eq!(
        setting(&postgres["environment"]["POSTGRES_USER"]),
        "flinkit"
    );
    assert_eq!(setting(&postgres["environment"]["POSTGRES_DB"]), "flinkit");
    assert_eq!(
        setting(&postgres["environment"]["POSTGRES_HOST_AUTH_METHOD"]),
        "trust"
    );
    assert!(setting(&postgres["command"]).contains("listen_addresses=localhost"));
    let properties = setting(&doc["services"]["taskmanager"]["environment"]["FLINK_PROPERTIES"]);
    assert!(
        properties.contains("taskmanager.numberOfTaskSlots: 4"),
        "{properties}"
    );
    // The runner jar is in lib/ and is submitted too: Pulsar's client classes come from lib/.
    assert!(
        properties.contains("classloader.parent-first-patterns.additional: org.apache.pulsar."),
        "{properties}"
    );
}
