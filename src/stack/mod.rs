//! The local stack: a Flink session cluster (JobManager and one TaskManager), the SQL Gateway,
//! a Kafka broker, a Pulsar standalone broker, a PostgreSQL server and a Schema Registry on this
//! machine, for tutorials, tests and scripts.
//!
//! Two runtimes bring it up: [`process`] runs the Apache releases as plain JVM processes from
//! Maven Central artifacts and the PostgreSQL server of this machine's packages ([`postgres`]),
//! no Docker needed; [`docker`] runs the same processes as containers of a Docker engine,
//! through its API, from the images of [`images`]. Both serve
//! the same endpoints, and [`Stack::status`] checks them the same way: Kafka answers a metadata
//! request, Pulsar's admin API lists its clusters and creates a topic, Flink's `/overview` shows
//! a TaskManager, the Gateway's `/v1/info` answers, PostgreSQL runs a query in the database
//! `flinkit` as the user `flinkit`, the Schema Registry's Confluent-compatible API lists its
//! subjects.
//!
//! ```no_run
//! use flinkit::stack::{Service, Stack};
//!
//! let stack = Stack::from_env(None).unwrap();
//! for status in stack.status(&Service::ALL) {
//!     println!("{} {} {}", status.service, status.healthy, status.endpoint);
//! }
//! ```

pub mod diagnose;
pub mod docker;
mod health;
pub mod images;
pub mod postgres;
pub mod process;
pub mod secure;

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::provision::{Progress, ProvisionError};

/// One service of the stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Service {
    /// The Flink session cluster: a JobManager (REST API and web UI) and one TaskManager.
    Flink,
    /// The Flink SQL Gateway, pointed at the session cluster.
    Gateway,
    /// A single-node Kafka broker (KRaft).
    Kafka,
    /// A Pulsar standalone broker.
    Pulsar,
    /// A PostgreSQL server with the database `flinkit`, user `flinkit` trusted on loopback.
    Postgres,
    /// A Confluent-compatible Schema Registry (Apicurio Registry, in-memory storage).
    #[serde(rename = "schema-registry")]
    SchemaRegistry,
}

impl Service {
    /// Every service, in start order.
    pub const ALL: [Service; 6] = [
        Self::Flink,
        Self::Gateway,
        Self::Kafka,
        Self::Pulsar,
        Self::Postgres,
        Self::SchemaRegistry,
    ];

    /// The name used on the command line and in JSON.
    pub fn name(self) -> &'static str {
        match self {
            Self::Flink => "flink",
            Self::Gateway => "gateway",
            Self::Kafka => "kafka",
            Self::Pulsar => "pulsar",
            Self::Postgres => "postgres",
            Self::SchemaRegistry => "schema-registry",
        }
    }

    /// What it is, for people.
    pub fn title(self) -> &'static str {
        match self {
            Self::Flink => "Flink session cluster",
            Self::Gateway => "SQL Gateway",
            Self::Kafka => "Kafka",
            Self::Pulsar => "Pulsar",
            Self::Postgres => "PostgreSQL",
            Self::SchemaRegistry => "Schema Registry",
        }
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Service {
    type Err = StackError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|service| service.name() == s)
            .ok_or_else(|| StackError::UnknownService(s.to_string()))
    }
}

/// The ports the stack listens on (all on localhost).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Ports {
    /// Kafka's client listener.
    pub kafka_port: u16,
    /// Kafka's KRaft controller listener.
    pub kafka_controller_port: u16,
    /// Pulsar's binary protocol (`pulsar://`).
    pub pulsar_port: u16,
    /// Pulsar's admin and HTTP API.
    pub pulsar_http_port: u16,
    /// Flink's REST API and web UI.
    pub flink_port: u16,
    /// Flink's JobManager RPC (TaskManagers register there).
    pub flink_rpc_port: u16,
    /// The SQL Gateway's REST API.
    pub gateway_port: u16,
    /// PostgreSQL's client port.
    pub postgres_port: u16,
    /// The Schema Registry's HTTP API.
    pub schema_registry_port: u16,
}

impl Default for Ports {
    fn default() -> Self {
        Self {
            kafka_port: 9092,
            kafka_controller_port: 9093,
            pulsar_port: 6650,
            pulsar_http_port: 8080,
            flink_port: 8081,
            flink_rpc_port: 6123,
            gateway_port: 8083,
            postgres_port: 5432,
            schema_registry_port: 8085,
        }
    }
}

impl Ports {
    /// The secure stack's ports by default ([`Stack::secure`]): beside the plain stack's, so
    /// both can run at once.
    pub fn secure_default() -> Self {
        Self {
            kafka_port: 9192,
            kafka_controller_port: 9193,
            pulsar_port: 6651,
            pulsar_http_port: 8443,
            flink_port: 8481,
            flink_rpc_port: 6223,
            gateway_port: 8483,
            postgres_port: 5532,
            schema_registry_port: 8485,
        }
    }

    /// The ports a service listens on, the one clients use first (Pulsar's bookie and Flink's
    /// blob server and TaskManager take free ports the system picks).
    pub fn of(&self, service: Service) -> Vec<u16> {
        match service {
            Service::Flink => vec![self.flink_port, self.flink_rpc_port],
            Service::Gateway => vec![self.gateway_port],
            Service::Kafka => vec![self.kafka_port, self.kafka_controller_port],
            Service::Pulsar => vec![self.pulsar_port, self.pulsar_http_port],
            Service::Postgres => vec![self.postgres_port],
            Service::SchemaRegistry => vec![self.schema_registry_port],
        }
    }

    /// Where clients reach a service (PostgreSQL: the JDBC URL a table's `url` takes; the
    /// Schema Registry: the Confluent-compatible API a table's `avro-confluent.url` takes).
    pub fn endpoint(&self, service: Service) -> String {
        match service {
            Service::Flink => format!("http://localhost:{}", self.flink_port),
            Service::Gateway => format!("http://localhost:{}", self.gateway_port),
            Service::Kafka => format!("localhost:{}", self.kafka_port),
            Service::Pulsar => format!("pulsar://localhost:{}", self.pulsar_port),
            Service::Postgres => postgres::jdbc_url(self),
            Service::SchemaRegistry => format!(
                "http://localhost:{}/apis/ccompat/v7",
                self.schema_registry_port
            ),
        }
    }

    /// Pulsar's admin URL.
    pub fn pulsar_admin(&self) -> String {
        format!("http://localhost:{}", self.pulsar_http_port)
    }
}

/// Why a stack operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StackError {
    /// Java, Maven or the artifacts could not be provisioned.
    #[error(transparent)]
    Provision(#[from] ProvisionError),
    /// Neither `FLINKIT_STATE_DIR`, `XDG_STATE_HOME` nor `HOME` is set.
    #[error("no state directory: set FLINKIT_STATE_DIR")]
    NoStateDir,
    /// The settings (`flinkit.toml`) could not be read.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// A service name that is not one of flink, gateway, kafka, pulsar, postgres,
    /// schema-registry.
    #[error(
        "unknown service `{0}` (expected flink, gateway, kafka, pulsar, postgres or schema-registry)"
    )]
    UnknownService(String),
    /// The PostgreSQL server programs are not installed.
    #[error(
        "the PostgreSQL server is not installed (no initdb and postgres in {}/*/bin or on PATH): \
         apt-get install postgresql",
        postgres::DEBIAN_ROOT
    )]
    NoPostgres,
    /// flinkit runs as root and there is no `postgres` user to run PostgreSQL as.
    #[error(
        "PostgreSQL refuses to run as root, and there is no `postgres` user to run it as \
         (the postgresql package creates one; or: useradd --system postgres)"
    )]
    NoPostgresUser,
    /// Another process listens on a port a service needs.
    #[error("{service} cannot start: port {port} is taken by {holder}")]
    PortTaken {
        /// The service that needs the port.
        service: Service,
        /// The port.
        port: u16,
        /// Who holds it (`pid 123: java …`, or "another process" when it cannot be seen).
        holder: String,
    },
    /// A service did not become healthy.
    #[error(
        "{service} is not healthy after {}s: {reason}{}\nthe end of its log ({}):\n{tail}",
        waited.as_secs(),
        cause.as_ref().map(|c| format!("\nlikely cause: {c}")).unwrap_or_default(),
        log.display()
    )]
    Unhealthy {
        /// The service.
        service: Service,
        /// How long it was waited for.
        waited: Duration,
        /// The last health check's answer, or how the process ended.
        reason: String,
        /// What the log says went wrong, when it is recognisable.
        cause: Option<String>,
        /// The service's log.
        log: PathBuf,
        /// Its last lines.
        tail: String,
    },
    /// A process could not be started.
    #[error("could not start {what}")]
    Spawn {
        /// The program.
        what: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The secure stack's certificates, stores or tokens could not be made.
    #[error("the secure stack's credentials: {0}")]
    Credentials(String),
    /// A service the secure stack does not run.
    #[error("the secure stack has no {0} (it runs flink, gateway, kafka and pulsar)")]
    NotSecure(Service),
    /// No Docker engine answers.
    #[error(
        "no Docker engine answers at {socket} (start one: `sudo systemctl start docker`, or \
         `sudo dockerd &`; or use --runtime process)"
    )]
    NoDockerEngine {
        /// The engine's address (`DOCKER_HOST`, else the default socket).
        socket: String,
        /// Why the connection failed.
        source: bollard::errors::Error,
    },
    /// The Docker engine refuses this user.
    #[error(
        "permission denied on the Docker engine's socket {socket} (add your user to the `docker` \
         group: `sudo usermod -aG docker $USER`, then log in again; or use --runtime process)"
    )]
    DockerPermission {
        /// The engine's address.
        socket: String,
    },
    /// An image of the stack can be neither pulled nor built.
    #[error("cannot make the image {image}: {reason}")]
    Image {
        /// The image.
        image: String,
        /// Why not.
        reason: String,
    },
    /// A call to the Docker engine failed.
    #[error("docker: {what}")]
    DockerApi {
        /// What was asked.
        what: String,
        /// The engine's answer.
        source: bollard::errors::Error,
    },
    /// A service has no container in this stack.
    #[error(
        "no container for {service} in the Docker stack of {} (has `flinkit stack up --runtime docker` started it?)",
        root.display()
    )]
    NoContainer {
        /// The service.
        service: Service,
        /// The stack's state folder.
        root: PathBuf,
    },
    /// A file operation failed.
    #[error("{}", path.display())]
    Io {
        /// The path involved.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

impl StackError {
    /// The service the error is about, when there is one.
    pub fn service(&self) -> Option<Service> {
        match self {
            Self::PortTaken { service, .. } | Self::Unhealthy { service, .. } => Some(*service),
            _ => None,
        }
    }
}

pub(crate) fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StackError + '_ {
    move |source| StackError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// What the stack is doing, for a progress display.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// Provisioning Java artifacts.
    Provision(Progress),
    /// These services are starting.
    Starting(Vec<Service>),
    /// A service became healthy after this long.
    Healthy(Service, Duration),
    /// A service was already healthy and was left alone.
    AlreadyHealthy(Service),
    /// A dead process of a service is being started again.
    Repairing(Service, String),
    /// A service's processes are gone, after this long.
    Stopped(Service, Duration),
    /// An image is being built.
    Building {
        /// The image.
        image: String,
        /// What it is built from.
        from: String,
        /// Why it is built.
        why: String,
    },
    /// An image was built in this long.
    Built(String, Duration),
}

/// Whether a service answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServiceStatus {
    /// The service.
    #[serde(rename = "name")]
    pub service: Service,
    /// Whether its health check passed.
    pub healthy: bool,
    /// Where clients reach it.
    pub endpoint: String,
    /// Why it is not healthy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The processes the process runtime recorded for it and that are alive.
    pub pids: Vec<u32>,
}

/// Which runtime runs the stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Runtime {
    /// JVM processes from Maven Central artifacts.
    Process,
    /// Containers of a Docker engine ([`docker`]).
    Docker,
}

impl Runtime {
    /// The runtime for `stack`: the one already running it (see [`Stack::runtime_in_use`]),
    /// else Docker when it can really run the stack ([`docker::can_run`]), else processes.
    pub fn for_stack(stack: &Stack) -> Self {
        stack.runtime_in_use().unwrap_or_else(|| {
            if docker::can_run() {
                Self::Docker
            } else {
                Self::Process
            }
        })
    }

    /// Its name on the command line and in the state directory.
    pub fn name(self) -> &'static str {
        match self {
            Self::Process => "process",
            Self::Docker => "docker",
        }
    }
}

/// The file under the stack's root naming the runtime of its last `up`.
const RUNTIME_FILE: &str = "runtime";
/// The file under the stack's root holding the ports of its last `up` (JSON).
const PORTS_FILE: &str = "ports.json";

/// The ports the last `up` of the plain stack in the state directory `state` recorded.
fn recorded_ports(state: &Path) -> Option<Ports> {
    let text = std::fs::read(Stack::new(state, Ports::default()).root.join(PORTS_FILE)).ok()?;
    serde_json::from_slice(&text).ok()
}

/// A local stack: where its state lives, which ports it uses and, for the secure one, its
/// credentials.
#[derive(Debug, Clone)]
pub struct Stack {
    root: PathBuf,
    ports: Ports,
    secrets: Option<secure::Secrets>,
}

impl Stack {
    /// A stack keeping its state under `state_dir/stack`.
    pub fn new(state_dir: impl AsRef<Path>, ports: Ports) -> Self {
        Self {
            root: state_dir.as_ref().join("stack"),
            ports,
            secrets: None,
        }
    }

    /// The secure stack, its state under `state_dir/stack-secure`: Kafka only over SASL_SSL
    /// (SCRAM-SHA-512, with ACLs), Pulsar only over TLS with token authentication and
    /// authorization, Flink's REST API and the SQL Gateway over HTTPS; the credentials in
    /// [`Stack::secrets`]. It has no PostgreSQL.
    pub fn secure(state_dir: impl AsRef<Path>, ports: Ports) -> Self {
        let root = state_dir.as_ref().join("stack-secure");
        Self {
            secrets: Some(secure::Secrets::at(root.join("secrets"))),
            root,
            ports,
        }
    }

    /// The secure stack from the environment: state under [`crate::config::state_dir`], ports
    /// from the `[secure_stack]` section of the settings, else [`Ports::secure_default`].
    pub fn secure_from_env(config: Option<&Path>) -> Result<Self, StackError> {
        let state = crate::config::state_dir().map_err(|_| StackError::NoStateDir)?;
        let settings = crate::config::Settings::load(config)?;
        Ok(Self::secure(state, settings.secure_stack))
    }

    /// The version its Flink reports, asked as its health check asks (trusting the secure
    /// stack's CA); why not when it does not answer.
    pub fn flink_version(&self) -> Result<String, String> {
        health::flink_version(self)
    }

    /// The credentials, for the secure stack.
    pub fn secrets(&self) -> Option<&secure::Secrets> {
        self.secrets.as_ref()
    }

    /// The services this stack runs (the secure one has no PostgreSQL).
    pub fn services(&self) -> &'static [Service] {
        if self.secrets.is_some() {
            &Service::ALL[..4]
        } else {
            &Service::ALL
        }
    }

    /// Where clients reach a service: [`Ports::endpoint`], with `https://` and `pulsar+ssl://`
    /// on the secure stack.
    pub fn endpoint(&self, service: Service) -> String {
        let plain = self.ports.endpoint(service);
        if self.secrets.is_none() {
            return plain;
        }
        match service {
            Service::Flink | Service::Gateway => plain.replacen("http://", "https://", 1),
            Service::Pulsar => plain.replacen("pulsar://", "pulsar+ssl://", 1),
            Service::Kafka | Service::Postgres | Service::SchemaRegistry => plain,
        }
    }

    /// What a table, `flinkit.toml` or the environment needs to reach a service of the secure
    /// stack (none on the plain one), as `(key, value)`: table options for Kafka and Pulsar
    /// (`${KAFKA_PASSWORD}` stands for the password, which is read from its file), variables
    /// for Flink and the Gateway. Never a secret itself.
    pub fn client_settings(&self, service: Service) -> Vec<(String, String)> {
        let Some(secrets) = &self.secrets else {
            return Vec::new();
        };
        let ca = secrets.ca().display().to_string();
        let pairs: Vec<(&str, String)> = match service {
            Service::Kafka => vec![
                ("properties.bootstrap.servers", self.endpoint(service)),
                ("properties.security.protocol", "SASL_SSL".into()),
                ("properties.sasl.mechanism", secure::KAFKA_MECHANISM.into()),
                (
                    "properties.sasl.jaas.config",
                    format!(
                        "{} required username=\"flinkit\" password=\"${{KAFKA_PASSWORD}}\";",
                        secure::FLINK_SCRAM_LOGIN_MODULE
                    ),
                ),
                ("properties.ssl.truststore.type", "PEM".into()),
                ("properties.ssl.truststore.location", ca),
                (
                    "KAFKA_PASSWORD",
                    format!(
                        "$(cat {})",
                        secrets.kafka_password_file("flinkit").display()
                    ),
                ),
            ],
            Service::Pulsar => vec![
                ("service-url", self.endpoint(service)),
                ("admin-url", self.pulsar_admin()),
                (
                    "pulsar.client.authPluginClassName",
                    secure::PULSAR_TOKEN_PLUGIN.into(),
                ),
                (
                    "pulsar.client.authParams",
                    format!("file://{}", secrets.pulsar_token_file("flinkit").display()),
                ),
                ("pulsar.client.tlsTrustCertsFilePath", ca),
            ],
            Service::Flink => vec![
                ("FLINKIT_FLINK_URL", self.endpoint(service)),
                ("FLINKIT_FLINK_CA_FILE", ca),
            ],
            Service::Gateway => vec![
                ("FLINKIT_GATEWAY_URL", self.endpoint(service)),
                ("FLINKIT_GATEWAY_CA_FILE", ca),
            ],
            Service::Postgres | Service::SchemaRegistry => Vec::new(),
        };
        pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
    }

    /// Pulsar's admin URL (`https://` on the secure stack).
    pub fn pulsar_admin(&self) -> String {
        let plain = self.ports.pulsar_admin();
        if self.secrets.is_some() {
            plain.replacen("http://", "https://", 1)
        } else {
            plain
        }
    }

    /// The stack from the environment: state under [`crate::config::state_dir`]; ports from
    /// the `[stack]` section of the settings ([`crate::config::Settings::load`], with `config`
    /// as the project file when given), else those the last `up` in that state directory
    /// recorded (so `status` from another folder asks the stack that runs), else the defaults.
    pub fn from_env(config: Option<&Path>) -> Result<Self, StackError> {
        let state = crate::config::state_dir().map_err(|_| StackError::NoStateDir)?;
        let settings = crate::config::Settings::load(config)?;
        let ports = if crate::config::Settings::stack_configured(config) {
            settings.stack
        } else {
            recorded_ports(&state).unwrap_or(settings.stack)
        };
        Ok(Self::new(state, ports))
    }

    /// Where the stack keeps pids, configs, data and logs.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Its ports.
    pub fn ports(&self) -> &Ports {
        &self.ports
    }

    /// The runtime the stack in this state directory runs on: processes when one of its
    /// recorded processes is alive, else the runtime its last `up` recorded (until a `down` of
    /// every service), else none.
    pub fn runtime_in_use(&self) -> Option<Runtime> {
        if Service::ALL
            .iter()
            .any(|&service| !process::live_pids(self, service).is_empty())
        {
            return Some(Runtime::Process);
        }
        let recorded = std::fs::read_to_string(self.root.join(RUNTIME_FILE)).ok()?;
        [Runtime::Process, Runtime::Docker]
            .into_iter()
            .find(|runtime| runtime.name() == recorded.trim())
    }

    /// Records the runtime `up` uses (read by [`Stack::runtime_in_use`]) and the ports (read
    /// by [`Stack::from_env`] where no `[stack]` section is given).
    pub fn record_runtime(&self, runtime: Runtime) -> Result<(), StackError> {
        std::fs::create_dir_all(&self.root).map_err(io(&self.root))?;
        let path = self.root.join(RUNTIME_FILE);
        std::fs::write(&path, runtime.name()).map_err(io(&path))?;
        let path = self.root.join(PORTS_FILE);
        let ports = serde_json::to_vec(&self.ports).unwrap_or_default();
        std::fs::write(&path, ports).map_err(io(&path))
    }

    /// Forgets the recorded runtime and ports (after a `down` of every service).
    pub fn forget_runtime(&self) {
        let _ = std::fs::remove_file(self.root.join(RUNTIME_FILE));
        let _ = std::fs::remove_file(self.root.join(PORTS_FILE));
    }

    /// Checks each service's health (runtime-independent: it asks the endpoints).
    pub fn status(&self, services: &[Service]) -> Vec<ServiceStatus> {
        let checks: Vec<_> = services
            .iter()
            .map(|&service| {
                let stack = self.clone();
                std::thread::spawn(move || health::check(service, &stack))
            })
            .collect();
        services
            .iter()
            .zip(checks)
            .map(|(&service, check)| {
                let result = check
                    .join()
                    .unwrap_or_else(|_| Err("the health check failed".into()));
                ServiceStatus {
                    service,
                    healthy: result.is_ok(),
                    endpoint: self.endpoint(service),
                    reason: result.err(),
                    pids: process::live_pids(self, service),
                }
            })
            .collect()
    }
}

/// Expands `flink` etc. from a comma-separated list, keeping the stack's order; empty means all.
pub fn parse_services(list: &[String]) -> Result<Vec<Service>, StackError> {
    let mut services = Vec::new();
    for name in list.iter().flat_map(|s| s.split(',')) {
        let name = name.trim();
        if name.is_empty() {
            continue;
        }
        let service = if name == "all" {
            services.extend(Service::ALL);
            continue;
        } else {
            name.parse()?
        };
        services.push(service);
    }
    if services.is_empty() {
        // No list means every service; a list of nothing (`--services ""`) is a mistake.
        if !list.is_empty() {
            return Err(StackError::UnknownService(list.join(",")));
        }
        services.extend(Service::ALL);
    }
    services.sort();
    services.dedup();
    Ok(services)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn services_parse_in_stack_order() {
        let list = |s: &str| vec![s.to_string()];
        assert_eq!(parse_services(&[]).unwrap(), Service::ALL);
        assert_eq!(
            parse_services(&list("pulsar,kafka,pulsar")).unwrap(),
            [Service::Kafka, Service::Pulsar]
        );
        assert!(matches!(
            parse_services(&list("kafka,zookeeper")),
            Err(StackError::UnknownService(name)) if name == "zookeeper"
        ));
        assert!(matches!(
            parse_services(&list("")),
            Err(StackError::UnknownService(_))
        ));
        assert!(parse_services(&list(" , ")).is_err());
    }

    #[test]
    fn ports_come_from_the_stack_section() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("flinkit.toml");
        std::fs::write(&path, "[stack]\nkafka_port = 19092\n").unwrap();
        let ports = |path| crate::config::Settings::load(Some(path)).map(|s| s.stack);
        let read = ports(&path).unwrap();
        assert_eq!(read.kafka_port, 19092);
        assert_eq!(read.pulsar_port, 6650);
        assert_eq!(read.endpoint(Service::Kafka), "localhost:19092");
        std::fs::write(&path, "[stack]\nkafka = 1\n").unwrap();
        assert!(ports(&path).unwrap_err().to_string().contains("kafka"));
        std::fs::write(&path, "[cluster]\ntarget = \"rest\"\n").unwrap();
        assert_eq!(ports(&path).unwrap(), Ports::default());
    }

    #[test]
    fn default_endpoints_follow_the_contract() {
        let ports = Ports::default();
        assert_eq!(ports.endpoint(Service::Flink), "http://localhost:8081");
        assert_eq!(ports.endpoint(Service::Gateway), "http://localhost:8083");
        assert_eq!(ports.endpoint(Service::Kafka), "localhost:9092");
        assert_eq!(ports.endpoint(Service::Pulsar), "pulsar://localhost:6650");
        assert_eq!(ports.pulsar_admin(), "http://localhost:8080");
        assert_eq!(
            ports.endpoint(Service::Postgres),
            "jdbc:postgresql://localhost:5432/flinkit"
        );
        assert_eq!(
            ports.endpoint(Service::SchemaRegistry),
            "http://localhost:8085/apis/ccompat/v7"
        );
        assert_eq!(
            "schema-registry".parse::<Service>().unwrap(),
            Service::SchemaRegistry
        );
    }
}
