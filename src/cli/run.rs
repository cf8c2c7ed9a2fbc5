//! `flinkit run -f SCRIPT`: feeds the script's sources, launches it, watches it live on stderr,
//! reads its sinks and prints what it measured (text or the contract's JSON), with an HTML
//! report on request. One call of [`flinkit::run::run`]; this module owns the flags and the
//! rendering.

use std::io::{IsTerminal as _, Write as _};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context as _;
use clap::Args;
use flinkit::bridge::generate::Schedule;
use flinkit::config::Settings;
use flinkit::launch::{Options, Target};
use flinkit::provision::Cache;
use flinkit::run::{self, RunError, RunEvent, RunOptions};

use super::args::{ClusterArgs, KeyValue, TargetArg};
use super::{Context, Format, InvalidInput, Reported, output};

/// Flags of `flinkit run`.
#[derive(Args, Debug)]
pub struct RunArgs {
    /// The script: a .sql file whose Kafka and Pulsar source tables are fed and sink tables read.
    #[arg(short = 'f', long = "file", value_name = "SCRIPT")]
    pub file: PathBuf,
    /// How long the sources are fed (`30s`, `2m`).
    #[arg(long, value_name = "D", default_value = "30s", value_parser = super::values::duration)]
    pub duration: Duration,
    /// Rows per second into each source (`100`, `2.5/s`, `unlimited`).
    #[arg(long, value_name = "R", default_value = "100", value_parser = super::values::rate)]
    pub rate: String,
    /// Windows that scale the rate: `START-END:PERCENT%`, comma-separated (`10s-20s:300%`).
    #[arg(long, value_name = "P", value_parser = super::values::traffic_pattern)]
    pub traffic_pattern: Option<String>,
    /// Replay a file of JSON rows into a source table instead of generated rows (repeatable).
    #[arg(long = "rows", value_name = "TABLE=FILE", value_parser = KeyValue)]
    pub rows: Vec<(String, String)>,
    /// Where the job runs (default: FLINKIT_TARGET, flinkit.toml, else local).
    #[arg(long, value_enum)]
    pub target: Option<TargetArg>,
    #[command(flatten)]
    pub cluster: ClusterArgs,
    /// The Kafka bootstrap servers the script's tables use instead of their own (default:
    /// FLINKIT_KAFKA_URL when set, else the script's).
    #[arg(long, value_name = "HOST:PORT", value_parser = super::values::endpoint)]
    pub kafka: Option<String>,
    /// A Flink option for the job, like a SET statement (repeatable), e.g.
    /// `execution.checkpointing.interval=5s`.
    #[arg(long = "set", value_name = "KEY=VALUE", value_parser = KeyValue)]
    pub set: Vec<(String, String)>,
    /// Write the report as one self-contained HTML page with charts.
    #[arg(long, value_name = "FILE.html")]
    pub report: Option<PathBuf>,
    /// Leave the job running and the run's topics in place.
    #[arg(long)]
    pub keep: bool,
    /// How often the job is sampled while it runs.
    #[arg(long, value_name = "D", default_value = "1s", value_parser = super::values::duration)]
    pub sample_every: Duration,
    /// Do not watch the job while it runs: sample it only once it has read everything (to
    /// measure what watching costs).
    #[arg(long)]
    pub no_watch: bool,
    /// How long the job may take, after the feed, to read every row produced.
    #[arg(long, value_name = "D", default_value = "30s", value_parser = super::values::duration)]
    pub drain: Duration,
    /// The generator's seed (default: random; the report shows it).
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    /// The probability that a generated nullable value is null (0 keeps sink keys non-null).
    #[arg(long, value_name = "P", default_value_t = 0.0, value_parser = super::values::ratio)]
    pub null_ratio: f64,
}

/// Runs `flinkit run`.
pub fn run(ctx: &Context<'_>, args: &RunArgs) -> anyhow::Result<()> {
    let sql = std::fs::read_to_string(&args.file)
        .map_err(|e| InvalidInput(format!("{}: {e}", args.file.display())))?;
    let cluster = args.cluster.resolve(args.target)?;
    let mut launch = match cluster.target {
        Target::Local => Options::local(),
        Target::Rest => Options::rest(cluster.flink_url),
        Target::Gateway => Options::gateway(cluster.gateway_url).flink_url(cluster.flink_url),
    }
    .cache(Cache::from_env()?);
    for (key, value) in &args.set {
        launch = launch.set(key.clone(), value.clone());
    }
    let schedule = Schedule::parse(Some(&args.rate), args.traffic_pattern.as_deref())
        .map_err(|e| InvalidInput(e.to_string()))?;
    let mut options = RunOptions::new(launch, args.duration, schedule);
    options.kafka = args
        .kafka
        .clone()
        .or_else(|| std::env::var("FLINKIT_KAFKA_URL").ok());
    options.pulsar = std::env::var("FLINKIT_PULSAR_URL").ok();
    options.pulsar_admin = match std::env::var("FLINKIT_PULSAR_ADMIN_URL") {
        Ok(url) => super::values::http_url(&url)
            .map_err(|e| InvalidInput(format!("FLINKIT_PULSAR_ADMIN_URL: {e}")))?,
        Err(_) => Settings::load(None)?.stack.pulsar_admin(),
    };
    options.rows = args
        .rows
        .iter()
        .map(|(t, f)| (t.clone(), PathBuf::from(f)))
        .collect();
    options.keep = args.keep;
    options.sample_every = (!args.no_watch).then_some(args.sample_every);
    options.drain = args.drain;
    options.seed = args.seed;
    options.null_ratio = args.null_ratio;
    let label = args.file.file_name().map_or_else(
        || args.file.display().to_string(),
        |n| n.to_string_lossy().into(),
    );
    let mut plan = run::plan(&label, &sql, &options).map_err(located)?;
    // flinkit.toml's [bridge] settings under each table's own, for what the run feeds and reads.
    let bridge = Settings::load(None)?.bridge;
    for table in plan.sources.iter_mut().chain(plan.sinks.iter_mut()) {
        let mut settings = bridge.settings(table.endpoint.broker)?;
        settings.append(&mut table.endpoint.settings);
        table.endpoint.settings = settings;
    }

    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst))
        .context("cannot handle Ctrl-C")?;
    let mut live = Live::new();
    let report = super::block_on(run::run(&plan, &options, &stop, &mut |e| live.event(e)))?;
    live.finish();
    if matches!(report, Err(RunError::Interrupted)) {
        eprintln!("flinkit: interrupted; cleaned up");
        std::process::exit(130);
    }
    let report = report.map_err(located)?;
    if let Some(path) = &args.report {
        std::fs::write(path, report.to_html(&plan))
            .with_context(|| format!("writing the report to {}", path.display()))?;
        eprintln!("flinkit: report written to {}", path.display());
    }
    if ctx.format == Format::Json {
        output::print_json(&report)?;
    } else {
        output::print(&report.to_text())?;
    }
    if report.interrupted {
        eprintln!("flinkit: interrupted; cleaned up");
        std::process::exit(130);
    }
    match &report.failure {
        Some(failure) => Err(Reported(format!("the run failed: {failure}")).into()),
        None => Ok(()),
    }
}

/// A run error for the CLI: SQL errors as themselves, so they are rendered with their place.
fn located(err: RunError) -> anyhow::Error {
    match err {
        RunError::Sql(e) => e.into(),
        RunError::Lineage(e) => e.into(),
        RunError::Table(e) => e.into(),
        RunError::Launch(e) => e.into(),
        RunError::Bridge(e) => e.into(),
        e if e.is_invalid_input() => InvalidInput(e.to_string()).into(),
        e => e.into(),
    }
}

/// The live view on stderr: one refreshing line on a terminal, plain lines otherwise.
struct Live {
    tty: bool,
    pending: bool,
}

impl Live {
    fn new() -> Self {
        Self {
            tty: std::io::stderr().is_terminal(),
            pending: false,
        }
    }

    fn line(&mut self, text: &str, refresh: bool) {
        let mut err = std::io::stderr().lock();
        if self.tty && self.pending {
            let _ = write!(err, "\r\x1b[2K");
        }
        if self.tty && refresh {
            let _ = write!(err, "{text}");
            self.pending = true;
        } else {
            let _ = writeln!(err, "{text}");
            self.pending = false;
        }
        let _ = err.flush();
    }

    fn event(&mut self, event: RunEvent<'_>) {
        match event {
            RunEvent::Topics(topics) => self.line(
                &format!("flinkit: created topics {}", topics.join(", ")),
                false,
            ),
            RunEvent::Launching => self.line("flinkit: launching the job", false),
            RunEvent::Running { job_id, name } => self.line(
                &format!("flinkit: job {name:?} ({job_id}) RUNNING; feeding the sources"),
                false,
            ),
            RunEvent::Sample { sample, produced } => {
                self.line(&format!("{} produced {produced}", sample.line()), true)
            }
            RunEvent::Draining => self.line(
                "flinkit: feed done; waiting for the job to read it all",
                false,
            ),
            RunEvent::CleaningUp => self.line("flinkit: cleaning up", false),
            _ => {}
        }
    }

    fn finish(&mut self) {
        if self.pending {
            eprintln!();
            self.pending = false;
        }
    }
}
