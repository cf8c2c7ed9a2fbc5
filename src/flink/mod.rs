//! Running scripts on Flink: the job specification handed to the generic runner jar, the
//! runner's event protocol, a job's [`JobState`], and the targets: the embedded local
//! MiniCluster ([`local`]), a running cluster's JobManager REST API ([`rest`]) and the SQL
//! Gateway ([`gateway`]), both over one HTTP client ([`http`]). Programs launch through
//! [`crate::launch`], which drives these.

pub mod archive;
pub mod gateway;
pub mod http;
pub mod line;
pub mod local;
pub mod rest;
pub mod session;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::sql::{Detail, Script, Statement, StatementKind};

/// The job configuration that restores a job from `savepoint`, skipping the state no operator
/// of the new job reads when `allow_non_restored`, under Flink 1.20's keys. Not the deprecated
/// `execution.savepoint.*` ones: the SQL Gateway fills each session with the current keys'
/// defaults (`execution.state-recovery.ignore-unclaimed-state: false`), and a current key wins
/// over its deprecated one, so a deprecated key set by a session is silently overridden.
pub fn restore_conf(savepoint: &str, allow_non_restored: bool) -> Vec<(String, String)> {
    vec![
        ("execution.state-recovery.path".into(), savepoint.into()),
        (
            "execution.state-recovery.ignore-unclaimed-state".into(),
            allow_non_restored.to_string(),
        ),
    ]
}

/// Whether Flink's `message` refuses a savepoint because the new job lacks operators whose
/// state it holds (`Cannot map checkpoint/savepoint state … --allowNonRestoredState`).
pub fn refuses_unmapped_state(message: &str) -> bool {
    message.contains("allowNonRestoredState")
        || message.contains("Cannot map checkpoint/savepoint state")
}

/// What the runner jar runs: the statements in order and the job's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobSpec {
    /// Each statement's text, statement sets whole.
    pub statements: Vec<String>,
    /// The Flink job name.
    pub name: String,
    /// The runtime mode the script sets last (`SET 'execution.runtime-mode' = 'batch'`), or
    /// `None` when it sets none or resets it.
    pub runtime_mode: Option<String>,
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
    /// named `name`, else by the script's last `SET 'pipeline.name'` (unless a `RESET` undid it),
    /// else after the tables it writes.
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
        let mut runtime_mode = None;
        let mut set_name = None;
        for stmt in &script.statements {
            match (&stmt.kind, &stmt.detail) {
                (StatementKind::Set, Detail::Set(set))
                    if set.key.as_deref() == Some(local::RUNTIME_MODE) =>
                {
                    runtime_mode.clone_from(&set.value);
                }
                (StatementKind::Set, Detail::Set(set))
                    if set.key.as_deref() == Some(PIPELINE_NAME) =>
                {
                    set_name = texts.get(stmt.index).and_then(|text| set_value(text));
                }
                (StatementKind::Reset, Detail::Set(set)) => {
                    if set.key.is_none() || set.key.as_deref() == Some(local::RUNTIME_MODE) {
                        runtime_mode = None;
                    }
                    if set.key.is_none() || set.key.as_deref() == Some(PIPELINE_NAME) {
                        set_name = None;
                    }
                }
                _ => {}
            }
        }
        // Flink takes `SET key = value` and `RESET key` unquoted as well; the runner parses only
        // the quoted form, so an unquoted one is written quoted for every target alike.
        let statements = texts
            .iter()
            .enumerate()
            .map(|(i, text)| {
                match script.statements.get(i).map(|s| s.kind) {
                    Some(StatementKind::Set | StatementKind::Reset) => quoted_set(text),
                    _ => None,
                }
                .unwrap_or_else(|| text.clone())
            })
            .collect();
        Ok(Self {
            runtime_mode,
            statements,
            name: name
                .map(str::to_string)
                .or(set_name)
                .unwrap_or_else(|| format!("flinkit: {}", targets.join(", "))),
        })
    }

    /// The statements as the runner's `--statements-file` JSON array.
    pub fn statements_json(&self) -> String {
        serde_json::Value::from(self.statements.clone()).to_string()
    }
}

/// The option that names a job; a script's `SET` of it names the job unless a name is given.
const PIPELINE_NAME: &str = "pipeline.name";

/// The value a `SET 'key' = 'value'` statement's text (variables substituted) sets, if any.
fn set_value(text: &str) -> Option<String> {
    let script = Script::parse_str(text).ok()?;
    match &script.statements.first()?.detail {
        Detail::Set(set) => set.value.clone().filter(|v| !v.trim().is_empty()),
        _ => None,
    }
}

/// An unquoted `SET key = value` or `RESET key` written quoted (`SET 'key' = 'value'`), as
/// Flink reads it: its SQL client and Gateway match `SET\s+([^'\s]+)\s*=\s*('[^']*'|[^;\s]+)`
/// and `RESET\s+([^'\s]+)` (`SetOperationParseStrategy`, `ResetOperationParseStrategy`)
/// before the SQL parser. `None` for any other text (a quoted one is passed on as written).
/// Hand-written: one pattern does not warrant a regex dependency.
fn quoted_set(text: &str) -> Option<String> {
    let text = text.trim();
    let text = text.strip_suffix(';').unwrap_or(text).trim_end();
    let word = |prefix: &str| {
        text.get(..prefix.len())
            .filter(|head| head.eq_ignore_ascii_case(prefix))
            .map(|_| &text[prefix.len()..])
            .filter(|rest| rest.starts_with(char::is_whitespace))
            .map(str::trim)
    };
    let bare = |s: &str| !s.is_empty() && !s.contains(|c: char| c == '\'' || c.is_whitespace());
    if let Some(key) = word("RESET") {
        return bare(key).then(|| format!("RESET '{key}'"));
    }
    let (key, value) = word("SET")?.split_once('=')?;
    let (key, value) = (key.trim(), value.trim());
    let value = match value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')) {
        Some(quoted) if !quoted.contains('\'') => quoted,
        _ if bare(value) && !value.contains(';') => value,
        _ => return None,
    };
    bare(key).then(|| format!("SET '{key}' = '{value}'"))
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

/// A Flink job's state, as the REST API and the runner report it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[non_exhaustive]
pub enum JobState {
    /// Submitted, not yet scheduled.
    Initializing,
    /// Scheduled; tasks are waiting for slots.
    Created,
    /// Running (on the REST target: every task running, once [`rest::RestClient::wait_running`]
    /// said so).
    Running,
    /// Failing; it will restart or fail.
    Failing,
    /// Failed for good.
    Failed,
    /// Being cancelled.
    Cancelling,
    /// Cancelled.
    Canceled,
    /// Finished (a bounded job, or one stopped with a savepoint).
    Finished,
    /// Restarting after a failure.
    Restarting,
    /// Suspended (the JobManager lost leadership).
    Suspended,
    /// Being recovered by a new JobManager.
    Reconciling,
}

impl JobState {
    /// Every state, in the order Flink's `JobStatus` lists them.
    pub const ALL: [Self; 11] = [
        Self::Initializing,
        Self::Created,
        Self::Running,
        Self::Failing,
        Self::Failed,
        Self::Cancelling,
        Self::Canceled,
        Self::Finished,
        Self::Restarting,
        Self::Suspended,
        Self::Reconciling,
    ];

    /// The state as Flink spells it (`RUNNING`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Initializing => "INITIALIZING",
            Self::Created => "CREATED",
            Self::Running => "RUNNING",
            Self::Failing => "FAILING",
            Self::Failed => "FAILED",
            Self::Cancelling => "CANCELLING",
            Self::Canceled => "CANCELED",
            Self::Finished => "FINISHED",
            Self::Restarting => "RESTARTING",
            Self::Suspended => "SUSPENDED",
            Self::Reconciling => "RECONCILING",
        }
    }

    /// Whether the job has ended and will not change state again.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            Self::Failed | Self::Canceled | Self::Finished | Self::Suspended
        )
    }
}

impl fmt::Display for JobState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// A state name Flink does not have.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a Flink job state")]
pub struct UnknownState(pub String);

impl FromStr for JobState {
    type Err = UnknownState;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|state| state.as_str() == s)
            .ok_or_else(|| UnknownState(s.to_string()))
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
        /// The new state.
        state: JobState,
    },
    /// The job reached a terminal state without failing.
    Finished {
        /// Flink's job id.
        job_id: String,
        /// `FINISHED` or `CANCELED`.
        state: JobState,
    },
    /// The job failed at runtime.
    Failed {
        /// Flink's job id, if the job was submitted.
        #[serde(default)]
        job_id: Option<String>,
        /// The job's final state (`FAILED`, or `CANCELED` when it was cancelled).
        #[serde(default)]
        state: Option<JobState>,
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
    fn restore_settings_use_the_keys_the_gateway_honours() {
        assert_eq!(
            restore_conf("file:/sp/savepoint-1", true),
            [
                (
                    "execution.state-recovery.path".to_string(),
                    "file:/sp/savepoint-1".to_string()
                ),
                (
                    "execution.state-recovery.ignore-unclaimed-state".to_string(),
                    "true".to_string()
                ),
            ]
        );
        assert!(refuses_unmapped_state(
            "Failed to rollback to checkpoint/savepoint file:/sp. Cannot map checkpoint/savepoint \
             state for operator 4bf7 to the new program, because the operator is not available in \
             the new program. If you want to allow to skip this, you can set the \
             --allowNonRestoredState option on the CLI."
        ));
        assert!(!refuses_unmapped_state("Column 'x' not found in any table"));
    }

    #[test]
    fn unquoted_set_and_reset_reach_the_runner_quoted_as_flink_reads_them() {
        let sql = "set pipeline.name = orders_job;\nSET table.exec.resource.default-parallelism=2;\n\
                   SET 'a' = 'it''s';\nRESET table.exec.resource.default-parallelism;\nRESET;\n\
                   SET x = two words;\nINSERT INTO o SELECT 1";
        let script = Script::parse_str(sql).unwrap();
        let texts: Vec<String> = script.statements.iter().map(|s| s.text.clone()).collect();
        let spec = JobSpec::from_script(&script, &texts, None).unwrap();
        assert_eq!(
            spec.statements[..4],
            [
                "SET 'pipeline.name' = 'orders_job'",
                "SET 'table.exec.resource.default-parallelism' = '2'",
                "SET 'a' = 'it''s'",
                "RESET 'table.exec.resource.default-parallelism'",
            ]
        );
        assert_eq!(spec.statements[4], texts[4], "a bare RESET stays");
        assert_eq!(
            spec.statements[5], texts[5],
            "Flink refuses it too: left as written"
        );
        assert_eq!(spec.name, "flinkit: o", "the bare RESET undid the name");
    }

    #[test]
    fn batch_jobs_run_on_c1_and_streaming_jobs_keep_c2() {
        let spec = |sql: &str| {
            let script = Script::parse_str(sql).unwrap();
            let texts: Vec<String> = script.statements.iter().map(|s| s.text.clone()).collect();
            JobSpec::from_script(&script, &texts, None).unwrap()
        };
        let insert = "INSERT INTO o SELECT 1";
        let batch = spec(&format!("SET 'execution.runtime-mode' = 'BATCH'; {insert}"));
        assert_eq!(batch.runtime_mode.as_deref(), Some("BATCH"));
        assert_eq!(local::jit_flags(&batch, &[]), ["-XX:TieredStopAtLevel=1"]);
        let streaming = spec(insert);
        assert_eq!(streaming.runtime_mode, None);
        assert!(local::jit_flags(&streaming, &[]).is_empty());
        let conf = [("execution.runtime-mode".to_string(), "batch".to_string())];
        assert_eq!(
            local::jit_flags(&streaming, &conf),
            ["-XX:TieredStopAtLevel=1"]
        );
        let reset = spec(&format!(
            "SET 'execution.runtime-mode' = 'batch'; RESET 'execution.runtime-mode'; {insert}"
        ));
        assert_eq!(reset.runtime_mode, None);
        let overridden = spec(&format!(
            "SET 'execution.runtime-mode' = 'streaming'; {insert}"
        ));
        assert!(
            local::jit_flags(&overridden, &conf).is_empty(),
            "the script's SET wins"
        );
    }

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

        // A script's own `SET 'pipeline.name'` names the job (with its variables substituted)
        // unless a name is given; `RESET` undoes it.
        let set = Script::parse_str(
            "SET 'pipeline.name' = '${JOB}'; CREATE TABLE t (x INT) WITH ('connector' = 'datagen'); \
             INSERT INTO o SELECT x FROM t",
        )
        .unwrap();
        let mut texts: Vec<String> = set.statements.iter().map(|s| s.text.clone()).collect();
        texts[0] = "SET 'pipeline.name' = 'it''s orders'".into();
        let spec = JobSpec::from_script(&set, &texts, None).unwrap();
        assert_eq!(spec.name, "it's orders");
        let named = JobSpec::from_script(&set, &texts, Some("mine")).unwrap();
        assert_eq!(named.name, "mine");
        let reset = Script::parse_str(
            "SET 'pipeline.name' = 'a'; RESET 'pipeline.name'; INSERT INTO o SELECT 1",
        )
        .unwrap();
        let texts: Vec<String> = reset.statements.iter().map(|s| s.text.clone()).collect();
        assert_eq!(
            JobSpec::from_script(&reset, &texts, None).unwrap().name,
            "flinkit: o"
        );

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
    fn states_round_trip_as_flink_spells_them() {
        for state in JobState::ALL {
            assert_eq!(state.as_str().parse::<JobState>(), Ok(state));
            assert_eq!(
                serde_json::to_value(state).unwrap(),
                serde_json::json!(state.as_str())
            );
        }
        assert!("RUNNIN".parse::<JobState>().is_err());
    }

    #[test]
    fn runner_events() {
        assert_eq!(
            RunnerEvent::parse(r#"{"event":"state","job_id":"ab","state":"RUNNING"}"#),
            Some(RunnerEvent::State {
                job_id: "ab".into(),
                state: JobState::Running
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
