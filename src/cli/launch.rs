//! `flinkit launch`: split the script, check it makes a job, provision the JVM side and run it
//! — locally on an embedded MiniCluster (`--target local`, the default).

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use clap::{Args, ValueEnum};
use flinkit::flink::local::{self, Line, LocalJob, LocalOptions};
use flinkit::flink::{JobError, JobSpec, RunnerEvent};
use flinkit::provision::Cache;
use flinkit::sql::Script;
use serde_json::json;

use super::progress::Reporter;
use super::validate::{self, VarArgs};
use super::{Context, Format, InvalidInput, SqlArgs, output};
use flinkit::connectors::Severity;
use flinkit::lineage::Graph;
use flinkit::vars::Redactor;

/// Where a job runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Target {
    /// An embedded Flink MiniCluster in a child JVM on this machine.
    Local,
    /// A running cluster, through its JobManager REST API (--flink-url).
    Rest,
    /// A running cluster, through its SQL Gateway (--gateway-url).
    Gateway,
}

/// Flags of `flinkit launch`.
#[derive(Args, Debug, Clone)]
pub struct LaunchArgs {
    #[command(flatten)]
    pub sql: SqlArgs,
    /// Where to run the job.
    #[arg(long, value_enum, default_value_t = Target::Local, env = "FLINKIT_TARGET")]
    pub target: Target,
    /// The Flink job name (default: "flinkit: " and the tables it writes).
    #[arg(long, value_name = "NAME", value_parser = super::values::non_empty)]
    pub job_name: Option<String>,
    /// Run in the background and print the JVM's pid, log file and web UI address.
    #[arg(long)]
    pub detach: bool,
    /// Cancel the job after this long (`30s`, `5m`); a streaming job otherwise runs until Ctrl-C.
    #[arg(long, value_name = "DURATION", value_parser = super::values::duration)]
    pub timeout: Option<Duration>,
    /// The local JVM's heap.
    #[arg(long, value_name = "SIZE", default_value = "1g", value_parser = super::values::heap)]
    pub heap: String,
    /// The local web UI port (default: a free port).
    #[arg(long, value_name = "PORT")]
    pub web_port: Option<u16>,
    /// Flink configuration for the local cluster, e.g. `parallelism.default=2` (repeatable).
    #[arg(long = "conf", value_name = "KEY=VALUE", value_parser = key_value)]
    pub conf: Vec<(String, String)>,
    /// The JobManager REST address for `--target rest`.
    #[arg(
        long,
        value_name = "URL",
        env = "FLINKIT_FLINK_URL",
        default_value = "http://localhost:8081",
        value_parser = super::values::http_url
    )]
    pub flink_url: String,
    /// The SQL Gateway address for `--target gateway`.
    #[arg(
        long,
        value_name = "URL",
        env = "FLINKIT_GATEWAY_URL",
        default_value = "http://localhost:8083",
        value_parser = super::values::http_url
    )]
    pub gateway_url: String,
    /// With --target gateway: leave the session open and print its handle.
    #[arg(long)]
    pub keep_session: bool,
    /// A Flink option for the job, like a SET statement (repeatable; gateway session property).
    #[arg(long = "set", value_name = "KEY=VALUE", value_parser = key_value)]
    pub set: Vec<(String, String)>,
    /// The job's parallelism (`--target rest`; default: the cluster's).
    #[arg(long, value_name = "N", value_parser = super::values::parallelism)]
    pub parallelism: Option<u32>,
    /// Start from this savepoint (`--target rest`).
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
    /// Check and show what would run (statements, tables, order, findings, the SQL with secrets
    /// masked) without starting anything.
    #[arg(long)]
    pub dry_run: bool,
}

/// Parses `KEY=VALUE`.
pub fn key_value(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .filter(|(k, _)| !k.is_empty())
        .ok_or_else(|| format!("expected KEY=VALUE, got {text:?}"))
}

/// `$FLINKIT_STATE_DIR`, else `$XDG_STATE_HOME/flinkit`, else `~/.local/state/flinkit`.
pub fn state_dir() -> anyhow::Result<PathBuf> {
    let var = |name: &str| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    var("FLINKIT_STATE_DIR")
        .or_else(|| var("XDG_STATE_HOME").map(|p| p.join("flinkit")))
        .or_else(|| var("HOME").map(|p| p.join(".local/state/flinkit")))
        .context("no state directory: set FLINKIT_STATE_DIR")
}

/// How a run ended.
struct Outcome {
    job_id: Option<String>,
    state: String,
    web_ui: Option<String>,
}

/// Runs `flinkit launch`.
pub fn run(ctx: &Context<'_>, args: &LaunchArgs) -> anyhow::Result<()> {
    let settings = flinkit::config::cluster(std::path::Path::new("flinkit.toml"))?;
    let mut args = args.clone();
    if from_default(ctx, "target")
        && let Some(target) = &settings.target
    {
        args.target = Target::from_str(target, true).map_err(|_| {
            InvalidInput(format!(
                "flinkit.toml: target {target:?} is not local, rest or gateway"
            ))
        })?;
    }
    if from_default(ctx, "flink_url")
        && let Some(url) = settings.flink_url
    {
        args.flink_url = url;
    }
    if from_default(ctx, "gateway_url")
        && let Some(url) = settings.gateway_url
    {
        args.gateway_url = url;
    }
    let args = &args;
    let script = Script::from_inputs(&args.sql.inputs(ctx.matches))?;
    let (substituted, diagnostics) = validate::check(&script, &args.vars.vars());
    let redactor = &substituted.redactor;
    let errors = diagnostics.iter().any(|d| d.severity == Severity::Error);
    let spec = JobSpec::from_script(&script, &substituted.texts, args.job_name.as_deref())
        .map(|mut spec| {
            spec.name = substituted.job_name(&spec.name, &script);
            spec
        })
        .map_err(|err| locate(&script, err));
    if args.dry_run {
        return dry_run(ctx, &script, &substituted, &diagnostics, spec);
    }
    if ctx.format != Format::Json || errors {
        validate::render(ctx, &script, &substituted, &diagnostics);
    }
    if errors {
        if ctx.format == Format::Json {
            output::print_json(&validate::to_json(redactor, &diagnostics))?;
        }
        return Err(
            InvalidInput("the script has errors (above); nothing was started".to_string()).into(),
        );
    }
    let spec = spec?;
    match args.target {
        Target::Rest => return super::jobs::submit_rest(ctx, args, &script, &spec, redactor),
        Target::Gateway => {
            return super::jobs::submit_gateway(
                ctx,
                args,
                &script,
                &substituted.texts,
                &spec,
                redactor,
            );
        }
        Target::Local => {}
    }
    let mut reporter = Reporter::new(true);
    let cache = Cache::from_env()?;
    let provisioned = cache.provision(false, &mut |p| reporter.provision(p))?;
    let run_dir = state_dir()?.join("runs").join(format!(
        "{}-{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
        std::process::id()
    ));
    let options = LocalOptions {
        heap: args.heap.clone(),
        web_port: args.web_port,
        conf: args.conf.clone(),
        run_dir,
        detach: args.detach,
    };
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst))
        .context("cannot install the Ctrl-C handler")?;
    reporter.start(&format!(
        "starting Flink {} locally",
        flinkit::versions::flink()
    ));
    let mut job = local::start(&provisioned, &spec, &options)?;
    let started = Instant::now();
    let result = follow(ctx, args, &mut job, &mut reporter, &stop, &script, redactor);
    drop(reporter);
    let outcome = match result {
        Ok(outcome) => outcome,
        Err(err) => {
            if !args.detach {
                job.terminate(Duration::from_secs(20))?;
            }
            return Err(err);
        }
    };
    let mut report = json!({
        "job_id": outcome.job_id,
        "name": spec.name,
        "target": "local",
        "state": outcome.state,
        "web_ui": outcome.web_ui,
    });
    if args.detach {
        report["pid"] = json!(job.pid());
        report["log"] = json!(job.log_file());
        report["output"] = json!(job.run_dir().join("stdout.log"));
    }
    match ctx.format {
        Format::Json => output::print_json(&report)?,
        _ if args.detach => eprintln!(
            "job {:?} is RUNNING in the background (pid {}); web UI {}; log {}\nstop it with: kill {}",
            spec.name,
            job.pid(),
            outcome.web_ui.as_deref().unwrap_or("unknown"),
            job.log_file().display(),
            job.pid()
        ),
        _ => eprintln!(
            "job {:?} ({}) {} after {:.1}s",
            spec.name,
            outcome.job_id.as_deref().unwrap_or("not submitted"),
            outcome.state,
            started.elapsed().as_secs_f64()
        ),
    }
    if stop.load(Ordering::SeqCst) && args.timeout.is_none() {
        std::process::exit(130);
    }
    Ok(())
}

/// Points a job error at its statement.
fn locate(script: &Script, err: JobError) -> anyhow::Error {
    let help = err.help();
    let place = err.statement().map(|i| {
        let stmt = &script.statements[i];
        format!(
            " ({}:{}:{})",
            script.source_of(stmt).name(),
            stmt.line,
            stmt.column
        )
    });
    InvalidInput(format!("{err}{}\nhelp: {help}", place.unwrap_or_default())).into()
}

/// Streams the run's output and events until the job ends (or, detached, until it runs).
fn follow(
    ctx: &Context<'_>,
    args: &LaunchArgs,
    job: &mut LocalJob,
    reporter: &mut Reporter,
    stop: &AtomicBool,
    script: &Script,
    redactor: &Redactor,
) -> anyhow::Result<Outcome> {
    let deadline = args.timeout.map(|t| Instant::now() + t);
    let mut job_id = None;
    let mut web_ui: Option<String> = None;
    loop {
        let timed_out = deadline.is_some_and(|d| Instant::now() >= d);
        if (stop.load(Ordering::SeqCst) || timed_out) && !args.detach {
            reporter.start("cancelling the job and stopping the local JVM");
            job.terminate(Duration::from_secs(30))?;
            reporter.done("local JVM stopped");
            return Ok(Outcome {
                job_id,
                state: "CANCELED".to_string(),
                web_ui,
            });
        }
        match job.next_line(Duration::from_millis(200)) {
            Ok(Line::Output(line)) => {
                let line = redactor.redact(&line);
                if ctx.format == Format::Json || args.detach {
                    eprintln!("{line}");
                } else {
                    println!("{line}");
                }
            }
            Ok(Line::Event(event)) => match event {
                RunnerEvent::WebUi { url } => {
                    reporter.done(&format!("Flink web UI: {url}"));
                    web_ui = Some(url);
                }
                RunnerEvent::Submitted { job_id: id, .. } => {
                    reporter.update(&format!("job {id} submitted"));
                    job_id = Some(id);
                }
                RunnerEvent::State { job_id: id, state } => {
                    reporter.update(&format!("job {id} {state}"));
                    if args.detach && state == "RUNNING" {
                        return Ok(Outcome {
                            job_id: Some(id),
                            state,
                            web_ui,
                        });
                    }
                    job_id = Some(id);
                }
                RunnerEvent::Finished { job_id: id, state } => {
                    let _ = job.wait();
                    return Ok(Outcome {
                        job_id: Some(id),
                        state,
                        web_ui,
                    });
                }
                RunnerEvent::Failed {
                    statement, message, ..
                } => {
                    let _ = job.wait();
                    bail!(
                        "the job failed{}: {}",
                        at(script, statement),
                        redactor.redact(&message)
                    );
                }
                RunnerEvent::Error {
                    statement, message, ..
                } => {
                    let _ = job.wait();
                    return Err(InvalidInput(format!(
                        "Flink rejected the script{}: {}",
                        at(script, statement),
                        redactor.redact(&message)
                    ))
                    .into());
                }
                _ => {}
            },
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                let status = job.wait()?;
                bail!(
                    "the local JVM exited ({status}) without reporting the job's end; the end of its log ({}):\n{}",
                    job.log_file().display(),
                    redactor.redact(&job.log_tail(20))
                );
            }
        }
    }
}

/// ` in statement N (file:line:col)` for a statement index the runner blamed.
pub fn at(script: &Script, statement: Option<usize>) -> String {
    statement
        .and_then(|i| script.statements.get(i))
        .map(|stmt| {
            format!(
                " in statement {} ({}:{}:{})",
                stmt.index,
                script.source_of(stmt).name(),
                stmt.line,
                stmt.column
            )
        })
        .unwrap_or_default()
}

/// `launch --dry-run`: what would run, with secrets masked; exit 2 on errors.
fn dry_run(
    ctx: &Context<'_>,
    script: &Script,
    substituted: &flinkit::vars::Substituted,
    diagnostics: &[flinkit::connectors::Diagnostic],
    spec: anyhow::Result<JobSpec>,
) -> anyhow::Result<()> {
    let problem = spec
        .as_ref()
        .err()
        .map(|e| redactor_text(&substituted.redactor, e));
    let spec = spec.ok();
    let redactor = &substituted.redactor;
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

fn redactor_text(redactor: &Redactor, err: &anyhow::Error) -> String {
    redactor.redact(&format!("{err:#}"))
}

/// Whether the flag `id` kept its built-in default (no flag, no environment variable).
pub fn from_default(ctx: &Context<'_>, id: &str) -> bool {
    ctx.matches.value_source(id) == Some(clap::parser::ValueSource::DefaultValue)
}
