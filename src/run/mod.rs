//! `flinkit run`: feeds a script's sources, launches it, watches it, reads its sinks and
//! measures the run — rows produced per source, records in and out per operator, back pressure,
//! busy time, checkpoints, the Kafka sources' lag, end-to-end latency per sink record, restarts
//! and exceptions — into a [`RunReport`] that prints as JSON or text and renders as one HTML
//! page ([`report`]).
//!
//! A run works on fresh topics: every Kafka and Pulsar table's topic gets the run's suffix (as
//! [`crate::demo`] does, through [`crate::demo::rewrite`]), the topics are created before the
//! job starts and deleted afterwards with the job cancelled, unless [`RunOptions::keep`] —
//! also when the run fails or is interrupted. Kafka topics are managed with the Kafka admin
//! client, Pulsar topics through Pulsar's admin REST API ([`RunOptions::pulsar_admin`]). Source rows are generated from each source
//! table's schema ([`crate::bridge::generate`]) at the [`Schedule`]'s pace, or replayed from
//! files of JSON lines; [`plan`] refuses, before anything starts, a source flinkit cannot write
//! (its connector or a column's type), naming the table and the column.
//!
//! The job is watched with a [`watch::Sampler`]; latency is explained in [`latency`]. The
//! sources' lag is the records flinkit produced (and the broker acknowledged) into the fresh
//! topics — all they hold, since the topics start empty and only flinkit writes them — minus
//! the records the job's source operators emitted (their `numRecordsOut`).

pub mod latency;
pub mod report;
pub mod watch;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures::StreamExt as _;
use futures::stream::FuturesUnordered;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::bridge::client::{RowStream, TableProducer};
use crate::bridge::generate::{GenerateOptions, Generator, KeySpace, Pacer, Schedule};
use crate::bridge::table::{TableError, TableSpec};
use crate::bridge::types::{DataType, TypeKind};
use crate::bridge::{self, BridgeError, Broker, ConsumeOptions, Endpoint, StartAt};
use crate::demo::{self, DemoError, Rewrite};
use crate::flink::JobState;
use crate::flink::rest::{RestClient, RestError};
use crate::launch::{self, Job, LaunchError, Options};
use crate::lineage::{Graph, LineageError, Role};
use crate::sql::{Script, SqlError};
use crate::vars::{self, MaskedSource, Vars};
use latency::{Percentiles, Tracker};
use watch::{Sample, Sampler};

/// How to run a script.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Where and how the job is launched (its name is the run's).
    pub launch: Options,
    /// Replaces the Kafka tables' `properties.bootstrap.servers` (the stack's broker).
    pub kafka: Option<String>,
    /// Replaces the Pulsar tables' `service-url` (the stack's broker).
    pub pulsar: Option<String>,
    /// Pulsar's admin REST API, through which the run creates and deletes its Pulsar topics
    /// (default: the local stack's, `http://localhost:8080`).
    pub pulsar_admin: String,
    /// How long sources are fed.
    pub duration: Duration,
    /// The pace of each source's rows.
    pub schedule: Schedule,
    /// Files of JSON lines replayed into a source instead of generated rows (table, file).
    pub rows: Vec<(String, PathBuf)>,
    /// Leave the job running and the topics in place.
    pub keep: bool,
    /// How often the job is sampled while it runs; `None` samples it only once it has read
    /// everything (to measure what watching costs).
    pub sample_every: Option<Duration>,
    /// How long the job may take, after the feed ends, to read every record produced.
    pub drain: Duration,
    /// The generator's seed (`None`: random, reported).
    pub seed: Option<u64>,
    /// The probability that a generated nullable value is `null` (default 0: a sink's primary
    /// key is NOT NULL, and the columns it is grouped by are often nullable in the source, so
    /// nulls would fail the job rather than measure it).
    pub null_ratio: f64,
    /// How long the job may take to start running.
    pub start_timeout: Duration,
}

impl RunOptions {
    /// A run of `duration` at `schedule`, launched with `launch`, sampled every second.
    pub fn new(launch: Options, duration: Duration, schedule: Schedule) -> Self {
        Self {
            launch,
            kafka: None,
            pulsar: None,
            pulsar_admin: crate::stack::Ports::default().pulsar_admin(),
            duration,
            schedule,
            rows: Vec::new(),
            keep: false,
            sample_every: Some(Duration::from_secs(1)),
            drain: Duration::from_secs(30),
            seed: None,
            null_ratio: 0.0,
            start_timeout: Duration::from_secs(120),
        }
    }
}

/// A checked run: the rewritten script, its sources and sinks.
#[derive(Debug)]
pub struct Plan {
    /// A name for the run, shown in the job name (`kafka.sql`).
    pub label: String,
    /// The SQL that runs (topics suffixed, broker replaced).
    pub sql: String,
    /// The topic suffix of this run.
    pub suffix: String,
    /// The source tables flinkit feeds.
    pub sources: Vec<TableSpec>,
    /// The sink tables flinkit reads.
    pub sinks: Vec<TableSpec>,
    /// Sinks flinkit cannot read, with why.
    pub unread: Vec<(String, String)>,
    /// Replayed files' contents by source table.
    replays: HashMap<String, (PathBuf, String)>,
    script: Script,
    graph: Graph,
}

impl Plan {
    /// The script that runs.
    pub fn script(&self) -> &Script {
        &self.script
    }

    /// Its table graph.
    pub fn graph(&self) -> &Graph {
        &self.graph
    }
}

/// Checks `sql` for a run and rewrites it onto fresh topics; nothing is started. A source table
/// flinkit cannot write, a column it cannot generate, or a `rows` file for a table that is not
/// a source or cannot be read, is [`RunError::Unsupported`] or [`RunError::Rows`].
pub fn plan(label: &str, sql: &str, options: &RunOptions) -> Result<Plan, RunError> {
    let suffix = format!("-run-{}", demo::run_id());
    let rewritten = demo::rewrite(
        sql,
        &Rewrite {
            topic_suffix: suffix.clone(),
            kafka: options.kafka.clone(),
            pulsar: options.pulsar.clone(),
        },
    )?;
    let script = Script::parse_str(&rewritten)?;
    let graph = Graph::build(&script)?;
    let values = vars::substitute(&script, &Vars::none());
    let mut sources = Vec::new();
    let mut sinks = Vec::new();
    let mut unread = Vec::new();
    let fed = |c: &Option<String>| {
        matches!(
            c.as_deref(),
            Some("kafka" | "upsert-kafka" | "pulsar" | "upsert-pulsar")
        )
    };
    for node in &graph.nodes {
        match node.role {
            Role::Source => {
                if !fed(&node.connector) {
                    return Err(RunError::Unsupported {
                        table: node.name.clone(),
                        column: None,
                        message: format!(
                            "its connector is {}; flinkit run feeds Kafka and Pulsar tables \
                             ('kafka', 'upsert-kafka', 'pulsar', 'upsert-pulsar')",
                            node.connector
                                .as_deref()
                                .map_or("not declared".to_string(), |c| format!("'{c}'"))
                        ),
                    });
                }
                let spec = TableSpec::from_script(&script, &values, &node.name)?;
                for field in &spec.columns {
                    if let Some(kind) = ungenerated(&field.data_type) {
                        return Err(RunError::Unsupported {
                            table: node.name.clone(),
                            column: Some(field.name.clone()),
                            message: format!("flinkit cannot generate values of type {kind}"),
                        });
                    }
                }
                sources.push(spec);
            }
            Role::Sink if fed(&node.connector) => {
                sinks.push(TableSpec::from_script(&script, &values, &node.name)?);
            }
            Role::Sink => unread.push((
                node.name.clone(),
                format!(
                    "connector {}: flinkit run reads Kafka and Pulsar sinks",
                    node.connector.as_deref().unwrap_or("not declared")
                ),
            )),
            Role::Intermediate | Role::View => {}
        }
    }
    let mut replays = HashMap::new();
    for (table, path) in &options.rows {
        if !sources.iter().any(|s| &s.name == table) {
            return Err(RunError::Rows {
                table: table.clone(),
                path: path.clone(),
                message: format!(
                    "it is not a source table of the script (its sources: {})",
                    sources
                        .iter()
                        .map(|s| s.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            });
        }
        let text = std::fs::read_to_string(path).map_err(|e| RunError::Rows {
            table: table.clone(),
            path: path.clone(),
            message: e.to_string(),
        })?;
        replays.insert(table.clone(), (path.clone(), text));
    }
    Ok(Plan {
        label: label.to_string(),
        sql: rewritten,
        suffix,
        sources,
        sinks,
        unread,
        replays,
        script,
        graph,
    })
}

/// The type of a column, or of a field inside it, that the generator has no values for.
fn ungenerated(data_type: &DataType) -> Option<String> {
    match &data_type.kind {
        TypeKind::Other(name) => Some(name.clone()),
        TypeKind::Array(t) | TypeKind::Multiset(t) => ungenerated(t),
        TypeKind::Map(k, v) => ungenerated(k).or_else(|| ungenerated(v)),
        TypeKind::Row(fields) => fields.iter().find_map(|f| ungenerated(&f.data_type)),
        _ => None,
    }
}

/// What a run did and measured (see the [module documentation](self)).
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    /// Rows produced (acknowledged) per source table.
    pub produced: BTreeMap<String, u64>,
    /// Records read per sink table.
    pub consumed: BTreeMap<String, u64>,
    /// Records per second into the job's sources and out of its sinks over the feed.
    pub throughput: Throughput,
    /// End-to-end latency over every measured sink record; `None` when none was measured.
    pub latency_ms: Option<Percentiles>,
    /// The job.
    pub job: JobInfo,
    /// The run's settings.
    pub config: RunConfig,
    /// Each source: its topic and rows produced per second.
    pub sources: Vec<SourceFigures>,
    /// Each sink: its topic, records read and how latency was measured.
    pub sinks: Vec<SinkFigures>,
    /// The job sampled over the run.
    pub samples: Vec<Sample>,
    /// Latency percentiles per second of the run.
    pub latency_over_time: Vec<LatencyPoint>,
    /// The sources' lag over the run (see the [module documentation](self)).
    pub lag: Vec<LagPoint>,
    /// How lag is measured.
    pub lag_method: &'static str,
    /// How latency is measured.
    pub latency_method: &'static str,
    /// The job's last failure or exception, if it had one.
    pub exception: Option<String>,
    /// Why the run did not complete: the job failed or ended, or it was interrupted.
    pub failure: Option<String>,
    /// Whether Ctrl-C stopped it.
    pub interrupted: bool,
}

/// The job's throughput over the feed: the records its sources emitted and its sinks received
/// by the end of the feed (read from the first sample after it), per second of the feed.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Throughput {
    /// Records the sources emitted per second.
    pub in_per_s: f64,
    /// Records the sinks received per second.
    pub out_per_s: f64,
    /// The feed's length, seconds.
    pub feed_s: f64,
    /// Records the sources emitted by the end of the feed.
    pub source_records: u64,
    /// Records the sinks received by the end of the feed.
    pub sink_records: u64,
}

/// The job of a run.
#[derive(Debug, Clone, Serialize)]
pub struct JobInfo {
    /// Its id (empty when it did not launch).
    pub id: String,
    /// Its name.
    pub name: String,
    /// Where it ran.
    pub target: String,
    /// Its state at the end (`CANCELED` after the run cancelled it).
    pub state: String,
    /// How many times it restarted.
    pub restarts: u64,
}

/// The settings of a run, for the report (secrets masked).
#[derive(Debug, Clone, Serialize)]
pub struct RunConfig {
    /// The script's label.
    pub script: String,
    /// The SQL that ran, secrets masked.
    pub sql: String,
    /// The feed's length, seconds.
    pub duration_s: f64,
    /// The rate, as given.
    pub rate: String,
    /// The traffic pattern.
    pub traffic_pattern: String,
    /// The topics' suffix.
    pub topic_suffix: String,
    /// Whether the job and topics were kept.
    pub keep: bool,
    /// The sampling period, seconds (`None`: sampled at the end only).
    pub sample_every_s: Option<f64>,
    /// The generator's seed.
    pub seed: u64,
}

/// A source's figures.
#[derive(Debug, Clone, Serialize)]
pub struct SourceFigures {
    /// The table.
    pub table: String,
    /// Its topic.
    pub topic: String,
    /// Rows generated, or the file replayed.
    pub from: String,
    /// Rows produced (acknowledged).
    pub produced: u64,
    /// Rows sent but not acknowledged.
    pub failed: u64,
    /// Rows acknowledged in each second of the feed.
    pub per_second: Vec<u64>,
}

/// A sink's figures.
#[derive(Debug, Clone, Serialize)]
pub struct SinkFigures {
    /// The table.
    pub table: String,
    /// Its topic, or why it is not read.
    pub topic: String,
    /// Records read.
    pub consumed: u64,
    /// Records with a latency figure.
    pub measured: u64,
    /// The columns matching sink records to source records (empty: no latency).
    pub match_columns: Vec<String>,
}

/// Latency percentiles of one second of the run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LatencyPoint {
    /// Start of the second, ms since the run began.
    pub at_ms: u64,
    /// The percentiles.
    #[serde(flatten)]
    pub percentiles: Percentiles,
    /// Records measured.
    pub records: usize,
}

/// The sources' lag at one sample.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LagPoint {
    /// Ms since the run began.
    pub at_ms: u64,
    /// Records produced but not yet emitted by the job's sources.
    pub records: u64,
}

/// What a run is doing, for a live view.
#[derive(Debug)]
#[non_exhaustive]
pub enum RunEvent<'a> {
    /// Topics were created.
    Topics(&'a [String]),
    /// The job is being launched.
    Launching,
    /// The job runs and the feed starts.
    Running {
        /// Its id.
        job_id: &'a str,
        /// Its name.
        name: &'a str,
    },
    /// A sample of the job, with the rows produced so far.
    Sample {
        /// The sample.
        sample: &'a Sample,
        /// Rows produced so far.
        produced: u64,
    },
    /// The feed ended; waiting for the job to read everything.
    Draining,
    /// Cleaning up (cancelling the job, deleting topics).
    CleaningUp,
}

/// Why a run could not start or finish.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    /// A source flinkit cannot feed.
    #[error("table `{table}`{}: {message}", column.as_ref().map_or(String::new(), |c| format!(", column `{c}`")))]
    Unsupported {
        /// The table.
        table: String,
        /// The column, when one is the reason.
        column: Option<String>,
        /// Why.
        message: String,
    },
    /// A `--rows` file cannot be used.
    #[error("rows for `{table}` from {}: {message}", path.display())]
    Rows {
        /// The table.
        table: String,
        /// The file.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// The SQL could not be split or rewritten.
    #[error(transparent)]
    Sql(#[from] SqlError),
    /// The tables form a cycle.
    #[error(transparent)]
    Lineage(#[from] LineageError),
    /// A table cannot be used by the bridge.
    #[error(transparent)]
    Table(#[from] TableError),
    /// Producing, consuming or managing topics failed.
    #[error(transparent)]
    Bridge(#[from] BridgeError),
    /// The job could not be launched or watched.
    #[error(transparent)]
    Launch(#[from] LaunchError),
    /// The job's cluster could not be read.
    #[error(transparent)]
    Rest(#[from] RestError),
    /// Stopped by the user (Ctrl-C) before the job ran; what the run created is removed.
    #[error("interrupted")]
    Interrupted,
    /// The job did not start running in time, or ended first.
    #[error("job {id} is {state}, not RUNNING")]
    NotRunning {
        /// The job id.
        id: String,
        /// Its state.
        state: JobState,
    },
}

impl RunError {
    /// Whether the user's input is at fault (the CLI exits 2).
    pub fn is_invalid_input(&self) -> bool {
        match self {
            Self::Unsupported { .. } | Self::Rows { .. } | Self::Sql(_) | Self::Lineage(_) => true,
            Self::Table(_) => true,
            Self::Bridge(e) => e.is_invalid_input(),
            Self::Launch(e) => e.is_invalid_input(),
            _ => false,
        }
    }
}

impl From<DemoError> for RunError {
    fn from(err: DemoError) -> Self {
        match err {
            DemoError::Sql(e) => Self::Sql(e),
            DemoError::Table(e) => Self::Table(e),
            DemoError::Bridge(e) => Self::Bridge(e),
            DemoError::Launch(e) => Self::Launch(e),
            other => Self::Bridge(BridgeError::client(Broker::Kafka, other)),
        }
    }
}

const LAG_METHOD: &str = "records produced and acknowledged into the run's fresh topics (all \
    they hold: Kafka's end offsets) minus the records the job's source operators emitted \
    (numRecordsOut)";

const LATENCY_METHOD: &str = "sink record's time (Kafka: its timestamp, when Flink wrote it; \
    Pulsar: its event time if the sink sets one, else its publish time, when Flink's producer \
    sent it) minus the send time of the latest source record sent before it with the same \
    values in the sink's key columns (a lower bound when several inputs of a key are in flight)";

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// What one source's feed did.
#[derive(Debug, Default)]
struct Fed {
    acked: AtomicU64,
    failed: AtomicU64,
    per_second: Mutex<Vec<u64>>,
}

impl Fed {
    fn ack(&self, second: usize) {
        self.acked.fetch_add(1, Ordering::Relaxed);
        let mut seconds = self.per_second.lock().unwrap_or_else(|p| p.into_inner());
        if seconds.len() <= second {
            seconds.resize(second + 1, 0);
        }
        seconds[second] += 1;
    }
}

/// Runs `plan`: creates its topics, launches the job, feeds the sources for the duration while
/// sampling the job and reading the sinks, waits for the job to read everything, and cleans
/// up (unless [`RunOptions::keep`]) — also when anything fails or `stop` becomes true. A job
/// that fails mid-run still gives a report, with [`RunReport::failure`].
pub async fn run(
    plan: &Plan,
    options: &RunOptions,
    stop: &AtomicBool,
    events: &mut dyn FnMut(RunEvent<'_>),
) -> Result<RunReport, RunError> {
    let timeout = Duration::from_secs(10);
    let topics = RunTopics::of(plan, &options.pulsar_admin);
    if !topics.is_empty() {
        topics.create(timeout).await?;
        events(RunEvent::Topics(&topics.names()));
    }
    let mut job: Option<Job> = None;
    let result = feed_and_watch(plan, options, stop, events, &mut job).await;
    events(RunEvent::CleaningUp);
    let mut state = None;
    if let Some(job) = job {
        let now = job.state().await?;
        state = Some(if options.keep || now.is_terminal() {
            now
        } else {
            job.cancel().await?
        });
    }
    if !options.keep {
        topics.delete(timeout).await?;
    }
    let mut report = result?;
    if let Some(state) = state {
        report.job.state = state.to_string();
    }
    Ok(report)
}

/// The topics of a run's tables, by broker.
struct RunTopics<'a> {
    /// The Kafka tables' topics, with the endpoint of the first.
    kafka: Option<(Endpoint, Vec<String>)>,
    /// The admin API that manages the Pulsar tables' topics.
    pulsar_admin: &'a str,
    /// The Pulsar tables: their topics, and the settings that sign in to the admin API as the
    /// table's clients sign in to the broker.
    pulsar: Vec<&'a TableSpec>,
}

impl<'a> RunTopics<'a> {
    fn of(plan: &'a Plan, pulsar_admin: &'a str) -> Self {
        let tables = || plan.sources.iter().chain(&plan.sinks);
        let topics = |broker: Broker| -> Vec<String> {
            tables()
                .filter(|t| t.endpoint.broker == broker)
                .flat_map(|t| t.topics.clone())
                .collect()
        };
        let kafka = tables()
            .find(|t| t.endpoint.broker == Broker::Kafka)
            .map(|t| (t.endpoint.clone(), topics(Broker::Kafka)));
        let pulsar = tables()
            .filter(|t| t.endpoint.broker == Broker::Pulsar && !t.topics.is_empty())
            .collect();
        Self {
            kafka,
            pulsar_admin,
            pulsar,
        }
    }

    fn is_empty(&self) -> bool {
        self.kafka.is_none() && self.pulsar.is_empty()
    }

    fn names(&self) -> Vec<String> {
        let kafka = self.kafka.iter().flat_map(|(_, t)| t);
        let pulsar = self.pulsar.iter().flat_map(|t| &t.topics);
        kafka.chain(pulsar).cloned().collect()
    }

    async fn create(&self, timeout: Duration) -> Result<(), BridgeError> {
        if let Some((endpoint, topics)) = &self.kafka {
            bridge::kafka::create_topics(endpoint, topics, timeout).await?;
        }
        for table in &self.pulsar {
            let (topics, settings) = (&table.topics, &table.endpoint.settings);
            bridge::pulsar::create_topics(self.pulsar_admin, topics, settings, timeout).await?;
        }
        Ok(())
    }

    async fn delete(&self, timeout: Duration) -> Result<(), BridgeError> {
        if let Some((endpoint, topics)) = &self.kafka {
            bridge::kafka::delete_topics(endpoint, topics, timeout).await?;
        }
        for table in &self.pulsar {
            let (topics, settings) = (&table.topics, &table.endpoint.settings);
            bridge::pulsar::delete_topics(self.pulsar_admin, topics, settings, timeout).await?;
        }
        Ok(())
    }
}

async fn feed_and_watch(
    plan: &Plan,
    options: &RunOptions,
    stop: &AtomicBool,
    events: &mut dyn FnMut(RunEvent<'_>),
    slot: &mut Option<Job>,
) -> Result<RunReport, RunError> {
    let timeout = Duration::from_secs(10);
    let mut producers = Vec::new();
    for source in &plan.sources {
        producers.push(TableProducer::open(source, timeout).await?);
    }
    let columns: HashMap<String, Vec<String>> = plan
        .sinks
        .iter()
        .map(|sink| (sink.name.clone(), match_columns(sink, &plan.sources)))
        .collect();
    let tracker = Arc::new(Mutex::new(Tracker::new(columns.clone())));

    events(RunEvent::Launching);
    let name = format!("flinkit run: {}{}", plan.label, plan.suffix);
    let launch_options = options.launch.clone().name(&name);
    let job = launch::launch(&plan.script, &launch_options)
        .await?
        .cancel_on_drop(!options.keep);
    let job = slot.insert(job);
    let started = Instant::now();
    loop {
        if stop.load(Ordering::SeqCst) {
            return Err(RunError::Interrupted);
        }
        let state = job.wait_running(Duration::from_secs(1)).await?;
        if state == JobState::Running {
            break;
        }
        if state.is_terminal() || started.elapsed() >= options.start_timeout {
            return Err(RunError::NotRunning {
                id: job.id().to_string(),
                state,
            });
        }
    }
    events(RunEvent::Running {
        job_id: job.id(),
        name: job.name(),
    });
    let rest_url = job.flink_url().unwrap_or_default();
    let mut sampler = Sampler::new(RestClient::new(&rest_url, timeout), job.id());

    // The sinks, read from their start while the run goes on.
    let run_start = Instant::now();
    let mut readers = Vec::new();
    let mut consumed = Vec::new();
    for sink in &plan.sinks {
        let count = Arc::new(AtomicU64::new(0));
        let measured = Arc::new(AtomicU64::new(0));
        consumed.push((count.clone(), measured.clone()));
        let mut rows = RowStream::open(
            sink,
            &ConsumeOptions {
                start: StartAt::Earliest,
                follow: true,
                group: None,
            },
            timeout,
        )
        .await?;
        let tracker = tracker.clone();
        let table = sink.name.clone();
        readers.push(tokio::spawn(async move {
            while let Some(next) = rows.next().await {
                let Ok(record) = next else { continue };
                let arrived = now_ms();
                count.fetch_add(1, Ordering::Relaxed);
                if let Some(row) = &record.row {
                    let written = record.record.timestamp.unwrap_or(arrived);
                    let at = run_start.elapsed().as_millis() as u64;
                    let mut tracker = tracker.lock().unwrap_or_else(|p| p.into_inner());
                    if tracker.arrived(&table, row, written, at).is_some() {
                        measured.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }));
    }

    // The feeds, one task per source.
    let seed = options.seed.unwrap_or_else(rand::random);
    let mut feeds = Vec::new();
    let mut fed = Vec::new();
    for (i, (source, producer)) in plan.sources.iter().zip(producers).enumerate() {
        let figures = Arc::new(Fed::default());
        fed.push(figures.clone());
        let rows: Box<dyn Iterator<Item = Result<Map<String, Value>, RunError>> + Send> =
            match plan.replays.get(&source.name) {
                Some((path, text)) => Box::new(replay(&source.name, path, text)),
                None => {
                    let expected = options.schedule.count_before(options.duration);
                    let mut generator = Generator::for_table(
                        source,
                        GenerateOptions {
                            seed: Some(seed.wrapping_add(i as u64)),
                            key_space: KeySpace::for_rows(expected),
                            null_ratio: options.null_ratio,
                            ..GenerateOptions::default()
                        },
                    )
                    .map_err(|e| RunError::Unsupported {
                        table: source.name.clone(),
                        column: None,
                        message: e.to_string(),
                    })?;
                    Box::new(std::iter::from_fn(move || Some(Ok(generator.next_row()))))
                }
            };
        feeds.push(feed(
            producer,
            rows,
            options.schedule.clone(),
            options.duration,
            stop,
            figures,
            tracker.clone(),
        ));
    }
    let feeding = futures::future::try_join_all(feeds);
    tokio::pin!(feeding);

    let mut samples: Vec<Sample> = Vec::new();
    let mut lag = Vec::new();
    let mut failure = None;
    let produced_now =
        |fed: &[Arc<Fed>]| -> u64 { fed.iter().map(|f| f.acked.load(Ordering::Relaxed)).sum() };
    let take = async |sampler: &mut Sampler,
                      samples: &mut Vec<Sample>,
                      lag: &mut Vec<LagPoint>,
                      events: &mut dyn FnMut(RunEvent<'_>)|
           -> Result<JobState, RunError> {
        let sample = sampler.sample().await?;
        let produced = produced_now(&fed);
        lag.push(LagPoint {
            at_ms: sample.at_ms,
            records: produced.saturating_sub(sample.source_records),
        });
        events(RunEvent::Sample {
            sample: &sample,
            produced,
        });
        let state = sample.state;
        samples.push(sample);
        Ok(state)
    };
    let period = options.sample_every.unwrap_or(Duration::MAX);
    let mut feed_result = None;
    while feed_result.is_none() {
        tokio::select! {
            done = &mut feeding => feed_result = Some(done),
            _ = tokio::time::sleep(period.min(Duration::from_secs(3600))) => {
                let state = take(&mut sampler, &mut samples, &mut lag, events).await?;
                if state.is_terminal() {
                    failure = Some(format!("the job is {state}"));
                    break;
                }
            }
        }
    }
    if let Some(result) = feed_result {
        result?;
    }
    let feed_seconds = run_start.elapsed().as_secs_f64();
    let interrupted = stop.load(Ordering::SeqCst);
    let mut feed_end = None;
    if failure.is_none() && !interrupted {
        events(RunEvent::Draining);
        let produced = produced_now(&fed);
        let deadline = Instant::now() + options.drain;
        // Flink's REST API answers from metrics it fetched last, and fetches again when asked
        // after its update interval: this sample asks for a fetch now, so the next one shows
        // the counters at the end of the feed (watched or not).
        take(&mut sampler, &mut samples, &mut lag, events).await?;
        tokio::time::sleep(Duration::from_millis(1200)).await;
        loop {
            let state = take(&mut sampler, &mut samples, &mut lag, events).await?;
            if feed_end.is_none() {
                feed_end = samples.last().map(|s| (s.source_records, s.sink_records));
            }
            if state.is_terminal() {
                failure = Some(format!("the job is {state}"));
                break;
            }
            let read = samples.last().map_or(0, |s| s.source_records);
            if read >= produced || Instant::now() >= deadline || stop.load(Ordering::SeqCst) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        // The sinks' last records: until the count read settles and the sink operators' own
        // count (sampled afresh: a sink's counters can trail its source's by one metrics fetch)
        // equals it, at most the drain left.
        let mut last = u64::MAX;
        while Instant::now() < deadline {
            let now: u64 = consumed
                .iter()
                .map(|(c, _)| c.load(Ordering::Relaxed))
                .sum();
            take(&mut sampler, &mut samples, &mut lag, events).await?;
            let written = samples.last().map_or(0, |s| s.sink_records);
            if now == last && now == written {
                break;
            }
            last = now;
            tokio::time::sleep(Duration::from_millis(1000)).await;
        }
    }
    for reader in &readers {
        reader.abort();
    }
    let exception = job.exceptions().await.ok().flatten();
    if failure.is_some() && exception.is_some() {
        failure = failure.map(|f| format!("{f}: {}", exception.as_deref().unwrap_or_default()));
    }
    if interrupted {
        failure = Some("interrupted".into());
    }

    let tracker = tracker.lock().unwrap_or_else(|p| p.into_inner());
    let last = samples.last();
    let sources: Vec<SourceFigures> = plan
        .sources
        .iter()
        .zip(&fed)
        .map(|(s, f)| SourceFigures {
            table: s.name.clone(),
            topic: s.topics.join(";"),
            from: plan
                .replays
                .get(&s.name)
                .map_or("generated".to_string(), |(p, _)| p.display().to_string()),
            produced: f.acked.load(Ordering::Relaxed),
            failed: f.failed.load(Ordering::Relaxed),
            per_second: f
                .per_second
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
        })
        .collect();
    let mut sinks: Vec<SinkFigures> = plan
        .sinks
        .iter()
        .zip(&consumed)
        .map(|(s, (count, measured))| SinkFigures {
            table: s.name.clone(),
            topic: s.topics.join(";"),
            consumed: count.load(Ordering::Relaxed),
            measured: measured.load(Ordering::Relaxed),
            match_columns: columns.get(&s.name).cloned().unwrap_or_default(),
        })
        .collect();
    sinks.extend(plan.unread.iter().map(|(table, why)| SinkFigures {
        table: table.clone(),
        topic: format!("not read: {why}"),
        consumed: 0,
        measured: 0,
        match_columns: Vec::new(),
    }));
    let seconds = feed_seconds.max(0.001);
    let during_feed = feed_end
        .or_else(|| last.map(|s| (s.source_records, s.sink_records)))
        .unwrap_or_default();
    Ok(RunReport {
        produced: sources
            .iter()
            .map(|s| (s.table.clone(), s.produced))
            .collect(),
        consumed: plan
            .sinks
            .iter()
            .zip(&sinks)
            .map(|(t, s)| (t.name.clone(), s.consumed))
            .collect(),
        throughput: Throughput {
            in_per_s: during_feed.0 as f64 / seconds,
            out_per_s: during_feed.1 as f64 / seconds,
            feed_s: feed_seconds,
            source_records: during_feed.0,
            sink_records: during_feed.1,
        },
        latency_ms: tracker.overall(),
        job: JobInfo {
            id: job.id().to_string(),
            name: job.name().to_string(),
            target: job.target().to_string(),
            state: last.map_or("UNKNOWN".into(), |s| s.state.to_string()),
            restarts: last.map_or(0, |s| s.restarts),
        },
        config: RunConfig {
            script: plan.label.clone(),
            sql: MaskedSource::secret_literals(&plan.sql).text,
            duration_s: options.duration.as_secs_f64(),
            rate: options.schedule.rate().to_string(),
            traffic_pattern: options
                .schedule
                .windows()
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(","),
            topic_suffix: plan.suffix.clone(),
            keep: options.keep,
            sample_every_s: options.sample_every.map(|d| d.as_secs_f64()),
            seed,
        },
        sources,
        sinks,
        latency_over_time: tracker
            .over_time(1000)
            .into_iter()
            .map(|(at_ms, percentiles, records)| LatencyPoint {
                at_ms,
                percentiles,
                records,
            })
            .collect(),
        samples,
        lag,
        lag_method: LAG_METHOD,
        latency_method: LATENCY_METHOD,
        exception,
        failure,
        interrupted,
    })
}

/// The sink's key columns (all its columns without a key) that a source table also has.
fn match_columns(sink: &TableSpec, sources: &[TableSpec]) -> Vec<String> {
    let candidates: Vec<&String> = if sink.key_fields.is_empty() {
        sink.columns.iter().map(|c| &c.name).collect()
    } else {
        sink.key_fields.iter().collect()
    };
    let in_sources = |name: &str| sources.iter().any(|s| s.column(name).is_some());
    if sink.key_fields.is_empty() {
        candidates
            .into_iter()
            .filter(|c| in_sources(c))
            .cloned()
            .collect()
    } else if candidates.iter().all(|c| in_sources(c)) {
        candidates.into_iter().cloned().collect()
    } else {
        Vec::new()
    }
}

/// The rows of a replayed file, one JSON object per non-blank line.
fn replay<'a>(
    table: &'a str,
    path: &'a Path,
    text: &'a str,
) -> impl Iterator<Item = Result<Map<String, Value>, RunError>> + Send + use<> {
    let table = table.to_string();
    let path = path.to_path_buf();
    let lines: Vec<(usize, String)> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| (i + 1, l.to_string()))
        .collect();
    lines.into_iter().map(move |(line, text)| {
        match serde_json::from_str::<Value>(&text) {
            Ok(Value::Object(row)) => Ok(row),
            Ok(_) => Err("not a JSON object".to_string()),
            Err(e) => Err(e.to_string()),
        }
        .map_err(|message| RunError::Rows {
            table: table.clone(),
            path: path.clone(),
            message: format!("line {line}: {message}"),
        })
    })
}

/// Sends `rows` at the schedule's pace until `duration` has passed, the rows end or `stop`,
/// recording each row's send time in `tracker` and each acknowledgement in `fed`.
async fn feed(
    producer: TableProducer,
    mut rows: Box<dyn Iterator<Item = Result<Map<String, Value>, RunError>> + Send>,
    schedule: Schedule,
    duration: Duration,
    stop: &AtomicBool,
    fed: Arc<Fed>,
    tracker: Arc<Mutex<Tracker>>,
) -> Result<(), RunError> {
    let mut pacer = Pacer::new(schedule);
    let started = Instant::now();
    let mut pending = FuturesUnordered::new();
    while started.elapsed() < duration && !stop.load(Ordering::Relaxed) {
        let wait = pacer.delay(started.elapsed());
        if wait > Duration::from_millis(1) {
            let sleep = tokio::time::sleep(wait.min(Duration::from_millis(100)));
            tokio::pin!(sleep);
            loop {
                tokio::select! {
                    _ = &mut sleep => break,
                    Some(done) = pending.next(), if !pending.is_empty() => settle(&fed, done),
                }
            }
            continue;
        }
        let Some(row) = rows.next() else { break };
        let row = row?;
        pacer.sent();
        let sent_ms = now_ms();
        let mut record = producer.encode_row(Value::Object(row.clone()))?;
        record.timestamp = Some(sent_ms);
        tracker
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .sent(&row, sent_ms);
        let delivery = producer.producer().queue(record).await?;
        let second = started.elapsed().as_secs() as usize;
        pending.push(async move { (second, delivery.await) });
        while let Some(Some(done)) = futures::FutureExt::now_or_never(pending.next()) {
            settle(&fed, done);
        }
    }
    while let Some(done) = pending.next().await {
        settle(&fed, done);
    }
    Ok(())
}

fn settle(fed: &Fed, (second, result): (usize, Result<(), BridgeError>)) {
    match result {
        Ok(()) => fed.ack(second),
        Err(err) => {
            fed.failed.fetch_add(1, Ordering::Relaxed);
            tracing::warn!("a record was not delivered: {err}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options() -> RunOptions {
        RunOptions::new(
            Options::rest("http://localhost:1"),
            Duration::from_secs(1),
            Schedule::unlimited(),
        )
    }

    #[test]
    fn a_plan_moves_every_kafka_table_to_fresh_topics_and_matches_sink_keys_to_sources() {
        let sql = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/sql/user-count/kafka.sql"
        ))
        .unwrap();
        let mut options = options();
        options.kafka = Some("broker:1".into());
        let plan = plan("kafka.sql", &sql, &options).unwrap();
        assert!(plan.suffix.starts_with("-run-"));
        assert_eq!(plan.sources.len(), 1);
        assert_eq!(plan.sinks.len(), 1);
        assert_eq!(
            plan.sources[0].topics,
            [format!("user-count.users{}", plan.suffix)]
        );
        assert_eq!(plan.sources[0].endpoint.address, "broker:1");
        assert_eq!(match_columns(&plan.sinks[0], &plan.sources), ["accountId"]);
    }

    #[test]
    fn a_pulsar_plan_moves_its_topics_and_service_url_and_groups_topics_by_broker() {
        let sql = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/sql/user-count/pulsar.sql"
        ))
        .unwrap();
        let mut options = options();
        options.pulsar = Some("pulsar://broker:1".into());
        let plan = plan("pulsar.sql", &sql, &options).unwrap();
        assert_eq!(
            plan.sources[0].topics,
            [format!(
                "persistent://public/default/user-count.users{}",
                plan.suffix
            )]
        );
        assert_eq!(plan.sources[0].endpoint.broker, Broker::Pulsar);
        assert_eq!(plan.sinks[0].endpoint.address, "pulsar://broker:1");
        assert!(plan.unread.is_empty());
        let topics = RunTopics::of(&plan, "http://admin:1");
        assert!(topics.kafka.is_none());
        assert_eq!(topics.pulsar_admin, "http://admin:1");
        assert_eq!(topics.pulsar.len(), 2);
        assert!(
            topics
                .pulsar
                .iter()
                .all(|t| t.endpoint.broker == Broker::Pulsar)
        );
        assert_eq!(topics.names().len(), 2);
        assert!(topics.names().iter().all(|t| t.ends_with(&plan.suffix)));
    }

    #[test]
    fn a_sink_key_the_sources_lack_gives_no_match_and_a_keyless_sink_matches_shared_columns() {
        let sql = "CREATE TABLE s (a STRING, b INT) WITH ('connector' = 'kafka', 'topic' = 's', \
            'format' = 'json', 'properties.bootstrap.servers' = 'k:1');\n\
            CREATE TABLE keyed (n STRING, c BIGINT, PRIMARY KEY (n) NOT ENFORCED) WITH \
            ('connector' = 'upsert-kafka', 'topic' = 'k', 'key.format' = 'json', \
            'value.format' = 'json', 'properties.bootstrap.servers' = 'k:1');\n\
            CREATE TABLE plain (a STRING, x INT) WITH ('connector' = 'kafka', 'topic' = 'p', \
            'format' = 'json', 'properties.bootstrap.servers' = 'k:1');\n\
            INSERT INTO keyed SELECT a, COUNT(*) FROM s GROUP BY a;\n\
            INSERT INTO plain SELECT a, b FROM s;";
        let plan = plan("t.sql", sql, &options()).unwrap();
        let sink = |name: &str| plan.sinks.iter().find(|s| s.name == name).unwrap();
        assert!(match_columns(sink("keyed"), &plan.sources).is_empty());
        assert_eq!(match_columns(sink("plain"), &plan.sources), ["a"]);
    }

    #[test]
    fn rows_for_a_table_that_is_not_a_source_or_a_missing_file_are_refused() {
        let sql = "CREATE TABLE s (a STRING) WITH ('connector' = 'kafka', 'topic' = 's', \
            'format' = 'json', 'properties.bootstrap.servers' = 'k:1');\n\
            CREATE TABLE o (a STRING) WITH ('connector' = 'print');\n\
            INSERT INTO o SELECT a FROM s;";
        let mut options = options();
        options.rows = vec![("o".into(), "x.jsonl".into())];
        let err = plan("t.sql", sql, &options).unwrap_err();
        assert!(err.is_invalid_input());
        assert!(err.to_string().contains("not a source table"), "{err}");
        options.rows = vec![("s".into(), "/nonexistent/x.jsonl".into())];
        let err = plan("t.sql", sql, &options).unwrap_err();
        assert!(matches!(err, RunError::Rows { .. }), "{err}");
        options.rows.clear();
        let ok = plan("t.sql", sql, &options).unwrap();
        assert_eq!(ok.unread.len(), 1, "the print sink is not read");
        let rows: Vec<_> = replay("s", Path::new("f"), "{\"a\":\"x\"}\n\n[1]\n").collect();
        assert!(rows[0].is_ok());
        assert!(
            rows[1]
                .as_ref()
                .unwrap_err()
                .to_string()
                .contains("line 3: not a JSON object")
        );
    }
}
