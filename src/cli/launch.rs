//! `flinkit launch`: flags → [`Options`] → [`Prepared`] (findings rendered, `--dry-run`
//! shown) → one library call, [`Prepared::submit`] → the [`Job`] followed (a local job's output
//! printed until it ends; a cluster job until every task runs) → the report rendered. No HTTP,
//! polling or submission here: that is [`flinkit::launch`].

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::Args;
use flinkit::connectors::Severity;
use flinkit::flink::JobState;
use flinkit::flink::line::FlinkLine;
use flinkit::launch::{Event, Job, LaunchError, Options, Prepared, Target};
use flinkit::lineage::Graph;
use flinkit::sql::Script;
use serde::Serialize;
use serde_json::json;

use super::args::{ClusterArgs, JarArgs, KeyValue, SqlArgs, TargetArg, VarArgs};
use super::progress::Reporter;
use super::{Context, Format, InvalidInput, Reported, output, validate};

/// Flags of `flinkit launch`.
#[derive(Args, Debug, Clone)]
pub struct LaunchArgs {
    #[command(flatten)]
    pub sql: SqlArgs,
    /// Where to run the job (default: FLINKIT_TARGET, flinkit.toml, else local).
    #[arg(long, value_enum)]
    pub target: Option<TargetArg>,
    /// The Flink job name (default: the script's SET 'pipeline.name', else "flinkit: " and the
    /// tables it writes).
    #[arg(long, value_name = "NAME", value_parser = super::values::non_empty)]
    pub job_name: Option<String>,
    /// Return once the job is submitted (local: run in the background and print the JVM's pid,
    /// log file and web UI address).
    #[arg(long)]
    pub detach: bool,
    /// Cancel the job after this long (`30s`, `5m`); a streaming job otherwise runs until Ctrl-C.
    #[arg(long, value_name = "DURATION", value_parser = super::values::duration)]
    pub timeout: Option<Duration>,
    /// The Flink line to run on locally: 1.20 (default), 2 (the newest 2.x flinkit runs, 2.2)
    /// or 2.2. For rest and gateway the cluster's own version picks the runner; a value that
    /// disagrees with it is an error.
    #[arg(long, value_name = "VERSION", value_parser = super::values::flink_line)]
    pub flink_version: Option<FlinkLine>,
    /// The local JVM's heap.
    #[arg(long, value_name = "SIZE", default_value = "1g", value_parser = super::values::heap)]
    pub heap: String,
    /// The local web UI port (default: a free port).
    #[arg(long, value_name = "PORT")]
    pub web_port: Option<u16>,
    /// Flink configuration for the local cluster, e.g. `parallelism.default=2` (repeatable).
    #[arg(long = "conf", value_name = "KEY=VALUE", value_parser = KeyValue)]
    pub conf: Vec<(String, String)>,
    #[command(flatten)]
    pub cluster: ClusterArgs,
    /// With --target gateway: leave the session open and print its handle.
    #[arg(long)]
    pub keep_session: bool,
    /// A Flink option for the job, like a SET statement (repeatable; every target).
    #[arg(long = "set", value_name = "KEY=VALUE", value_parser = KeyValue)]
    pub set: Vec<(String, String)>,
    /// The job's parallelism (default: the cluster's).
    #[arg(long, value_name = "N", value_parser = super::values::parallelism)]
    pub parallelism: Option<u32>,
    /// Start from this savepoint.
    #[arg(long, value_name = "PATH", value_parser = super::values::non_empty)]
    pub from_savepoint: Option<String>,
    /// With --from-savepoint: skip state that belongs to no operator of the new script.
    #[arg(long)]
    pub allow_non_restored_state: bool,
    /// Redeploy: stop the running job of the same name with a savepoint, then start this script
    /// from it (rest and gateway targets).
    #[arg(long, requires = "savepoint_dir")]
    pub replace: bool,
    /// Where --replace puts the savepoint (a directory the cluster can write).
    #[arg(long, value_name = "DIR", value_parser = super::values::non_empty)]
    pub savepoint_dir: Option<String>,
    #[command(flatten)]
    pub vars: VarArgs,
    #[command(flatten)]
    pub jars: JarArgs,
    /// Check and show what would run (statements, tables, order, findings, the SQL with secrets
    /// masked) without starting anything.
    #[arg(long)]
    pub dry_run: bool,
}

impl LaunchArgs {
    /// The library's options for these flags, the settings filling in what they leave out.
    fn options(&self) -> anyhow::Result<Options> {
        let cluster = self.cluster.resolve(self.target)?;
        let mut options = match cluster.target {
            Target::Local => Options::local(),
            Target::Rest => Options::rest(cluster.flink_url),
            Target::Gateway => Options::gateway(cluster.gateway_url).flink_url(cluster.flink_url),
        }
        .detach(self.detach)
        .keep_session(self.keep_session)
        .heap(self.heap.clone())
        .allow_non_restored_state(self.allow_non_restored_state);
        if let Some(name) = &self.job_name {
            options = options.name(name.clone());
        }
        if let Some(line) = self.flink_version {
            options = options.flink_line(line);
        }
        for (key, value) in &self.vars.vars {
            options = options.var(key.clone(), value.clone());
        }
        for (key, value) in self.conf.iter().chain(&self.set) {
            options = options.set(key.clone(), value.clone());
        }
        if let Some(port) = self.web_port {
            options = options.web_port(port);
        }
        if let Some(p) = self.parallelism {
            options = options.parallelism(p);
        }
        if let Some(savepoint) = &self.from_savepoint {
            options = options.from_savepoint(savepoint.clone());
        }
        if let (true, Some(dir)) = (self.replace, &self.savepoint_dir) {
            options = options.replace(dir.clone());
        }
        for jar in self.jars.resolve()? {
            options = options.jar(jar);
        }
        Ok(options)
    }
}

/// What `launch` prints when the job is submitted (or, locally, has ended).
#[derive(Debug, Serialize)]
struct Report {
    job_id: String,
    name: String,
    target: &'static str,
    state: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    web_ui: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    session: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    restored_from: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pid: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    log: Option<std::path::PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    output: Option<std::path::PathBuf>,
    /// A cluster job cancelled because Ctrl-C came before it ran.
    #[serde(skip)]
    interrupted: bool,
}

/// Runs `flinkit launch`.
pub fn run(ctx: &Context<'_>, args: &LaunchArgs) -> anyhow::Result<()> {
    let script = Script::from_inputs(&args.sql.inputs(ctx.matches))?;
    let reporter = Arc::new(Mutex::new(Reporter::new(true)));
    let listener = reporter.clone();
    let options = args.options()?;
    // A cluster's own version picks the runner and the option catalog (before validating).
    let options = super::block_on(options.cluster_line())?.map_err(LaunchError::Line)?;
    let flink = options.line().unwrap_or_default().flink_version();
    // A cluster job launched without --detach is then waited for: its one progress line says so.
    let waits = !args.detach && options.target() != Target::Local;
    let options = options.on_event(move |event| {
        if let Ok(mut reporter) = listener.lock() {
            progress(&mut reporter, flink, waits, event);
        }
    });
    let prepared = Prepared::new(&script, &options);
    let redactor = prepared.redactor().clone();
    if let Err(err) = prepared.extras() {
        return Err(LaunchError::Jars(err.clone()).into());
    }
    if args.dry_run {
        return dry_run(ctx, &prepared);
    }
    if ctx.format != Format::Json || prepared.has_errors() {
        validate::render(ctx, &script, prepared.substituted(), prepared.diagnostics());
    }
    if prepared.has_errors() {
        let problem = "the script has errors (above); nothing was started";
        if ctx.format == Format::Json {
            // One document: the diagnostics as `validate` prints them, and the error.
            let mut value = validate::to_json(&redactor, prepared.diagnostics());
            value["error"] = json!({ "message": problem });
            output::print_json(&value)?;
            return Err(anyhow::Error::new(Reported(problem.to_string()))
                .context(InvalidInput(problem.to_string())));
        }
        return Err(InvalidInput(problem.to_string()).into());
    }
    super::flink_pulsar::check(&script, prepared.substituted())?;
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst))
        .context("cannot install the Ctrl-C handler")?;
    let started = Instant::now();
    let report = super::block_on(async {
        let job = prepared.submit(&options).await?;
        follow(ctx, args, job, &reporter, &stop).await
    })?;
    drop(reporter);
    let report = report.map_err(anyhow::Error::new)?;
    match ctx.format {
        Format::Json => output::print_json(&report)?,
        _ if args.detach && report.pid.is_some() => eprintln!(
            "job {:?} is RUNNING in the background (pid {}); web UI {}; log {}\nstop it with: kill {}",
            report.name,
            report.pid.unwrap_or_default(),
            report.web_ui.as_deref().unwrap_or("unknown"),
            report
                .log
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            report.pid.unwrap_or_default()
        ),
        _ => eprintln!(
            "job {:?} ({}) {} {}after {:.1}s{}",
            report.name,
            report.job_id,
            report.state,
            match report.target {
                "local" => String::new(),
                _ => format!("via {} ", options.address()),
            },
            started.elapsed().as_secs_f64(),
            report
                .session
                .as_ref()
                .map(|s| format!("; session {s} kept open"))
                .unwrap_or_default()
        ),
    }
    // Interrupted: a local job was stopped, a cluster job cancelled before it ran. A cluster
    // job that ran before Ctrl-C came is launched, and the command succeeded.
    let local = report.target == "local";
    if report.interrupted || (local && stop.load(Ordering::SeqCst) && args.timeout.is_none()) {
        std::process::exit(130);
    }
    Ok(())
}

/// Shows a launch's progress (`flink`: the Flink release that runs it; `waits`: a submitted
/// job is then waited for until it runs).
fn progress(reporter: &mut Reporter, flink: &str, waits: bool, event: &Event) {
    match event {
        Event::Provision(p) => reporter.provision(p.clone()),
        Event::Submitting { target, url } => match target {
            Target::Local => reporter.start(&format!("starting Flink {flink} locally")),
            Target::Gateway => {
                reporter.start(&format!("running the script through the SQL Gateway at {url}"))
            }
            _ => reporter.start(&format!("submitting to {url}")),
        },
        Event::AlreadyRunning { name, job_id } => eprintln!(
            "warning: a job named {name:?} is already RUNNING ({job_id}); use --replace --savepoint-dir DIR to redeploy it"
        ),
        Event::NothingToReplace { name } => {
            eprintln!("no RUNNING job named {name:?}: starting it fresh")
        }
        Event::Stopping {
            job_id,
            savepoint_dir,
        } => reporter.start(&format!(
            "stopping job {job_id} with a savepoint in {savepoint_dir}"
        )),
        Event::Stopped { job_id, savepoint } => {
            reporter.done(&format!("job {job_id} stopped; savepoint {savepoint}"))
        }
        Event::DroppingUnmappedState => reporter.done(
            "the new script lacks some operators of the old one: their state is dropped (--allow-non-restored-state)",
        ),
        Event::InSession { pid, web_ui } => reporter.start(&format!(
            "running in the local session (pid {pid}; web UI {web_ui})"
        )),
        Event::WebUi { url } => reporter.done(&format!("Flink web UI: {url}")),
        Event::Submitted { job_id } if waits => {
            reporter.update(&format!("job {job_id} submitted; waiting for RUNNING"))
        }
        Event::Submitted { job_id } => reporter.update(&format!("job {job_id} submitted")),
        _ => {}
    }
}

/// Resolves once Ctrl-C was pressed.
async fn interrupted(stop: &AtomicBool) {
    while !stop.load(Ordering::SeqCst) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Cancels a cluster job the user interrupted before it ran, and reports it CANCELED.
async fn cancel_interrupted(
    job: Job,
    mut report: Report,
    reporter: &Mutex<Reporter>,
) -> Result<Report, LaunchError> {
    if let Ok(mut r) = reporter.lock() {
        r.start(&format!("interrupted: cancelling job {}", report.job_id));
    }
    report.state = job.cancel().await?.to_string();
    report.interrupted = true;
    if let Ok(mut r) = reporter.lock() {
        r.done(&format!("job {} {}", report.job_id, report.state));
    }
    Ok(report)
}

/// Follows a submitted job: a local job's output is printed until it ends (or Ctrl-C,
/// `--timeout`); a cluster job is waited for until every task runs (unless `--detach`).
async fn follow(
    ctx: &Context<'_>,
    args: &LaunchArgs,
    mut job: Job,
    reporter: &Mutex<Reporter>,
    stop: &AtomicBool,
) -> Result<Report, LaunchError> {
    let update = |message: &str| {
        if let Ok(mut r) = reporter.lock() {
            r.update(message);
        }
    };
    let mut report = Report {
        job_id: job.id().to_string(),
        name: job.name().to_string(),
        target: job.target().as_str(),
        state: JobState::Initializing.to_string(),
        web_ui: None,
        session: job.session().map(str::to_string),
        restored_from: job.restored_from().map(str::to_string),
        pid: None,
        log: None,
        output: None,
        interrupted: false,
    };
    if job.target() != Target::Local {
        // Ctrl-C before the job is known to run (while it was submitted, or while its tasks
        // wait for slots) cancels it: the command was not done, so it leaves nothing behind.
        if stop.load(Ordering::SeqCst) {
            return cancel_interrupted(job, report, reporter).await;
        }
        report.state = if args.detach {
            JobState::Created.to_string()
        } else {
            let waited = tokio::select! {
                waited = job.wait_running(Duration::from_secs(120)) => Some(waited),
                () = interrupted(stop) => None,
            };
            match waited {
                None => return cancel_interrupted(job, report, reporter).await,
                Some(Ok(state)) => state.to_string(),
                Some(Err(err @ LaunchError::Failed { .. })) => return Err(err),
                Some(Err(_)) => "SUBMITTED".to_string(),
            }
        };
        return Ok(report);
    }
    report.web_ui = job.flink_url();
    if args.detach {
        report.state = job
            .wait_running(Duration::from_secs(120))
            .await?
            .to_string();
        report.web_ui = job.flink_url();
        report.pid = job.pid();
        report.log = job.log_file();
        report.output = job.output_file();
        return Ok(report);
    }
    let deadline = args.timeout.map(|t| Instant::now() + t);
    let mut shown = None;
    loop {
        let state = job.state().await?;
        if shown != Some(state) {
            update(&format!("job {} {state}", job.id()));
            shown = Some(state);
        }
        let timed_out = deadline.is_some_and(|d| Instant::now() >= d);
        if stop.load(Ordering::SeqCst) || timed_out {
            if let Ok(mut r) = reporter.lock() {
                r.start("cancelling the job and stopping the local JVM");
            }
            job.cancel().await?;
            if let Ok(mut r) = reporter.lock() {
                r.done("local JVM stopped");
            }
            report.state = JobState::Canceled.to_string();
            return Ok(report);
        }
        tokio::select! {
            line = job.next_output() => match line {
                Some(line) if ctx.format == Format::Json => eprintln!("{line}"),
                Some(line) => println!("{line}"),
                None => {
                    report.state = job.wait_finished(None).await?.to_string();
                    return Ok(report);
                }
            },
            () = tokio::time::sleep(Duration::from_millis(200)) => {}
        }
    }
}

/// `launch --dry-run`: what would run, with secrets masked; exit 2 on errors.
fn dry_run(ctx: &Context<'_>, prepared: &Prepared<'_>) -> anyhow::Result<()> {
    let script = prepared.script();
    let substituted = prepared.substituted();
    let diagnostics = prepared.diagnostics();
    let redactor = prepared.redactor();
    let spec = prepared.spec();
    let problem = spec.as_ref().err().map(|e| {
        let text = redactor.redact(&e.to_string());
        match e.help() {
            Some(help) => format!("{text}\nhelp: {help}"),
            None => text,
        }
    });
    let spec = spec.ok();
    let tables: Vec<serde_json::Value> = script
        .statements
        .iter()
        .filter_map(|s| s.create_table().map(|t| (s, t)))
        .map(|(s, t)| {
            let value = |key: &str| {
                t.options.iter().find(|o| o.key == key).map(|o| {
                    redactor.redact(substituted.value(s.index, o.value_span.start, &o.value))
                })
            };
            json!({
                "name": t.name,
                "connector": value("connector"),
                "topic": value("topic").or_else(|| value("topics")).or_else(|| value("topic-pattern")),
            })
        })
        .collect();
    let order = Graph::build(script).map(|g| g.order).unwrap_or_default();
    let ok = !diagnostics.iter().any(|d| d.severity == Severity::Error) && spec.is_some();
    let statements: Vec<serde_json::Value> = script
        .statements
        .iter()
        .map(|s| json!({"index": s.index, "kind": s.kind.as_str(), "line": s.line, "column": s.column}))
        .collect();
    if ctx.format == Format::Json {
        let mut value = validate::to_json(redactor, diagnostics);
        value["ok"] = json!(ok);
        value["name"] = json!(spec.as_ref().map(|s| s.name.clone()));
        value["statements"] = json!(statements);
        value["tables"] = json!(tables);
        value["order"] = json!(order);
        value["sql"] = json!(substituted.redacted);
        if let Some(problem) = &problem {
            value["error"] = json!({ "message": problem });
        }
        output::print_json(&value)?;
    } else {
        validate::render(ctx, script, substituted, diagnostics);
        if let Some(problem) = &problem {
            eprintln!("error: {problem}");
        }
        let mut text = String::new();
        if let Some(spec) = &spec {
            text.push_str(&format!("job: {}\n", spec.name));
        }
        text.push_str("tables:\n");
        for t in &tables {
            text.push_str(&format!(
                "  {}  connector={}  topic={}\n",
                t["name"].as_str().unwrap_or_default(),
                t["connector"].as_str().unwrap_or("-"),
                t["topic"].as_str().unwrap_or("-")
            ));
        }
        text.push_str(&format!(
            "deploy order: {}\n\nSQL to submit:\n",
            order.join(", ")
        ));
        for sql in &substituted.redacted {
            text.push_str(&format!("{sql};\n"));
        }
        output::print(&text)?;
    }
    if !ok {
        std::process::exit(2);
    }
    Ok(())
}
