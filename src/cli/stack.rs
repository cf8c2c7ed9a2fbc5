//! `flinkit stack up|down|status|logs`: the local Flink, SQL Gateway, Kafka, Pulsar and
//! PostgreSQL.

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::{Args, Subcommand, ValueEnum};
use flinkit::flink::line::FlinkLine;
use flinkit::provision::Cache;
use flinkit::stack::{self, Event, Runtime, Service, ServiceStatus, Stack, StackError};
use serde_json::json;

use super::progress::Reporter;
use super::{Context, Format, InvalidInput, output};

/// Flags of `flinkit stack`.
#[derive(Args, Debug)]
pub struct StackArgs {
    #[command(subcommand)]
    pub command: StackCommand,
}

/// Which runtime: detected by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RuntimeArg {
    /// The runtime of the stack already running from this state directory, else Docker when it
    /// can run the stack, else process.
    Auto,
    /// JVM processes from Maven Central artifacts.
    Process,
    /// Containers of a Docker engine, from the official images when they can be pulled, else
    /// from images built here (`flinkit stack images build`).
    Docker,
}

/// Flags every stack subcommand shares.
#[derive(Args, Debug, Clone)]
pub struct Common {
    /// Services, comma-separated: flink, gateway, kafka, pulsar, postgres, schema-registry
    /// (default: all).
    #[arg(long, value_delimiter = ',', value_name = "LIST")]
    pub services: Vec<String>,
    /// How to run the stack.
    #[arg(long, value_enum, default_value_t = RuntimeArg::Auto)]
    pub runtime: RuntimeArg,
    /// A flinkit.toml with a [stack] section of ports (default: ./flinkit.toml when present).
    #[arg(long, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// The secure stack (its own ports, [secure_stack], and state): Kafka over SASL_SSL with
    /// SCRAM-SHA-512, Pulsar over TLS with tokens, Flink and the Gateway over HTTPS; processes
    /// only, no PostgreSQL. `stack status --secure` says what a table needs to reach each.
    #[arg(long)]
    pub secure: bool,
    /// The Flink line of the cluster and SQL Gateway: 1.20 (default), 2 (the newest 2.x
    /// flinkit runs, 2.2) or 2.2. `up` starts that line (a 2.x stack runs no Pulsar jobs: no
    /// connector exists); `down`, `status` and `logs` refuse a running Flink of another line.
    #[arg(long, value_name = "VERSION", value_parser = super::values::flink_line)]
    pub flink_version: Option<FlinkLine>,
}

/// The stack subcommands.
#[derive(Subcommand, Debug)]
pub enum StackCommand {
    /// Start the services that are not healthy (healthy ones are left alone); returns when all are.
    Up {
        #[command(flatten)]
        common: Common,
        /// How long to wait for the services to become healthy.
        #[arg(long, default_value = "180s", value_parser = super::values::duration)]
        timeout: Duration,
    },
    /// Stop the services this stack started.
    Down {
        #[command(flatten)]
        common: Common,
        /// Also delete their data (topics, checkpoints, metadata, databases).
        #[arg(long)]
        purge: bool,
    },
    /// Check each service's health; exits 1 when one is not healthy.
    Status {
        #[command(flatten)]
        common: Common,
    },
    /// Print the end of a service's log (--format json: one {"service","log","line"} per line).
    Logs {
        /// flink, gateway, kafka, pulsar, postgres or schema-registry.
        service: String,
        #[command(flatten)]
        common: Common,
        /// How many lines.
        #[arg(short = 'n', long, default_value_t = 50)]
        lines: usize,
        /// Keep printing what is appended (Ctrl-C stops).
        #[arg(short, long)]
        follow: bool,
    },
    /// The Docker stack's images.
    Images {
        #[command(subcommand)]
        command: ImagesCommand,
    },
}

/// `flinkit stack images …`.
#[derive(Subcommand, Debug)]
pub enum ImagesCommand {
    /// Build the images `flinkit/<service>:<version>` here, from a Debian base (debootstrap, as
    /// root) and the Maven Central jars the process runtime runs, replacing those present.
    Build {
        #[command(flatten)]
        common: Common,
    },
}

/// Runs `flinkit stack …`.
pub fn run(ctx: &Context<'_>, args: &StackArgs) -> anyhow::Result<()> {
    let common = match &args.command {
        StackCommand::Up { common, .. }
        | StackCommand::Down { common, .. }
        | StackCommand::Status { common }
        | StackCommand::Logs { common, .. }
        | StackCommand::Images {
            command: ImagesCommand::Build { common },
        } => common,
    };
    let mut services = stack::parse_services(&common.services).map_err(invalid)?;
    let stack = if common.secure {
        Stack::secure_from_env(common.config.as_deref())
    } else {
        Stack::from_env(common.config.as_deref())
    };
    let stack = stack.map_err(|e| match e {
        StackError::Config { .. } => invalid(e),
        StackError::Io { ref path, .. } if common.config.as_ref() == Some(path) => {
            anyhow::Error::new(e).context(InvalidInput("cannot use the --config file".into()))
        }
        other => other.into(),
    })?;
    if common.secure {
        if common.services.is_empty() {
            services = stack.services().to_vec();
        }
        if let Some(&service) = services.iter().find(|s| !stack.services().contains(s)) {
            return Err(invalid(StackError::NotSecure(service)));
        }
        if common.runtime == RuntimeArg::Docker {
            return Err(InvalidInput(
                "the secure stack runs as processes only (--runtime process)".into(),
            )
            .into());
        }
    }
    if let (Some(line), false) = (
        common.flink_version,
        matches!(args.command, StackCommand::Up { .. }),
    ) {
        running_line(&stack, line)?;
    }
    match &args.command {
        StackCommand::Up { timeout, .. } => up(
            ctx,
            &stack,
            common,
            &services,
            common.flink_version.unwrap_or_default(),
            *timeout,
        ),
        StackCommand::Down { purge, .. } => down(&stack, common, &services, *purge),
        StackCommand::Status { .. } => status(ctx, &stack, &services),
        StackCommand::Logs {
            service,
            lines,
            follow,
            ..
        } => {
            let service: Service = service.parse().map_err(invalid)?;
            logs(&stack, common, service, *lines, *follow, ctx.format)
        }
        StackCommand::Images { .. } => build_images(&services),
    }
}

fn invalid(err: StackError) -> anyhow::Error {
    InvalidInput(err.to_string()).into()
}

/// A provisioning failure keeps its own type, so its fix is shown.
fn lib_error(err: StackError) -> anyhow::Error {
    match err {
        StackError::Provision(e) => e.into(),
        other => other.into(),
    }
}

/// The runtime to use: the flag, else [`Runtime::for_stack`].
pub fn runtime(stack: &Stack, flag: RuntimeArg) -> Runtime {
    if stack.secrets().is_some() {
        return Runtime::Process;
    }
    match flag {
        RuntimeArg::Process => Runtime::Process,
        RuntimeArg::Docker => Runtime::Docker,
        RuntimeArg::Auto => Runtime::for_stack(stack),
    }
}

fn up(
    ctx: &Context<'_>,
    stack: &Stack,
    common: &Common,
    services: &[Service],
    line: FlinkLine,
    timeout: Duration,
) -> anyhow::Result<()> {
    let runtime = match common.runtime {
        // The Docker stack runs the default line's images; the secure stack runs as processes.
        RuntimeArg::Auto if !line.is_default() || stack.secrets().is_some() => Runtime::Process,
        flag => runtime(stack, flag),
    };
    let started = Instant::now();
    let statuses = start(stack, runtime, services, line, timeout)?;
    let took = started.elapsed();
    print_statuses(ctx, stack, &statuses, Some((runtime.name(), took)))
}

/// Starts those of `services` that are not healthy with `runtime` (healthy ones are left
/// alone), showing progress on stderr, and returns when all are healthy.
pub fn start(
    stack: &Stack,
    runtime: Runtime,
    services: &[Service],
    line: FlinkLine,
    timeout: Duration,
) -> anyhow::Result<Vec<ServiceStatus>> {
    if runtime == Runtime::Docker && !line.is_default() {
        return Err(InvalidInput(format!(
            "--flink-version {line}: the Docker stack runs Flink {}'s images; use --runtime process for Flink {}",
            FlinkLine::default().flink_version(),
            line.flink_version()
        ))
        .into());
    }
    let cache = Cache::from_env()?.for_line(line);
    let jvms = services.iter().any(|&s| s != Service::Postgres);
    if jvms && !cache.runner_jar_cached() && stack.status(services).iter().any(|s| !s.healthy) {
        eprintln!("flinkit: {}", first_run_note(services, &cache));
    }
    let mut reporter = Reporter::new(true);
    let mut waiting: Vec<Service> = Vec::new();
    let mut on_event = |event: Event| match event {
        Event::Provision(p) => reporter.provision(p),
        Event::Starting(list) => {
            waiting = list;
            reporter.start(&waiting_message(&waiting));
        }
        Event::Healthy(service, took) => {
            waiting.retain(|s| *s != service);
            reporter.done(&format!(
                "{} healthy at {} ({:.1}s)",
                service.title(),
                stack.endpoint(service),
                took.as_secs_f64()
            ));
            if !waiting.is_empty() {
                reporter.start(&waiting_message(&waiting));
            }
        }
        Event::AlreadyHealthy(service) => reporter.done(&format!(
            "{} already running at {}",
            service.title(),
            stack.endpoint(service)
        )),
        Event::Repairing(service, processes) => reporter.done(&format!(
            "{}: restarting its stopped {processes} process",
            service.title()
        )),
        event => image_event(&mut reporter, event),
    };
    let statuses = match runtime {
        Runtime::Process => stack::process::up(stack, services, &cache, timeout, &mut on_event)
            .map_err(lib_error)?,
        Runtime::Docker => {
            stack::docker::up(stack, services, &cache, timeout, &mut on_event).map_err(lib_error)?
        }
    };
    if services.contains(&Service::Flink) {
        same_line(stack, line)?;
    }
    stack.record_runtime(runtime)?;
    Ok(statuses)
}

/// Fails when the healthy Flink `up` left alone runs another line than `line` (a 1.20 stack on
/// the ports a 2.x one was asked for, say).
fn same_line(stack: &Stack, line: FlinkLine) -> anyhow::Result<()> {
    let version = stack.flink_version().map_err(anyhow::Error::msg)?;
    line_is(stack, line, &version)
}

/// For `down`, `status` and `logs --flink-version`: fails when this stack's Flink answers and
/// runs another line than `line`; a Flink that does not answer has no line to compare.
fn running_line(stack: &Stack, line: FlinkLine) -> anyhow::Result<()> {
    match stack.flink_version() {
        Ok(version) => line_is(stack, line, &version),
        Err(_) => Ok(()),
    }
}

fn line_is(stack: &Stack, line: FlinkLine, version: &str) -> anyhow::Result<()> {
    let url = stack.endpoint(Service::Flink);
    if FlinkLine::of_cluster(version, "the cluster", &url).ok() != Some(line) {
        return Err(InvalidInput(format!(
            "the Flink at {url} runs {version}, not Flink {}: stop it first (`flinkit stack down`), or give this stack other ports ([stack] in --config) and its own FLINKIT_STATE_DIR",
            line.flink_version()
        ))
        .into());
    }
    Ok(())
}

/// What a first run downloads with Maven for the runner jar and the Flink cluster, in MB
/// (measured from an empty `~/.m2`: 239.5 for the runner jar, 5.2 for the cluster).
const FLINK_MB: u32 = 245;
/// The same for the Kafka broker (measured: 69.9).
const KAFKA_MB: u32 = 70;
/// The same for Pulsar standalone (estimated from its 235 MB of jars and Kafka's ratio of
/// download to jars).
const PULSAR_MB: u32 = 300;
/// Minutes per 100 MB of a first run, fastest and slowest measured (building and starting
/// included): 3 minutes for Flink and Kafka on an idle machine at about 1.7 MB/s (issue 14), 12
/// on a loaded one at 0.5 MB/s.
const MINUTES_PER_100_MB: (u32, u32) = (1, 4);

/// What a first run does and how long it takes, said before it starts.
fn first_run_note(services: &[Service], cache: &Cache) -> String {
    let mut parts = vec!["Flink"];
    let mut mb = FLINK_MB;
    for (service, name, size) in [
        (Service::Kafka, "Kafka", KAFKA_MB),
        (Service::Pulsar, "Pulsar", PULSAR_MB),
    ] {
        if services.contains(&service) {
            parts.push(name);
            mb += size;
        }
    }
    let fetched = match parts.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
        _ => parts.join(""),
    };
    let minutes = |per_100: u32| (mb * per_100).div_ceil(100);
    format!(
        "first run: Maven builds the runner jar and fetches {fetched} — about {mb} MB from Maven \
         Central, {} to {} minutes depending on the connection — into ~/.m2 and {}, so that \
         later runs start in seconds",
        minutes(MINUTES_PER_100_MB.0),
        minutes(MINUTES_PER_100_MB.1),
        cache.root().display()
    )
}

/// Shows an image being built and when it is.
fn image_event(reporter: &mut Reporter, event: Event) {
    match event {
        Event::Provision(p) => reporter.provision(p),
        Event::Building { image, from, why } => {
            reporter.start(&format!("building {image} from {from} ({why})"));
        }
        Event::Built(image, took) => {
            reporter.done(&format!("built {image} ({:.1}s)", took.as_secs_f64()));
        }
        _ => {}
    }
}

/// `flinkit stack images build`.
fn build_images(services: &[Service]) -> anyhow::Result<()> {
    let cache = Cache::from_env()?;
    let mut reporter = Reporter::new(true);
    let ready = stack::docker::build_images(services, &cache, &mut |event| {
        image_event(&mut reporter, event)
    })
    .map_err(lib_error)?;
    let tags: Vec<String> = ready.into_iter().map(|r| r.tag).collect();
    output::print(&format!("{}\n", tags.join("\n")))
}

fn waiting_message(services: &[Service]) -> String {
    let names: Vec<_> = services.iter().map(|s| s.title()).collect();
    format!("starting {}", names.join(", "))
}

fn down(stack: &Stack, common: &Common, services: &[Service], purge: bool) -> anyhow::Result<()> {
    stop(stack, runtime(stack, common.runtime), services, purge)
}

/// Stops `services` (run by `runtime`), showing progress on stderr; with `purge`, deletes their
/// data too.
pub fn stop(
    stack: &Stack,
    runtime: Runtime,
    services: &[Service],
    purge: bool,
) -> anyhow::Result<()> {
    match runtime {
        Runtime::Process => {
            let mut reporter = Reporter::new(true);
            stack::process::down(stack, services, purge, &mut |event| {
                if let Event::Stopped(service, took) = event {
                    reporter.done(&format!(
                        "{} stopped ({:.1}s)",
                        service.title(),
                        took.as_secs_f64()
                    ));
                }
            })?;
        }
        Runtime::Docker => {
            let mut reporter = Reporter::new(true);
            stack::docker::down(stack, services, purge, &mut |event| {
                if let Event::Stopped(service, took) = event {
                    reporter.done(&format!(
                        "{} stopped ({:.1}s)",
                        service.title(),
                        took.as_secs_f64()
                    ));
                }
            })?;
        }
    }
    if services.len() == stack.services().len() {
        stack.forget_runtime();
    }
    if purge {
        eprintln!("✓ data deleted under {}", stack.root().display());
    }
    Ok(())
}

fn status(ctx: &Context<'_>, stack: &Stack, services: &[Service]) -> anyhow::Result<()> {
    let statuses = stack.status(services);
    print_statuses(ctx, stack, &statuses, None)?;
    if statuses.iter().all(|s| s.healthy) {
        Ok(())
    } else {
        // The report is printed; a script only needs the exit code (the contract's 1).
        let _ = std::io::stdout().flush();
        std::process::exit(1)
    }
}

fn print_statuses(
    ctx: &Context<'_>,
    stack: &Stack,
    statuses: &[ServiceStatus],
    up: Option<(&str, Duration)>,
) -> anyhow::Result<()> {
    let rss = |s: &ServiceStatus| stack::process::rss_bytes(stack, s.service);
    if ctx.format == Format::Json {
        let services: Vec<_> = statuses
            .iter()
            .map(|s| {
                let mut value = serde_json::to_value(s).unwrap_or_default();
                value["rss_bytes"] = json!(rss(s));
                let connect = stack.client_settings(s.service);
                if !connect.is_empty() {
                    value["connect"] = connect
                        .into_iter()
                        .map(|(k, v)| (k, json!(v)))
                        .collect::<serde_json::Map<_, _>>()
                        .into();
                }
                value
            })
            .collect();
        let mut doc = json!({ "services": services });
        if let Some((runtime, took)) = up {
            doc["runtime"] = json!(runtime);
            doc["seconds"] = json!((took.as_secs_f64() * 10.0).round() / 10.0);
        }
        return output::print_json(&doc);
    }
    let mut text = String::new();
    for s in statuses {
        let state = if s.healthy { "healthy" } else { "down" };
        let mut line = format!("{:<15} {:<8} {}", s.service.name(), state, s.endpoint);
        if s.service == Service::Pulsar {
            line.push_str(&format!(" (admin {})", stack.pulsar_admin()));
        }
        if !s.pids.is_empty() {
            let pids: Vec<_> = s.pids.iter().map(u32::to_string).collect();
            line.push_str(&format!(
                "  pid {}, {} MB",
                pids.join(","),
                rss(s) / 1_000_000
            ));
        }
        if let Some(reason) = &s.reason {
            line.push_str(&format!("\n         {reason}"));
        }
        for (key, value) in stack.client_settings(s.service) {
            line.push_str(&connect_line(&key, &value));
        }
        text.push_str(&line);
        text.push('\n');
    }
    if let Some((runtime, took)) = up {
        let total: u64 = statuses.iter().map(rss).sum();
        text.push_str(&format!(
            "stack up ({runtime}) in {:.1}s; {} MB resident; state in {}\n",
            took.as_secs_f64(),
            total / 1_000_000,
            stack.root().display()
        ));
    }
    output::print(&text)
}

/// One setting a client needs, as it is written: a table option (`'key' = 'value'`) or a
/// variable (`KEY=value`).
fn connect_line(key: &str, value: &str) -> String {
    if key.chars().all(|c| c.is_ascii_uppercase() || c == '_') {
        format!("\n         {key}={value}")
    } else {
        format!("\n         '{key}' = '{}'", value.replace('\'', "''"))
    }
}

/// Prints log lines: as they are, or with `--format json` one `{"service","log","line"}`
/// document per line (`log` is the file's name, for a service with several).
fn print_log(format: Format, service: Service, log: &str, text: &str) -> anyhow::Result<()> {
    if format != Format::Json {
        return output::print(text);
    }
    let mut out = String::new();
    for line in text.lines() {
        out.push_str(&serde_json::to_string(
            &serde_json::json!({"service": service.to_string(), "log": log, "line": line}),
        )?);
        out.push('\n');
    }
    output::print(&out)
}

fn logs(
    stack: &Stack,
    common: &Common,
    service: Service,
    lines: usize,
    follow: bool,
    format: Format,
) -> anyhow::Result<()> {
    if runtime(stack, common.runtime) == Runtime::Docker {
        let text = stack::docker::logs(stack, service, lines, follow)?;
        return print_log(format, service, &service.to_string(), &text);
    }
    let files = stack.logs(service);
    let several = files.len() > 1 && format != Format::Json;
    let stem = |path: &PathBuf| {
        path.file_stem()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned()
    };
    let prefix = |path: &PathBuf| {
        if several {
            format!(
                "[{}] ",
                path.file_stem().unwrap_or_default().to_string_lossy()
            )
        } else {
            String::new()
        }
    };
    let mut found = false;
    for file in &files {
        if !file.exists() {
            continue;
        }
        let mut text = String::new();
        for line in stack::diagnose::tail(file, lines).lines() {
            text.push_str(&prefix(file));
            text.push_str(line);
            text.push('\n');
        }
        found |= !text.is_empty();
        print_log(format, service, &stem(file), &text)?;
    }
    if !found && !follow {
        anyhow::bail!(
            "no log for {service} in {} (has `flinkit stack up` started it?)",
            stack.root().display()
        );
    }
    if !follow {
        return Ok(());
    }
    let mut offsets: Vec<u64> = files
        .iter()
        .map(|f| std::fs::metadata(f).map(|m| m.len()).unwrap_or_default())
        .collect();
    loop {
        for (file, offset) in files.iter().zip(offsets.iter_mut()) {
            let Ok(mut handle) = std::fs::File::open(file) else {
                continue;
            };
            let len = handle.metadata().map(|m| m.len()).unwrap_or_default();
            if len < *offset {
                *offset = 0; // restarted: a new log
            }
            if len == *offset {
                continue;
            }
            let mut buf = Vec::new();
            handle.seek(SeekFrom::Start(*offset))?;
            handle.read_to_end(&mut buf)?;
            *offset += buf.len() as u64;
            let chunk = String::from_utf8_lossy(&buf);
            let mut text = String::new();
            for line in chunk.split_inclusive('\n') {
                text.push_str(&prefix(file));
                text.push_str(line);
            }
            print_log(format, service, &stem(file), &text)?;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_run_note_names_what_is_fetched_and_how_long_it_takes() {
        let cache = Cache::at("/tmp/flinkit-cache");
        let kafka = first_run_note(&[Service::Flink, Service::Kafka], &cache);
        assert!(
            kafka.contains(
                "fetches Flink and Kafka — about 315 MB from Maven Central, 4 to 13 minutes"
            ),
            "{kafka}"
        );
        assert!(kafka.contains("/tmp/flinkit-cache"), "{kafka}");
        let all = first_run_note(&Service::ALL, &cache);
        assert!(
            all.contains("fetches Flink, Kafka and Pulsar — about 615 MB"),
            "{all}"
        );
    }
}
