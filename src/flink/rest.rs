//! The JobManager REST API client: the runner jar uploaded once per cluster (recognised by the
//! content hash in its name), jobs run from it with the statements as program arguments, and the
//! job's life afterwards (state, exceptions, list, cancel, stop with a savepoint). Idempotent
//! requests are retried with backoff on transient failures, within a total deadline.

use std::path::Path;
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// Why a REST call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RestError {
    /// Nothing answers at the URL.
    #[error("cannot reach Flink's REST API at {url}")]
    Unreachable {
        /// The base URL.
        url: String,
        /// The transport error.
        source: Box<ureq::Error>,
    },
    /// Flink answered with an error status.
    #[error("Flink at {url} answered {status}: {message}")]
    Status {
        /// The request URL.
        url: String,
        /// The HTTP status.
        status: u16,
        /// Flink's error text (its root cause, without the Java stack).
        message: String,
    },
    /// The cluster does not accept jar submissions.
    #[error(
        "the Flink cluster at {url} does not accept jar submissions (web.submit.enable: false)"
    )]
    SubmitDisabled {
        /// The base URL.
        url: String,
    },
    /// Flink's answer was not what the API promises.
    #[error("unexpected answer from {url}: {message}")]
    Protocol {
        /// The request URL.
        url: String,
        /// What was wrong.
        message: String,
    },
    /// A local file could not be read.
    #[error("cannot read {}", path.display())]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

impl RestError {
    /// How to fix it, when there is a known way.
    pub fn help(&self) -> Option<&'static str> {
        match self {
            Self::Unreachable { .. } => Some(
                "start a local cluster with `flinkit stack up`, or point --flink-url (FLINKIT_FLINK_URL) at yours",
            ),
            Self::SubmitDisabled { .. } => {
                Some("submit through the SQL Gateway instead: --target gateway --gateway-url URL")
            }
            _ => None,
        }
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
    /// Its state (`RUNNING`, `FINISHED`, …).
    pub state: String,
    /// Start time, milliseconds since the epoch.
    #[serde(rename(deserialize = "start-time"))]
    pub start_time: i64,
}

/// A job's operators with their record counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Vertex {
    /// The vertex id.
    pub id: String,
    /// The operator chain's name.
    pub name: String,
    /// Its state.
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
}

/// A client of one cluster's REST API.
#[derive(Debug, Clone)]
pub struct RestClient {
    base: String,
    agent: ureq::Agent,
    deadline: Duration,
}

const TRANSIENT: [u16; 3] = [502, 503, 504];

/// An HTTP agent for a Flink service: 5 s to connect, `total` per call, error statuses returned
/// as answers (their bodies carry Flink's message); shared by the REST and SQL Gateway clients.
pub(crate) fn agent(total: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_connect(Some(Duration::from_secs(5)))
        .timeout_global(Some(total))
        .http_status_as_error(false)
        .build()
        .into()
}

/// Sends `method` (GET, DELETE, PATCH or POST, with a JSON body when given) to `url`; shared by
/// the REST and SQL Gateway clients.
pub(crate) fn request(
    agent: &ureq::Agent,
    method: &str,
    url: &str,
    body: Option<&Value>,
) -> Result<ureq::http::Response<ureq::Body>, ureq::Error> {
    match (method, body) {
        ("GET", _) => agent.get(url).call(),
        ("DELETE", _) => agent.delete(url).call(),
        ("PATCH", _) => agent.patch(url).send_empty(),
        (_, Some(body)) => agent
            .post(url)
            .header("Content-Type", "application/json")
            .send(body.to_string().as_bytes()),
        (_, None) => agent.post(url).send_empty(),
    }
}

impl RestClient {
    /// A client for the cluster at `base` (`http://localhost:8081`); each call gives up after
    /// `deadline`, retrying transient failures of idempotent requests until then.
    pub fn new(base: &str, deadline: Duration) -> Self {
        Self {
            base: base.trim_end_matches('/').to_string(),
            agent: agent(deadline),
            deadline,
        }
    }

    /// The base URL.
    pub fn url(&self) -> &str {
        &self.base
    }

    fn unreachable(&self, err: ureq::Error) -> RestError {
        RestError::Unreachable {
            url: self.base.clone(),
            source: Box::new(err),
        }
    }

    /// Reads a response: JSON on success, Flink's error text otherwise.
    fn answer(
        &self,
        url: &str,
        mut resp: ureq::http::Response<ureq::Body>,
    ) -> Result<Value, RestError> {
        let status = resp.status().as_u16();
        let text = resp
            .body_mut()
            .with_config()
            .limit(64 << 20)
            .read_to_string()
            .unwrap_or_default();
        if status >= 400 {
            return Err(RestError::Status {
                url: url.to_string(),
                status,
                message: error_text(&text),
            });
        }
        if text.trim().is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_str(&text).map_err(|e| RestError::Protocol {
            url: url.to_string(),
            message: format!("not JSON ({e})"),
        })
    }

    /// GET with retries on connection failures and 502/503/504, backing off, until the deadline.
    fn get(&self, path: &str) -> Result<Value, RestError> {
        let url = format!("{}{path}", self.base);
        let started = Instant::now();
        let mut pause = Duration::from_millis(100);
        loop {
            let result = self.agent.get(&url).call();
            let retry = match &result {
                Err(ureq::Error::Io(_) | ureq::Error::ConnectionFailed) => {
                    started.elapsed() + pause < self.deadline.min(Duration::from_secs(3))
                }
                Ok(resp) => {
                    TRANSIENT.contains(&resp.status().as_u16())
                        && started.elapsed() + pause < self.deadline
                }
                Err(_) => false,
            };
            if retry {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_secs(2));
                continue;
            }
            return match result {
                Ok(resp) => self.answer(&url, resp),
                Err(err) => Err(self.unreachable(err)),
            };
        }
    }

    fn send(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, RestError> {
        let url = format!("{}{path}", self.base);
        match request(&self.agent, method, &url, body.as_ref()) {
            Ok(resp) => self.answer(&url, resp),
            Err(err) => Err(self.unreachable(err)),
        }
    }

    /// The cluster's version, checking that it answers.
    pub fn version(&self) -> Result<String, RestError> {
        let overview = self.get("/overview")?;
        Ok(overview["flink-version"]
            .as_str()
            .unwrap_or("unknown")
            .to_string())
    }

    /// The id of the runner jar on the cluster, uploading it if no jar of the same content is
    /// there yet (the name carries the first 16 hex digits of its SHA-256).
    pub fn ensure_jar(&self, jar: &Path, sha256: &str) -> Result<String, RestError> {
        let config = self.get("/config")?;
        if config["features"]["web-submit"] == Value::Bool(false) {
            return Err(RestError::SubmitDisabled {
                url: self.base.clone(),
            });
        }
        let name = format!("flinkit-runner-{}.jar", &sha256[..16.min(sha256.len())]);
        let listed = self.get("/jars")?;
        if let Some(id) = listed["files"].as_array().and_then(|files| {
            files
                .iter()
                .find(|f| f["name"] == name.as_str())
                .and_then(|f| f["id"].as_str())
        }) {
            tracing::debug!(id, "the runner jar is already on the cluster");
            return Ok(id.to_string());
        }
        let bytes = std::fs::read(jar).map_err(|source| RestError::Io {
            path: jar.to_path_buf(),
            source,
        })?;
        let boundary = format!("flinkit-{}", &sha256[..16.min(sha256.len())]);
        let mut body = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"jarfile\"; filename=\"{name}\"\r\nContent-Type: application/x-java-archive\r\n\r\n"
        )
        .into_bytes();
        body.extend_from_slice(&bytes);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let url = format!("{}/jars/upload", self.base);
        let resp = self
            .agent
            .post(&url)
            .header(
                "Content-Type",
                &format!("multipart/form-data; boundary={boundary}"),
            )
            .send(&body[..])
            .map_err(|e| self.unreachable(e))?;
        let answer = self.answer(&url, resp)?;
        let filename = answer["filename"]
            .as_str()
            .ok_or_else(|| RestError::Protocol {
                url: url.clone(),
                message: format!("no filename in {answer}"),
            })?;
        Ok(filename.rsplit('/').next().unwrap_or(filename).to_string())
    }

    /// Runs the runner jar `jar_id` with `request`; returns the job id.
    pub fn run(&self, jar_id: &str, request: &RunRequest) -> Result<String, RestError> {
        let statements = serde_json::Value::from(request.statements.clone()).to_string();
        let encoded = base64::engine::general_purpose::STANDARD.encode(statements);
        let mut body = json!({
            "entryClass": "dev.flinkit.runner.SqlRunner",
            "programArgsList": ["--statements-b64", encoded, "--job-name", request.job_name],
            "allowNonRestoredState": request.allow_non_restored_state,
        });
        if let Some(p) = request.parallelism {
            body["parallelism"] = json!(p);
        }
        if let Some(savepoint) = &request.savepoint {
            body["savepointPath"] = json!(savepoint);
        }
        let answer = self.send("POST", &format!("/jars/{jar_id}/run"), Some(body))?;
        answer["jobid"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| RestError::Protocol {
                url: format!("{}/jars/{jar_id}/run", self.base),
                message: format!("no jobid in {answer}"),
            })
    }

    /// Every job the cluster knows.
    pub fn jobs(&self) -> Result<Vec<JobSummary>, RestError> {
        let answer = self.get("/jobs/overview")?;
        serde_json::from_value(answer["jobs"].clone()).map_err(|e| RestError::Protocol {
            url: format!("{}/jobs/overview", self.base),
            message: e.to_string(),
        })
    }

    /// A job's state, start time and vertices with their record counts.
    pub fn job(&self, id: &str) -> Result<JobDetails, RestError> {
        let answer = self.get(&format!("/jobs/{id}"))?;
        let summary = JobSummary {
            id: answer["jid"].as_str().unwrap_or(id).to_string(),
            name: answer["name"].as_str().unwrap_or_default().to_string(),
            state: answer["state"].as_str().unwrap_or_default().to_string(),
            start_time: answer["start-time"].as_i64().unwrap_or_default(),
        };
        let mut vertices = Vec::new();
        for v in answer["vertices"].as_array().into_iter().flatten() {
            let vid = v["id"].as_str().unwrap_or_default().to_string();
            let metrics = self
                .get(&format!(
                    "/jobs/{id}/vertices/{vid}/subtasks/metrics?get=numRecordsIn,numRecordsOut&agg=sum"
                ))
                .unwrap_or(Value::Null);
            let metric = |name: &str| {
                metrics
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find(|m| m["id"] == name)
                    .and_then(|m| m["sum"].as_f64())
                    .map_or(0, |n| n as u64)
            };
            vertices.push(Vertex {
                name: v["name"].as_str().unwrap_or_default().to_string(),
                status: v["status"].as_str().unwrap_or_default().to_string(),
                records_in: metric("numRecordsIn"),
                records_out: metric("numRecordsOut"),
                id: vid,
            });
        }
        Ok(JobDetails { summary, vertices })
    }

    /// The root cause of a job's failure, if it has one.
    pub fn root_cause(&self, id: &str) -> Result<Option<String>, RestError> {
        let answer = self.get(&format!("/jobs/{id}/exceptions?maxExceptions=1"))?;
        let text = answer["exceptionHistory"]["entries"][0]["stacktrace"]
            .as_str()
            .or_else(|| answer["root-exception"].as_str());
        Ok(text.map(error_text))
    }

    /// Cancels a job.
    pub fn cancel(&self, id: &str) -> Result<(), RestError> {
        self.send("PATCH", &format!("/jobs/{id}?mode=cancel"), None)
            .map(|_| ())
    }

    /// Stops a job with a savepoint in `directory`; waits for it and returns its path.
    pub fn stop_with_savepoint(&self, id: &str, directory: &str) -> Result<String, RestError> {
        let answer = self.send(
            "POST",
            &format!("/jobs/{id}/stop"),
            Some(json!({"targetDirectory": directory, "drain": false})),
        )?;
        let request = answer["request-id"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let url = format!("/jobs/{id}/savepoints/{request}");
        let started = Instant::now();
        loop {
            let status = self.get(&url)?;
            if status["status"]["id"] == "COMPLETED" {
                if let Some(location) = status["operation"]["location"].as_str() {
                    return Ok(location.to_string());
                }
                return Err(RestError::Status {
                    url: format!("{}{url}", self.base),
                    status: 500,
                    message: error_text(
                        status["operation"]["failure-cause"]["stack-trace"]
                            .as_str()
                            .unwrap_or("the savepoint failed"),
                    ),
                });
            }
            if started.elapsed() > Duration::from_secs(120) {
                return Err(RestError::Protocol {
                    url: format!("{}{url}", self.base),
                    message: "the savepoint did not complete in 120 s".into(),
                });
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// Polls the job until it has ended (`CANCELED`, `FINISHED`, `FAILED`) and returns that
    /// state; at `timeout`, returns the state it is in.
    pub fn wait_ended(&self, id: &str, timeout: Duration) -> Result<String, RestError> {
        let started = Instant::now();
        loop {
            let state = self.get(&format!("/jobs/{id}"))?["state"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            if matches!(
                state.as_str(),
                "FINISHED" | "FAILED" | "CANCELED" | "SUSPENDED"
            ) || started.elapsed() > timeout
            {
                return Ok(state);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Polls the job until all its tasks run (`RUNNING`) or it has ended (its final state); at
    /// `timeout`, returns the job's state then (a job waiting for task slots stays `CREATED`).
    /// It reads `/jobs/overview`, which is live: `/jobs/:id` serves an execution graph cached for
    /// `web.refresh-interval` (3 s), stale right after submission.
    pub fn wait_running(&self, id: &str, timeout: Duration) -> Result<String, RestError> {
        let started = Instant::now();
        loop {
            let overview = self.get("/jobs/overview")?;
            let job = overview["jobs"]
                .as_array()
                .and_then(|jobs| jobs.iter().find(|j| j["jid"] == id))
                .cloned()
                .unwrap_or(Value::Null);
            let state = job["state"].as_str().unwrap_or("INITIALIZING").to_string();
            let tasks = &job["tasks"];
            let count = |key: &str| tasks[key].as_u64().unwrap_or_default();
            let tasks_running =
                count("total") > 0 && count("running") + count("finished") == count("total");
            match state.as_str() {
                "FINISHED" | "FAILED" | "CANCELED" | "SUSPENDED" => return Ok(state),
                "RUNNING" if tasks_running => return Ok(state),
                _ if started.elapsed() > timeout => {
                    return Ok(if state == "RUNNING" {
                        "CREATED".into()
                    } else {
                        state
                    });
                }
                _ => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    }
}

/// The useful part of a Flink error: the deepest `Caused by:` message (or the first line),
/// without the Java stack frames.
pub fn error_text(raw: &str) -> String {
    let text = serde_json::from_str::<Value>(raw)
        .ok()
        .and_then(|v| {
            v["errors"].as_array().map(|errors| {
                errors
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join("\n")
            })
        })
        .unwrap_or_else(|| raw.to_string());
    let mut message = text.lines().next().unwrap_or_default().trim().to_string();
    for line in text.lines() {
        if let Some(cause) = line.trim().strip_prefix("Caused by: ") {
            message = cause.to_string();
        }
    }
    message
        .split_once(": ")
        .filter(|(class, _)| class.contains('.') && !class.contains(' '))
        .map_or(message.clone(), |(_, rest)| rest.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_text_keeps_the_root_cause_only() {
        let raw = r#"{"errors":["org.apache.flink.runtime.rest.handler.RestHandlerException: Could not execute application.\n\tat org.apache.flink.Foo.bar(Foo.java:1)\nCaused by: org.apache.flink.client.program.ProgramInvocationException: The main method caused an error: statement 2: Column 'x' not found in any table\n\tat org.apache...\nCaused by: java.lang.IllegalStateException: statement 2: Column 'x' not found in any table\n\tat dev.flinkit..."]}"#;
        assert_eq!(
            error_text(raw),
            "statement 2: Column 'x' not found in any table"
        );
        assert_eq!(error_text("plain"), "plain");
    }
}
