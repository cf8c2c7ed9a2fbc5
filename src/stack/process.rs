//! The process runtime: the stack's services as processes on this machine — JVMs from Maven
//! Central artifacts cached by [`crate::provision`], and the PostgreSQL server of this
//! machine's packages ([`super::postgres`]) — no Docker needed.
//!
//! Seven processes make the six services: `kafka` (one KRaft node, broker and controller),
//! `pulsar` (`PulsarStandaloneStarter`: broker and bookie, RocksDB metadata), `jobmanager` and
//! `taskmanager` (the Flink session cluster), `gateway` (the SQL Gateway), `postgres` (the
//! PostgreSQL server, whose own worker processes it starts itself) and `schema-registry`
//! (Apicurio Registry, a Quarkus application built once from Maven Central's artifacts,
//! in-memory storage, its Confluent-compatible API under `/apis/ccompat/v7`). The runner jar,
//! which bundles the Kafka and Pulsar connectors and formats, is on the classpath of the Flink
//! processes and the Gateway, so SQL Gateway sessions and jars submitted over REST can use them;
//! the Gateway also has the jdbc catalog's jars (the connector and the PostgreSQL driver).
//!
//! Each process has a directory under the stack's root:
//!
//! ```text
//! <state>/stack/<process>/pid          "pid start-time" (the start time guards against pid reuse)
//! <state>/stack/<process>/<process>.log  stdout and stderr (the previous run's in .log.1)
//! <state>/stack/<process>/conf/        generated configuration
//! <state>/stack/<process>/data/        data (deleted by `down --purge`)
//! ```
//!
//! Processes are started in their own process group and left running when flinkit exits;
//! [`down`] stops the recorded ones (SIGTERM to a JVM's group, SIGINT — a fast shutdown — to
//! PostgreSQL's server, then SIGKILL to the group), never by name.

use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;

use super::postgres::Server;
use super::{
    Event, Ports, Service, ServiceStatus, Stack, StackError, diagnose, health, io, secure,
};
use crate::connectors::resolve::{self, Kind};
use crate::provision::{Cache, find_java};
use crate::versions;

/// One process of the stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Unit {
    Kafka,
    Pulsar,
    JobManager,
    TaskManager,
    Gateway,
    Postgres,
    SchemaRegistry,
}

impl Unit {
    pub(super) fn name(self) -> &'static str {
        match self {
            Self::Kafka => "kafka",
            Self::Pulsar => "pulsar",
            Self::JobManager => "jobmanager",
            Self::TaskManager => "taskmanager",
            Self::Gateway => "gateway",
            Self::Postgres => "postgres",
            Self::SchemaRegistry => "schema-registry",
        }
    }

    /// What asks it to stop: SIGTERM for a JVM's group; SIGINT for PostgreSQL's server alone,
    /// its fast shutdown (SIGTERM would wait for every client to leave, and its workers stop
    /// when the server tells them).
    fn stop_signal(self) -> (Signal, bool) {
        match self {
            Self::Postgres => (Signal::SIGINT, false),
            _ => (Signal::SIGTERM, true),
        }
    }

    pub(super) fn of(service: Service) -> &'static [Unit] {
        match service {
            Service::Flink => &[Self::JobManager, Self::TaskManager],
            Service::Gateway => &[Self::Gateway],
            Service::Kafka => &[Self::Kafka],
            Service::Pulsar => &[Self::Pulsar],
            Service::Postgres => &[Self::Postgres],
            Service::SchemaRegistry => &[Self::SchemaRegistry],
        }
    }

    /// The ports it binds (the TaskManager's are chosen by the system).
    pub(super) fn ports(self, ports: &Ports) -> Vec<u16> {
        match self {
            Self::Kafka => vec![ports.kafka_port, ports.kafka_controller_port],
            Self::Pulsar => vec![ports.pulsar_port, ports.pulsar_http_port],
            Self::JobManager => vec![ports.flink_port, ports.flink_rpc_port],
            Self::TaskManager => Vec::new(),
            Self::Gateway => vec![ports.gateway_port],
            Self::Postgres => vec![ports.postgres_port],
            Self::SchemaRegistry => vec![ports.schema_registry_port],
        }
    }
}

/// How long a process gets to stop after SIGTERM before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(30);

impl Stack {
    pub(super) fn unit_dir(&self, unit: Unit) -> PathBuf {
        self.root.join(unit.name())
    }

    /// The log files of a service's processes (JobManager and TaskManager for Flink).
    pub fn logs(&self, service: Service) -> Vec<PathBuf> {
        Unit::of(service)
            .iter()
            .map(|&unit| self.log_path(unit))
            .collect()
    }

    pub(super) fn log_path(&self, unit: Unit) -> PathBuf {
        self.unit_dir(unit).join(format!("{}.log", unit.name()))
    }

    /// The recorded pid of a process, if it is still that process.
    fn live_pid(&self, unit: Unit) -> Option<u32> {
        let text = std::fs::read_to_string(self.unit_dir(unit).join("pid")).ok()?;
        let mut parts = text.split_whitespace();
        let pid: u32 = parts.next()?.parse().ok()?;
        let started: u64 = parts.next()?.parse().ok()?;
        (start_time(pid) == Some(started)).then_some(pid)
    }

    /// An exclusive lock on the stack's state, held by `up` and `down` (two `up`s at once would
    /// start everything twice).
    pub(super) fn lock(&self) -> Result<File, StackError> {
        std::fs::create_dir_all(&self.root).map_err(io(&self.root))?;
        if self.secrets.is_some() {
            // The secure stack's configurations hold its store passwords.
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&self.root, std::fs::Permissions::from_mode(0o700))
                .map_err(io(&self.root))?;
        }
        let path = self.root.join(".lock");
        let file = File::create(&path).map_err(io(&path))?;
        file.lock().map_err(io(&path))?;
        Ok(file)
    }

    fn record_pid(&self, unit: Unit, pid: u32) -> Result<(), StackError> {
        let path = self.unit_dir(unit).join("pid");
        let started = start_time(pid).unwrap_or_default();
        std::fs::write(&path, format!("{pid} {started}\n")).map_err(io(&path))
    }
}

/// The pids of a service's live, recorded processes.
pub fn live_pids(stack: &Stack, service: Service) -> Vec<u32> {
    Unit::of(service)
        .iter()
        .filter_map(|&unit| stack.live_pid(unit))
        .collect()
}

/// A process's start time (clock ticks after boot, from `/proc/<pid>/stat`), `None` when it is
/// gone or a zombie.
fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: count from the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    if fields.first() == Some(&"Z") {
        return None;
    }
    fields.get(19)?.parse().ok()
}

/// The classpaths the requested processes need.
#[derive(Default)]
pub(super) struct Classpaths {
    pub(super) kafka: Vec<PathBuf>,
    pub(super) pulsar: Vec<PathBuf>,
    pub(super) flink: Vec<PathBuf>,
    /// The jdbc catalog's jars (the connector and the PostgreSQL driver), on the SQL Gateway's
    /// own classpath as in Flink's `lib/`: `DriverManager` ignores a driver from `ADD JAR`, and
    /// each Gateway statement copies the session's class loader, so a catalog created from `ADD
    /// JAR` classes meets other copies of them when a later statement plans its tables.
    pub(super) gateway: Vec<PathBuf>,
    /// The Schema Registry's runnable jar (its manifest names its libraries).
    pub(super) schema_registry: Vec<PathBuf>,
}

pub(super) fn join(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(":")
}

/// A JVM to start.
pub(super) struct Jvm {
    pub(super) main_class: &'static str,
    pub(super) jvm: Vec<String>,
    pub(super) args: Vec<String>,
    pub(super) classpath: String,
    pub(super) env: Vec<(&'static str, String)>,
}

impl Jvm {
    fn command(self, java: &Path) -> Command {
        let mut command = Command::new(java);
        command
            .args(&self.jvm)
            .arg("-cp")
            .arg(&self.classpath)
            .arg(self.main_class)
            .args(&self.args)
            .envs(self.env);
        command
    }
}

/// The services of `services` to start and, for each, its processes that `alive` says are not
/// running. A service healthy with all its processes (or served by something else entirely) is
/// left alone; one healthy with a process dead (a JobManager still listing a killed
/// TaskManager) is repaired. Both runtimes decide this way; `alive` is theirs.
pub(super) fn pending_units(
    stack: &Stack,
    services: &[Service],
    alive: impl Fn(Unit) -> bool,
    progress: &mut dyn FnMut(Event),
) -> Vec<(Service, Vec<Unit>)> {
    let mut pending = Vec::new();
    for status in stack.status(services) {
        let units = Unit::of(status.service);
        let dead: Vec<Unit> = units.iter().copied().filter(|&u| !alive(u)).collect();
        let partial = !dead.is_empty() && dead.len() < units.len();
        if status.healthy && !partial {
            progress(Event::AlreadyHealthy(status.service));
            continue;
        }
        if partial {
            let names: Vec<_> = dead.iter().map(|u| u.name()).collect();
            progress(Event::Repairing(status.service, names.join(", ")));
        }
        pending.push((status.service, dead));
    }
    pending
}

/// Brings up `services`, leaving healthy ones alone and restarting dead processes, and returns
/// when all of them are healthy (or fails after `timeout` with the tail of the failing log).
pub fn up(
    stack: &Stack,
    services: &[Service],
    cache: &Cache,
    timeout: Duration,
    progress: &mut dyn FnMut(Event),
) -> Result<Vec<ServiceStatus>, StackError> {
    let _lock = stack.lock()?;
    if stack.secrets().is_some()
        && let Some(&service) = services.iter().find(|s| !stack.services().contains(s))
    {
        return Err(StackError::NotSecure(service));
    }
    let pending = pending_units(
        stack,
        services,
        |unit| stack.live_pid(unit).is_some(),
        progress,
    );
    if pending.is_empty() {
        return Ok(stack.status(services));
    }
    let to_start: Vec<Unit> = pending
        .iter()
        .flat_map(|(_, units)| units.iter().copied())
        .collect();
    for &unit in &to_start {
        check_ports_free(stack, unit)?;
    }
    // A Pulsar that was not stopped by `down` (its pid file is still there: killed, crashed)
    // must stay healthy for a while before it counts as up: the metadata store keeps the dead
    // instance's bookie registration for a few seconds, during which the new bookie's
    // registration is lost and re-acquired over and over, and a ledger created in a lost moment
    // fails ("Not enough non-faulty bookies"), while a single check may pass.
    let unclean_pulsar = pending
        .iter()
        .any(|(service, _)| *service == Service::Pulsar)
        && stack.unit_dir(Unit::Pulsar).join("pid").exists();
    let mut settling = unclean_pulsar.then_some(Settling {
        since: None,
        restarted: false,
    });
    let mut children: Vec<(Unit, Child)> = Vec::new();
    let classpaths = if to_start.is_empty() {
        Classpaths::default()
    } else {
        provision(cache, &to_start, &mut |p| progress(Event::Provision(p)))?
    };
    let mut tools = Tools::default();
    if let Some(secrets) = stack.secrets() {
        secrets.ensure(tools.java()?)?;
    }
    progress(Event::Starting(pending.iter().map(|(s, _)| *s).collect()));
    let started = Instant::now();
    // PostgreSQL and Kafka last: their storage is initialised (short runs of initdb, a JVM)
    // while the others start.
    let (last, others): (Vec<Unit>, Vec<Unit>) = to_start
        .iter()
        .partition(|&&unit| matches!(unit, Unit::Kafka | Unit::Postgres));
    for unit in others.into_iter().chain(last) {
        let command = prepare(stack, unit, &classpaths, &mut tools)?;
        let child = spawn(stack, unit, command)?;
        children.push((unit, child));
    }
    let mut waiting: Vec<Service> = pending.iter().map(|(s, _)| *s).collect();
    while !waiting.is_empty() {
        let mut still = Vec::new();
        let checks: Vec<Result<(), String>> = std::thread::scope(|scope| {
            let handles: Vec<_> = waiting
                .iter()
                .map(|&service| scope.spawn(move || health::check(service, stack)))
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|_| Err("the check failed".into())))
                .collect()
        });
        for (service, check) in waiting.into_iter().zip(checks) {
            if let Some(failure) = exited(stack, service, &mut children, started) {
                stop_units(stack, Unit::of(service));
                return Err(failure);
            }
            if start_vanished(stack, service, &mut children, cache, &mut tools, progress)? {
                // This round's check may have been answered by the process that is gone.
                still.push(service);
                continue;
            }
            let settle = settling.as_mut().filter(|_| service == Service::Pulsar);
            // Sometimes the flapping does not end: a clean stop and start ends it (once, and
            // only while the last check failed).
            if let Some(settle) = settle
                && !settle.restarted
                && settle.since.is_none()
                && started.elapsed() >= PULSAR_RESTART_AFTER
            {
                settle.restarted = true;
                children.retain(|(unit, _)| service_of(*unit) != service);
                stop_units(stack, Unit::of(service));
                start_units(
                    stack,
                    Unit::of(service),
                    &mut children,
                    cache,
                    &mut tools,
                    progress,
                )?;
                still.push(service);
                continue;
            }
            let settle = settling.as_mut().filter(|_| service == Service::Pulsar);
            match (check, settle) {
                (Ok(()), Some(settle)) => {
                    let since = *settle.since.get_or_insert_with(Instant::now);
                    if since.elapsed() >= PULSAR_SETTLE {
                        progress(Event::Healthy(service, started.elapsed()));
                    } else {
                        still.push(service);
                    }
                }
                (Ok(()), None) => progress(Event::Healthy(service, started.elapsed())),
                (Err(_), Some(settle)) if started.elapsed() < timeout => {
                    settle.since = None;
                    still.push(service);
                }
                (Err(reason), _) if started.elapsed() >= timeout => {
                    stop_units(stack, Unit::of(service));
                    return Err(unhealthy(stack, service, None, started.elapsed(), reason));
                }
                (Err(_), _) => still.push(service),
            }
        }
        waiting = still;
        if !waiting.is_empty() {
            std::thread::sleep(Duration::from_millis(500));
        }
    }
    Ok(stack.status(services))
}

/// How long a Pulsar restarted after an unclean stop must pass every health check (taken every
/// half second) before it counts as up; measured: its bookie registration flaps for about 10 s
/// after the restart.
const PULSAR_SETTLE: Duration = Duration::from_secs(15);

/// When a Pulsar that must settle has not, it is stopped cleanly and started again, once: seen
/// here, its bookie registration flapped for five minutes after a `kill -9`, and a clean
/// restart ended it.
const PULSAR_RESTART_AFTER: Duration = Duration::from_secs(60);

/// A Pulsar that must settle (see [`PULSAR_SETTLE`]).
struct Settling {
    /// Since when every check passed, `None` after a failed one.
    since: Option<Instant>,
    /// Whether it was stopped and started again ([`PULSAR_RESTART_AFTER`]).
    restarted: bool,
}

/// Starts the processes of `service` that `up` did not start, because they were running when it
/// looked, and that are gone now: a process killed just before `up` is still exiting for a
/// moment (a large JVM for a second or more), and `up` would otherwise wait for the health of a
/// service with nothing left to serve it. Whether it started any.
fn start_vanished(
    stack: &Stack,
    service: Service,
    children: &mut Vec<(Unit, Child)>,
    cache: &Cache,
    tools: &mut Tools,
    progress: &mut dyn FnMut(Event),
) -> Result<bool, StackError> {
    let vanished: Vec<Unit> = Unit::of(service)
        .iter()
        .copied()
        .filter(|&unit| {
            !children.iter().any(|(started, _)| *started == unit) && stack.live_pid(unit).is_none()
        })
        .collect();
    if vanished.is_empty() {
        return Ok(false);
    }
    for &unit in &vanished {
        check_ports_free(stack, unit)?;
    }
    start_units(stack, &vanished, children, cache, tools, progress)?;
    Ok(true)
}

/// Provisions and starts `units`, adding them to `children`.
fn start_units(
    stack: &Stack,
    units: &[Unit],
    children: &mut Vec<(Unit, Child)>,
    cache: &Cache,
    tools: &mut Tools,
    progress: &mut dyn FnMut(Event),
) -> Result<(), StackError> {
    let classpaths = provision(cache, units, &mut |p| progress(Event::Provision(p)))?;
    for &unit in units {
        let command = prepare(stack, unit, &classpaths, tools)?;
        children.push((unit, spawn(stack, unit, command)?));
    }
    Ok(())
}

/// Fails fast when another process listens on a port the unit needs.
fn check_ports_free(stack: &Stack, unit: Unit) -> Result<(), StackError> {
    let service = service_of(unit);
    for port in unit.ports(stack.ports()) {
        if let Some(holder) = diagnose::port_holder(port) {
            return Err(StackError::PortTaken {
                service,
                port,
                holder: holder.to_string(),
            });
        }
    }
    Ok(())
}

pub(super) fn service_of(unit: Unit) -> Service {
    match unit {
        Unit::Kafka => Service::Kafka,
        Unit::Pulsar => Service::Pulsar,
        Unit::JobManager | Unit::TaskManager => Service::Flink,
        Unit::Gateway => Service::Gateway,
        Unit::Postgres => Service::Postgres,
        Unit::SchemaRegistry => Service::SchemaRegistry,
    }
}

fn provision(
    cache: &Cache,
    units: &[Unit],
    progress: &mut dyn FnMut(crate::provision::Progress),
) -> Result<Classpaths, StackError> {
    let mut classpaths = Classpaths::default();
    let property = |name| versions::property(name).unwrap_or("unknown");
    if units.contains(&Unit::Kafka) {
        let title = format!("Kafka {} broker", property("kafka.version"));
        classpaths.kafka = cache.stack_classpath("kafka", &title, false, progress)?;
    }
    if units.contains(&Unit::Pulsar) {
        let title = format!("Pulsar {} standalone", property("pulsar.version"));
        classpaths.pulsar = cache.stack_classpath("pulsar", &title, false, progress)?;
    }
    let needs_flink = units
        .iter()
        .any(|u| matches!(u, Unit::JobManager | Unit::TaskManager | Unit::Gateway));
    if needs_flink {
        let runner = cache.runner_jar(false, progress)?;
        let title = format!(
            "Flink {} cluster and SQL Gateway",
            cache.line().flink_version()
        );
        classpaths.flink = cache.stack_classpath("flink", &title, false, progress)?;
        classpaths.flink.insert(0, runner);
    }
    if units.contains(&Unit::Gateway) {
        classpaths.gateway = gateway_jars(cache, progress)?;
    }
    if units.contains(&Unit::SchemaRegistry) {
        classpaths.schema_registry = vec![schema_registry_jar(cache, progress)?];
    }
    Ok(classpaths)
}

/// The Schema Registry's runnable jar, built once into the cache (the process and the Docker
/// runtime run the same one).
pub(super) fn schema_registry_jar(
    cache: &Cache,
    progress: &mut dyn FnMut(crate::provision::Progress),
) -> Result<PathBuf, StackError> {
    let title = format!(
        "Schema Registry (Apicurio Registry {})",
        versions::property("apicurio.registry.version").unwrap_or("unknown")
    );
    Ok(cache.stack_application("schema-registry", &title, progress)?)
}

/// The jars the stack's SQL Gateway has besides Flink's: the jdbc catalog's (see
/// [`Classpaths::gateway`]), fetched and checked like any script's connector jars, in one folder.
pub(super) fn gateway_jars(
    cache: &Cache,
    progress: &mut dyn FnMut(crate::provision::Progress),
) -> Result<Vec<PathBuf>, StackError> {
    // Only a release built for the cluster's line: a factory of another line's would break
    // every statement's factory discovery.
    let jdbc = resolve::provider(Kind::Catalog, "jdbc")
        .filter(|p| p.fits(cache.line().as_str()))
        .map_or_else(Vec::new, |p| p.artifacts());
    Ok(cache.artifact_jars(&jdbc, false, progress)?)
}

fn write(path: &Path, text: &str) -> Result<(), StackError> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io(parent))?;
    }
    std::fs::write(path, text).map_err(io(path))
}

/// A log4j 2 configuration writing INFO and above to stdout (which goes to the unit's log).
fn log4j_config(quiet: &[&str]) -> String {
    let mut text = String::from(
        "status = warn\n\
         appender.out.type = Console\n\
         appender.out.name = out\n\
         appender.out.target = SYSTEM_OUT\n\
         appender.out.layout.type = PatternLayout\n\
         appender.out.layout.pattern = %d{yyyy-MM-dd HH:mm:ss,SSS} %-5p %c{1} - %m%n\n\
         rootLogger.level = INFO\n\
         rootLogger.appenderRef.out.ref = out\n",
    );
    for (i, logger) in quiet.iter().enumerate() {
        text.push_str(&format!(
            "logger.q{i}.name = {logger}\nlogger.q{i}.level = WARN\n"
        ));
    }
    text
}

/// Formats Kafka's storage directory the first time (KRaft needs a cluster id on disk).
fn format_kafka_storage(
    stack: &Stack,
    java: &Path,
    classpaths: &Classpaths,
) -> Result<(), StackError> {
    let dir = stack.unit_dir(Unit::Kafka);
    let data = dir.join("data");
    if data.join("meta.properties").exists() {
        return Ok(());
    }
    let config = write_kafka_config(stack)?;
    let cluster_id = kafka_cluster_id();
    let log = dir.join("format.log");
    let out = File::create(&log).map_err(io(&log))?;
    let err = out.try_clone().map_err(io(&log))?;
    let status = Command::new(java)
        .args(["-Xmx256m", "-cp", &join(&classpaths.kafka)])
        .arg(format!(
            "-Dlog4j2.configurationFile={}",
            dir.join("conf/log4j2.properties").display()
        ))
        .args(["kafka.tools.StorageTool", "format", "-t", &cluster_id, "-c"])
        .arg(&config)
        .args(scram_users(stack)?)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .status()
        .map_err(|source| StackError::Spawn {
            what: format!("{} (Kafka's storage tool)", java.display()),
            source,
        })?;
    if status.success() {
        return Ok(());
    }
    Err(StackError::Unhealthy {
        service: Service::Kafka,
        waited: Duration::ZERO,
        reason: format!("formatting its storage failed ({status})"),
        cause: None,
        tail: diagnose::tail(&log, 20),
        log,
    })
}

/// The secure stack's SCRAM users, for `kafka-storage format` (`--add-scram` puts them in the
/// cluster's first metadata, so the broker can authenticate its own connections at once).
fn scram_users(stack: &Stack) -> Result<Vec<String>, StackError> {
    let Some(secrets) = stack.secrets() else {
        return Ok(Vec::new());
    };
    let mut args = Vec::new();
    for user in secure::USERS {
        let password = secrets.kafka_password(user)?;
        args.push("--add-scram".to_string());
        args.push(format!(
            "{}=[name={user},password={password}]",
            secure::KAFKA_MECHANISM
        ));
    }
    Ok(args)
}

/// A random KRaft cluster id: 16 random bytes in URL-safe base64 without padding, never
/// starting with `-` (Kafka's own `Uuid.randomUuid` draws again for that: the storage tool would
/// read such an id as an option, and refuse `-t` without its value).
pub(super) fn kafka_cluster_id() -> String {
    use base64::Engine as _;
    loop {
        let bytes: [u8; 16] = rand::random();
        let id = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
        if !id.starts_with('-') {
            return id;
        }
    }
}

/// The listeners of the secure Kafka: clients only over SASL_SSL with SCRAM-SHA-512 (the
/// broker signs in to itself as `admin`), the controller over TLS with client certificates (the
/// broker's own certificate, principal `User:CN=localhost`), and an ACL authorizer that lets the
/// super users do anything and anyone else nothing without a grant.
fn secure_kafka_listeners(stack: &Stack, port: u16, ctrl: u16) -> Result<String, StackError> {
    let Some(secrets) = stack.secrets() else {
        return Ok(format!(
            "listeners=PLAINTEXT://localhost:{port},CONTROLLER://localhost:{ctrl}\n\
             advertised.listeners=PLAINTEXT://localhost:{port}\n\
             inter.broker.listener.name=PLAINTEXT\n\
             listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT\n"
        ));
    };
    let admin = secrets.kafka_password("admin")?;
    Ok(format!(
        "listeners=SASL_SSL://localhost:{port},CONTROLLER://localhost:{ctrl}\n\
         advertised.listeners=SASL_SSL://localhost:{port}\n\
         inter.broker.listener.name=SASL_SSL\n\
         listener.security.protocol.map=CONTROLLER:SSL,SASL_SSL:SASL_SSL\n\
         sasl.enabled.mechanisms={mechanism}\n\
         sasl.mechanism.inter.broker.protocol={mechanism}\n\
         listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config={module} required \
         username=\"admin\" password=\"{admin}\";\n\
         listener.name.controller.ssl.client.auth=required\n\
         ssl.keystore.type=PEM\n\
         ssl.keystore.location={keystore}\n\
         ssl.truststore.type=PEM\n\
         ssl.truststore.location={ca}\n\
         authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer\n\
         super.users=User:admin;User:flinkit;User:CN=localhost\n\
         allow.everyone.if.no.acl.found=false\n",
        mechanism = secure::KAFKA_MECHANISM,
        module = secure::SCRAM_LOGIN_MODULE,
        keystore = secrets.kafka_keystore().display(),
        ca = secrets.ca().display(),
    ))
}

pub(super) fn write_kafka_config(stack: &Stack) -> Result<PathBuf, StackError> {
    let dir = stack.unit_dir(Unit::Kafka);
    let p = stack.ports();
    let config = dir.join("conf/server.properties");
    let listeners = secure_kafka_listeners(stack, p.kafka_port, p.kafka_controller_port)?;
    write(
        &config,
        &format!(
            "# Generated by flinkit: one KRaft node, broker and controller.\n\
             process.roles=broker,controller\n\
             node.id=1\n\
             controller.quorum.voters=1@localhost:{ctrl}\n\
             controller.listener.names=CONTROLLER\n\
             {listeners}\
             log.dirs={data}\n\
             num.partitions=1\n\
             offsets.topic.replication.factor=1\n\
             transaction.state.log.replication.factor=1\n\
             transaction.state.log.min.isr=1\n\
             # Flink's exactly-once Kafka sink uses transactions of up to an hour.\n\
             transaction.max.timeout.ms=3600000\n\
             group.initial.rebalance.delay.ms=0\n\
             auto.create.topics.enable=true\n\
             # Records of several MB (librdkafka's producers send up to 1 MB by default).\n\
             message.max.bytes=10485760\n\
             replica.fetch.max.bytes=10485760\n\
             # Test data must not vanish.\n\
             log.retention.ms=-1\n",
            ctrl = p.kafka_controller_port,
            data = dir.join("data").display(),
        ),
    )?;
    write(
        &dir.join("conf/log4j2.properties"),
        &log4j_config(&[
            "kafka.request.logger",
            "state.change.logger",
            "org.apache.kafka.clients",
        ]),
    )?;
    Ok(config)
}

/// Pulsar's ports: plain, or on the secure stack TLS only (the plain ports empty, so closed),
/// token authentication (tokens signed with the stack's key) and authorization, `admin` and
/// `flinkit` super users; the broker's own admin client (which sets up the `public/default`
/// namespace) signs in as `admin`.
fn pulsar_listeners(stack: &Stack, port: u16, http: u16) -> Result<String, StackError> {
    let Some(secrets) = stack.secrets() else {
        return Ok(format!("brokerServicePort={port}\nwebServicePort={http}\n"));
    };
    Ok(format!(
        "brokerServicePort=\n\
         webServicePort=\n\
         brokerServicePortTls={port}\n\
         webServicePortTls={http}\n\
         tlsCertificateFilePath={cert}\n\
         tlsKeyFilePath={key}\n\
         tlsTrustCertsFilePath={ca}\n\
         tlsAllowInsecureConnection=false\n\
         authenticationEnabled=true\n\
         authenticationProviders=org.apache.pulsar.broker.authentication.AuthenticationProviderToken\n\
         tokenSecretKey=file://{secret}\n\
         authorizationEnabled=true\n\
         superUserRoles=admin,flinkit\n\
         brokerClientTlsEnabled=true\n\
         brokerClientTrustCertsFilePath={ca}\n\
         brokerClientAuthenticationPlugin={plugin}\n\
         brokerClientAuthenticationParameters=file://{admin}\n",
        cert = secrets.server_cert().display(),
        key = secrets.server_key().display(),
        ca = secrets.ca().display(),
        secret = secrets.pulsar_secret_key().display(),
        plugin = secure::PULSAR_TOKEN_PLUGIN,
        admin = secrets.pulsar_token_file("admin").display(),
    ))
}

fn write_pulsar_config(stack: &Stack) -> Result<PathBuf, StackError> {
    let dir = stack.unit_dir(Unit::Pulsar);
    let p = stack.ports();
    let data = dir.join("data");
    let config = dir.join("conf/standalone.conf");
    write(
        &config,
        &format!(
            "# Generated by flinkit: Pulsar standalone; its metadata goes to RocksDB in\n\
             # --metadata-dir (PulsarStandaloneStarter's default when no store URL is set).\n\
             clusterName=standalone\n\
             bindAddress=127.0.0.1\n\
             advertisedAddress=localhost\n\
             {listeners}\
             managedLedgerDefaultEnsembleSize=1\n\
             managedLedgerDefaultWriteQuorum=1\n\
             managedLedgerDefaultAckQuorum=1\n\
             managedLedgerCacheSizeMB=64\n\
             # Test data must not vanish.\n\
             defaultRetentionTimeInMinutes=-1\n\
             defaultRetentionSizeInMB=-1\n\
             brokerDeleteInactiveTopicsEnabled=false\n\
             # A producer resends what a lost connection left unacknowledged under its name and\n\
             # sequence ids: the broker drops what it had stored already, so a broker restarted\n\
             # in the middle of a produce duplicates nothing.\n\
             brokerDeduplicationEnabled=true\n\
             allowAutoTopicCreation=true\n\
             allowAutoTopicCreationType=non-partitioned\n\
             functionsWorkerEnabled=false\n\
             webSocketServiceEnabled=false\n\
             # The bookie inside standalone (on a free port the system picks), on loopback.\n\
             listeningInterface=lo\n\
             allowLoopback=true\n\
             journalDirectory={data}/bookkeeper/journal\n\
             ledgerDirectories={data}/bookkeeper/ledgers\n\
             dbStorage_writeCacheMaxSizeMb=64\n\
             dbStorage_readAheadCacheMaxSizeMb=64\n\
             dbStorage_rocksDB_blockCacheSize=16777216\n\
             journalMaxGroupWaitMSec=1\n\
             # BookKeeper turns its bookie read-only at 95 % disk use by default, measured against\n\
             # the whole filesystem: on a shared build machine a test stack's few MB would be refused\n\
             # (\"Not enough non-faulty bookies\") while gigabytes are free.\n\
             diskUsageWarnThreshold=0.99\n\
             diskUsageThreshold=0.99\n\
             diskUsageLwmThreshold=0.98\n",
            data = data.display(),
            listeners = pulsar_listeners(stack, p.pulsar_port, p.pulsar_http_port)?,
        ),
    )?;
    write(
        &dir.join("conf/log4j2.properties"),
        &log4j_config(&[
            "org.apache.bookkeeper",
            "org.apache.pulsar.broker.service.persistent",
            "org.eclipse.jetty",
            "org.apache.pulsar.broker.web",
        ]),
    )?;
    Ok(config)
}

/// `config.yaml` lines every Flink process shares. The runner jar is on the cluster's classpath
/// and is also the jar `launch --target rest` submits; Flink loads `org.apache.flink.` classes
/// parent-first and the rest child-first, so without `org.apache.pulsar.` parent-first a Pulsar
/// source's configuration holds a Pulsar client class of the other class loader and the job is
/// refused ("cannot assign instance of …SubscriptionMode to field … of type …SubscriptionMode").
/// `org.postgresql.` parent-first lets the SQL Gateway's own PostgreSQL driver serve a session's
/// jdbc catalog: a second copy from `ADD JAR` is a class `DriverManager` refuses its caller.
/// The REST API's metrics are fetched every second (Flink's default is 10 s), so that
/// `flinkit run` and `jobs watch`, which sample every second, see counters move as they do.
fn flink_common(stack: &Stack) -> Result<String, StackError> {
    let p = stack.ports();
    let flink = stack.root.join("flink");
    Ok(format!(
        "jobmanager.rpc.address: localhost\n\
         jobmanager.rpc.port: {rpc}\n\
         jobmanager.bind-host: localhost\n\
         rest.address: localhost\n\
         rest.bind-address: localhost\n\
         rest.port: {rest}\n\
         taskmanager.host: localhost\n\
         taskmanager.bind-host: localhost\n\
         parallelism.default: 1\n\
         metrics.fetcher.update-interval: 1000\n\
         classloader.parent-first-patterns.additional: org.apache.pulsar.;org.postgresql.\n\
         io.tmp.dirs: {tmp}\n\
         state.checkpoints.dir: file://{data}/checkpoints\n\
         state.savepoints.dir: file://{data}/savepoints\n\
         web.upload.dir: {data}/uploads\n\
         web.tmpdir: {tmp}/web\n\
         {tls}",
        rpc = p.flink_rpc_port,
        rest = p.flink_port,
        tmp = flink.join("tmp").display(),
        data = flink.join("data").display(),
        tls = flink_rest_tls(stack)?,
    ))
}

/// On the secure stack: Flink's REST API over TLS (`security.ssl.rest.*`: the server's key
/// store, and the trust store its own clients — the SQL Gateway, the TaskManager — use).
fn flink_rest_tls(stack: &Stack) -> Result<String, StackError> {
    let Some(secrets) = stack.secrets() else {
        return Ok(String::new());
    };
    let password = secrets.store_password()?;
    Ok(format!(
        "security.ssl.rest.enabled: true\n\
         security.ssl.rest.keystore: {keystore}\n\
         security.ssl.rest.keystore-password: {password}\n\
         security.ssl.rest.key-password: {password}\n\
         security.ssl.rest.truststore: {truststore}\n\
         security.ssl.rest.truststore-password: {password}\n",
        keystore = secrets.flink_keystore().display(),
        truststore = secrets.flink_truststore().display(),
    ))
}

/// The TaskManager's memory, every option resolved (TaskManagerRunner does not compute them):
/// framework and task heap 640 MB, managed 256 MB, network 128 MB, framework off-heap 128 MB,
/// metaspace 256 MB, overhead 192 MB — a 1.6 GB process.
const TASKMANAGER_MEMORY: &str = "taskmanager.numberOfTaskSlots: 4\n\
     taskmanager.cpu.cores: 4\n\
     taskmanager.memory.framework.heap.size: 128m\n\
     taskmanager.memory.task.heap.size: 512m\n\
     taskmanager.memory.managed.size: 256m\n\
     taskmanager.memory.framework.off-heap.size: 128m\n\
     taskmanager.memory.task.off-heap.size: 0m\n\
     taskmanager.memory.network.min: 128m\n\
     taskmanager.memory.network.max: 128m\n\
     taskmanager.memory.jvm-metaspace.size: 256m\n\
     taskmanager.memory.jvm-overhead.min: 192m\n\
     taskmanager.memory.jvm-overhead.max: 192m\n";

/// The JVM flags matching [`TASKMANAGER_MEMORY`].
const TASKMANAGER_JVM: &[&str] = &[
    "-Xmx640m",
    "-Xms640m",
    "-XX:MaxDirectMemorySize=256m",
    "-XX:MaxMetaspaceSize=256m",
];

fn write_flink_config(stack: &Stack, unit: Unit) -> Result<PathBuf, StackError> {
    let dir = stack.unit_dir(unit);
    let conf = dir.join("conf");
    let p = stack.ports();
    let specific = match unit {
        Unit::JobManager => "jobmanager.memory.heap.size: 448m\n\
             jobmanager.memory.off-heap.size: 128m\n\
             jobmanager.memory.jvm-metaspace.size: 256m\n\
             jobmanager.memory.jvm-overhead.min: 192m\n\
             jobmanager.memory.jvm-overhead.max: 192m\n"
            .to_string(),
        Unit::TaskManager => TASKMANAGER_MEMORY.to_string(),
        _ => format!(
            "sql-gateway.endpoint.type: rest\n\
             sql-gateway.endpoint.rest.address: localhost\n\
             sql-gateway.endpoint.rest.bind-address: localhost\n\
             sql-gateway.endpoint.rest.port: {gateway}\n\
             execution.target: remote\n",
            gateway = p.gateway_port
        ),
    };
    write(
        &conf.join("config.yaml"),
        &format!(
            "# Generated by flinkit for the local stack's {}.\n{}{specific}",
            unit.name(),
            flink_common(stack)?
        ),
    )?;
    write(
        &conf.join("log4j2.properties"),
        &log4j_config(&[
            "org.apache.flink.shaded.zookeeper3",
            "org.apache.flink.shaded.akka",
            "org.apache.pekko",
            "org.apache.kafka",
        ]),
    )?;
    Ok(conf)
}

/// The programs units run, found when the first unit needs them.
#[derive(Default)]
struct Tools {
    java: Option<PathBuf>,
    postgres: Option<Server>,
}

impl Tools {
    fn java(&mut self) -> Result<&Path, StackError> {
        let java = match self.java.take() {
            Some(java) => java,
            None => find_java()?.path,
        };
        Ok(self.java.insert(java))
    }

    fn postgres(&mut self) -> Result<&Server, StackError> {
        let server = match self.postgres.take() {
            Some(server) => server,
            None => Server::find()?,
        };
        Ok(self.postgres.insert(server))
    }
}

/// Writes a unit's configuration (and formats its storage the first time) and says how to
/// start it.
fn prepare(
    stack: &Stack,
    unit: Unit,
    classpaths: &Classpaths,
    tools: &mut Tools,
) -> Result<Command, StackError> {
    if unit == Unit::Postgres {
        return prepare_postgres(stack, tools.postgres()?);
    }
    let java = tools.java()?;
    if unit == Unit::Kafka {
        format_kafka_storage(stack, java, classpaths)?;
    }
    Ok(prepare_jvm(stack, unit, classpaths)?.command(java))
}

/// Initialises PostgreSQL's data the first time and says how to start its server.
fn prepare_postgres(stack: &Stack, server: &Server) -> Result<Command, StackError> {
    let dir = stack.unit_dir(Unit::Postgres);
    std::fs::create_dir_all(&dir).map_err(io(&dir))?;
    let data = dir.join("data");
    server.initialise(&data, &dir.join("initdb.log"))?;
    remove_stale_lock(&data)?;
    server.server(&data, stack.ports().postgres_port)
}

/// Removes the `postmaster.pid` a server killed without a shutdown leaves behind, when the
/// process it names is gone, a zombie, or another program (its pid reused). PostgreSQL checks
/// only that the pid answers a signal, so it refuses to start over an unreaped or reused pid.
/// A live process working in this data directory is a server that still runs: its lock stays,
/// and PostgreSQL says so.
fn remove_stale_lock(data: &Path) -> Result<(), StackError> {
    let lock = data.join("postmaster.pid");
    let Ok(text) = std::fs::read_to_string(&lock) else {
        return Ok(());
    };
    let pid: Option<u32> = text.lines().next().and_then(|l| l.trim().parse().ok());
    let serving = pid.is_some_and(|pid| {
        start_time(pid).is_some()
            && std::fs::read_link(format!("/proc/{pid}/cwd"))
                .is_ok_and(|cwd| std::fs::canonicalize(data).is_ok_and(|data| cwd == data))
    });
    if serving {
        return Ok(());
    }
    tracing::debug!(?pid, "removing PostgreSQL's stale postmaster.pid");
    std::fs::remove_file(&lock).map_err(io(&lock))
}

/// Writes a JVM unit's configuration and says how to start it.
pub(super) fn prepare_jvm(
    stack: &Stack,
    unit: Unit,
    classpaths: &Classpaths,
) -> Result<Jvm, StackError> {
    let dir = stack.unit_dir(unit);
    let log4j = format!(
        "-Dlog4j2.configurationFile={}",
        dir.join("conf/log4j2.properties").display()
    );
    let tmp = format!("-Djava.io.tmpdir={}", stack.root.join("tmp").display());
    for dir in [
        stack.root.join("tmp"),
        stack.root.join("flink/tmp/web"),
        stack.root.join("flink/data/uploads"),
    ] {
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
    }
    let strings = |flags: &[&str]| flags.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let flink_jvm = || -> Vec<String> {
        versions::jvm_options()
            .into_iter()
            .map(String::from)
            .collect()
    };
    Ok(match unit {
        Unit::Kafka => {
            let config = write_kafka_config(stack)?;
            let mut jvm = strings(&[
                "-Xmx512m",
                "-Xms512m",
                "-XX:+UseG1GC",
                "-XX:MaxGCPauseMillis=20",
                "-XX:+ExitOnOutOfMemoryError",
            ]);
            jvm.extend([log4j, tmp]);
            Jvm {
                main_class: "kafka.Kafka",
                jvm,
                args: vec![config.display().to_string()],
                classpath: join(&classpaths.kafka),
                env: Vec::new(),
            }
        }
        Unit::SchemaRegistry => {
            // Quarkus reads its settings from system properties; the storage is Apicurio's
            // default, an in-memory H2 database (the stack's schemas last as long as it runs).
            let mut jvm = strings(&[
                "-Xmx256m",
                "-Xms64m",
                "-XX:MaxMetaspaceSize=192m",
                "-XX:+UseSerialGC",
                "-XX:TieredStopAtLevel=1",
                "-XX:+ExitOnOutOfMemoryError",
                "-Dquarkus.http.host=localhost",
                "-Dquarkus.log.console.color=false",
                "-Djava.util.logging.manager=org.jboss.logmanager.LogManager",
            ]);
            jvm.push(format!(
                "-Dquarkus.http.port={}",
                stack.ports().schema_registry_port
            ));
            jvm.push(tmp);
            Jvm {
                main_class: "io.quarkus.runner.GeneratedMain",
                jvm,
                args: Vec::new(),
                classpath: join(&classpaths.schema_registry),
                env: Vec::new(),
            }
        }
        Unit::Pulsar => {
            let config = write_pulsar_config(stack)?;
            let data = dir.join("data");
            let mut jvm = strings(&[
                "-Xmx1g",
                "-Xms256m",
                "-XX:MaxDirectMemorySize=512m",
                "-XX:+UseG1GC",
                "-XX:+ExitOnOutOfMemoryError",
                "-Dio.netty.tryReflectionSetAccessible=true",
                "-Dio.netty.leakDetectionLevel=disabled",
                "-Dpulsar.allocator.exit_on_oom=true",
                "--add-opens=java.base/java.io=ALL-UNNAMED",
                "--add-opens=java.base/java.util.zip=ALL-UNNAMED",
                "--add-opens=java.base/sun.net=ALL-UNNAMED",
                "--add-opens=java.base/java.nio=ALL-UNNAMED",
                "--add-opens=java.base/jdk.internal.misc=ALL-UNNAMED",
                "--add-opens=java.base/jdk.internal.platform=ALL-UNNAMED",
                "--add-opens=java.management/sun.management=ALL-UNNAMED",
                "--add-opens=jdk.management/com.sun.management.internal=ALL-UNNAMED",
            ]);
            jvm.extend([log4j, tmp]);
            Jvm {
                main_class: "org.apache.pulsar.PulsarStandaloneStarter",
                jvm,
                args: vec![
                    "--config".into(),
                    config.display().to_string(),
                    "--metadata-dir".into(),
                    data.join("metadata").display().to_string(),
                    "--bookkeeper-dir".into(),
                    data.join("bookkeeper").display().to_string(),
                    "--no-functions-worker".into(),
                    "--no-stream-storage".into(),
                ],
                classpath: join(&classpaths.pulsar),
                env: Vec::new(),
            }
        }
        _ => {
            let conf = write_flink_config(stack, unit)?;
            let mut jvm = match unit {
                Unit::JobManager => strings(&[
                    "-Xmx448m",
                    "-Xms448m",
                    "-XX:MaxDirectMemorySize=128m",
                    "-XX:MaxMetaspaceSize=256m",
                    "-XX:+ExitOnOutOfMemoryError",
                ]),
                Unit::TaskManager => strings(TASKMANAGER_JVM),
                _ => strings(&[
                    "-Xmx512m",
                    "-XX:MaxDirectMemorySize=128m",
                    "-XX:MaxMetaspaceSize=256m",
                    "-XX:+ExitOnOutOfMemoryError",
                ]),
            };
            jvm.extend(flink_jvm());
            jvm.push(log4j);
            jvm.push(format!("-Dlog.file={}", stack.log_path(unit).display()));
            jvm.push(tmp);
            let (main_class, args) = match unit {
                Unit::JobManager => (
                    "org.apache.flink.runtime.entrypoint.StandaloneSessionClusterEntrypoint",
                    vec!["--configDir".into(), conf.display().to_string()],
                ),
                Unit::TaskManager => (
                    "org.apache.flink.runtime.taskexecutor.TaskManagerRunner",
                    vec!["--configDir".into(), conf.display().to_string()],
                ),
                _ => ("org.apache.flink.table.gateway.SqlGateway", Vec::new()),
            };
            let mut classpath = classpaths.flink.clone();
            if unit == Unit::Gateway {
                classpath.extend_from_slice(&classpaths.gateway);
            }
            Jvm {
                main_class,
                jvm,
                args,
                classpath: join(&classpath),
                env: vec![("FLINK_CONF_DIR", conf.display().to_string())],
            }
        }
    })
}

/// Starts a unit in its own process group, its output going to its log, and records its pid.
fn spawn(stack: &Stack, unit: Unit, mut command: Command) -> Result<Child, StackError> {
    let dir = stack.unit_dir(unit);
    std::fs::create_dir_all(&dir).map_err(io(&dir))?;
    let log = stack.log_path(unit);
    if log.exists() {
        let previous = log.with_extension("log.1");
        std::fs::rename(&log, &previous).map_err(io(&previous))?;
    }
    let out = File::create(&log).map_err(io(&log))?;
    let err = out.try_clone().map_err(io(&log))?;
    command
        .current_dir(&dir)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .process_group(0);
    tracing::debug!(unit = unit.name(), ?command, "starting");
    let child = command.spawn().map_err(|source| StackError::Spawn {
        what: format!(
            "{} ({})",
            command.get_program().to_string_lossy(),
            unit.name()
        ),
        source,
    })?;
    stack.record_pid(unit, child.id())?;
    Ok(child)
}

/// The failure of a service one of whose processes has exited.
fn exited(
    stack: &Stack,
    service: Service,
    children: &mut [(Unit, Child)],
    started: Instant,
) -> Option<StackError> {
    for (unit, child) in children.iter_mut() {
        if service_of(*unit) != service {
            continue;
        }
        if let Ok(Some(status)) = child.try_wait() {
            return Some(unhealthy(
                stack,
                service,
                Some(*unit),
                started.elapsed(),
                format!("its {} process exited ({status})", unit.name()),
            ));
        }
    }
    None
}

/// The failure of a service, with the log that explains it: the exited process's, else the
/// first one naming a likely cause, else the first.
fn unhealthy(
    stack: &Stack,
    service: Service,
    exited: Option<Unit>,
    waited: Duration,
    reason: String,
) -> StackError {
    let units = Unit::of(service);
    let ports: Vec<u16> = units.iter().flat_map(|u| u.ports(stack.ports())).collect();
    let read = |unit: Unit| {
        String::from_utf8_lossy(&std::fs::read(stack.log_path(unit)).unwrap_or_default())
            .into_owned()
    };
    let found = units
        .iter()
        .find_map(|&u| diagnose::likely_cause(&read(u), &ports).map(|c| (u, Some(c))));
    let (unit, cause) = match (exited, found) {
        (Some(unit), _) => (unit, diagnose::likely_cause(&read(unit), &ports)),
        (None, Some(found)) => found,
        (None, None) => (units[0], None),
    };
    let log = stack.log_path(unit);
    StackError::Unhealthy {
        service,
        waited,
        reason,
        cause,
        tail: diagnose::tail(&log, 30),
        log,
    }
}

/// Stops units (all at once): each one's stop signal, then SIGKILL to its group after the
/// grace period. Returns how long each took.
fn stop_units(stack: &Stack, units: &[Unit]) -> Vec<(Unit, Duration)> {
    let started = Instant::now();
    let mut running: Vec<(Unit, u32)> = Vec::new();
    for &unit in units {
        if let Some(pid) = stack.live_pid(unit) {
            let (stop, group) = unit.stop_signal();
            if group {
                signal(pid, stop);
            } else {
                let _ = kill(Pid::from_raw(pid as i32), stop);
            }
            running.push((unit, pid));
        }
        let _ = std::fs::remove_file(stack.unit_dir(unit).join("pid"));
    }
    let mut stopped = Vec::new();
    let mut killed = false;
    while !running.is_empty() {
        running.retain(|&(unit, pid)| {
            if is_alive(pid) {
                return true;
            }
            stopped.push((unit, started.elapsed()));
            false
        });
        if running.is_empty() {
            break;
        }
        if !killed && started.elapsed() >= STOP_GRACE {
            for &(unit, pid) in &running {
                tracing::warn!(
                    unit = unit.name(),
                    pid,
                    "did not stop after SIGTERM; killing"
                );
                signal(pid, Signal::SIGKILL);
            }
            killed = true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    stopped
}

/// Whether `pid` still runs (a zombie does not count; it is reaped when it is our child).
fn is_alive(pid: u32) -> bool {
    if start_time(pid).is_some() {
        return true;
    }
    let _ = nix::sys::wait::waitpid(
        Pid::from_raw(pid as i32),
        Some(nix::sys::wait::WaitPidFlag::WNOHANG),
    );
    false
}

/// Signals the process group `pid` leads (our processes start their own), else the process.
fn signal(pid: u32, signal: Signal) {
    let target = Pid::from_raw(pid as i32);
    if nix::unistd::getpgid(Some(target)) == Ok(target) {
        let _ = killpg(target, signal);
    } else {
        let _ = kill(target, signal);
    }
}

/// Stops the recorded processes of `services`; with `purge`, deletes their data too.
pub fn down(
    stack: &Stack,
    services: &[Service],
    purge: bool,
    progress: &mut dyn FnMut(Event),
) -> Result<(), StackError> {
    let _lock = stack.lock()?;
    let units: Vec<Unit> = services
        .iter()
        .flat_map(|&s| Unit::of(s).iter().copied())
        .collect();
    let stopped = stop_units(stack, &units);
    for &service in services {
        let took = stopped
            .iter()
            .filter(|(unit, _)| service_of(*unit) == service)
            .map(|&(_, took)| took)
            .max();
        if let Some(took) = took {
            progress(Event::Stopped(service, took));
        }
    }
    if purge {
        let mut dirs: Vec<PathBuf> = units.iter().map(|&u| stack.unit_dir(u)).collect();
        if services.contains(&Service::Flink) {
            dirs.push(stack.root.join("flink"));
        }
        if services.len() == Service::ALL.len() {
            dirs.push(stack.root.join("tmp"));
        }
        for dir in dirs {
            if dir.exists() {
                std::fs::remove_dir_all(&dir).map_err(io(&dir))?;
            }
        }
    }
    Ok(())
}

/// The resident memory of a service's live processes, in bytes (from `/proc/<pid>/status`).
pub fn rss_bytes(stack: &Stack, service: Service) -> u64 {
    live_pids(stack, service)
        .into_iter()
        .filter_map(|pid| {
            let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
            let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
            let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
            Some(kb * 1024)
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_ids_are_22_url_safe_characters() {
        let id = kafka_cluster_id();
        assert_eq!(id.len(), 22, "{id}");
        assert!(
            id.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
        assert_ne!(id, kafka_cluster_id());
        // One id in 64 would start with `-` if drawn freely.
        assert!((0..2000).all(|_| !kafka_cluster_id().starts_with('-')));
    }

    #[test]
    fn this_process_is_alive_and_a_stale_pid_file_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let stack = Stack::new(dir.path(), Ports::default());
        std::fs::create_dir_all(stack.unit_dir(Unit::Kafka)).unwrap();
        stack.record_pid(Unit::Kafka, std::process::id()).unwrap();
        assert_eq!(stack.live_pid(Unit::Kafka), Some(std::process::id()));
        let path = stack.unit_dir(Unit::Kafka).join("pid");
        std::fs::write(&path, format!("{} 1\n", std::process::id())).unwrap();
        assert_eq!(stack.live_pid(Unit::Kafka), None, "a reused pid");
        assert!(live_pids(&stack, Service::Pulsar).is_empty());
    }

    #[test]
    fn a_live_process_makes_the_runtime_in_use_the_process_one() {
        let dir = tempfile::tempdir().unwrap();
        let stack = Stack::new(dir.path(), Ports::default());
        assert_eq!(stack.runtime_in_use(), None);
        stack.record_runtime(super::super::Runtime::Docker).unwrap();
        assert_eq!(stack.runtime_in_use(), Some(super::super::Runtime::Docker));
        std::fs::create_dir_all(stack.unit_dir(Unit::Kafka)).unwrap();
        stack.record_pid(Unit::Kafka, std::process::id()).unwrap();
        assert_eq!(stack.runtime_in_use(), Some(super::super::Runtime::Process));
        std::fs::remove_file(stack.unit_dir(Unit::Kafka).join("pid")).unwrap();
        stack.forget_runtime();
        assert_eq!(stack.runtime_in_use(), None);
    }

    #[test]
    fn the_configs_use_the_stack_ports() {
        let dir = tempfile::tempdir().unwrap();
        let ports = Ports {
            kafka_port: 19092,
            gateway_port: 18083,
            ..Ports::default()
        };
        let stack = Stack::new(dir.path(), ports);
        let kafka = std::fs::read_to_string(write_kafka_config(&stack).unwrap()).unwrap();
        assert!(
            kafka.contains("listeners=PLAINTEXT://localhost:19092,CONTROLLER://localhost:9093")
        );
        assert!(kafka.contains("transaction.max.timeout.ms=3600000"));
        let pulsar = std::fs::read_to_string(write_pulsar_config(&stack).unwrap()).unwrap();
        assert!(pulsar.contains("defaultRetentionTimeInMinutes=-1"));
        assert!(pulsar.contains("brokerDeleteInactiveTopicsEnabled=false"));
        assert!(pulsar.contains("brokerDeduplicationEnabled=true"));
        let gateway = write_flink_config(&stack, Unit::Gateway).unwrap();
        let gateway = std::fs::read_to_string(gateway.join("config.yaml")).unwrap();
        assert!(gateway.contains("sql-gateway.endpoint.rest.port: 18083"));
        assert!(gateway.contains("rest.port: 8081"));
    }
}
