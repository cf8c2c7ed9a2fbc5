//! The Docker stack, for real, on a Docker engine (`scripts/docker-test.sh` starts one when none
//! answers and runs these tests; a plain `cargo test` skips them, as they need root's engine):
//! `flinkit stack up --runtime docker` from cached images, the Kafka tutorial through the REST
//! API (`flinkit demo`) and through the SQL Gateway (`launch --target gateway`), a killed
//! container repaired by `up`, and `down --purge` leaving no container, volume or network, as
//! the `docker` program (a client flinkit did not write) sees it. Also the bad inputs: no
//! engine, no permission, a port taken by a process or by another container — each one line,
//! exit 1, nothing started.
//!
//! The stack has its own state folder and ports (30000–30999), so it never meets the process
//! stack the other tests use.

mod common;

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use flinkit::bridge::Broker;
use flinkit::demo::{self, Rewrite, Tutorial};
use flinkit::stack::{Ports, Service};
use serde_json::Value;

/// The Docker stack's ports.
const PORTS: Ports = Ports {
    kafka_port: 30092,
    kafka_controller_port: 30093,
    pulsar_port: 30650,
    pulsar_http_port: 30080,
    flink_port: 30081,
    flink_rpc_port: 30123,
    gateway_port: 30083,
    postgres_port: 30432,
    schema_registry_port: 30085,
};

/// A folder with a `flinkit.toml` of [`PORTS`] and a state folder, where `flinkit` runs.
struct Place {
    dir: tempfile::TempDir,
}

impl Place {
    /// In `FLINKIT_DOCKER_TEST_DIR` when set (scripts/docker-test.sh takes down what is left
    /// there), else in the system's temporary folder.
    fn new() -> Self {
        let dir = match std::env::var_os("FLINKIT_DOCKER_TEST_DIR") {
            Some(parent) => tempfile::tempdir_in(parent),
            None => tempfile::tempdir(),
        }
        .unwrap();
        let config = toml::to_string(&toml::Table::from_iter([(
            "stack".to_string(),
            toml::Value::try_from(PORTS).unwrap(),
        )]))
        .unwrap();
        std::fs::write(dir.path().join("flinkit.toml"), config).unwrap();
        Self { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The stack's root, which labels its containers and volumes.
    fn stack_root(&self) -> String {
        self.path().join("state/stack").display().to_string()
    }

    fn flinkit(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("flinkit runs")
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = common::flinkit_command();
        command
            .args(args)
            .current_dir(self.path())
            .env("FLINKIT_STATE_DIR", self.path().join("state"))
            .env_remove("FLINKIT_LOG");
        command
    }

    /// `docker ps -a` / `docker volume ls` of this stack's label: what the engine still holds.
    fn leftovers(&self) -> (Vec<String>, Vec<String>) {
        let label = format!("label=org.flinkit.stack={}", self.stack_root());
        let containers = docker(&["ps", "-a", "--filter", &label, "--format", "{{.Names}}"]);
        let volumes = docker(&["volume", "ls", "--filter", &label, "--format", "{{.Name}}"]);
        (lines(&containers), lines(&volumes))
    }

    /// The container of one of the stack's processes.
    fn container(&self, process: &str) -> String {
        let stack = format!("label=org.flinkit.stack={}", self.stack_root());
        let process = format!("label=org.flinkit.process={process}");
        let names = docker(&[
            "ps",
            "--filter",
            &stack,
            "--filter",
            &process,
            "--format",
            "{{.Names}}",
        ]);
        lines(&names).pop().expect("the process has a container")
    }
}

/// Stops the stack however the test ends.
impl Drop for Place {
    fn drop(&mut self) {
        let out = self.flinkit(&["stack", "down", "--runtime", "docker", "--purge"]);
        eprintln!(
            "stack down --purge: {} {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

fn lines(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect()
}

/// `docker ARGS` (the engine's own client), its stdout.
fn docker(args: &[&str]) -> String {
    let out = Command::new("docker")
        .args(args)
        .output()
        .expect("docker runs");
    assert!(
        out.status.success(),
        "docker {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn assert_ok(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what} failed ({}):\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The one line of a failed run's stderr, which must exit 1.
fn one_line_failure(out: &Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).trim().to_string();
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "one error line: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    errors[0].to_string()
}

fn healthy(doc: &Value) -> Vec<(String, bool)> {
    doc["services"]
        .as_array()
        .expect("services")
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap_or_default().to_string(),
                s["healthy"].as_bool().unwrap_or_default(),
            )
        })
        .collect()
}

fn all_healthy(doc: &Value) {
    let services = healthy(doc);
    assert_eq!(services.len(), Service::ALL.len(), "{doc}");
    assert!(services.iter().all(|(_, h)| *h), "{doc}");
}

#[test]
#[ignore = "needs a Docker engine: scripts/docker-test.sh runs it"]
fn the_docker_stack_runs_the_kafka_tutorial_repairs_itself_and_goes_down() {
    let place = Place::new();
    let networks = docker(&["network", "ls", "-q"]);

    // A port held by a process: named before anything starts.
    let squatter = std::net::TcpListener::bind(("127.0.0.1", PORTS.gateway_port)).unwrap();
    let taken = place.flinkit(&["stack", "up", "--runtime", "docker"]);
    let line = one_line_failure(&taken);
    assert!(
        line.contains(&format!(
            "port {} is taken by pid {}",
            PORTS.gateway_port,
            std::process::id()
        )),
        "{line}"
    );
    drop(squatter);
    assert_eq!(place.leftovers(), (vec![], vec![]), "nothing was started");

    let started = Instant::now();
    let up = place.flinkit(&["stack", "up", "--runtime", "docker", "--format", "json"]);
    assert_ok(&up, "stack up --runtime docker");
    let first = common::json(&up);
    all_healthy(&first);
    assert_eq!(first["runtime"], "docker");
    eprintln!(
        "docker stack up: {:.1}s\n{}",
        started.elapsed().as_secs_f64(),
        String::from_utf8_lossy(&up.stderr)
    );
    let (containers, volumes) = place.leftovers();
    // One container per process: Flink is a JobManager and a TaskManager.
    assert_eq!(containers.len(), Service::ALL.len() + 1, "{containers:?}");
    // One volume per service, the Gateway's being Flink's.
    assert_eq!(volumes.len(), Service::ALL.len() - 1, "{volumes:?}");

    // Without --runtime, commands follow the stack that runs.
    let status = place.flinkit(&["stack", "status", "--format", "json"]);
    assert_ok(&status, "stack status");
    all_healthy(&common::json(&status));
    let again = place.flinkit(&["stack", "up", "--format", "json"]);
    assert_ok(&again, "stack up again");
    assert_eq!(common::json(&again)["runtime"], "docker");
    assert_eq!(
        String::from_utf8_lossy(&again.stderr)
            .matches("already running")
            .count(),
        Service::ALL.len(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );

    // The Kafka tutorial through the REST API…
    let started = Instant::now();
    let demo = place.flinkit(&[
        "demo",
        "user-count",
        "--broker",
        "kafka",
        "--format",
        "json",
    ]);
    assert_ok(&demo, "demo user-count on kafka");
    eprintln!("demo through REST: {:.1}s", started.elapsed().as_secs_f64());
    // …and through the SQL Gateway.
    let started = Instant::now();
    tutorial_through_the_gateway(&place, "user-count");
    eprintln!(
        "user-count through the gateway: {:.1}s",
        started.elapsed().as_secs_f64()
    );

    // Kill Kafka's and the TaskManager's containers as a crash would: `up` starts them again.
    for process in ["kafka", "taskmanager"] {
        docker(&["kill", &place.container(process)]);
    }
    let broken = place.flinkit(&["stack", "status", "--format", "json"]);
    assert_eq!(
        broken.status.code(),
        Some(1),
        "status fails when one is down"
    );
    assert!(
        healthy(&common::json(&broken)).contains(&("kafka".into(), false)),
        "kafka is down"
    );
    let started = Instant::now();
    let repaired = place.flinkit(&["stack", "up", "--format", "json"]);
    assert_ok(&repaired, "stack up (repair)");
    all_healthy(&common::json(&repaired));
    let stderr = String::from_utf8_lossy(&repaired.stderr);
    assert!(
        stderr.contains("restarting its stopped taskmanager process"),
        "{stderr}"
    );
    eprintln!(
        "stack up repairing kafka and the taskmanager: {:.1}s\n{stderr}",
        started.elapsed().as_secs_f64()
    );
    place.container("kafka");
    place.container("taskmanager");

    let logs = place.flinkit(&["stack", "logs", "flink", "-n", "5"]);
    assert_ok(&logs, "stack logs");
    let text = String::from_utf8_lossy(&logs.stdout);
    assert!(
        text.contains("[jobmanager] ") && text.contains("[taskmanager] "),
        "{text}"
    );

    let down = place.flinkit(&["stack", "down", "--purge"]);
    assert_ok(&down, "stack down --purge");
    assert_eq!(place.leftovers(), (vec![], vec![]), "nothing is left");
    assert_eq!(
        docker(&["network", "ls", "-q"]),
        networks,
        "no network made"
    );
    let after = place.flinkit(&["stack", "status", "--runtime", "docker"]);
    assert_eq!(after.status.code(), Some(1));
}

/// A tutorial on Kafka through the stack's SQL Gateway: the SQL pointed at the stack's broker
/// on topics of its own, the records produced, the job launched, the sink read until it is the
/// tutorial's table at every step; the job is cancelled at the end.
fn tutorial_through_the_gateway(place: &Place, name: &str) {
    let tutorial = Tutorial::named(name).unwrap();
    let suffix = format!("-docker-{}", demo::run_id());
    let sql = demo::rewrite(
        tutorial.sql(Broker::Kafka).unwrap(),
        &Rewrite {
            topic_suffix: suffix,
            kafka: Some(format!("localhost:{}", PORTS.kafka_port)),
            pulsar: None,
        },
    )
    .unwrap();
    let file = place.path().join(format!("{name}.sql"));
    std::fs::write(&file, &sql).unwrap();
    let file = file.to_str().unwrap();
    let gateway = format!("http://localhost:{}", PORTS.gateway_port);
    let flink = format!("http://localhost:{}", PORTS.flink_port);
    let mut job: Option<String> = None;
    for step in &tutorial.steps {
        for feed in &step.produce {
            let records = common::root().join(tutorial.dir()).join(&feed.file);
            let mut args = vec![
                "produce",
                "--table",
                &feed.table,
                "-f",
                file,
                "--file",
                records.to_str().unwrap(),
            ];
            if feed.envelope {
                args.push("--envelope");
            }
            assert_ok(&place.flinkit(&args), "produce");
        }
        if job.is_none() {
            let launched = place.flinkit(&[
                "launch",
                "--target",
                "gateway",
                "--gateway-url",
                &gateway,
                "--flink-url",
                &flink,
                "-f",
                file,
                "--format",
                "json",
            ]);
            assert_ok(&launched, "launch --target gateway");
            let launched = common::json(&launched);
            assert_eq!(launched["state"], "RUNNING", "{launched}");
            job = launched["job_id"].as_str().map(str::to_string);
        }
        let expected = Value::Array(step.expect.iter().cloned().map(Value::Object).collect());
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let out = place.flinkit(&[
                "consume",
                "--table",
                &tutorial.sink,
                "-f",
                file,
                "--upsert",
                "--timeout",
                "3s",
                "--format",
                "json",
            ]);
            let found = if out.status.success() {
                common::json(&out)["rows"].clone()
            } else {
                Value::Null
            };
            if found == expected {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{} is not the tutorial's table:\n  expected {expected}\n  found    {found}",
                tutorial.sink
            );
            std::thread::sleep(Duration::from_secs(1));
        }
    }
    if let Some(job) = job {
        let cancelled = place.flinkit(&["jobs", "cancel", &job, "--flink-url", &flink]);
        assert_ok(&cancelled, "jobs cancel");
    }
}

#[test]
#[ignore = "needs a Docker engine: scripts/docker-test.sh runs it"]
fn without_an_engine_or_its_permission_up_says_so_in_one_line() {
    let place = Place::new();
    let socket = place.path().join("no-engine.sock");
    let out = place
        .command(&[
            "stack",
            "up",
            "--runtime",
            "docker",
            "--services",
            "postgres",
        ])
        .env("DOCKER_HOST", format!("unix://{}", socket.display()))
        .output()
        .unwrap();
    let line = one_line_failure(&out);
    assert!(
        line.contains(&format!(
            "no Docker engine answers at unix://{}",
            socket.display()
        )) && line.contains("sudo dockerd &"),
        "{line}"
    );

    // The engine's socket is root's and the docker group's: the user `nobody` may not use it.
    let state = place.path().join("nobody");
    std::fs::create_dir_all(&state).unwrap();
    Command::new("chmod")
        .args(["-R", "a+rwx"])
        .arg(place.path())
        .status()
        .unwrap();
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(env!("CARGO_BIN_EXE_flinkit"))
        .args([
            "stack",
            "up",
            "--runtime",
            "docker",
            "--services",
            "postgres",
        ])
        .current_dir(place.path())
        .env("FLINKIT_STATE_DIR", &state)
        .env("HOME", &state)
        .env_remove("FLINKIT_LOG")
        .output()
        .unwrap();
    let line = one_line_failure(&out);
    assert!(
        line.contains("permission denied on the Docker engine's socket")
            && line.contains("docker` group"),
        "{line}"
    );
    assert_eq!(place.leftovers(), (vec![], vec![]), "nothing was started");
}

#[test]
#[ignore = "needs a Docker engine: scripts/docker-test.sh runs it"]
fn a_port_taken_by_another_container_is_named() {
    let place = Place::new();
    let port = PORTS.postgres_port.to_string();
    let listener = format!(
        "use IO::Socket::INET; my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', \
         LocalPort => {port}, Listen => 1, ReuseAddr => 1) or die $!; sleep 600"
    );
    let name = format!("flinkit-test-squatter-{}", std::process::id());
    docker(&[
        "run",
        "-d",
        "--rm",
        "--name",
        &name,
        "--network",
        "host",
        "flinkit/debian:bookworm",
        "perl",
        "-e",
        &listener,
    ]);
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", PORTS.postgres_port)).is_err() {
        assert!(Instant::now() < deadline, "the squatter listens");
        std::thread::sleep(Duration::from_millis(200));
    }
    let out = place.flinkit(&[
        "stack",
        "up",
        "--runtime",
        "docker",
        "--services",
        "postgres",
    ]);
    let _ = Command::new("docker").args(["rm", "-f", &name]).output();
    let line = one_line_failure(&out);
    assert!(
        line.contains(&format!("port {port} is taken by the container {name}")),
        "{line}"
    );
    assert_eq!(place.leftovers(), (vec![], vec![]), "nothing was started");
}
