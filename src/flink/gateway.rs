//! The SQL Gateway REST client (API v1): a session whose properties are the script's SET
//! options, each statement executed in order with its operation polled (with backoff), the job
//! id read from the INSERT's result, and the session closed (unless kept). A script's INSERTs
//! run as one statement set, so the script is one job, as on the other targets.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::rest::{agent, error_text, request};
use crate::sql::{Detail, Script, StatementKind};

/// Why the gateway run failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GatewayError {
    /// Nothing answers at the URL.
    #[error("cannot reach the SQL Gateway at {url}")]
    Unreachable {
        /// The base URL.
        url: String,
        /// The transport error.
        source: Box<ureq::Error>,
    },
    /// A statement failed.
    #[error("the SQL Gateway rejected statement {statement}: {message}")]
    Statement {
        /// The index of the script statement that failed.
        statement: usize,
        /// The gateway's root cause.
        message: String,
    },
    /// The gateway answered with an error outside any statement.
    #[error("the SQL Gateway at {url} answered {status}: {message}")]
    Status {
        /// The request URL.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The root cause.
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
}

impl GatewayError {
    /// How to fix it, when there is a known way.
    pub fn help(&self) -> Option<&'static str> {
        match self {
            Self::Unreachable { .. } => Some(
                "start a local stack with `flinkit stack up`, or point --gateway-url (FLINKIT_GATEWAY_URL) at yours",
            ),
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
    base: String,
    agent: ureq::Agent,
}

/// What a gateway run produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayRun {
    /// The job id of the INSERT (or statement set), if the script has one.
    pub job_id: Option<String>,
    /// The session handle, when it was kept open.
    pub session: Option<String>,
}

impl GatewayClient {
    /// A client for the gateway at `base` (`http://localhost:8083`).
    pub fn new(base: &str) -> Self {
        Self {
            base: base.trim_end_matches('/').to_string(),
            agent: agent(Duration::from_secs(60)),
        }
    }

    fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> Result<(u16, Value), GatewayError> {
        let url = format!("{}{path}", self.base);
        let mut resp = request(&self.agent, method, &url, body.as_ref()).map_err(|source| {
            GatewayError::Unreachable {
                url: self.base.clone(),
                source: Box::new(source),
            }
        })?;
        let status = resp.status().as_u16();
        let text = resp.body_mut().read_to_string().unwrap_or_default();
        Ok((
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        ))
    }

    fn ok(&self, path: &str, (status, value): (u16, Value)) -> Result<Value, GatewayError> {
        if status >= 400 {
            return Err(GatewayError::Status {
                url: format!("{}{path}", self.base),
                status,
                message: error_text(&value.to_string()),
            });
        }
        Ok(value)
    }

    /// The gateway's Flink version.
    pub fn version(&self) -> Result<String, GatewayError> {
        let info = self.ok("/v1/info", self.call("GET", "/v1/info", None)?)?;
        Ok(info["version"].as_str().unwrap_or("unknown").to_string())
    }

    /// Runs `plan` in a new session; closes it unless `keep_session`.
    pub fn run(
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
        let opened = self.ok(
            "/v1/sessions",
            self.call(
                "POST",
                "/v1/sessions",
                Some(json!({"sessionName": "flinkit", "properties": properties})),
            )?,
        )?;
        let session = opened["sessionHandle"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let result = self.execute_all(&session, plan);
        if !keep_session || result.is_err() {
            let _ = self.call("DELETE", &format!("/v1/sessions/{session}"), None);
        }
        let job_id = result?;
        Ok(GatewayRun {
            job_id,
            session: keep_session.then_some(session),
        })
    }

    fn execute_all(
        &self,
        session: &str,
        plan: &GatewayPlan,
    ) -> Result<Option<String>, GatewayError> {
        let mut job_id = None;
        for stmt in &plan.statements {
            let path = format!("/v1/sessions/{session}/statements");
            let submitted = self.ok(
                &path,
                self.call("POST", &path, Some(json!({"statement": stmt.sql})))?,
            );
            let submitted = submitted.map_err(|err| match err {
                GatewayError::Status { message, .. } => GatewayError::Statement {
                    statement: stmt.statement,
                    message,
                },
                other => other,
            })?;
            let operation = submitted["operationHandle"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            self.wait(session, &operation, stmt.statement)?;
            let result_path = format!("/v1/sessions/{session}/operations/{operation}/result/0");
            let (_, result) = self.call("GET", &result_path, None)?;
            let id = result["jobID"].as_str().map(str::to_string).or_else(|| {
                result["results"]["data"][0]["fields"][0]
                    .as_str()
                    .filter(|s| s.len() == 32 && s.chars().all(|c| c.is_ascii_hexdigit()))
                    .map(str::to_string)
            });
            if id.is_some() {
                job_id = id;
            }
            let _ = self.call(
                "DELETE",
                &format!("/v1/sessions/{session}/operations/{operation}/close"),
                None,
            );
        }
        Ok(job_id)
    }

    /// Polls an operation with backoff until it finishes; a failure is blamed on `statement`.
    fn wait(&self, session: &str, operation: &str, statement: usize) -> Result<(), GatewayError> {
        let status_path = format!("/v1/sessions/{session}/operations/{operation}/status");
        let started = Instant::now();
        let mut pause = Duration::from_millis(20);
        loop {
            let (_, status) = self.call("GET", &status_path, None)?;
            match status["status"].as_str().unwrap_or_default() {
                "FINISHED" => return Ok(()),
                "ERROR" | "CANCELED" | "CLOSED" | "TIMEOUT" => {
                    let result_path =
                        format!("/v1/sessions/{session}/operations/{operation}/result/0");
                    let (_, result) = self.call("GET", &result_path, None)?;
                    return Err(GatewayError::Statement {
                        statement,
                        message: error_text(&result.to_string()),
                    });
                }
                _ => {}
            }
            if started.elapsed() > Duration::from_secs(180) {
                return Err(GatewayError::Timeout {
                    statement,
                    seconds: 180,
                });
            }
            std::thread::sleep(pause);
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
