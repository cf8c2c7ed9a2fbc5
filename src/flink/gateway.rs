//! The SQL Gateway REST client (API v1): a session whose properties are the script's SET
//! options, each statement executed in order with its operation polled (with backoff), the job
//! id read from the INSERT's result, and the session closed (unless kept). A script's INSERTs
//! run as one statement set, so the script is one job, as on the other targets. Answers are
//! typed structs; the HTTP layer is [`super::http`].

use std::time::{Duration, Instant};

use reqwest::Method;
use serde::Deserialize;
use serde_json::{Value, json};

use super::http::{Http, HttpError, Service};
use crate::sql::{Detail, Script, StatementKind};

/// Why the gateway run failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GatewayError {
    /// The HTTP exchange failed or the gateway answered with an error outside any statement.
    #[error(transparent)]
    Http(#[from] HttpError),
    /// A statement failed.
    #[error("the SQL Gateway rejected statement {statement}: {message}")]
    Statement {
        /// The index of the script statement that failed.
        statement: usize,
        /// The gateway's root cause.
        message: String,
    },
    /// An operation did not finish in time.
    #[error("statement {statement} did not finish within {seconds} s")]
    Timeout {
        /// The statement.
        statement: usize,
        /// The limit.
        seconds: u64,
    },
    /// The gateway could not add a jar to the session (`ADD JAR`).
    #[error("the SQL Gateway could not add the jar {jar}: {message}")]
    AddJar {
        /// The jar's path, as the gateway reads it.
        jar: String,
        /// The gateway's root cause.
        message: String,
    },
    /// The gateway ran the script's INSERTs but named no job.
    #[error("the SQL Gateway ran the script but reported no job id")]
    NoJob,
}

impl GatewayError {
    /// How to fix it, when there is a known way.
    pub fn help(&self) -> Option<&'static str> {
        match self {
            Self::Http(err) if err.is_unreachable() => Some(
                "start a local stack with `flinkit stack up`, or point --gateway-url (FLINKIT_GATEWAY_URL) at yours",
            ),
            _ => None,
        }
    }

    /// The statement the gateway rejected, if one is to blame.
    pub fn statement(&self) -> Option<usize> {
        match self {
            Self::Statement { statement, .. } | Self::Timeout { statement, .. } => Some(*statement),
            _ => None,
        }
    }

    /// The HTTP status the gateway answered with, if it answered with an error.
    pub fn http_status(&self) -> Option<u16> {
        match self {
            Self::Http(err) => err.http_status(),
            _ => None,
        }
    }
}

/// One statement as the gateway runs it, with the script statement it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayStatement {
    /// The script statement to blame for errors.
    pub statement: usize,
    /// The SQL sent.
    pub sql: String,
}

/// What the gateway gets for a script: session properties and statements.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GatewayPlan {
    /// `SET` options (later ones win) and `--set` options.
    pub properties: Vec<(String, String)>,
    /// Everything else, in order; the INSERTs last, as one statement set.
    pub statements: Vec<GatewayStatement>,
    /// Jars added to the session (`ADD JAR`) before the statements: connector and user jars,
    /// as paths the gateway can read (the gateway ships them with the job).
    pub jars: Vec<String>,
}

/// Plans `script` for the gateway; `texts` are the statements with variables substituted.
pub fn plan(script: &Script, texts: &[String], extra: &[(String, String)]) -> GatewayPlan {
    let mut plan = GatewayPlan::default();
    let mut inserts: Vec<(usize, String)> = Vec::new();
    for (stmt, text) in script.statements.iter().zip(texts) {
        match (&stmt.kind, &stmt.detail) {
            (StatementKind::Set, Detail::Set(set)) if set.key.is_some() && set.value.is_some() => {
                let key = set.key.clone().unwrap_or_default();
                plan.properties.retain(|(k, _)| *k != key);
                let value =
                    texts_value(text).unwrap_or_else(|| set.value.clone().unwrap_or_default());
                plan.properties.push((key, value));
            }
            (StatementKind::Insert, _) => inserts.push((stmt.index, text.clone())),
            (StatementKind::StatementSet, _) => {
                inserts.extend(set_members(text).into_iter().map(|sql| (stmt.index, sql)));
            }
            _ => plan.statements.push(GatewayStatement {
                statement: stmt.index,
                sql: text.clone(),
            }),
        }
    }
    for (key, value) in extra {
        plan.properties.retain(|(k, _)| k != key);
        plan.properties.push((key.clone(), value.clone()));
    }
    match inserts.len() {
        0 => {}
        1 => {
            let (statement, sql) = inserts.remove(0);
            plan.statements.push(GatewayStatement { statement, sql });
        }
        _ => {
            let statement = inserts[inserts.len() - 1].0;
            let body: Vec<String> = inserts
                .into_iter()
                .map(|(_, sql)| format!("  {sql};"))
                .collect();
            plan.statements.push(GatewayStatement {
                statement,
                sql: format!("EXECUTE STATEMENT SET\nBEGIN\n{}\nEND", body.join("\n")),
            });
        }
    }
    plan
}

/// The value of a substituted `SET 'k' = 'v'` text.
fn texts_value(text: &str) -> Option<String> {
    let script = Script::parse_str(text).ok()?;
    match &script.statements.first()?.detail {
        Detail::Set(set) => set.value.clone(),
        _ => None,
    }
}

/// The INSERTs inside a statement set's text.
fn set_members(text: &str) -> Vec<String> {
    let Ok(script) = Script::parse_str(text) else {
        return Vec::new();
    };
    let Some(stmt) = script.statements.first() else {
        return Vec::new();
    };
    stmt.inserts()
        .iter()
        .map(|i| text[i.span.clone()].to_string())
        .collect()
}

/// A client of one SQL Gateway.
#[derive(Debug, Clone)]
pub struct GatewayClient {
    http: Http,
}

/// What a gateway run produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayRun {
    /// The job id of the INSERT (or statement set), if the script has one.
    pub job_id: Option<String>,
    /// The session handle, when it was kept open.
    pub session: Option<String>,
}

#[derive(Deserialize)]
struct Info {
    version: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Opened {
    session_handle: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Submitted {
    operation_handle: String,
}

/// An operation's status, as the gateway's `…/status` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
enum OperationStatus {
    Initialized,
    Pending,
    Running,
    Finished,
    Canceled,
    Closed,
    Error,
    Timeout,
}

#[derive(Deserialize)]
struct Status {
    status: OperationStatus,
}

#[derive(Deserialize)]
struct Fetched {
    #[serde(rename = "jobID")]
    job_id: Option<String>,
    results: Option<Results>,
}

#[derive(Deserialize)]
struct Results {
    #[serde(default)]
    data: Vec<ResultRow>,
}

#[derive(Deserialize)]
struct ResultRow {
    #[serde(default)]
    fields: Vec<Value>,
}

impl Fetched {
    /// The job id: `jobID` (Flink 1.18+), else an INSERT's one-field result row.
    fn job_id(self) -> Option<String> {
        self.job_id.or_else(|| {
            let row = self.results?.data.into_iter().next()?;
            row.fields
                .into_iter()
                .next()?
                .as_str()
                .filter(|s| s.len() == 32 && s.chars().all(|c| c.is_ascii_hexdigit()))
                .map(str::to_string)
        })
    }
}

/// How long one statement may take.
const STATEMENT_TIMEOUT: Duration = Duration::from_secs(180);

impl GatewayClient {
    /// A client for the gateway at `base` (`http://localhost:8083`).
    pub fn new(base: &str) -> Self {
        Self {
            http: Http::new(Service::Gateway, base, Duration::from_secs(60)),
        }
    }

    /// The base URL.
    pub fn url(&self) -> &str {
        self.http.base()
    }

    /// The gateway's Flink version, checking that it answers.
    pub async fn version(&self) -> Result<String, GatewayError> {
        let info: Info = self.http.get("/v1/info").await?;
        Ok(info.version.unwrap_or_else(|| "unknown".into()))
    }

    /// Runs `plan` in a new session named `name` (the job's `pipeline.name`); closes the
    /// session unless `keep_session`.
    pub async fn run(
        &self,
        plan: &GatewayPlan,
        keep_session: bool,
        name: &str,
    ) -> Result<GatewayRun, GatewayError> {
        let properties: serde_json::Map<String, Value> = plan
            .properties
            .iter()
            .map(|(k, v)| (k.clone(), json!(v)))
            .chain(std::iter::once(("pipeline.name".to_string(), json!(name))))
            .collect();
        let opened: Opened = self
            .http
            .send(
                Method::POST,
                "/v1/sessions",
                Some(&json!({"sessionName": "flinkit", "properties": properties})),
            )
            .await?;
        let session = opened.session_handle;
        let result = self.execute_all(&session, plan).await;
        if !keep_session || result.is_err() {
            let closed = self
                .http
                .call(
                    Method::DELETE,
                    &format!("/v1/sessions/{session}"),
                    None::<&()>,
                )
                .await;
            if let Err(err) = closed {
                tracing::debug!("closing session {session}: {err}");
            }
        }
        let job_id = result?;
        Ok(GatewayRun {
            job_id,
            session: keep_session.then_some(session),
        })
    }

    async fn execute_all(
        &self,
        session: &str,
        plan: &GatewayPlan,
    ) -> Result<Option<String>, GatewayError> {
        for jar in &plan.jars {
            let sql = format!("ADD JAR '{}'", jar.replace('\'', "''"));
            self.execute(session, &sql, 0)
                .await
                .map_err(|err| match err {
                    GatewayError::Statement { message, .. } => GatewayError::AddJar {
                        jar: jar.clone(),
                        message,
                    },
                    other => other,
                })?;
        }
        let mut job_id = None;
        for stmt in &plan.statements {
            if let Some(id) = self.execute(session, &stmt.sql, stmt.statement).await? {
                job_id = Some(id);
            }
        }
        Ok(job_id)
    }

    /// Runs one statement to its end; returns the job id it started, if any.
    async fn execute(
        &self,
        session: &str,
        sql: &str,
        statement: usize,
    ) -> Result<Option<String>, GatewayError> {
        let path = format!("/v1/sessions/{session}/statements");
        let submitted: Submitted = self
            .http
            .send(Method::POST, &path, Some(&json!({ "statement": sql })))
            .await
            .map_err(|err| match err {
                HttpError::Status { message, .. } => GatewayError::Statement { statement, message },
                other => other.into(),
            })?;
        let operation = submitted.operation_handle;
        self.wait(session, &operation, statement).await?;
        let result_path = format!("/v1/sessions/{session}/operations/{operation}/result/0");
        let fetched: Fetched = self.http.get(&result_path).await?;
        let close = format!("/v1/sessions/{session}/operations/{operation}/close");
        if let Err(err) = self.http.call(Method::DELETE, &close, None::<&()>).await {
            tracing::debug!("closing operation {operation}: {err}");
        }
        Ok(fetched.job_id())
    }

    /// Polls an operation with backoff until it finishes; a failure is blamed on `statement`.
    async fn wait(
        &self,
        session: &str,
        operation: &str,
        statement: usize,
    ) -> Result<(), GatewayError> {
        let status_path = format!("/v1/sessions/{session}/operations/{operation}/status");
        let started = Instant::now();
        let mut pause = Duration::from_millis(20);
        loop {
            let status: Status = self.http.get(&status_path).await?;
            match status.status {
                OperationStatus::Finished => return Ok(()),
                OperationStatus::Error
                | OperationStatus::Canceled
                | OperationStatus::Closed
                | OperationStatus::Timeout => {
                    let result_path =
                        format!("/v1/sessions/{session}/operations/{operation}/result/0");
                    let message = match self.http.get::<Value>(&result_path).await {
                        Err(HttpError::Status { message, .. }) => message,
                        Err(other) => other.to_string(),
                        Ok(_) => format!("the operation ended {:?}", status.status),
                    };
                    return Err(GatewayError::Statement { statement, message });
                }
                OperationStatus::Initialized
                | OperationStatus::Pending
                | OperationStatus::Running => {}
            }
            if started.elapsed() > STATEMENT_TIMEOUT {
                return Err(GatewayError::Timeout {
                    statement,
                    seconds: STATEMENT_TIMEOUT.as_secs(),
                });
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(500));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets_become_properties_and_inserts_one_statement_set() {
        let script = Script::parse_str(
            "SET 'parallelism.default' = '2'; SET 'parallelism.default' = '3';\n\
             CREATE TABLE s (a INT) WITH ('connector' = 'datagen');\n\
             INSERT INTO x SELECT a FROM s;\n\
             BEGIN STATEMENT SET; INSERT INTO y SELECT a FROM s; INSERT INTO z SELECT a FROM s; END;\n\
             RESET 'parallelism.default'",
        )
        .unwrap();
        let texts: Vec<String> = script.statements.iter().map(|s| s.text.clone()).collect();
        let plan = plan(
            &script,
            &texts,
            &[("table.exec.state.ttl".into(), "1 h".into())],
        );
        assert_eq!(
            plan.properties,
            [
                ("parallelism.default".to_string(), "3".to_string()),
                ("table.exec.state.ttl".to_string(), "1 h".to_string())
            ]
        );
        let sql: Vec<&str> = plan.statements.iter().map(|s| s.sql.as_str()).collect();
        assert!(sql[0].starts_with("CREATE TABLE s"));
        assert_eq!(sql[1], "RESET 'parallelism.default'");
        assert_eq!(
            sql[2],
            "EXECUTE STATEMENT SET\nBEGIN\n  INSERT INTO x SELECT a FROM s;\n  INSERT INTO y SELECT a FROM s;\n  INSERT INTO z SELECT a FROM s;\nEND"
        );
        assert_eq!(plan.statements[2].statement, 4);
    }
}
