//! Jobs on a running cluster: `launch --target rest` (upload the runner jar once, run it, wait
//! for RUNNING) and `flinkit jobs list|status|exceptions|cancel|stop`, through the JobManager
//! REST API.

use std::time::{Duration, Instant};

use clap::{Args, Subcommand};
use flinkit::flink::JobSpec;
use flinkit::flink::gateway::{self, GatewayClient, GatewayError};
use flinkit::flink::rest::{RestClient, RestError, RunRequest};
use flinkit::provision::Cache;
use flinkit::sql::Script;
use flinkit::vars::Redactor;
use serde_json::json;

use super::launch::{LaunchArgs, at};
use super::progress::Reporter;
use super::{Context, Format, InvalidInput, output};

/// Flags of `flinkit jobs`.
#[derive(Args, Debug)]
pub struct JobsArgs {
    /// The JobManager REST address.
    #[arg(
        long,
        value_name = "URL",
        env = "FLINKIT_FLINK_URL",
        default_value = "http://localhost:8081",
        global = true,
        value_parser = super::values::http_url
    )]
    pub flink_url: String,
    #[command(subcommand)]
    pub command: JobsCommand,
}

/// What to do with jobs.
#[derive(Subcommand, Debug)]
pub enum JobsCommand {
    /// Every job of the cluster: id, name, state, start time.
    List,
    /// One job: state, start time, and each operator's records in and out.
    Status {
        /// The job id.
        id: String,
    },
    /// The root cause of a job's failure.
    Exceptions {
        /// The job id.
        id: String,
    },
    /// Cancel a job (no savepoint).
    Cancel {
        /// The job id.
        id: String,
    },
    /// Stop a job with a savepoint; prints the savepoint's path.
    Stop {
        /// The job id.
        id: String,
        /// Where the savepoint goes (a path the cluster can write, e.g. file:///tmp/savepoints).
        #[arg(long, value_name = "DIR", value_parser = super::values::non_empty)]
        savepoint_dir: String,
    },
}

fn client(url: &str) -> RestClient {
    RestClient::new(url, Duration::from_secs(30))
}

/// A REST failure as the user sees it: located when the runner blamed a statement, with the fix
/// when one is known; invalid input (exit 2) when Flink rejected the SQL.
fn explain(err: RestError, script: Option<&Script>, redactor: &Redactor) -> anyhow::Error {
    let help = err.help();
    if let (
        RestError::Status {
            message, status, ..
        },
        Some(script),
    ) = (&err, script)
    {
        let blamed = message
            .strip_prefix("statement ")
            .and_then(|rest| rest.split_once(": "))
            .and_then(|(n, msg)| n.parse::<usize>().ok().map(|n| (n, msg)));
        if let Some((index, msg)) =
            blamed.filter(|_| *status < 500 || message.starts_with("statement "))
        {
            return InvalidInput(format!(
                "Flink rejected the script{}: {}",
                at(script, Some(index)),
                redactor.redact(msg)
            ))
            .into();
        }
    }
    let text = redactor.redact(&err.to_string());
    match help {
        Some(help) => anyhow::anyhow!("{text}\nhelp: {help}"),
        None => anyhow::anyhow!("{text}"),
    }
}

/// With `--replace`: stops the RUNNING job named `name` with a savepoint and returns the
/// savepoint's path (`None` when no such job runs).
fn stop_for_replace(
    rest: &RestClient,
    args: &LaunchArgs,
    name: &str,
    reporter: &mut Reporter,
) -> anyhow::Result<Option<String>> {
    let running: Vec<_> = rest
        .jobs()
        .map_err(|e| explain(e, None, &Redactor::default()))?
        .into_iter()
        .filter(|j| j.name == name && j.state == "RUNNING")
        .collect();
    if !args.replace {
        if let Some(job) = running.first() {
            eprintln!(
                "warning: a job named {name:?} is already RUNNING ({}); use --replace --savepoint-dir DIR to redeploy it",
                job.id
            );
        }
        return Ok(None);
    }
    let Some(job) = running.first() else {
        eprintln!("no RUNNING job named {name:?}: starting it fresh");
        return Ok(None);
    };
    let dir = args.savepoint_dir.as_deref().unwrap_or_default();
    reporter.start(&format!(
        "stopping job {} with a savepoint in {dir}",
        job.id
    ));
    let savepoint = rest
        .stop_with_savepoint(&job.id, dir)
        .map_err(|e| explain(e, None, &Redactor::default()))?;
    reporter.done(&format!("job {} stopped; savepoint {savepoint}", job.id));
    Ok(Some(savepoint))
}

/// Whether Flink refused a savepoint because the new script lacks some of its operators.
fn unmapped_state(err: &RestError) -> bool {
    matches!(err, RestError::Status { message, .. }
        if message.contains("allowNonRestoredState") || message.contains("Cannot map checkpoint/savepoint state"))
}

/// `launch --target rest`: uploads the runner jar if the cluster lacks it, runs the script and
/// waits for RUNNING (or returns at once with --detach).
pub fn submit_rest(
    ctx: &Context<'_>,
    args: &LaunchArgs,
    script: &Script,
    spec: &JobSpec,
    redactor: &Redactor,
) -> anyhow::Result<()> {
    let started = Instant::now();
    let rest = client(&args.flink_url);
    let mut reporter = Reporter::new(true);
    rest.version().map_err(|e| explain(e, None, redactor))?;
    let cache = Cache::from_env()?;
    let jar = cache.runner_jar(false, &mut |p| reporter.provision(p))?;
    let sha = cache.runner_jar_sha256(&jar)?;
    reporter.start(&format!("submitting to {}", rest.url()));
    let jar_id = rest
        .ensure_jar(&jar, &sha)
        .map_err(|e| explain(e, None, redactor))?;
    let replaced = stop_for_replace(&rest, args, &spec.name, &mut reporter)?;
    let mut request = RunRequest {
        statements: spec.statements.clone(),
        job_name: spec.name.clone(),
        parallelism: args.parallelism,
        savepoint: replaced.clone().or_else(|| args.from_savepoint.clone()),
        allow_non_restored_state: args.allow_non_restored_state,
    };
    let job_id = match rest.run(&jar_id, &request) {
        Err(err) if replaced.is_some() && unmapped_state(&err) => {
            reporter.done("the new script lacks some operators of the old one: their state is dropped (--allow-non-restored-state)");
            request.allow_non_restored_state = true;
            rest.run(&jar_id, &request)
        }
        other => other,
    }
    .map_err(|e| explain(e, Some(script), redactor))?;
    finish(
        ctx,
        Submitted {
            job_id,
            target: "rest",
            via: rest.url().to_string(),
            session: None,
            restored_from: replaced,
        },
        &rest,
        args.detach,
        spec,
        started,
        reporter,
        redactor,
    )
}

/// What a cluster submission produced.
struct Submitted {
    job_id: String,
    target: &'static str,
    via: String,
    session: Option<String>,
    restored_from: Option<String>,
}

/// Waits (unless detached) until the submitted job's tasks run, then reports it; a job that
/// failed is an error with its root cause. Without an answering REST API the state is SUBMITTED.
#[allow(clippy::too_many_arguments)]
fn finish(
    ctx: &Context<'_>,
    submitted: Submitted,
    rest: &RestClient,
    detach: bool,
    spec: &JobSpec,
    started: Instant,
    mut reporter: Reporter,
    redactor: &Redactor,
) -> anyhow::Result<()> {
    let job_id = &submitted.job_id;
    let state = if detach {
        "CREATED".to_string()
    } else {
        reporter.update(&format!("job {job_id} submitted; waiting for RUNNING"));
        match rest.wait_running(job_id, Duration::from_secs(120)) {
            Ok(state) if state == "FAILED" => {
                let cause = rest.root_cause(job_id).ok().flatten().unwrap_or_default();
                anyhow::bail!("job {job_id} FAILED: {}", redactor.redact(&cause));
            }
            Ok(state) => state,
            Err(_) => "SUBMITTED".to_string(),
        }
    };
    drop(reporter);
    let mut report =
        json!({"job_id": job_id, "name": spec.name, "target": submitted.target, "state": state});
    if let Some(session) = &submitted.session {
        report["session"] = json!(session);
    }
    if let Some(savepoint) = &submitted.restored_from {
        report["restored_from"] = json!(savepoint);
    }
    if ctx.format == Format::Json {
        return output::print_json(&report);
    }
    eprintln!(
        "job {:?} ({job_id}) {state} via {} after {:.1}s{}",
        spec.name,
        submitted.via,
        started.elapsed().as_secs_f64(),
        submitted
            .session
            .map(|s| format!("; session {s} kept open"))
            .unwrap_or_default()
    );
    Ok(())
}

/// `launch --target gateway`: runs the script in a SQL Gateway session, then waits for the job
/// to run (through the REST API at --flink-url, when it answers).
pub fn submit_gateway(
    ctx: &Context<'_>,
    args: &LaunchArgs,
    script: &Script,
    texts: &[String],
    spec: &JobSpec,
    redactor: &Redactor,
) -> anyhow::Result<()> {
    let started = Instant::now();
    let client = GatewayClient::new(&args.gateway_url);
    let gateway_error = |err: GatewayError| -> anyhow::Error {
        match err {
            GatewayError::Statement { statement, message } => InvalidInput(format!(
                "the SQL Gateway rejected the script{}: {}",
                at(script, Some(statement)),
                redactor.redact(&message)
            ))
            .into(),
            other => {
                let help = other.help();
                let text = redactor.redact(&other.to_string());
                match help {
                    Some(help) => anyhow::anyhow!("{text}\nhelp: {help}"),
                    None => anyhow::anyhow!("{text}"),
                }
            }
        }
    };
    let mut reporter = Reporter::new(true);
    client.version().map_err(gateway_error)?;
    reporter.start(&format!(
        "running the script through the SQL Gateway at {}",
        args.gateway_url
    ));
    let rest_for_replace = client_for_state(&args.flink_url);
    let replaced = stop_for_replace(&rest_for_replace, args, &spec.name, &mut reporter)?;
    let mut extra = args.set.clone();
    if let Some(savepoint) = replaced.clone().or_else(|| args.from_savepoint.clone()) {
        extra.push(("execution.savepoint.path".into(), savepoint));
        extra.push((
            "execution.savepoint.ignore-unclaimed-state".into(),
            (args.allow_non_restored_state || replaced.is_some()).to_string(),
        ));
    }
    let plan = gateway::plan(script, texts, &extra);
    let run = client
        .run(&plan, args.keep_session, &spec.name)
        .map_err(gateway_error)?;
    let job_id = run
        .job_id
        .clone()
        .ok_or_else(|| anyhow::anyhow!("the SQL Gateway ran the script but reported no job"))?;
    finish(
        ctx,
        Submitted {
            job_id,
            target: "gateway",
            via: args.gateway_url.clone(),
            session: run.session,
            restored_from: replaced,
        },
        &rest_for_replace,
        args.detach,
        spec,
        started,
        reporter,
        redactor,
    )
}

fn client_for_state(url: &str) -> RestClient {
    RestClient::new(url, Duration::from_secs(10))
}

/// Runs `flinkit jobs`.
pub fn run(ctx: &Context<'_>, args: &JobsArgs) -> anyhow::Result<()> {
    let settings = flinkit::config::cluster(std::path::Path::new("flinkit.toml"))?;
    let url = match settings.flink_url {
        Some(url) if super::launch::from_default(ctx, "flink_url") => url,
        _ => args.flink_url.clone(),
    };
    let rest = client(&url);
    let quiet = Redactor::default();
    let fail = |e| explain(e, None, &quiet);
    let json_mode = ctx.format == Format::Json;
    match &args.command {
        JobsCommand::List => {
            let jobs = rest.jobs().map_err(fail)?;
            if json_mode {
                return output::print_json(&json!({ "jobs": jobs }));
            }
            let mut text = String::new();
            for job in &jobs {
                text.push_str(&format!("{}  {:<10} {}\n", job.id, job.state, job.name));
            }
            if jobs.is_empty() {
                text.push_str("no jobs\n");
            }
            output::print(&text)
        }
        JobsCommand::Status { id } => {
            let job = rest.job(id).map_err(fail)?;
            if json_mode {
                return output::print_json(&json!(job));
            }
            let mut text = format!(
                "{} {:?} {} (started {})\n",
                job.summary.id, job.summary.name, job.summary.state, job.summary.start_time
            );
            for v in &job.vertices {
                text.push_str(&format!(
                    "  {:<10} in {:>10}  out {:>10}  {}\n",
                    v.status, v.records_in, v.records_out, v.name
                ));
            }
            output::print(&text)
        }
        JobsCommand::Exceptions { id } => {
            let cause = rest.root_cause(id).map_err(fail)?;
            if json_mode {
                return output::print_json(&json!({ "job_id": id, "root_cause": cause }));
            }
            output::print(&format!("{}\n", cause.as_deref().unwrap_or("no exception")))
        }
        JobsCommand::Cancel { id } => {
            rest.cancel(id).map_err(fail)?;
            let state = rest.wait_ended(id, Duration::from_secs(30)).map_err(fail)?;
            if json_mode {
                return output::print_json(&json!({ "job_id": id, "state": state }));
            }
            output::print(&format!("{id} {state}\n"))
        }
        JobsCommand::Stop { id, savepoint_dir } => {
            let location = rest.stop_with_savepoint(id, savepoint_dir).map_err(fail)?;
            if json_mode {
                return output::print_json(&json!({ "job_id": id, "savepoint": location }));
            }
            output::print(&format!("{location}\n"))
        }
    }
}
