//! The JobManager REST API client: the runner jar uploaded once per cluster (recognised by the
//! content hash in its name), jobs run from it with the statements as program arguments, and the
//! job's life afterwards (state, metrics, exceptions, list, cancel, stop with a savepoint). Every
//! answer is deserialized into a typed struct; the HTTP layer is [`super::http`].

use std::collections::HashSet;
use std::path::Path;
use std::time::{Duration, Instant};

use base64::Engine as _;
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::JobState;
use super::http::{Http, HttpError, Service, error_text};

/// Why a REST call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RestError {
    /// The HTTP exchange failed or Flink answered with an error.
    #[error(transparent)]
    Http(#[from] HttpError),
    /// The cluster does not accept jar submissions.
    #[error(
        "the Flink cluster at {url} does not accept jar submissions (web.submit.enable: false)"
    )]
    SubmitDisabled {
        /// The base URL.
        url: String,
    },
    /// A savepoint failed or did not complete in time.
    #[error("the savepoint of job {job_id} failed: {message}")]
    Savepoint {
        /// The job.
        job_id: String,
        /// Flink's root cause, or that it timed out.
        message: String,
    },
    /// A local file could not be read.
    #[error("cannot read {}", path.display())]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

impl RestError {
    /// How to fix it, when there is a known way.
    pub fn help(&self) -> Option<&'static str> {
        match self {
            Self::Http(err) if err.is_unreachable() => Some(
                "start a local cluster with `flinkit stack up`, or point --flink-url (FLINKIT_FLINK_URL) at yours",
            ),
            Self::SubmitDisabled { .. } => {
                Some("submit through the SQL Gateway instead: --target gateway --gateway-url URL")
            }
            _ => None,
        }
    }

    /// The HTTP status Flink answered with, if it answered with an error.
    pub fn http_status(&self) -> Option<u16> {
        match self {
            Self::Http(err) => err.http_status(),
            _ => None,
        }
    }

    /// Whether nothing answered at the address.
    pub fn is_unreachable(&self) -> bool {
        matches!(self, Self::Http(err) if err.is_unreachable())
    }
}

/// Records counted by one of a job's tasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
pub struct TaskCounts {
    /// All tasks of the job.
    #[serde(default)]
    pub total: u64,
    /// Tasks running.
    #[serde(default)]
    pub running: u64,
    /// Tasks finished.
    #[serde(default)]
    pub finished: u64,
}

impl TaskCounts {
    /// Whether every task runs (or has already finished).
    pub fn all_running(&self) -> bool {
        self.total > 0 && self.running + self.finished == self.total
    }
}

/// A job as `/jobs/overview` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct JobSummary {
    /// The job id.
    #[serde(rename(deserialize = "jid"))]
    pub id: String,
    /// The job name.
    pub name: String,
    /// Its state.
    pub state: JobState,
    /// Start time, milliseconds since the epoch.
    #[serde(rename(deserialize = "start-time"))]
    pub start_time: i64,
    /// Its tasks by state.
    #[serde(default, skip_serializing)]
    pub tasks: TaskCounts,
}

/// A job's operator chain with its record counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Vertex {
    /// The vertex id.
    pub id: String,
    /// The operator chain's name.
    pub name: String,
    /// Its state (`RUNNING`, …).
    pub status: String,
    /// Records in, summed over subtasks (from the `numRecordsIn` metric).
    pub records_in: u64,
    /// Records out, summed over subtasks (from the `numRecordsOut` metric).
    pub records_out: u64,
}

/// A job in detail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JobDetails {
    /// The job id, name, state and start time.
    #[serde(flatten)]
    pub summary: JobSummary,
    /// Its vertices.
    pub vertices: Vec<Vertex>,
}

/// What a job read and wrote so far, summed over subtasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct JobIo {
    /// Records its sources emitted (the `numRecordsOut` of its `Source: …` operators).
    pub records_in: u64,
    /// Records its sinks received: the `numRecordsIn` of the sink operators (`Sink: …`,
    /// `…Writer`) of the vertices no other vertex reads, else those vertices' own
    /// `numRecordsIn`.
    pub records_out: u64,
}

/// How hard one of a job's vertices works, from its subtasks' metrics.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct VertexLoad {
    /// Records in, summed over subtasks (`numRecordsIn`).
    pub records_in: u64,
    /// Records out, summed over subtasks (`numRecordsOut`).
    pub records_out: u64,
    /// The busiest subtask's busy time, milliseconds per second (`busyTimeMsPerSecond`, 0–1000).
    pub busy_ms_per_s: f64,
    /// The most back-pressured subtask's time waiting on its outputs, milliseconds per second
    /// (`backPressuredTimeMsPerSecond`, 0–1000).
    pub backpressured_ms_per_s: f64,
}

/// A checkpoint or savepoint of a job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Checkpoint {
    /// Its id.
    pub id: u64,
    /// When it completed (or, for the one restored, when the job restored it), milliseconds
    /// since the epoch.
    pub time: i64,
    /// Whether it is a savepoint.
    pub is_savepoint: bool,
    /// Where it is stored, when it is retained.
    pub path: Option<String>,
    /// How long it took from trigger to the last acknowledgement, in milliseconds (0 for the
    /// one restored).
    pub duration_ms: u64,
    /// Its state size in bytes (0 for the one restored).
    pub size_bytes: u64,
}

/// A job's checkpoints: how many completed, the latest one, and the one it started from.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Checkpoints {
    /// Checkpoints completed since the job started.
    pub completed: u64,
    /// Checkpoints that failed since the job started.
    pub failed: u64,
    /// The latest completed checkpoint.
    pub latest: Option<Checkpoint>,
    /// The checkpoint or savepoint the job restored its state from.
    pub restored: Option<Checkpoint>,
}

/// How to run the runner jar.
#[derive(Debug, Clone, Default)]
pub struct RunRequest {
    /// Each statement's text.
    pub statements: Vec<String>,
    /// The job name.
    pub job_name: String,
    /// The job's parallelism, if not the cluster's default.
    pub parallelism: Option<u32>,
    /// Restore from this savepoint.
    pub savepoint: Option<String>,
    /// Skip savepoint state that maps to no operator.
    pub allow_non_restored_state: bool,
    /// The job's Flink configuration (the runner's `--conf KEY=VALUE`).
    pub conf: Vec<(String, String)>,
}

/// Why Flink refused to run the runner jar, read from its answer once: the statement the
/// runner blamed (it prefixes its message with `statement N: `) and the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The statement the runner blamed, if any.
    pub statement: Option<usize>,
    /// The root cause, without the `statement N: ` prefix.
    pub message: String,
}

impl Refusal {
    /// Reads a refusal out of a failed `/jars/:id/run`; `None` for other errors.
    pub fn of(err: &RestError) -> Option<Self> {
        let message = match err {
            RestError::Http(HttpError::Status { message, .. }) => message,
            _ => return None,
        };
        let blamed = message
            .strip_prefix("statement ")
            .and_then(|rest| rest.split_once(": "))
            .and_then(|(n, msg)| n.parse::<usize>().ok().map(|n| (n, msg)));
        Some(match blamed {
            Some((index, msg)) => Self {
                statement: Some(index),
                message: msg.to_string(),
            },
            None => Self {
                statement: None,
                message: message.clone(),
            },
        })
    }

    /// Whether Flink refused a savepoint because the new script lacks some of its operators.
    pub fn is_unmapped_state(&self) -> bool {
        super::refuses_unmapped_state(&self.message)
    }
}

#[derive(Deserialize)]
struct Overview {
    #[serde(rename = "flink-version")]
    flink_version: Option<String>,
}

#[derive(Deserialize)]
struct Config {
    #[serde(default)]
    features: Features,
}

#[derive(Deserialize)]
struct Features {
    #[serde(rename = "web-submit", default = "yes")]
    web_submit: bool,
}

impl Default for Features {
    fn default() -> Self {
        Self { web_submit: true }
    }
}

fn yes() -> bool {
    true
}

#[derive(Deserialize)]
struct JarList {
    #[serde(default)]
    files: Vec<JarFile>,
}

#[derive(Deserialize)]
struct JarFile {
    id: String,
    name: String,
}

#[derive(Deserialize)]
struct Uploaded {
    filename: String,
}

#[derive(Deserialize)]
struct Ran {
    jobid: String,
}

#[derive(Deserialize)]
struct Jobs {
    jobs: Vec<JobSummary>,
}

#[derive(Deserialize)]
struct JobAnswer {
    jid: String,
    name: String,
    state: JobState,
    #[serde(rename = "start-time")]
    start_time: i64,
    #[serde(default)]
    vertices: Vec<VertexAnswer>,
    plan: Option<PlanAnswer>,
}

#[derive(Deserialize)]
struct PlanAnswer {
    #[serde(default)]
    nodes: Vec<PlanNode>,
}

#[derive(Deserialize)]
struct PlanNode {
    #[serde(default)]
    inputs: Vec<PlanInput>,
}

#[derive(Deserialize)]
struct PlanInput {
    id: String,
}

#[derive(Deserialize)]
struct MetricName {
    id: String,
}

#[derive(Deserialize)]
struct CheckpointsAnswer {
    #[serde(default)]
    counts: CheckpointCounts,
    latest: Option<LatestCheckpoints>,
}

#[derive(Deserialize, Default)]
struct CheckpointCounts {
    #[serde(default)]
    completed: u64,
    #[serde(default)]
    failed: u64,
}

#[derive(Deserialize)]
struct LatestCheckpoints {
    completed: Option<CompletedCheckpoint>,
    restored: Option<RestoredCheckpoint>,
}

#[derive(Deserialize)]
struct CompletedCheckpoint {
    id: u64,
    latest_ack_timestamp: i64,
    #[serde(default)]
    is_savepoint: bool,
    external_path: Option<String>,
    #[serde(default)]
    end_to_end_duration: u64,
    #[serde(default)]
    state_size: u64,
}

#[derive(Deserialize)]
struct RestoredCheckpoint {
    id: u64,
    restore_timestamp: i64,
    #[serde(default)]
    is_savepoint: bool,
    external_path: Option<String>,
}

#[derive(Deserialize)]
struct VertexAnswer {
    id: String,
    name: String,
    status: String,
}

#[derive(Deserialize)]
struct Metric {
    id: String,
    #[serde(default, deserialize_with = "measured")]
    sum: Option<f64>,
    #[serde(default, deserialize_with = "measured")]
    max: Option<f64>,
}

/// An aggregated metric's value: Flink writes a number, or the string `"NaN"` (or
/// `"Infinity"`) while a subtask has not measured it yet (a source's busy time, for one),
/// which is no value.
fn measured<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<f64>, D::Error> {
    Ok(match serde_json::Value::deserialize(deserializer)? {
        serde_json::Value::Number(n) => n.as_f64(),
        serde_json::Value::String(text) => text.parse::<f64>().ok(),
        _ => None,
    }
    .filter(|n| n.is_finite()))
}

#[derive(Deserialize)]
struct JobMetric {
    id: String,
    value: String,
}

#[derive(Deserialize)]
struct Exceptions {
    #[serde(rename = "root-exception")]
    root_exception: Option<String>,
    #[serde(rename = "exceptionHistory")]
    history: Option<History>,
}

#[derive(Deserialize)]
struct History {
    #[serde(default)]
    entries: Vec<HistoryEntry>,
}

#[derive(Deserialize)]
struct HistoryEntry {
    stacktrace: Option<String>,
}

#[derive(Deserialize)]
struct Triggered {
    #[serde(rename = "request-id")]
    request_id: String,
}

#[derive(Deserialize)]
struct SavepointStatus {
    status: OperationStatus,
    operation: Option<SavepointOperation>,
}

#[derive(Deserialize)]
struct OperationStatus {
    id: String,
}

#[derive(Deserialize)]
struct SavepointOperation {
    location: Option<String>,
    #[serde(rename = "failure-cause")]
    failure_cause: Option<FailureCause>,
}

#[derive(Deserialize)]
struct FailureCause {
    #[serde(rename = "stack-trace")]
    stack_trace: Option<String>,
}

/// A client of one cluster's REST API.
#[derive(Debug, Clone)]
pub struct RestClient {
    http: Http,
}

/// How long the cached exception history may lag behind the live job state.
const EXCEPTIONS_CATCH_UP: Duration = Duration::from_secs(5);

/// How long a savepoint may take.
const SAVEPOINT_TIMEOUT: Duration = Duration::from_secs(120);

impl RestClient {
    /// A client for the cluster at `base` (`http://localhost:8081`); each call gives up after
    /// `deadline`, retrying transient failures of idempotent requests until then.
    pub fn new(base: &str, deadline: Duration) -> Self {
        Self {
            http: Http::new(Service::Rest, base, deadline),
        }
    }

    /// The base URL.
    pub fn url(&self) -> &str {
        self.http.base()
    }

    /// The cluster's version, checking that it answers.
    pub async fn version(&self) -> Result<String, RestError> {
        let overview: Overview = self.http.get("/overview").await?;
        Ok(overview.flink_version.unwrap_or_else(|| "unknown".into()))
    }

    /// The id of the runner jar on the cluster, uploading it if no jar of the same content is
    /// there yet (the name carries the first 16 hex digits of its SHA-256).
    pub async fn ensure_jar(&self, jar: &Path, sha256: &str) -> Result<String, RestError> {
        let (config, listed): (Config, JarList) =
            tokio::try_join!(self.http.get("/config"), self.http.get("/jars"))?;
        if !config.features.web_submit {
            return Err(RestError::SubmitDisabled {
                url: self.url().to_string(),
            });
        }
        let name = format!("flinkit-runner-{}.jar", &sha256[..16.min(sha256.len())]);
        if let Some(file) = listed.files.into_iter().find(|f| f.name == name) {
            tracing::debug!(id = file.id, "the runner jar is already on the cluster");
            return Ok(file.id);
        }
        let bytes = tokio::fs::read(jar).await.map_err(|source| RestError::Io {
            path: jar.to_path_buf(),
            source,
        })?;
        let uploaded: Uploaded = self
            .http
            .upload("/jars/upload", "jarfile", name, bytes)
            .await?;
        let filename = uploaded.filename;
        Ok(filename.rsplit('/').next().unwrap_or(&filename).to_string())
    }

    /// Runs the runner jar `jar_id` with `request`; returns the job id.
    pub async fn run(&self, jar_id: &str, request: &RunRequest) -> Result<String, RestError> {
        let statements = serde_json::Value::from(request.statements.clone()).to_string();
        let encoded = base64::engine::general_purpose::STANDARD.encode(statements);
        let mut args = vec![
            "--statements-b64".to_string(),
            encoded,
            "--job-name".to_string(),
            request.job_name.clone(),
        ];
        for (key, value) in &request.conf {
            args.push("--conf".into());
            args.push(format!("{key}={value}"));
        }
        let mut body = json!({
            "entryClass": "dev.flinkit.runner.SqlRunner",
            "programArgsList": args,
            "allowNonRestoredState": request.allow_non_restored_state,
        });
        if let Some(p) = request.parallelism {
            body["parallelism"] = json!(p);
        }
        if let Some(savepoint) = &request.savepoint {
            body["savepointPath"] = json!(savepoint);
        }
        let ran: Ran = self
            .http
            .send(Method::POST, &format!("/jars/{jar_id}/run"), Some(&body))
            .await?;
        Ok(ran.jobid)
    }

    /// Every job the cluster knows, live (`/jobs/overview`).
    pub async fn jobs(&self) -> Result<Vec<JobSummary>, RestError> {
        let jobs: Jobs = self.http.get("/jobs/overview").await?;
        Ok(jobs.jobs)
    }

    /// One job as `/jobs/overview` lists it (live, with its task counts); `None` if the
    /// cluster does not know it.
    pub async fn summary(&self, id: &str) -> Result<Option<JobSummary>, RestError> {
        Ok(self.jobs().await?.into_iter().find(|j| j.id == id))
    }

    /// A job's state, start time and vertices with their record counts. The state is the live
    /// one of `/jobs/overview` (`/jobs/:id` is cached for `web.refresh-interval`).
    pub async fn job(&self, id: &str) -> Result<JobDetails, RestError> {
        let path = format!("/jobs/{id}");
        let (answer, live): (JobAnswer, Option<JobSummary>) =
            tokio::try_join!(async { Ok(self.http.get(&path).await?) }, self.summary(id))?;
        let mut vertices = Vec::with_capacity(answer.vertices.len());
        for v in answer.vertices {
            let metrics: Vec<Metric> = self
                .http
                .get(&format!(
                    "/jobs/{id}/vertices/{}/subtasks/metrics?get=numRecordsIn,numRecordsOut&agg=sum",
                    v.id
                ))
                .await
                .unwrap_or_default();
            let metric = |name: &str| {
                metrics
                    .iter()
                    .find(|m| m.id == name)
                    .and_then(|m| m.sum)
                    .map_or(0, |n| n as u64)
            };
            vertices.push(Vertex {
                records_in: metric("numRecordsIn"),
                records_out: metric("numRecordsOut"),
                id: v.id,
                name: v.name,
                status: v.status,
            });
        }
        Ok(JobDetails {
            summary: JobSummary {
                id: answer.jid,
                name: answer.name,
                state: live.map_or(answer.state, |j| j.state),
                start_time: answer.start_time,
                tasks: TaskCounts::default(),
            },
            vertices,
        })
    }

    /// The records a job's sources emitted and its sinks received (see [`JobIo`]).
    pub async fn io(&self, id: &str) -> Result<JobIo, RestError> {
        let answer: JobAnswer = self.http.get(&format!("/jobs/{id}")).await?;
        let read: HashSet<String> = answer
            .plan
            .map(|p| p.nodes)
            .unwrap_or_default()
            .into_iter()
            .flat_map(|n| n.inputs)
            .map(|i| i.id)
            .collect();
        let mut io = JobIo::default();
        for vertex in &answer.vertices {
            let base = format!("/jobs/{id}/vertices/{}/subtasks/metrics", vertex.id);
            let names: Vec<MetricName> = self.http.get(&base).await?;
            let sink_vertex = !read.contains(&vertex.id);
            let wanted: Vec<&str> = names
                .iter()
                .map(|m| m.id.as_str())
                .filter(|n| {
                    let (operator, metric) = n.rsplit_once('.').unwrap_or(("", n));
                    (metric == "numRecordsOut" && operator.starts_with("Source__"))
                        || (sink_vertex && metric == "numRecordsIn" && is_sink(operator))
                })
                .collect();
            let mut query = wanted.join(",");
            if sink_vertex {
                query = if query.is_empty() {
                    "numRecordsIn".into()
                } else {
                    format!("{query},numRecordsIn")
                };
            }
            if query.is_empty() {
                continue;
            }
            let metrics: Vec<Metric> = self
                .http
                .get(&format!("{base}?get={query}&agg=sum"))
                .await?;
            let mut sinks: Option<u64> = None;
            let mut task_in = 0;
            for m in &metrics {
                let n = m.sum.map_or(0, |n| n as u64);
                match m.id.rsplit_once('.') {
                    Some((_, "numRecordsOut")) => io.records_in += n,
                    Some(_) => sinks = Some(sinks.unwrap_or(0).max(n)),
                    None => task_in = n,
                }
            }
            if sink_vertex {
                io.records_out += sinks.unwrap_or(task_in);
            }
        }
        Ok(io)
    }

    /// One vertex's record counts, busy time and back pressure (see [`VertexLoad`]).
    pub async fn vertex_load(&self, id: &str, vertex: &str) -> Result<VertexLoad, RestError> {
        let metrics: Vec<Metric> = self
            .http
            .get(&format!(
                "/jobs/{id}/vertices/{vertex}/subtasks/metrics?get=numRecordsIn,numRecordsOut,\
                 busyTimeMsPerSecond,backPressuredTimeMsPerSecond&agg=sum,max"
            ))
            .await?;
        let find = |name: &str| metrics.iter().find(|m| m.id == name);
        let sum = |name: &str| find(name).and_then(|m| m.sum).map_or(0, |n| n as u64);
        let max = |name: &str| find(name).and_then(|m| m.max).unwrap_or(0.0);
        Ok(VertexLoad {
            records_in: sum("numRecordsIn"),
            records_out: sum("numRecordsOut"),
            busy_ms_per_s: max("busyTimeMsPerSecond"),
            backpressured_ms_per_s: max("backPressuredTimeMsPerSecond"),
        })
    }

    /// How many times the job restarted (its `numRestarts` metric; 0 before it reports one).
    pub async fn restarts(&self, id: &str) -> Result<u64, RestError> {
        let metrics: Vec<JobMetric> = self
            .http
            .get(&format!("/jobs/{id}/metrics?get=numRestarts"))
            .await?;
        Ok(metrics
            .iter()
            .find(|m| m.id == "numRestarts")
            .and_then(|m| m.value.parse::<f64>().ok())
            .map_or(0, |n| n as u64))
    }

    /// A job's checkpoints (none completed for a job without checkpointing).
    pub async fn checkpoints(&self, id: &str) -> Result<Checkpoints, RestError> {
        let answer: CheckpointsAnswer = self.http.get(&format!("/jobs/{id}/checkpoints")).await?;
        let latest = answer.latest;
        Ok(Checkpoints {
            completed: answer.counts.completed,
            failed: answer.counts.failed,
            latest: latest
                .as_ref()
                .and_then(|l| l.completed.as_ref())
                .map(|c| Checkpoint {
                    id: c.id,
                    time: c.latest_ack_timestamp,
                    is_savepoint: c.is_savepoint,
                    path: c.external_path.clone(),
                    duration_ms: c.end_to_end_duration,
                    size_bytes: c.state_size,
                }),
            restored: latest.and_then(|l| l.restored).map(|r| Checkpoint {
                id: r.id,
                time: r.restore_timestamp,
                is_savepoint: r.is_savepoint,
                path: r.external_path,
                duration_ms: 0,
                size_bytes: 0,
            }),
        })
    }

    /// The root cause of a job's failure, if it has one (without the Java stack). The
    /// exception history is served from the execution graph cached for `web.refresh-interval`,
    /// so for a job that the live overview already shows failing it is read again until the
    /// failure appears there (at most 5 s).
    pub async fn root_cause(&self, id: &str) -> Result<Option<String>, RestError> {
        let started = Instant::now();
        loop {
            let answer: Exceptions = self
                .http
                .get(&format!("/jobs/{id}/exceptions?maxExceptions=1"))
                .await?;
            let latest = answer
                .history
                .and_then(|h| h.entries.into_iter().next())
                .and_then(|e| e.stacktrace);
            let cause = latest.or(answer.root_exception).map(|t| error_text(&t));
            if cause.is_some() || started.elapsed() > EXCEPTIONS_CATCH_UP {
                return Ok(cause);
            }
            let failing = self.summary(id).await?.is_some_and(|j| {
                matches!(
                    j.state,
                    JobState::Failed | JobState::Failing | JobState::Restarting
                )
            });
            if !failing {
                return Ok(None);
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Cancels a job.
    pub async fn cancel(&self, id: &str) -> Result<(), RestError> {
        self.http
            .call(
                Method::PATCH,
                &format!("/jobs/{id}?mode=cancel"),
                None::<&()>,
            )
            .await?;
        Ok(())
    }

    /// Stops a job with a savepoint in `directory`; waits for it and returns its path.
    pub async fn stop_with_savepoint(
        &self,
        id: &str,
        directory: &str,
    ) -> Result<String, RestError> {
        let triggered: Triggered = self
            .http
            .send(
                Method::POST,
                &format!("/jobs/{id}/stop"),
                Some(&json!({"targetDirectory": directory, "drain": false})),
            )
            .await?;
        let path = format!("/jobs/{id}/savepoints/{}", triggered.request_id);
        let started = Instant::now();
        loop {
            let status: SavepointStatus = self.http.get(&path).await?;
            if status.status.id == "COMPLETED" {
                let operation = status.operation;
                if let Some(location) = operation.as_ref().and_then(|o| o.location.clone()) {
                    return Ok(location);
                }
                let cause = operation
                    .and_then(|o| o.failure_cause)
                    .and_then(|c| c.stack_trace)
                    .map_or_else(|| "the savepoint failed".to_string(), |t| error_text(&t));
                return Err(RestError::Savepoint {
                    job_id: id.to_string(),
                    message: cause,
                });
            }
            if started.elapsed() > SAVEPOINT_TIMEOUT {
                return Err(RestError::Savepoint {
                    job_id: id.to_string(),
                    message: format!("it did not complete in {} s", SAVEPOINT_TIMEOUT.as_secs()),
                });
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Polls the job until it has ended (`CANCELED`, `FINISHED`, `FAILED`, `SUSPENDED`) and
    /// returns that state; at `timeout`, returns the state it is in.
    pub async fn wait_ended(&self, id: &str, timeout: Duration) -> Result<JobState, RestError> {
        let started = Instant::now();
        loop {
            let state = self
                .summary(id)
                .await?
                .map_or(JobState::Initializing, |j| j.state);
            if state.is_terminal() || started.elapsed() > timeout {
                return Ok(state);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Polls the job until all its tasks run (`RUNNING`) or it has ended (its final state); at
    /// `timeout`, returns the job's state then, `CREATED` while tasks wait for slots. It reads
    /// `/jobs/overview`, which is live: `/jobs/:id` serves an execution graph cached for
    /// `web.refresh-interval` (3 s), stale right after submission.
    pub async fn wait_running(&self, id: &str, timeout: Duration) -> Result<JobState, RestError> {
        let started = Instant::now();
        loop {
            let job = self.summary(id).await?;
            let (state, tasks) = job.map_or((JobState::Initializing, TaskCounts::default()), |j| {
                (j.state, j.tasks)
            });
            match state {
                s if s.is_terminal() => return Ok(s),
                JobState::Running if tasks.all_running() => return Ok(state),
                _ if started.elapsed() > timeout => {
                    return Ok(if state == JobState::Running {
                        JobState::Created
                    } else {
                        state
                    });
                }
                _ => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }
}

/// Whether an operator's metric name is a sink's: `Sink__t[5]`, `t[5]__Writer`, `end__Writer`,
/// `StreamingFileWriter` (the file sink's writer, ahead of its committer).
fn is_sink(operator: &str) -> bool {
    operator.starts_with("Sink__") || operator.ends_with("Writer")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_names_the_blamed_statement() {
        let err = RestError::Http(HttpError::Status {
            service: Service::Rest,
            url: "u".into(),
            status: 500,
            message: "statement 2: Column 'x' not found in any table".into(),
        });
        assert_eq!(
            Refusal::of(&err),
            Some(Refusal {
                statement: Some(2),
                message: "Column 'x' not found in any table".into()
            })
        );
        assert_eq!(err.http_status(), Some(500));
    }

    #[test]
    fn sink_operators_are_told_from_their_metric_names() {
        for sink in [
            "Sink__fact[7]",
            "enriched_orders[113]__Writer",
            "end__Writer",
            "StreamingFileWriter",
        ] {
            assert!(is_sink(sink), "{sink}");
        }
        for other in ["Source__orders[104]", "Calc[107]", "SinkMaterializer[113]"] {
            assert!(!is_sink(other), "{other}");
        }
    }

    #[test]
    fn checkpoints_deserialize_with_and_without_a_completed_one() {
        let answer: CheckpointsAnswer = serde_json::from_str(
            r#"{"counts":{"restored":1,"total":4,"in_progress":0,"completed":3,"failed":1},
            "latest":{"completed":{"id":3,"latest_ack_timestamp":1700,"is_savepoint":false,
            "external_path":"file:/cp/chk-3","end_to_end_duration":42,"state_size":2048},
            "savepoint":null,"failed":null,
            "restored":{"id":1,"restore_timestamp":1500,"is_savepoint":true,
            "external_path":"file:/sp/savepoint-1"}}}"#,
        )
        .unwrap();
        assert_eq!((answer.counts.completed, answer.counts.failed), (3, 1));
        let latest = answer.latest.unwrap();
        let completed = latest.completed.unwrap();
        assert_eq!(completed.id, 3);
        assert_eq!(
            (completed.end_to_end_duration, completed.state_size),
            (42, 2048)
        );
        assert!(latest.restored.unwrap().is_savepoint);
        let none: CheckpointsAnswer = serde_json::from_str(
            r#"{"counts":{"completed":0},"latest":{"completed":null,"restored":null}}"#,
        )
        .unwrap();
        assert!(none.latest.unwrap().completed.is_none());
    }

    #[test]
    fn vertex_and_job_metrics_deserialize_with_sums_and_maxima() {
        let metrics: Vec<Metric> = serde_json::from_str(
            r#"[{"id":"numRecordsIn","min":1.0,"max":3.0,"sum":4.0},
            {"id":"busyTimeMsPerSecond","max":250.5}]"#,
        )
        .unwrap();
        assert_eq!((metrics[0].sum, metrics[0].max), (Some(4.0), Some(3.0)));
        assert_eq!((metrics[1].sum, metrics[1].max), (None, Some(250.5)));
        // What Flink 1.20 answered for a datagen source's vertex a second after it started.
        let unmeasured: Vec<Metric> = serde_json::from_str(
            r#"[{"id":"numRecordsIn","max":0.0,"sum":0.0},{"id":"numRecordsOut","max":20.0,"sum":20.0},
            {"id":"busyTimeMsPerSecond","max":"NaN","sum":"NaN"},
            {"id":"backPressuredTimeMsPerSecond","max":0.0,"sum":0.0}]"#,
        )
        .unwrap();
        assert_eq!(unmeasured[1].sum, Some(20.0));
        assert_eq!((unmeasured[2].sum, unmeasured[2].max), (None, None));
        let restarts: Vec<JobMetric> =
            serde_json::from_str(r#"[{"id":"numRestarts","value":"2"}]"#).unwrap();
        assert_eq!(restarts[0].value, "2");
    }

    #[test]
    fn answers_deserialize_into_typed_structs() {
        let jobs: Jobs = serde_json::from_str(
            r#"{"jobs":[{"jid":"ab","name":"n","state":"RUNNING","start-time":5,"end-time":-1,
            "tasks":{"running":2,"total":2,"finished":0,"canceling":0}}]}"#,
        )
        .unwrap();
        assert_eq!(jobs.jobs[0].state, JobState::Running);
        assert!(jobs.jobs[0].tasks.all_running());
        assert_eq!(
            serde_json::to_value(&jobs.jobs[0]).unwrap(),
            json!({"id": "ab", "name": "n", "state": "RUNNING", "start_time": 5})
        );
    }
}
