//! Running scripts on Flink: the job specification handed to the generic runner jar, the
//! runner's event protocol, and the targets: the embedded local MiniCluster ([`local`]), a
//! running cluster's JobManager REST API ([`rest`]) and the SQL Gateway ([`gateway`]).

pub mod gateway;
pub mod local;
pub mod rest;

use serde::Deserialize;

use crate::sql::{Script, Statement, StatementKind};

/// What the runner jar runs: the statements in order and the job's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobSpec {
    /// Each statement's text, statement sets whole.
    pub statements: Vec<String>,
    /// The Flink job name.
    pub name: String,
}

/// Why a script cannot become a job.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JobError {
    /// Nothing writes to a table.
    #[error("the script has no INSERT, so there is no job to run")]
    NoInsert,
    /// A statement that only shows something cannot be part of a job.
    #[error(
        "statement {index} is a {kind} statement, which shows a result instead of writing a table"
    )]
    NotAJobStatement {
        /// The statement's index.
        index: usize,
        /// Its kind.
        kind: &'static str,
    },
}

impl JobError {
    /// How to fix it.
    pub fn help(&self) -> &'static str {
        match self {
            Self::NoInsert => "add an INSERT INTO <sink table> SELECT … statement",
            Self::NotAJobStatement { .. } => {
                "write the query as INSERT INTO <sink table> SELECT …, or remove the statement"
            }
        }
    }

    /// The offending statement, if one is to blame.
    pub fn statement(&self) -> Option<usize> {
        match self {
            Self::NotAJobStatement { index, .. } => Some(*index),
            Self::NoInsert => None,
        }
    }
}

impl JobSpec {
    /// The job for `script`: `texts` (each statement's text, variables substituted) in order,
    /// named `name` or after the tables it writes.
    pub fn from_script(
        script: &Script,
        texts: &[String],
        name: Option<&str>,
    ) -> Result<Self, JobError> {
        for stmt in &script.statements {
            if matches!(
                stmt.kind,
                StatementKind::Select
                    | StatementKind::Explain
                    | StatementKind::Show
                    | StatementKind::Describe
            ) {
                return Err(JobError::NotAJobStatement {
                    index: stmt.index,
                    kind: stmt.kind.as_str(),
                });
            }
        }
        let mut seen = std::collections::HashSet::new();
        let targets: Vec<&str> = script
            .statements
            .iter()
            .flat_map(writes)
            .filter(|t| seen.insert(*t))
            .collect();
        if targets.is_empty() {
            return Err(JobError::NoInsert);
        }
        Ok(Self {
            statements: texts.to_vec(),
            name: name.map_or_else(
                || format!("flinkit: {}", targets.join(", ")),
                str::to_string,
            ),
        })
    }

    /// The statements as the runner's `--statements-file` JSON array.
    pub fn statements_json(&self) -> String {
        serde_json::Value::from(self.statements.clone()).to_string()
    }
}

/// The tables a statement writes as part of the job.
fn writes(stmt: &Statement) -> Vec<&str> {
    match stmt.kind {
        StatementKind::Insert | StatementKind::StatementSet => {
            stmt.inserts().iter().map(|i| i.target.as_str()).collect()
        }
        StatementKind::CreateTable => stmt
            .create_table()
            .filter(|t| t.query_sources.is_some())
            .map(|t| vec![t.name.as_str()])
            .unwrap_or_default(),
        _ => Vec::new(),
    }
}

/// One event the runner prints on stdout as a JSON line starting with `{"event":`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
#[non_exhaustive]
pub enum RunnerEvent {
    /// The local web UI is up.
    WebUi {
        /// Its address.
        url: String,
    },
    /// The job was submitted.
    Submitted {
        /// Flink's job id.
        job_id: String,
        /// The job name.
        #[serde(default)]
        job_name: Option<String>,
    },
    /// The job changed state.
    State {
        /// Flink's job id.
        job_id: String,
        /// The new state (`RUNNING`, …).
        state: String,
    },
    /// The job reached a terminal state without failing.
    Finished {
        /// Flink's job id.
        job_id: String,
        /// `FINISHED` or `CANCELED`.
        state: String,
    },
    /// The job failed at runtime.
    Failed {
        /// Flink's job id, if the job was submitted.
        #[serde(default)]
        job_id: Option<String>,
        /// The statement to blame, when known.
        #[serde(default)]
        statement: Option<usize>,
        /// The root cause.
        message: String,
    },
    /// The script was rejected before running (bad SQL, bad arguments).
    Error {
        /// `sql`, `args`, …
        #[serde(default)]
        kind: Option<String>,
        /// The statement to blame, when known.
        #[serde(default)]
        statement: Option<usize>,
        /// Flink's message.
        message: String,
    },
}

impl RunnerEvent {
    /// Parses a runner stdout line; `None` for output that is not an event (a `print` sink's
    /// rows, for instance).
    pub fn parse(line: &str) -> Option<Self> {
        if !line.starts_with("{\"event\":") {
            return None;
        }
        serde_json::from_str(line).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_needs_an_insert_and_no_bare_select() {
        let script = Script::parse_str(
            "SET 'a' = 'b'; CREATE TABLE t (x INT) WITH ('connector' = 'datagen'); \
             EXECUTE STATEMENT SET BEGIN INSERT INTO o SELECT x FROM t; INSERT INTO p SELECT x FROM t; END; \
             INSERT INTO o SELECT 1",
        )
        .unwrap();
        let texts: Vec<String> = script.statements.iter().map(|s| s.text.clone()).collect();
        let spec = JobSpec::from_script(&script, &texts, None).unwrap();
        assert_eq!(spec.statements.len(), 4);
        assert_eq!(spec.name, "flinkit: o, p");
        assert!(spec.statements_json().starts_with("[\"SET 'a' = 'b'\","));
        let named = JobSpec::from_script(&script, &texts, Some("mine")).unwrap();
        assert_eq!(named.name, "mine");

        let no_insert = Script::parse_str("CREATE TABLE t (x INT)").unwrap();
        assert_eq!(
            JobSpec::from_script(&no_insert, &[], None),
            Err(JobError::NoInsert)
        );
        let select = Script::parse_str("CREATE TABLE t (x INT); SELECT * FROM t").unwrap();
        assert_eq!(
            JobSpec::from_script(&select, &[], None)
                .unwrap_err()
                .statement(),
            Some(1)
        );
    }

    #[test]
    fn runner_events() {
        assert_eq!(
            RunnerEvent::parse(r#"{"event":"state","job_id":"ab","state":"RUNNING"}"#),
            Some(RunnerEvent::State {
                job_id: "ab".into(),
                state: "RUNNING".into()
            })
        );
        assert_eq!(RunnerEvent::parse("+I[1, a]"), None);
        assert_eq!(
            RunnerEvent::parse(r#"{"event":"error","kind":"sql","statement":2,"message":"m"}"#),
            Some(RunnerEvent::Error {
                kind: Some("sql".into()),
                statement: Some(2),
                message: "m".into()
            })
        );
    }
}
