//! The tutorials as runnable demos: each tutorial's SQL (Kafka and Pulsar), records and expected
//! tables are bundled into the crate, and [`run`] plays one against a cluster — fresh topics,
//! records produced, the job submitted through the JobManager REST API, the sink's materialized
//! table awaited until it is what the tutorial says, and the job cancelled whatever happens.
//! The job is launched with [`crate::launch::launch`], the same call a user's program makes.
//!
//! The pieces are usable on their own: [`rewrite`] points a script's tables at other topics and
//! brokers through the statement model's option spans (never a text search), [`table`] reads a
//! table's topic, endpoint and formats, and [`produce()`] sends JSON lines to its topic (through
//! [`crate::bridge::client`], as the sink is read with [`UpsertView::await_rows`]).
//!
//! ```no_run
//! use std::sync::atomic::AtomicBool;
//! use std::time::Duration;
//! use flinkit::bridge::Broker;
//! use flinkit::demo::{self, DemoOptions, Tutorial};
//!
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! let tutorial = Tutorial::named("user-count")?;
//! let options = DemoOptions::local(Broker::Kafka, Duration::from_secs(120));
//! let cache = flinkit::provision::Cache::from_env()?;
//! let report = demo::run(&tutorial, &options, &cache, &AtomicBool::new(false), &mut |_| {}).await?;
//! print!("{}", report.steps[0].text);
//! # Ok(()) }
//! ```

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde::Deserialize;

use crate::bridge::client::TableProducer;
use crate::bridge::table::{TableError, TableSpec};
pub use crate::bridge::upsert::Row;
use crate::bridge::upsert::UpsertView;
use crate::bridge::{self, BridgeError, Broker};
use crate::flink::JobState;
use crate::launch::{self, Event, Job, LaunchError, Options};
use crate::provision::{Cache, Progress};
use crate::sql::{Script, SqlError};
use crate::vars::{self, Vars};

/// One tutorial's files, bundled at build time.
struct Bundle {
    name: &'static str,
    manifest: &'static str,
    kafka: &'static str,
    pulsar: &'static str,
    files: &'static [(&'static str, &'static str)],
}

macro_rules! bundle {
    ($name:literal, [$($file:literal),* $(,)?]) => {
        Bundle {
            name: $name,
            manifest: include_str!(concat!("../sql/", $name, "/tutorial.json")),
            kafka: include_str!(concat!("../sql/", $name, "/kafka.sql")),
            pulsar: include_str!(concat!("../sql/", $name, "/pulsar.sql")),
            files: &[$(($file, include_str!(concat!("../sql/", $name, "/", $file)))),*],
        }
    };
}

const BUNDLES: &[Bundle] = &[
    bundle!("user-count", ["users.jsonl"]),
    bundle!(
        "favorite-color-cheese",
        [
            "users.jsonl",
            "user_favorite_color.jsonl",
            "user_favorite_cheese.jsonl"
        ]
    ),
    bundle!("user-delete", ["users.jsonl", "delete.jsonl"]),
];

/// The tutorial `flinkit demo` runs when none is named.
pub const DEFAULT_TUTORIAL: &str = "user-count";

/// A tutorial: a job, the records fed to it in steps, and the table expected after each step.
#[derive(Debug, Clone)]
pub struct Tutorial {
    /// Its name, which is also its folder under `sql/` (`user-count`).
    pub name: &'static str,
    /// What it shows, in one line.
    pub title: String,
    /// The table the job writes, whose materialized rows are checked.
    pub sink: String,
    /// The steps in order.
    pub steps: Vec<TutorialStep>,
    kafka: &'static str,
    pulsar: &'static str,
    files: &'static [(&'static str, &'static str)],
}

/// One step of a tutorial: records to produce, then the sink table they lead to.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TutorialStep {
    /// What the step's records are, for people.
    pub note: String,
    /// The records, each file into its table's topic, in order.
    pub produce: Vec<Feed>,
    /// The sink's rows once the job has read them (in any order).
    pub expect: Vec<Row>,
}

/// A file of JSON lines produced into a table's topic.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Feed {
    /// The table whose topic receives the records.
    pub table: String,
    /// The file beside the tutorial's SQL (`users.jsonl`).
    pub file: String,
    /// The lines are envelopes `{"key", "value"}` (a `null` value is a tombstone).
    #[serde(default)]
    pub envelope: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Manifest {
    title: String,
    sink: String,
    steps: Vec<TutorialStep>,
}

impl Tutorial {
    /// Every bundled tutorial, in the order of the documentation.
    pub fn all() -> Result<Vec<Self>, DemoError> {
        BUNDLES.iter().map(Self::from_bundle).collect()
    }

    /// The names of the bundled tutorials.
    pub fn names() -> Vec<&'static str> {
        BUNDLES.iter().map(|b| b.name).collect()
    }

    /// The tutorial called `name`.
    pub fn named(name: &str) -> Result<Self, DemoError> {
        let bundle =
            BUNDLES
                .iter()
                .find(|b| b.name == name)
                .ok_or_else(|| DemoError::UnknownTutorial {
                    name: name.to_string(),
                    available: Self::names().join(", "),
                })?;
        Self::from_bundle(bundle)
    }

    fn from_bundle(bundle: &Bundle) -> Result<Self, DemoError> {
        let manifest: Manifest =
            serde_json::from_str(bundle.manifest).map_err(|e| DemoError::Manifest {
                tutorial: bundle.name.to_string(),
                message: e.to_string(),
            })?;
        let tutorial = Self {
            name: bundle.name,
            title: manifest.title,
            sink: manifest.sink,
            steps: manifest.steps,
            kafka: bundle.kafka,
            pulsar: bundle.pulsar,
            files: bundle.files,
        };
        for feed in tutorial.steps.iter().flat_map(|s| &s.produce) {
            if tutorial.records(feed).is_none() {
                return Err(DemoError::Manifest {
                    tutorial: bundle.name.to_string(),
                    message: format!("{} is not bundled", feed.file),
                });
            }
        }
        Ok(tutorial)
    }

    /// The tutorial's SQL for `broker`, as in `sql/<name>/<broker>.sql`: the tutorials' topics
    /// are on Kafka or Pulsar.
    pub fn sql(&self, broker: Broker) -> Result<&'static str, DemoError> {
        match broker {
            Broker::Kafka => Ok(self.kafka),
            Broker::Pulsar => Ok(self.pulsar),
            Broker::Jdbc => Err(DemoError::Manifest {
                tutorial: self.name.to_string(),
                message: "its topics are on Kafka or Pulsar, not in a database".into(),
            }),
        }
    }

    /// The folder of its files in the repository (`sql/user-count`).
    pub fn dir(&self) -> String {
        format!("sql/{}", self.name)
    }

    /// The JSON lines of a feed's file.
    pub fn records(&self, feed: &Feed) -> Option<&'static str> {
        self.files
            .iter()
            .find(|(name, _)| *name == feed.file)
            .map(|(_, text)| *text)
    }

    /// The table expected at the end: the last step's.
    pub fn expected(&self) -> &[Row] {
        self.steps.last().map_or(&[], |s| s.expect.as_slice())
    }
}

/// What [`rewrite`] changes in a script.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rewrite {
    /// Appended to every Kafka and Pulsar topic (`-demo-1a2b3c4d`); empty keeps the topics.
    pub topic_suffix: String,
    /// Replaces `properties.bootstrap.servers` of Kafka tables.
    pub kafka: Option<String>,
    /// Replaces `service-url` of Pulsar tables.
    pub pulsar: Option<String>,
}

/// The script with its Kafka and Pulsar tables' topics suffixed and endpoints replaced, as
/// [`Rewrite`] says. Each option value is replaced at its span in the statement model, so
/// comments, strings and every other option stay as written.
pub fn rewrite(sql: &str, rewrite: &Rewrite) -> Result<String, DemoError> {
    let script = Script::parse_str(sql)?;
    let text = script.sources[0].text();
    let mut edits: Vec<(std::ops::Range<usize>, String)> = Vec::new();
    for table in script.statements.iter().filter_map(|s| s.create_table()) {
        let (topic_keys, separator, endpoint_key, endpoint) = match table.connector() {
            Some("kafka" | "upsert-kafka") => (
                &["topic"][..],
                ';',
                "properties.bootstrap.servers",
                &rewrite.kafka,
            ),
            // Apache's Pulsar connector reads 'topics' as a list separated by `;`.
            Some("pulsar" | "upsert-pulsar") => (
                &["topics", "topic"][..],
                ';',
                "service-url",
                &rewrite.pulsar,
            ),
            _ => continue,
        };
        for option in &table.options {
            let value = if topic_keys.contains(&option.key.as_str()) {
                if rewrite.topic_suffix.is_empty() {
                    continue;
                }
                option
                    .value
                    .split(separator)
                    .map(|t| match t.trim() {
                        "" => String::new(),
                        topic => format!("{topic}{}", rewrite.topic_suffix),
                    })
                    .collect::<Vec<_>>()
                    .join(&separator.to_string())
            } else if option.key == endpoint_key
                && let Some(endpoint) = endpoint
            {
                endpoint.clone()
            } else {
                continue;
            };
            edits.push((
                option.value_span.clone(),
                format!("'{}'", value.replace('\'', "''")),
            ));
        }
    }
    edits.sort_by_key(|(span, _)| std::cmp::Reverse(span.start));
    let mut out = text.to_string();
    for (span, literal) in edits {
        out.replace_range(span, &literal);
    }
    Ok(out)
}

/// The table `name` of a script, with its topic, endpoint, key and formats.
pub fn table(script: &Script, name: &str) -> Result<TableSpec, DemoError> {
    let values = vars::substitute(script, &Vars::none());
    Ok(TableSpec::from_script(script, &values, name)?)
}

/// Sends JSON lines (`records`) to the table's topic — rows, or envelopes with `envelope` —
/// checking each against the table first; returns how many the broker acknowledged, and fails
/// unless every record was.
pub async fn produce(
    table: &TableSpec,
    records: &str,
    envelope: bool,
    timeout: Duration,
) -> Result<usize, DemoError> {
    let producer = TableProducer::open(table, timeout).await?;
    let records = producer.encode_lines(records, envelope)?;
    Ok(producer.producer().send_all(records).await?)
}

/// How to run a demo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoOptions {
    /// Which broker's variant of the tutorial.
    pub broker: Broker,
    /// The JobManager REST address.
    pub flink_url: String,
    /// Kafka bootstrap servers the job and flinkit use.
    pub kafka: String,
    /// The Pulsar service URL the job and flinkit use.
    pub pulsar: String,
    /// Appended to every topic, so each run starts from empty topics.
    pub topic_suffix: String,
    /// How long each step may take to show its expected table (and the job to start running).
    pub timeout: Duration,
}

impl DemoOptions {
    /// The local stack's default endpoints, with a topic suffix unique to this run.
    pub fn local(broker: Broker, timeout: Duration) -> Self {
        Self {
            broker,
            flink_url: "http://localhost:8081".into(),
            kafka: bridge::Endpoint::local_kafka().address,
            pulsar: bridge::Endpoint::local_pulsar().address,
            topic_suffix: format!("-demo-{}", run_id()),
            timeout,
        }
    }
}

/// A short id unique to this run (8 hex digits from the clock and the process id).
pub fn run_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let mixed = (nanos as u64) ^ (u64::from(std::process::id()) << 32);
    format!("{:08x}", mixed.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32)
}

/// What a demo is doing, for a progress display.
#[derive(Debug)]
#[non_exhaustive]
pub enum DemoEvent<'a> {
    /// The runner jar is being provisioned.
    Provision(Progress),
    /// Records were sent to a table's topic.
    Produced {
        /// The table.
        table: &'a str,
        /// Its topic.
        topic: &'a str,
        /// The file the records came from.
        file: &'a str,
        /// How many were acknowledged.
        sent: u64,
    },
    /// The job is being submitted.
    Submitting {
        /// The JobManager REST address.
        flink_url: &'a str,
    },
    /// The job runs.
    Running {
        /// Its id.
        job_id: &'a str,
        /// Its name.
        name: &'a str,
    },
    /// Waiting for the sink to show a step's expected table.
    Waiting {
        /// The sink table.
        table: &'a str,
        /// The 0-based step.
        step: usize,
    },
    /// A step's table is as expected.
    Matched {
        /// The 0-based step.
        step: usize,
        /// How long the wait took.
        took: Duration,
    },
    /// The job was cancelled.
    Cancelled {
        /// Its id.
        job_id: &'a str,
        /// Its final state.
        state: &'a str,
    },
}

/// What a demo run produced.
#[derive(Debug, Clone)]
pub struct DemoReport {
    /// The tutorial.
    pub tutorial: &'static str,
    /// The broker.
    pub broker: Broker,
    /// The job's id.
    pub job_id: String,
    /// The job's name.
    pub job_name: String,
    /// The job's state after cancelling (`CANCELED`).
    pub final_state: String,
    /// The SQL that ran (topics rewritten).
    pub sql: String,
    /// Each step's outcome.
    pub steps: Vec<StepReport>,
}

/// One step's outcome.
#[derive(Debug, Clone)]
pub struct StepReport {
    /// The step's note.
    pub note: String,
    /// The files produced, each with its table, topic and records sent.
    pub produced: Vec<Produced>,
    /// The sink's rows, ordered by key.
    pub rows: Vec<Row>,
    /// The same rows as a text table.
    pub text: String,
    /// How long the job took to show them, after the records were sent.
    pub waited: Duration,
}

/// Records sent from one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Produced {
    /// The file.
    pub file: String,
    /// The table.
    pub table: String,
    /// The topic.
    pub topic: String,
    /// Records acknowledged.
    pub sent: u64,
}

/// Runs `tutorial` on the cluster at `options.flink_url`: rewrites its topics with the run's
/// suffix, produces each step's records, launches the job after the first step's records,
/// waits for each step's expected table, and cancels the job — also when anything fails or
/// `stop` becomes true.
pub async fn run(
    tutorial: &Tutorial,
    options: &DemoOptions,
    cache: &Cache,
    stop: &AtomicBool,
    events: &mut dyn FnMut(DemoEvent<'_>),
) -> Result<DemoReport, DemoError> {
    let sql = rewrite(
        tutorial.sql(options.broker)?,
        &Rewrite {
            topic_suffix: options.topic_suffix.clone(),
            kafka: Some(options.kafka.clone()),
            pulsar: Some(options.pulsar.clone()),
        },
    )?;
    let script = Script::parse_str(&sql)?;
    let sink = table(&script, &tutorial.sink)?;
    let connect = Duration::from_secs(10);
    let mut job: Option<Job> = None;
    let mut steps = Vec::new();
    for (index, step) in tutorial.steps.iter().enumerate() {
        let mut produced = Vec::new();
        for feed in &step.produce {
            let spec = table(&script, &feed.table)?;
            let records = tutorial.records(feed).unwrap_or_default();
            if stop.load(Ordering::SeqCst) {
                return Err(DemoError::Interrupted);
            }
            let sent = produce(&spec, records, feed.envelope, connect).await? as u64;
            let topic = spec.topics.first().cloned().unwrap_or_default();
            events(DemoEvent::Produced {
                table: &feed.table,
                topic: &topic,
                file: &feed.file,
                sent,
            });
            produced.push(Produced {
                file: feed.file.clone(),
                table: feed.table.clone(),
                topic,
                sent,
            });
        }
        let job = match job.as_mut() {
            Some(job) => job,
            None => {
                events(DemoEvent::Submitting {
                    flink_url: &options.flink_url,
                });
                let name = format!("flinkit demo: {}{}", tutorial.name, options.topic_suffix);
                let launched = start(&script, &name, options, cache, stop, events).await?;
                events(DemoEvent::Running {
                    job_id: launched.id(),
                    name: launched.name(),
                });
                job.insert(launched)
            }
        };
        events(DemoEvent::Waiting {
            table: &tutorial.sink,
            step: index,
        });
        let started = Instant::now();
        let view = await_table(job, &sink, &step.expect, options.timeout, stop).await?;
        events(DemoEvent::Matched {
            step: index,
            took: started.elapsed(),
        });
        steps.push(StepReport {
            note: step.note.clone(),
            produced,
            rows: view.rows().into_iter().cloned().collect(),
            text: view.to_text(),
            waited: started.elapsed(),
        });
    }
    let job = job.ok_or_else(|| DemoError::Manifest {
        tutorial: tutorial.name.to_string(),
        message: "it has no steps".into(),
    })?;
    let (job_id, job_name) = (job.id().to_string(), job.name().to_string());
    let final_state = job.cancel().await?;
    events(DemoEvent::Cancelled {
        job_id: &job_id,
        state: final_state.as_str(),
    });
    Ok(DemoReport {
        tutorial: tutorial.name,
        broker: options.broker,
        job_id,
        job_name,
        final_state: final_state.to_string(),
        sql,
        steps,
    })
}

/// Launches the tutorial's job through the REST API and waits until all its tasks run, handing
/// the launch's provisioning progress to `events` as it happens. A job that fails or does not
/// run in time is cancelled before the error returns (its handle cancels on drop).
async fn start(
    script: &Script,
    name: &str,
    options: &DemoOptions,
    cache: &Cache,
    stop: &AtomicBool,
    events: &mut dyn FnMut(DemoEvent<'_>),
) -> Result<Job, DemoError> {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let launch_options = Options::rest(&options.flink_url)
        .name(name)
        .cache(cache.clone())
        .on_event(move |event| {
            if let Event::Provision(progress) = event {
                let _ = tx.send(progress.clone());
            }
        });
    let launching = launch::launch(script, &launch_options);
    tokio::pin!(launching);
    let job = loop {
        tokio::select! {
            job = &mut launching => break job?.cancel_on_drop(true),
            Some(progress) = rx.recv() => events(DemoEvent::Provision(progress)),
        }
    };
    while let Ok(progress) = rx.try_recv() {
        events(DemoEvent::Provision(progress));
    }
    let started = Instant::now();
    loop {
        if stop.load(Ordering::SeqCst) {
            return Err(DemoError::Interrupted);
        }
        let state = job.wait_running(Duration::from_secs(1)).await?;
        match state {
            JobState::Running => return Ok(job),
            s if s.is_terminal() => {
                return Err(DemoError::NotRunning {
                    id: job.id().to_string(),
                    state,
                });
            }
            _ if started.elapsed() >= options.timeout => {
                return Err(DemoError::NotRunning {
                    id: job.id().to_string(),
                    state,
                });
            }
            _ => {}
        }
    }
}

/// Follows the sink until its latest row per key is `expected`, the job fails, `stop` is set
/// or `timeout` passes (then the error names the missing and unexpected rows). A sink whose
/// topic the job has not created yet is opened again until then.
async fn await_table(
    job: &Job,
    sink: &TableSpec,
    expected: &[Row],
    timeout: Duration,
    stop: &AtomicBool,
) -> Result<UpsertView, DemoError> {
    let deadline = Instant::now() + timeout;
    let watch = async {
        loop {
            if stop.load(Ordering::SeqCst) {
                return DemoError::Interrupted;
            }
            if let Err(err) = job.wait_running(Duration::ZERO).await {
                return err.into();
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    };
    tokio::select! {
        view = UpsertView::await_rows(sink, expected, deadline) => Ok(view?),
        err = watch => Err(err),
    }
}

/// Why a demo failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DemoError {
    /// No tutorial has that name.
    #[error("no tutorial named `{name}` (there are {available})")]
    UnknownTutorial {
        /// The name asked for.
        name: String,
        /// The tutorials there are.
        available: String,
    },
    /// A bundled tutorial's `tutorial.json` is wrong.
    #[error("tutorial {tutorial}: {message}")]
    Manifest {
        /// The tutorial.
        tutorial: String,
        /// What is wrong.
        message: String,
    },
    /// The SQL could not be split.
    #[error(transparent)]
    Sql(#[from] SqlError),
    /// A table cannot be fed or read by the bridge.
    #[error(transparent)]
    Table(#[from] TableError),
    /// Producing or consuming failed.
    #[error(transparent)]
    Bridge(#[from] BridgeError),
    /// The job could not be launched, failed, or could not be watched or cancelled.
    #[error(transparent)]
    Launch(#[from] LaunchError),
    /// The job ended or did not start running in time.
    #[error("job {id} is {state}, not RUNNING")]
    NotRunning {
        /// The job id.
        id: String,
        /// Its state.
        state: JobState,
    },
    /// Stopped by the user (Ctrl-C).
    #[error("interrupted")]
    Interrupted,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bridge::input::{Encoder, Shape};

    #[test]
    fn every_bundled_tutorial_parses_and_names_its_tables() {
        let all = Tutorial::all().unwrap();
        assert_eq!(
            all.iter().map(|t| t.name).collect::<Vec<_>>(),
            ["user-count", "favorite-color-cheese", "user-delete"]
        );
        for tutorial in &all {
            for broker in [Broker::Kafka, Broker::Pulsar] {
                let script = Script::parse_str(tutorial.sql(broker).unwrap()).unwrap();
                let sink = table(&script, &tutorial.sink).unwrap();
                assert_eq!(sink.endpoint.broker, broker);
                for feed in tutorial.steps.iter().flat_map(|s| &s.produce) {
                    let spec = table(&script, &feed.table).unwrap();
                    let records = tutorial.records(feed).unwrap();
                    let encoder = Encoder {
                        table: Some(spec),
                        shape: if feed.envelope {
                            Shape::Envelope
                        } else {
                            Shape::Value
                        },
                        ..Encoder::default()
                    };
                    for (i, line) in records.lines().enumerate() {
                        encoder.line(i as u64 + 1, line.as_bytes()).unwrap();
                    }
                }
            }
        }
        assert!(matches!(
            Tutorial::named("nope"),
            Err(DemoError::UnknownTutorial { .. })
        ));
    }

    #[test]
    fn rewrite_suffixes_topics_and_replaces_endpoints_only_in_options() {
        let sql = "-- 'topic' = 'users' stays in this comment\n\
            CREATE TABLE a (x STRING) WITH ('connector' = 'kafka', 'topic' = 'a;b', \
            'properties.bootstrap.servers' = 'localhost:9092', 'format' = 'json');\n\
            CREATE TABLE p (x STRING) WITH ('connector' = 'upsert-pulsar', \
            'topics' = 'persistent://public/default/p', 'service-url' = 'pulsar://localhost:6650');\n\
            CREATE TABLE g (x STRING) WITH ('connector' = 'datagen', 'topic' = 'not-a-topic');\n\
            INSERT INTO a SELECT 'it''s' FROM g";
        let out = rewrite(
            sql,
            &Rewrite {
                topic_suffix: "-t1".into(),
                kafka: Some("broker:19092".into()),
                pulsar: None,
            },
        )
        .unwrap();
        assert!(out.starts_with("-- 'topic' = 'users' stays in this comment\n"));
        assert!(out.contains("'topic' = 'a-t1;b-t1'"), "{out}");
        assert!(out.contains("'properties.bootstrap.servers' = 'broker:19092'"));
        assert!(out.contains("'topics' = 'persistent://public/default/p-t1'"));
        assert!(out.contains("'service-url' = 'pulsar://localhost:6650'"));
        assert!(out.contains("'topic' = 'not-a-topic'"));
        assert!(out.ends_with("INSERT INTO a SELECT 'it''s' FROM g"));
        let unchanged = rewrite(sql, &Rewrite::default()).unwrap();
        assert_eq!(unchanged, sql);
    }

    #[test]
    fn run_ids_are_short_hex() {
        let id = run_id();
        assert_eq!(id.len(), 8);
        assert!(id.chars().all(|c| c.is_ascii_hexdigit()));
    }
}
