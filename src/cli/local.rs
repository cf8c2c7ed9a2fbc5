//! `flinkit local up|down|status`: the warm local session — a background Flink that keeps a
//! MiniCluster and the planner warm, so that `launch --target local` and `validate --deep` run
//! in about a second. All the work is [`flinkit::flink::session`]'s.

use std::time::Duration;

use clap::{Args, Subcommand};
use flinkit::flink::session::{self, Session, Settings};
use flinkit::provision::Cache;
use serde_json::json;

use super::progress::Reporter;
use super::{Context, Format, output};

/// Flags of `flinkit local`.
#[derive(Args, Debug)]
pub struct LocalArgs {
    #[command(subcommand)]
    pub command: LocalCommand,
}

/// The subcommands of `flinkit local`.
#[derive(Subcommand, Debug)]
pub enum LocalCommand {
    /// Start the warm session (or show the running one); local runs use it from then on.
    Up(UpArgs),
    /// Stop it; local runs start a JVM of their own again.
    Down,
    /// Say whether it runs, its web UI and its idle timeout.
    Status,
}

/// Flags of `flinkit local up`.
#[derive(Args, Debug)]
pub struct UpArgs {
    /// The session JVM's heap.
    #[arg(long, value_name = "SIZE", default_value = "1g", value_parser = super::values::heap)]
    pub heap: String,
    /// Task slots of its MiniCluster (how many subtasks of all its jobs run at once).
    #[arg(long, value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub slots: u32,
    /// Stop after this long without any run (`30m`, `2h`).
    #[arg(long, value_name = "DURATION", default_value = "15m", value_parser = super::values::duration)]
    pub idle_timeout: Duration,
    /// Also stop when this process ends (a shell's `$$`, a test runner).
    #[arg(long, value_name = "PID")]
    pub exit_with: Option<u32>,
}

fn describe(session: &Session) -> serde_json::Value {
    json!({
        "running": true,
        "pid": session.pid,
        "port": session.port,
        "web_ui": session.web_ui,
        "slots": session.slots,
        "idle_timeout_s": session.idle_timeout_s,
        "dir": session.dir,
    })
}

/// Runs `flinkit local`.
pub fn run(ctx: &Context<'_>, args: &LocalArgs) -> anyhow::Result<()> {
    let dir = session::default_dir()?;
    match &args.command {
        LocalCommand::Up(up) => {
            let cache = Cache::from_env()?;
            let mut reporter = Reporter::new(false);
            let provisioned = cache.provision(false, &mut |p| reporter.provision(p))?;
            let running = session::find(&dir);
            if running.is_none() {
                reporter.start("starting the local session");
            }
            let settings = Settings {
                heap: up.heap.clone(),
                slots: up.slots,
                idle_timeout: up.idle_timeout,
                exit_with: up.exit_with,
            };
            let session = session::up(&provisioned, &dir, &settings)?;
            drop(reporter);
            if ctx.format == Format::Json {
                return output::print_json(&describe(&session));
            }
            eprintln!(
                "local session {} (pid {}); web UI {}\nlocal runs and `validate --deep` use it; it stops after {} without a run, or with `flinkit local down`",
                if running.is_some() {
                    "already running"
                } else {
                    "up"
                },
                session.pid,
                session.web_ui,
                humantime::format_duration(Duration::from_secs(session.idle_timeout_s))
            );
            Ok(())
        }
        LocalCommand::Down => {
            let stopped = session::down(&dir)?;
            if ctx.format == Format::Json {
                return output::print_json(
                    &json!({"stopped": stopped.is_some(), "pid": stopped.as_ref().map(|s| s.pid)}),
                );
            }
            match stopped {
                Some(session) => eprintln!("local session (pid {}) stopped", session.pid),
                None => eprintln!("no local session was running"),
            }
            Ok(())
        }
        LocalCommand::Status => {
            let found = session::find(&dir);
            if ctx.format == Format::Json {
                return output::print_json(
                    &found
                        .as_ref()
                        .map_or_else(|| json!({"running": false}), describe),
                );
            }
            match found {
                Some(session) => output::print(&format!(
                    "local session running: pid {}, web UI {}, {} slots, stops after {} idle\n",
                    session.pid,
                    session.web_ui,
                    session.slots,
                    humantime::format_duration(Duration::from_secs(session.idle_timeout_s))
                )),
                None => {
                    output::print("no local session running (start one with `flinkit local up`)\n")
                }
            }
        }
    }
}
