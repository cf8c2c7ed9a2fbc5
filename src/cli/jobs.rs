//! `flinkit jobs list|status|exceptions|cancel|stop|watch`: one library call each on the cluster's
//! [`RestClient`], rendered as text or the contract's JSON.

use std::time::Duration;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use std::io::IsTerminal as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use flinkit::flink::rest::RestClient;
use flinkit::run::watch::Sampler;
use serde_json::json;

use super::args::ClusterArgs;
use super::{Context, Format, output};

/// Flags of `flinkit jobs`.
#[derive(Args, Debug)]
pub struct JobsArgs {
    #[command(flatten)]
    pub cluster: ClusterArgs,
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
        #[arg(value_parser = super::values::job_id)]
        id: String,
    },
    /// The root cause of a job's failure.
    Exceptions {
        /// The job id.
        #[arg(value_parser = super::values::job_id)]
        id: String,
    },
    /// Cancel a job (no savepoint).
    Cancel {
        /// The job id.
        #[arg(value_parser = super::values::job_id)]
        id: String,
    },
    /// Stop a job with a savepoint; prints the savepoint's path.
    Stop {
        /// The job id.
        #[arg(value_parser = super::values::job_id)]
        id: String,
        /// Where the savepoint goes (a path the cluster can write, e.g. file:///tmp/savepoints).
        #[arg(long, value_name = "DIR", value_parser = super::values::non_empty)]
        savepoint_dir: String,
    },
    /// Watch a running job: state, records in and out per second, busy time, back pressure,
    /// checkpoints and restarts, sampled until it ends or Ctrl-C (JSON: one sample per line).
    Watch {
        /// The job id.
        #[arg(value_parser = super::values::job_id)]
        id: String,
        /// How often to sample it.
        #[arg(long, value_name = "D", default_value = "1s", value_parser = super::values::duration)]
        every: Duration,
        /// Stop after this many samples.
        #[arg(long, value_name = "N", value_parser = super::values::count)]
        count: Option<u64>,
    },
}

/// Runs `flinkit jobs`.
pub fn run(ctx: &Context<'_>, args: &JobsArgs) -> anyhow::Result<()> {
    let cluster = args.cluster.resolve(None)?;
    let rest = RestClient::new(&cluster.flink_url, Duration::from_secs(30));
    super::block_on(command(ctx, &rest, &args.command))?
}

/// One library call for `command`, rendered.
async fn command(
    ctx: &Context<'_>,
    rest: &RestClient,
    command: &JobsCommand,
) -> anyhow::Result<()> {
    let json_mode = ctx.format == Format::Json;
    match command {
        JobsCommand::List => {
            let jobs = rest.jobs().await?;
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
            let job = rest.job(id).await?;
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
            let cause = rest.root_cause(id).await?;
            if json_mode {
                return output::print_json(&json!({ "job_id": id, "root_cause": cause }));
            }
            output::print(&format!("{}\n", cause.as_deref().unwrap_or("no exception")))
        }
        JobsCommand::Cancel { id } => {
            rest.cancel(id).await?;
            let state = rest.wait_ended(id, Duration::from_secs(30)).await?;
            if json_mode {
                return output::print_json(&json!({ "job_id": id, "state": state }));
            }
            output::print(&format!("{id} {state}\n"))
        }
        JobsCommand::Watch { id, every, count } => {
            let stop = Arc::new(AtomicBool::new(false));
            let flag = stop.clone();
            ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst))
                .context("cannot handle Ctrl-C")?;
            let mut sampler = Sampler::new(rest.clone(), id.clone());
            let tty = std::io::stderr().is_terminal() && !json_mode;
            let mut taken = 0u64;
            loop {
                let sample = sampler.sample().await?;
                taken += 1;
                if json_mode {
                    output::write_json(&sample)?;
                } else if tty {
                    eprint!("\r\x1b[2K{}", sample.line());
                } else {
                    eprintln!("{}", sample.line());
                }
                if sample.state.is_terminal() || count.is_some_and(|n| taken >= n) {
                    break;
                }
                let until = std::time::Instant::now() + *every;
                while std::time::Instant::now() < until && !stop.load(Ordering::SeqCst) {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                if stop.load(Ordering::SeqCst) {
                    break;
                }
            }
            if tty {
                eprintln!();
            }
            Ok(())
        }
        JobsCommand::Stop { id, savepoint_dir } => {
            let location = rest.stop_with_savepoint(id, savepoint_dir).await?;
            if json_mode {
                return output::print_json(&json!({ "job_id": id, "savepoint": location }));
            }
            output::print(&format!("{location}\n"))
        }
    }
}
