//! The Docker runtime: `compose/docker-compose.yml` (embedded in the binary) run with
//! `docker compose`, which already implements what the stack needs from Docker (health checks,
//! start order, volumes); flinkit only writes the file, sets the ports and the runner jar, and
//! checks health the same way as for the process runtime.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::{Event, Ports, Service, ServiceStatus, Stack, StackError, health, io, process};
use crate::provision::Cache;

/// The compose file, as shipped in `compose/docker-compose.yml`.
pub const COMPOSE_FILE: &str = include_str!("../../compose/docker-compose.yml");

/// The compose project name.
const PROJECT: &str = "flinkit";

/// Whether a Docker engine answers (`docker info`).
pub fn engine_answers() -> bool {
    Command::new("docker")
        .args(["info", "--format", "{{.ServerVersion}}"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The compose services that make a stack service.
pub fn compose_services(service: Service) -> &'static [&'static str] {
    match service {
        Service::Flink => &["jobmanager", "taskmanager"],
        Service::Gateway => &["sql-gateway"],
        Service::Kafka => &["kafka"],
        Service::Pulsar => &["pulsar"],
        Service::Postgres => &["postgres"],
        Service::SchemaRegistry => &["schema-registry"],
    }
}

/// The variables the compose file takes its ports from (`${FLINKIT_KAFKA_PORT:-9092}` …).
pub fn compose_env(ports: &Ports) -> Vec<(&'static str, String)> {
    [
        ("FLINKIT_KAFKA_PORT", ports.kafka_port),
        ("FLINKIT_KAFKA_CONTROLLER_PORT", ports.kafka_controller_port),
        ("FLINKIT_PULSAR_PORT", ports.pulsar_port),
        ("FLINKIT_PULSAR_HTTP_PORT", ports.pulsar_http_port),
        ("FLINKIT_FLINK_PORT", ports.flink_port),
        ("FLINKIT_FLINK_RPC_PORT", ports.flink_rpc_port),
        ("FLINKIT_GATEWAY_PORT", ports.gateway_port),
        ("FLINKIT_POSTGRES_PORT", ports.postgres_port),
        ("FLINKIT_SCHEMA_REGISTRY_PORT", ports.schema_registry_port),
    ]
    .into_iter()
    .map(|(name, port)| (name, port.to_string()))
    .collect()
}

/// `docker compose -p flinkit -f <state>/stack/docker-compose.yml …` with the ports, the
/// runner jar and the folder of the SQL Gateway's jdbc catalog jars in its environment.
fn compose(stack: &Stack, jars: Option<&(PathBuf, PathBuf)>) -> Result<Command, StackError> {
    std::fs::create_dir_all(stack.root()).map_err(io(stack.root()))?;
    let file = stack.root().join("docker-compose.yml");
    std::fs::write(&file, COMPOSE_FILE).map_err(io(&file))?;
    let mut command = Command::new("docker");
    command
        .args(["compose", "-p", PROJECT, "-f"])
        .arg(&file)
        .envs(compose_env(stack.ports()))
        // Only `up` needs the jars; other commands get placeholders so the file parses.
        .env(
            "FLINKIT_RUNNER_JAR",
            jars.map_or_else(|| "/dev/null".into(), |j| j.0.display().to_string()),
        )
        .env(
            "FLINKIT_GATEWAY_JARS",
            jars.map_or_else(|| "/dev/null".into(), |j| j.1.display().to_string()),
        )
        .stdin(Stdio::null());
    Ok(command)
}

fn run(mut command: Command, what: &str) -> Result<String, StackError> {
    let out = command.output().map_err(|source| StackError::Spawn {
        what: "docker".into(),
        source,
    })?;
    if out.status.success() {
        return Ok(String::from_utf8_lossy(&out.stdout).into_owned());
    }
    Err(StackError::Docker(format!(
        "{what} failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr).trim()
    )))
}

fn names(services: &[Service]) -> Vec<&'static str> {
    services
        .iter()
        .flat_map(|&s| compose_services(s).iter().copied())
        .collect()
}

/// `docker compose up -d --wait` for `services`, then the same health checks as the process
/// runtime until all pass or `timeout` ends.
pub fn up(
    stack: &Stack,
    services: &[Service],
    cache: &Cache,
    timeout: Duration,
    progress: &mut dyn FnMut(Event),
) -> Result<Vec<ServiceStatus>, StackError> {
    let needs_flink = services
        .iter()
        .any(|s| matches!(s, Service::Flink | Service::Gateway));
    let jars = if needs_flink {
        let runner = cache.runner_jar(false, &mut |p| progress(Event::Provision(p)))?;
        let gateway = process::gateway_jars(cache, &mut |p| progress(Event::Provision(p)))?;
        let folder = gateway
            .first()
            .and_then(|j| j.parent())
            .map(Path::to_path_buf);
        Some((runner, folder.unwrap_or_else(|| "/dev/null".into())))
    } else {
        None
    };
    progress(Event::Starting(services.to_vec()));
    let started = Instant::now();
    let mut command = compose(stack, jars.as_ref())?;
    command.args(["up", "-d", "--wait"]).args(names(services));
    run(command, "docker compose up")?;
    for &service in services {
        loop {
            match health::check(service, stack) {
                Ok(()) => break,
                Err(reason) if started.elapsed() >= timeout => {
                    return Err(StackError::Docker(format!(
                        "{service} is not healthy after {}s: {reason}; see `flinkit stack logs {service} --runtime docker`",
                        started.elapsed().as_secs()
                    )));
                }
                Err(_) => std::thread::sleep(Duration::from_millis(500)),
            }
        }
        progress(Event::Healthy(service, started.elapsed()));
    }
    Ok(stack.status(services))
}

/// `docker compose down` (with `purge`, its volumes too) — or `stop` for some services.
pub fn down(stack: &Stack, services: &[Service], purge: bool) -> Result<(), StackError> {
    let mut command = compose(stack, None)?;
    if services.len() == Service::ALL.len() {
        command.arg("down");
        if purge {
            command.arg("--volumes");
        }
    } else {
        command.args(["rm", "--stop", "--force"]);
        if purge {
            command.arg("--volumes");
        }
        command.args(names(services));
    }
    run(command, "docker compose down").map(drop)
}

/// The last `lines` lines of a service's container logs; with `follow`, keeps printing them to
/// this process's stdout until interrupted (and returns nothing).
pub fn logs(
    stack: &Stack,
    service: Service,
    lines: usize,
    follow: bool,
) -> Result<String, StackError> {
    let mut command = compose(stack, None)?;
    command.args(["logs", "--no-color", "--tail", &lines.to_string()]);
    if follow {
        command.arg("--follow");
    }
    command.args(compose_services(service));
    if !follow {
        return run(command, "docker compose logs");
    }
    let status = command
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit())
        .status()
        .map_err(|source| StackError::Spawn {
            what: "docker".into(),
            source,
        })?;
    if status.success() {
        Ok(String::new())
    } else {
        Err(StackError::Docker(format!(
            "docker compose logs failed ({status})"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_service_has_compose_services_in_the_file() {
        for service in Service::ALL {
            for name in compose_services(service) {
                assert!(
                    COMPOSE_FILE.contains(&format!("\n  {name}:\n")),
                    "{name} is in the compose file"
                );
            }
        }
    }
}
