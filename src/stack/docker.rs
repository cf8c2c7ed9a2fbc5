//! The Docker runtime: the stack's six processes as containers of a Docker engine, driven
//! through its API ([bollard]; neither the `docker` program nor the Compose plugin is needed).
//!
//! Each container runs what the process runtime runs — the same JVM, flags, main class and
//! generated configuration (bind-mounted read-only at the same path), the same PostgreSQL
//! settings — from the images of [`super::images`], on the host's network, so endpoints and
//! health checks are the same ([`Stack::status`]). Data lives in named volumes mounted where
//! the configuration puts it (`flinkit-<id>-kafka`, `-pulsar`, `-flink` shared by the
//! JobManager, TaskManager and Gateway for checkpoints and savepoints, `-postgres`);
//! `down --purge` removes them. The runner jar and the Gateway's jdbc catalog jars are
//! bind-mounted from the cache and put on the classpath as for the process cluster.
//!
//! Containers are named `flinkit-<id>-<process>` (`<id>`: a hash of the stack's state folder,
//! so two state folders never share one) and labelled with the folder; no network is created.
//!
//! `compose/docker-compose.yml` is the same stack for people who run `docker compose`
//! themselves; tests/stack.rs keeps it in step.

use std::collections::HashMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bollard::Docker;
use bollard::models::{ContainerCreateBody, HostConfig, Mount, MountType, VolumeCreateRequest};
use bollard::query_parameters::{
    CreateContainerOptions, ListContainersOptions, LogsOptions, RemoveContainerOptions,
    StopContainerOptions,
};
use futures::StreamExt as _;
use sha2::{Digest, Sha256};

use super::images::{self, Ready, Source, StackImage};
use super::process::{self, Classpaths, Unit, service_of};
use super::{Event, Ports, Service, ServiceStatus, Stack, StackError, diagnose, health, io};
use crate::provision::Cache;

/// The compose file, as shipped in `compose/docker-compose.yml`.
pub const COMPOSE_FILE: &str = include_str!("../../compose/docker-compose.yml");

/// The label holding the state folder of a container's or volume's stack.
const STACK_LABEL: &str = "org.flinkit.stack";
/// The label naming a container's process.
const UNIT_LABEL: &str = "org.flinkit.process";
/// How long a container gets to stop before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(30);
/// The engine's default address.
const DEFAULT_SOCKET: &str = "unix:///var/run/docker.sock";

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

/// The engine's address: `DOCKER_HOST`, else the default socket.
pub fn socket() -> String {
    std::env::var("DOCKER_HOST").unwrap_or_else(|_| DEFAULT_SOCKET.into())
}

/// A connection to a Docker engine that answered, with the async runtime its calls run on
/// (the stack's commands are blocking).
pub struct Engine {
    runtime: tokio::runtime::Runtime,
    docker: Docker,
}

impl Engine {
    /// Connects to the engine at [`socket`] and checks that it answers this user.
    pub fn connect() -> Result<Self, StackError> {
        let socket = socket();
        let no_engine = |source: bollard::errors::Error| {
            if permission_denied(&source) {
                StackError::DockerPermission {
                    socket: socket.clone(),
                }
            } else {
                StackError::NoDockerEngine {
                    socket: socket.clone(),
                    source,
                }
            }
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|source| StackError::Spawn {
                what: "the async runtime".into(),
                source,
            })?;
        let docker = Docker::connect_with_defaults().map_err(no_engine)?;
        let docker = runtime
            .block_on(async {
                let docker = docker.negotiate_version().await?;
                docker.ping().await.map(|_| docker)
            })
            .map_err(no_engine)?;
        Ok(Self { runtime, docker })
    }

    /// Runs one of its calls to completion.
    pub(super) fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }

    /// The API client.
    pub(super) fn docker(&self) -> &Docker {
        &self.docker
    }

    fn api<T>(
        &self,
        what: impl FnOnce() -> String,
        future: impl Future<Output = Result<T, bollard::errors::Error>>,
    ) -> Result<T, StackError> {
        self.block_on(future)
            .map_err(|source| StackError::DockerApi {
                what: what(),
                source,
            })
    }
}

/// Whether a connection failed because the socket refuses this user (the `io::Error` is
/// somewhere down the chain of causes).
fn permission_denied(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(err);
    while let Some(err) = cause {
        if err
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::PermissionDenied)
        {
            return true;
        }
        cause = err.source();
    }
    false
}

/// Whether Docker can run the stack: an engine answers this user and has every image of the
/// stack, or can pull the official ones (building images takes minutes and is never chosen
/// silently: `--runtime docker` or `flinkit stack images build` asks for it).
pub fn can_run() -> bool {
    let Ok(engine) = Engine::connect() else {
        return false;
    };
    StackImage::ALL.iter().all(|image| {
        matches!(engine.image_labels(&image.tag()), Ok(Some(_)))
            || engine
                .block_on(
                    engine
                        .docker()
                        .inspect_registry_image(&image.official(), None),
                )
                .is_ok()
    })
}

/// Builds the service images of `services` from the Debian base (`flinkit stack images
/// build`), whatever is present or could be pulled.
pub fn build_images(
    services: &[Service],
    cache: &Cache,
    progress: &mut dyn FnMut(Event),
) -> Result<Vec<Ready>, StackError> {
    let engine = Engine::connect()?;
    images::ensure(
        &engine,
        &StackImage::for_services(services),
        cache,
        Source::Build,
        progress,
    )
}

/// A short hash of the stack's state folder, in its containers' and volumes' names.
fn stack_id(stack: &Stack) -> String {
    let hash = Sha256::digest(stack.root().display().to_string().as_bytes());
    hash.iter().take(4).map(|b| format!("{b:02x}")).collect()
}

fn container_name(stack: &Stack, unit: Unit) -> String {
    format!("flinkit-{}-{}", stack_id(stack), unit.name())
}

/// The named volume holding a unit's data, and where it is mounted.
fn volume(stack: &Stack, unit: Unit) -> (String, PathBuf) {
    let id = stack_id(stack);
    match unit {
        Unit::JobManager | Unit::TaskManager | Unit::Gateway => {
            (format!("flinkit-{id}-flink"), stack.root().join("flink"))
        }
        Unit::Postgres => (
            format!("flinkit-{id}-postgres"),
            PathBuf::from("/var/lib/postgresql/data"),
        ),
        _ => (
            format!("flinkit-{id}-{}", unit.name()),
            stack.unit_dir(unit).join("data"),
        ),
    }
}

/// A container of the stack, as the engine lists it.
#[derive(Debug, Clone)]
struct Container {
    name: String,
    unit: String,
    running: bool,
}

impl Engine {
    /// The stack's containers (running or not).
    fn containers(&self, stack: &Stack) -> Result<Vec<Container>, StackError> {
        let filters = HashMap::from([(
            "label".to_string(),
            vec![format!("{STACK_LABEL}={}", stack.root().display())],
        )]);
        let options = ListContainersOptions {
            all: true,
            filters: Some(filters),
            ..Default::default()
        };
        let list = self.api(
            || "listing the stack's containers".into(),
            self.docker.list_containers(Some(options)),
        )?;
        Ok(list
            .into_iter()
            .map(|c| Container {
                name: c
                    .names
                    .and_then(|n| n.into_iter().next())
                    .unwrap_or_default()
                    .trim_start_matches('/')
                    .to_string(),
                unit: c
                    .labels
                    .and_then(|l| l.get(UNIT_LABEL).cloned())
                    .unwrap_or_default(),
                running: c.state == Some(bollard::models::ContainerSummaryStateEnum::RUNNING),
            })
            .collect())
    }

    /// Stops (after [`STOP_GRACE`], kills) and removes a container; one already gone is fine.
    fn remove(&self, name: &str) -> Result<(), StackError> {
        self.block_on(self.remove_async(name))
    }

    async fn remove_async(&self, name: &str) -> Result<(), StackError> {
        let stop = StopContainerOptions {
            t: Some(STOP_GRACE.as_secs() as i32),
            ..Default::default()
        };
        let remove = RemoveContainerOptions {
            force: true,
            ..Default::default()
        };
        let result = async {
            match self.docker.stop_container(name, Some(stop)).await {
                Ok(()) | Err(bollard::errors::Error::DockerResponseServerError { .. }) => {}
                Err(other) => return Err(other),
            }
            self.docker.remove_container(name, Some(remove)).await
        }
        .await;
        match result {
            Ok(())
            | Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(()),
            Err(source) => Err(StackError::DockerApi {
                what: format!("removing the container {name}"),
                source,
            }),
        }
    }

    /// A container's output, its last `lines` lines.
    fn logs_of(&self, name: &str, lines: usize) -> String {
        let options = LogsOptions {
            stdout: true,
            stderr: true,
            tail: lines.to_string(),
            ..Default::default()
        };
        self.block_on(async {
            let mut text = String::new();
            let mut stream = self.docker.logs(name, Some(options));
            while let Some(Ok(chunk)) = stream.next().await {
                text.push_str(&String::from_utf8_lossy(&chunk.into_bytes()));
            }
            text
        })
    }

    /// How a stopped container ended (`exited with 1`, `was killed: out of memory` …).
    fn exit_of(&self, name: &str) -> Option<String> {
        let inspect = self
            .block_on(self.docker.inspect_container(name, None))
            .ok()?;
        let state = inspect.state?;
        if state.running == Some(true) {
            return None;
        }
        let code = state.exit_code.unwrap_or_default();
        Some(if state.oom_killed == Some(true) {
            format!("its container {name} was killed: out of memory")
        } else {
            format!("its container {name} exited with code {code}")
        })
    }

    /// Who holds a port, naming the container when it is one.
    fn port_holder(&self, port: u16) -> Option<String> {
        let holder = diagnose::port_holder(port)?;
        let container = holder.pid.and_then(|pid| self.container_of(pid));
        Some(match container {
            Some(name) => format!("the container {name} ({holder})"),
            None => holder.to_string(),
        })
    }

    /// The running container whose process `pid` is or descends from.
    fn container_of(&self, pid: u32) -> Option<String> {
        let running = self
            .block_on(self.docker.list_containers(None::<ListContainersOptions>))
            .ok()?;
        let mut inits: HashMap<u32, String> = HashMap::new();
        for summary in running {
            let Some(id) = summary.id else { continue };
            let Ok(inspect) = self.block_on(self.docker.inspect_container(&id, None)) else {
                continue;
            };
            let init = inspect.state.and_then(|s| s.pid).unwrap_or_default();
            let name = inspect.name.unwrap_or(id);
            inits.insert(init as u32, name.trim_start_matches('/').to_string());
        }
        let mut current = pid;
        for _ in 0..32 {
            if let Some(name) = inits.get(&current) {
                return Some(name.clone());
            }
            current = parent_pid(current)?;
            if current <= 1 {
                return None;
            }
        }
        None
    }
}

/// A process's parent (from `/proc/<pid>/stat`).
fn parent_pid(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.split_whitespace().nth(1)?.parse().ok()
}

/// Brings up `services` as containers, leaving healthy ones alone and starting again the
/// containers that stopped, and returns when all are healthy. Before anything starts, the
/// engine must answer, the ports must be free and the images must be there (pulled or built,
/// see [`super::images`]); when a service does not become healthy, the containers this call
/// started are removed again, and the error ends with its container's output.
pub fn up(
    stack: &Stack,
    services: &[Service],
    cache: &Cache,
    timeout: Duration,
    progress: &mut dyn FnMut(Event),
) -> Result<Vec<ServiceStatus>, StackError> {
    let engine = Engine::connect()?;
    let _lock = stack.lock()?;
    let containers = engine.containers(stack)?;
    let running = |unit: Unit| {
        containers
            .iter()
            .any(|c| c.unit == unit.name() && c.running)
    };
    let pending = process::pending_units(stack, services, running, progress);
    let to_start: Vec<Unit> = pending
        .iter()
        .flat_map(|(_, units)| units.iter().copied())
        .collect();
    if to_start.is_empty() {
        return Ok(stack.status(services));
    }
    for &unit in &to_start {
        for port in unit.ports(stack.ports()) {
            if let Some(holder) = engine.port_holder(port) {
                return Err(StackError::PortTaken {
                    service: service_of(unit),
                    port,
                    holder,
                });
            }
        }
    }
    let pending_services: Vec<Service> = pending.iter().map(|(s, _)| *s).collect();
    let ready = images::ensure(
        &engine,
        &StackImage::for_services(&pending_services),
        cache,
        Source::Reuse,
        progress,
    )?;
    let classpaths = classpaths(&ready, &to_start, cache, progress)?;
    progress(Event::Starting(pending_services.clone()));
    let started = Instant::now();
    let mut created = Created::default();
    let result = start_and_wait(
        &engine,
        stack,
        &to_start,
        &ready,
        &classpaths,
        &pending_services,
        timeout,
        started,
        &mut created,
        progress,
    );
    if result.is_err() {
        for name in &created.containers {
            let _ = engine.remove(name);
        }
        for name in &created.volumes {
            let _ = engine.block_on(
                engine
                    .docker
                    .remove_volume(name, None::<bollard::query_parameters::RemoveVolumeOptions>),
            );
        }
    }
    result.map(|()| stack.status(services))
}

/// The classpaths inside the containers: the images' jars, the runner jar first for the
/// Flink processes, the jdbc catalog's jars for the Gateway (both bind-mounted from the
/// cache at the same paths).
fn classpaths(
    ready: &[Ready],
    units: &[Unit],
    cache: &Cache,
    progress: &mut dyn FnMut(Event),
) -> Result<Classpaths, StackError> {
    let jars = |image: StackImage| {
        ready
            .iter()
            .find(|r| r.image == image)
            .map(|r| r.classpath.clone())
            .unwrap_or_default()
    };
    let mut classpaths = Classpaths {
        kafka: jars(StackImage::Kafka),
        pulsar: jars(StackImage::Pulsar),
        ..Classpaths::default()
    };
    let flink = units
        .iter()
        .any(|u| matches!(u, Unit::JobManager | Unit::TaskManager | Unit::Gateway));
    if flink {
        let runner = cache.runner_jar(false, &mut |p| progress(Event::Provision(p)))?;
        classpaths.flink = std::iter::once(runner)
            .chain(jars(StackImage::Flink))
            .collect();
    }
    if units.contains(&Unit::Gateway) {
        classpaths.gateway = process::gateway_jars(cache, &mut |p| progress(Event::Provision(p)))?;
    }
    if units.contains(&Unit::SchemaRegistry) {
        classpaths.schema_registry = vec![process::schema_registry_jar(cache, &mut |p| {
            progress(Event::Provision(p))
        })?];
    }
    Ok(classpaths)
}

/// What an `up` made, removed again when it fails.
#[derive(Default)]
struct Created {
    containers: Vec<String>,
    volumes: Vec<String>,
}

#[allow(clippy::too_many_arguments)]
fn start_and_wait(
    engine: &Engine,
    stack: &Stack,
    units: &[Unit],
    ready: &[Ready],
    classpaths: &Classpaths,
    services: &[Service],
    timeout: Duration,
    started: Instant,
    created: &mut Created,
    progress: &mut dyn FnMut(Event),
) -> Result<(), StackError> {
    // PostgreSQL and Kafka last, as in the process runtime.
    let (last, first): (Vec<Unit>, Vec<Unit>) = units
        .iter()
        .partition(|&&u| matches!(u, Unit::Kafka | Unit::Postgres));
    for unit in first.into_iter().chain(last) {
        let name = container_name(stack, unit);
        engine.remove(&name)?;
        let body = container(stack, unit, ready, classpaths)?;
        let (volume_name, _) = volume(stack, unit);
        let labels = HashMap::from([(STACK_LABEL.to_string(), stack.root().display().to_string())]);
        let exists = engine
            .block_on(engine.docker.inspect_volume(&volume_name))
            .is_ok();
        if !exists {
            created.volumes.push(volume_name.clone());
        }
        engine.api(
            || format!("creating the volume {volume_name}"),
            engine.docker.create_volume(VolumeCreateRequest {
                name: Some(volume_name.clone()),
                labels: Some(labels),
                ..Default::default()
            }),
        )?;
        let options = CreateContainerOptions {
            name: Some(name.clone()),
            ..Default::default()
        };
        engine.api(
            || format!("creating the container {name}"),
            engine.docker.create_container(Some(options), body),
        )?;
        created.containers.push(name.clone());
        engine.api(
            || format!("starting the container {name}"),
            engine.docker.start_container(&name, None),
        )?;
    }
    let mut waiting = services.to_vec();
    while !waiting.is_empty() {
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
        let mut still = Vec::new();
        for (service, check) in waiting.into_iter().zip(checks) {
            let ended = Unit::of(service)
                .iter()
                .filter(|u| units.contains(u))
                .find_map(|&u| engine.exit_of(&container_name(stack, u)).map(|e| (u, e)));
            if let Some((unit, reason)) = ended {
                return Err(unhealthy(
                    engine,
                    stack,
                    service,
                    Some(unit),
                    started.elapsed(),
                    reason,
                ));
            }
            match check {
                Ok(()) => progress(Event::Healthy(service, started.elapsed())),
                Err(reason) if started.elapsed() >= timeout => {
                    return Err(unhealthy(
                        engine,
                        stack,
                        service,
                        None,
                        started.elapsed(),
                        reason,
                    ));
                }
                Err(_) => still.push(service),
            }
        }
        waiting = still;
        if !waiting.is_empty() {
            std::thread::sleep(Duration::from_millis(500));
        }
    }
    Ok(())
}

/// The failure of a service, with its container's output saved to the log file the process
/// runtime would write (`<state>/stack/<process>/<process>.log`).
fn unhealthy(
    engine: &Engine,
    stack: &Stack,
    service: Service,
    exited: Option<Unit>,
    waited: Duration,
    reason: String,
) -> StackError {
    let unit = exited.unwrap_or(Unit::of(service)[0]);
    let output = engine.logs_of(&container_name(stack, unit), 500);
    let log = stack.log_path(unit);
    if let Some(dir) = log.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let _ = std::fs::write(&log, &output);
    let ports: Vec<u16> = Unit::of(service)
        .iter()
        .flat_map(|u| u.ports(stack.ports()))
        .collect();
    StackError::Unhealthy {
        service,
        waited,
        reason,
        cause: diagnose::likely_cause(&output, &ports),
        tail: diagnose::tail(&log, 30),
        log,
    }
}

/// The container of a unit: the process runtime's command, inside its image.
fn container(
    stack: &Stack,
    unit: Unit,
    ready: &[Ready],
    classpaths: &Classpaths,
) -> Result<ContainerCreateBody, StackError> {
    let image = StackImage::of(service_of(unit));
    let tag = ready
        .iter()
        .find(|r| r.image == image)
        .map(|r| r.tag.clone())
        .unwrap_or_else(|| image.tag());
    let bind = |path: &Path| Mount {
        target: Some(path.display().to_string()),
        source: Some(path.display().to_string()),
        typ: Some(MountType::BIND),
        read_only: Some(true),
        ..Default::default()
    };
    let (volume_name, data) = volume(stack, unit);
    let mut mounts = vec![Mount {
        target: Some(data.display().to_string()),
        source: Some(volume_name),
        typ: Some(MountType::VOLUME),
        ..Default::default()
    }];
    let mut tmpfs = HashMap::new();
    let (user, argv, env) = if unit == Unit::Postgres {
        let port = stack.ports().postgres_port;
        (
            "postgres".to_string(),
            vec!["sh".into(), "-c".into(), postgres_script(&data, port)],
            Vec::new(),
        )
    } else {
        let conf = stack.unit_dir(unit).join("conf");
        let jvm = process::prepare_jvm(stack, unit, classpaths)?;
        std::fs::create_dir_all(&conf).map_err(io(&conf))?;
        mounts.push(bind(&conf));
        let host_jars: Vec<&Path> = match unit {
            Unit::JobManager | Unit::TaskManager => classpaths
                .flink
                .iter()
                .take(1)
                .map(PathBuf::as_path)
                .collect(),
            Unit::Gateway => classpaths
                .flink
                .iter()
                .take(1)
                .chain(&classpaths.gateway)
                .map(PathBuf::as_path)
                .collect(),
            // The application's folder: its jar's manifest names the libraries beside it.
            Unit::SchemaRegistry => classpaths
                .schema_registry
                .iter()
                .filter_map(|jar| jar.parent())
                .collect(),
            _ => Vec::new(),
        };
        mounts.extend(host_jars.into_iter().map(bind));
        // Executable: JNI libraries (RocksDB) are unpacked there and loaded.
        tmpfs.insert(
            stack.root().join("tmp").display().to_string(),
            "exec".to_string(),
        );
        let mut argv: Vec<String> = vec!["java".into()];
        argv.extend(jvm.jvm.iter().cloned());
        argv.extend(["-cp".into(), jvm.classpath.clone(), jvm.main_class.into()]);
        argv.extend(jvm.args.iter().cloned());
        if unit == Unit::Kafka {
            argv = kafka_argv(stack, &process::join(&classpaths.kafka), &argv);
        }
        let env = jvm
            .env
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect();
        ("0:0".to_string(), argv, env)
    };
    let labels = HashMap::from([
        (STACK_LABEL.to_string(), stack.root().display().to_string()),
        (UNIT_LABEL.to_string(), unit.name().to_string()),
    ]);
    Ok(ContainerCreateBody {
        image: Some(tag),
        entrypoint: Some(argv[..1].to_vec()),
        cmd: Some(argv[1..].to_vec()),
        env: Some(env),
        user: Some(user),
        labels: Some(labels),
        stop_timeout: Some(STOP_GRACE.as_secs() as i64),
        // PostgreSQL's fast shutdown, as the process runtime asks for (SIGTERM waits for every
        // client to leave).
        stop_signal: (unit == Unit::Postgres).then(|| "SIGINT".to_string()),
        host_config: Some(HostConfig {
            network_mode: Some("host".into()),
            // The engine's init as process 1 passes signals on and reaps children.
            init: Some(true),
            mounts: Some(mounts),
            tmpfs: Some(tmpfs),
            ..Default::default()
        }),
        ..Default::default()
    })
}

/// Kafka's command: its storage formatted the first time (KRaft needs a cluster id on disk,
/// and the data is in the volume), then the broker.
fn kafka_argv(stack: &Stack, classpath: &str, broker: &[String]) -> Vec<String> {
    let dir = stack.unit_dir(Unit::Kafka);
    let config = dir.join("conf/server.properties");
    let format: Vec<String> = vec![
        "java".into(),
        "-Xmx256m".into(),
        "-cp".into(),
        classpath.into(),
        format!(
            "-Dlog4j2.configurationFile={}",
            dir.join("conf/log4j2.properties").display()
        ),
        "kafka.tools.StorageTool".into(),
        "format".into(),
        "-t".into(),
        process::kafka_cluster_id(),
        "-c".into(),
        config.display().to_string(),
    ];
    let quote =
        |args: &[String]| shlex::try_join(args.iter().map(String::as_str)).unwrap_or_default();
    let marker = dir.join("data/meta.properties");
    let script = format!(
        "[ -f {marker} ] || {format} || exit 1; exec {broker}",
        marker = shlex::try_quote(&marker.display().to_string()).unwrap_or_default(),
        format = quote(&format),
        broker = quote(broker),
    );
    vec!["sh".into(), "-c".into(), script]
}

/// PostgreSQL's command, as the `postgres` user: the cluster initialised the first time as
/// [`super::postgres`] does (superuser `flinkit`, trusted, UTF-8, the database `flinkit`,
/// renamed into place once complete), then the server with the process runtime's settings.
fn postgres_script(volume: &Path, port: u16) -> String {
    let data = volume.join("pgdata").display().to_string();
    let user = super::postgres::DATABASE;
    format!(
        "set -e; D={data}; \
         if [ ! -s \"$D/PG_VERSION\" ]; then \
           rm -rf \"$D.init\"; \
           initdb --pgdata \"$D.init\" --username {user} --auth=trust --encoding=UTF8 --locale=C --no-instructions; \
           echo 'CREATE DATABASE {user};' | postgres --single -j -D \"$D.init\" postgres >/dev/null; \
           mv \"$D.init\" \"$D\"; \
         fi; \
         exec postgres -D \"$D\" -p {port} -c listen_addresses=localhost -c unix_socket_directories= \
           -c shared_buffers=64MB -c 'log_line_prefix=%m [%p] '"
    )
}

/// Stops and removes the containers of `services`; with `purge`, their volumes and
/// configuration too.
pub fn down(
    stack: &Stack,
    services: &[Service],
    purge: bool,
    progress: &mut dyn FnMut(Event),
) -> Result<(), StackError> {
    let engine = Engine::connect()?;
    let _lock = stack.lock()?;
    let containers = engine.containers(stack)?;
    let started = Instant::now();
    // All at once, each service reported when its containers are gone.
    let stops = services.iter().map(|&service| {
        let names: Vec<String> = containers
            .iter()
            .filter(|c| Unit::of(service).iter().any(|u| u.name() == c.unit))
            .map(|c| c.name.clone())
            .collect();
        let engine = &engine;
        async move {
            for name in &names {
                engine.remove_async(name).await?;
            }
            Ok::<_, StackError>((service, !names.is_empty(), started.elapsed()))
        }
    });
    let results = engine.block_on(futures::future::join_all(stops));
    for result in results {
        let (service, stopped, took) = result?;
        if stopped {
            progress(Event::Stopped(service, took));
        }
    }
    if !purge {
        return Ok(());
    }
    let left: Vec<String> = engine
        .containers(stack)?
        .into_iter()
        .map(|c| c.unit)
        .collect();
    let units: Vec<Unit> = services
        .iter()
        .flat_map(|&s| Unit::of(s).iter().copied())
        .collect();
    let mut volumes: Vec<String> = Vec::new();
    for &unit in &units {
        let (name, _) = volume(stack, unit);
        // The Flink volume is shared: it goes when none of its containers is left.
        let shared_by_others = Unit::of(Service::Flink)
            .iter()
            .chain(Unit::of(Service::Gateway))
            .any(|u| left.contains(&u.name().to_string()))
            && name == volume(stack, Unit::Gateway).0;
        if !shared_by_others && !volumes.contains(&name) {
            volumes.push(name);
        }
    }
    for name in volumes {
        let result = engine.block_on(engine.docker.remove_volume(
            &name,
            None::<bollard::query_parameters::RemoveVolumeOptions>,
        ));
        match result {
            Ok(())
            | Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => {}
            Err(source) => {
                return Err(StackError::DockerApi {
                    what: format!("removing the volume {name}"),
                    source,
                });
            }
        }
    }
    let mut dirs: Vec<PathBuf> = units.iter().map(|&u| stack.unit_dir(u)).collect();
    if services.contains(&Service::Flink) {
        dirs.push(stack.root().join("flink"));
    }
    for dir in dirs {
        if dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(io(&dir))?;
        }
    }
    Ok(())
}

/// The last `lines` lines of a service's containers' output (each line prefixed with its
/// process when the service has several); with `follow`, keeps printing what they write to
/// this process's stdout until interrupted (and returns nothing).
pub fn logs(
    stack: &Stack,
    service: Service,
    lines: usize,
    follow: bool,
) -> Result<String, StackError> {
    let engine = Engine::connect()?;
    let containers = engine.containers(stack)?;
    let names: Vec<(Unit, String)> = Unit::of(service)
        .iter()
        .filter(|u| containers.iter().any(|c| c.unit == u.name()))
        .map(|&u| (u, container_name(stack, u)))
        .collect();
    if names.is_empty() {
        return Err(StackError::NoContainer {
            service,
            root: stack.root().to_path_buf(),
        });
    }
    let several = Unit::of(service).len() > 1;
    let prefix = |unit: Unit| {
        if several {
            format!("[{}] ", unit.name())
        } else {
            String::new()
        }
    };
    let options = |follow: bool| LogsOptions {
        stdout: true,
        stderr: true,
        follow,
        tail: lines.to_string(),
        ..Default::default()
    };
    if !follow {
        let mut text = String::new();
        for (unit, name) in &names {
            for line in engine.logs_of(name, lines).lines() {
                text.push_str(&prefix(*unit));
                text.push_str(line);
                text.push('\n');
            }
        }
        return Ok(text);
    }
    let streams = names.iter().map(|(unit, name)| {
        let prefix = prefix(*unit);
        engine
            .docker
            .logs(name, Some(options(true)))
            .map(move |chunk| (prefix.clone(), chunk))
            .boxed()
    });
    engine.block_on(async {
        let mut merged = futures::stream::select_all(streams);
        while let Some((prefix, chunk)) = merged.next().await {
            let Ok(chunk) = chunk else { break };
            let text = String::from_utf8_lossy(&chunk.into_bytes()).into_owned();
            let mut out = String::new();
            for line in text.split_inclusive('\n') {
                out.push_str(&prefix);
                out.push_str(line);
            }
            use std::io::Write as _;
            let mut stdout = std::io::stdout().lock();
            if stdout.write_all(out.as_bytes()).is_err() {
                break;
            }
            let _ = stdout.flush();
        }
    });
    Ok(String::new())
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

    #[test]
    fn containers_and_volumes_are_named_after_the_state_folder() {
        let a = Stack::new("/tmp/a", Ports::default());
        let b = Stack::new("/tmp/b", Ports::default());
        let name = container_name(&a, Unit::Kafka);
        assert!(
            name.starts_with("flinkit-") && name.ends_with("-kafka"),
            "{name}"
        );
        assert_ne!(name, container_name(&b, Unit::Kafka));
        assert_eq!(volume(&a, Unit::JobManager), volume(&a, Unit::Gateway));
        assert_eq!(volume(&a, Unit::Kafka).1, a.root().join("kafka/data"));
    }

    #[test]
    fn kafka_formats_its_storage_only_once_then_runs_the_broker() {
        let stack = Stack::new("/tmp/with space", Ports::default());
        let broker = vec![
            "java".to_string(),
            "kafka.Kafka".into(),
            "/x y/server.properties".into(),
        ];
        let argv = kafka_argv(&stack, "/opt/flinkit/lib/a.jar", &broker);
        assert_eq!(argv[..2], ["sh", "-c"]);
        let script = &argv[2];
        assert!(
            script.starts_with("[ -f '/tmp/with space/stack/kafka/data/meta.properties' ] || java"),
            "{script}"
        );
        assert!(
            script.ends_with("exec java kafka.Kafka '/x y/server.properties'"),
            "{script}"
        );
    }
}
