//! The project (a folder's jobs, each with the statements it needs) and the plan: what each job
//! does on the next deploy, and why.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest, Sha256};

use super::{PipelineError, state};
use crate::flink::JobState;
use crate::flink::rest::{JobSummary, RestClient};
use crate::launch::{
    DEFAULT_FLINK_URL, DEFAULT_GATEWAY_URL, Options, Prepared, StatementRef, Target,
};
use crate::lineage::{Graph, LineageError};
use crate::sql::{Detail, Input, Script, StatementKind};

/// Where and how a pipeline's jobs run: the target and its addresses, the environment, the
/// variables, the savepoint directory for upgrades and the state directory for content hashes.
#[derive(Debug, Clone)]
pub struct Cluster {
    target: Target,
    flink_url: String,
    gateway_url: String,
    env: Option<String>,
    vars: Vec<(String, String)>,
    savepoint_dir: String,
    state_dir: Option<PathBuf>,
    parallelism: Option<u32>,
    keep_state: bool,
}

impl Cluster {
    /// Jobs submitted through the JobManager REST API at `flink_url`.
    pub fn rest(flink_url: impl Into<String>) -> Self {
        Self {
            target: Target::Rest,
            flink_url: flink_url.into(),
            gateway_url: DEFAULT_GATEWAY_URL.into(),
            env: None,
            vars: Vec::new(),
            savepoint_dir: "file:///tmp/flinkit-savepoints".into(),
            state_dir: None,
            parallelism: None,
            keep_state: false,
        }
    }

    /// Jobs run through the SQL Gateway at `gateway_url`, watched and stopped through the REST
    /// API at `flink_url`.
    pub fn gateway(gateway_url: impl Into<String>, flink_url: impl Into<String>) -> Self {
        Self {
            target: Target::Gateway,
            gateway_url: gateway_url.into(),
            ..Self::rest(flink_url)
        }
    }

    /// The environment: it prefixes job names (`ENV.TABLE`) and is the `${ENV}` variable.
    pub fn env(mut self, env: impl Into<String>) -> Self {
        self.env = Some(env.into());
        self
    }

    /// A value for `${NAME}` in the folder's SQL.
    pub fn var(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.vars.push((name.into(), value.into()));
        self
    }

    /// Where an upgrade's savepoint goes (default `file:///tmp/flinkit-savepoints`; a path
    /// the cluster can write).
    pub fn savepoint_dir(mut self, dir: impl Into<String>) -> Self {
        self.savepoint_dir = dir.into();
        self
    }

    /// Where the content hashes are kept (default: `pipelines/` under
    /// [`crate::config::state_dir`]).
    pub fn state_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.state_dir = Some(dir.into());
        self
    }

    /// Each job's parallelism (default: the cluster's).
    pub fn parallelism(mut self, parallelism: u32) -> Self {
        self.parallelism = Some(parallelism);
        self
    }

    /// Whether a changed stateful job resumes from a savepoint of its running job, keeping its
    /// state, instead of restarting with fresh state (default: no). Flink may refuse the
    /// savepoint (the changed query's stateful operators differ): the deploy then stops with
    /// [`PipelineError::StateRefused`] and nothing is restarted silently.
    pub fn keep_state(mut self, keep: bool) -> Self {
        self.keep_state = keep;
        self
    }

    /// The target.
    pub fn target(&self) -> Target {
        self.target
    }

    /// The job name of `table`: `ENV.TABLE`, or `flinkit.TABLE` without an environment.
    pub fn job_name(&self, table: &str) -> String {
        format!("{}.{table}", self.env.as_deref().unwrap_or("flinkit"))
    }

    pub(super) fn rest_client(&self) -> RestClient {
        RestClient::new(&self.flink_url, Duration::from_secs(30))
    }

    pub(super) fn savepoints(&self) -> &str {
        &self.savepoint_dir
    }

    pub(super) fn state_root(&self) -> Result<PathBuf, PipelineError> {
        match &self.state_dir {
            Some(dir) => Ok(dir.clone()),
            None => Ok(crate::config::state_dir()?.join("pipelines")),
        }
    }

    /// The cluster's key in the state directory: its REST address.
    pub(super) fn key(&self) -> &str {
        &self.flink_url
    }

    /// The launch options of the job named `name`.
    pub(super) fn options(&self, name: &str) -> Options {
        let mut options = match self.target {
            Target::Gateway => Options::gateway(&self.gateway_url).flink_url(&self.flink_url),
            _ => Options::rest(&self.flink_url),
        }
        .name(name);
        for (key, value) in self.var_pairs() {
            options = options.var(key, value);
        }
        if let Some(p) = self.parallelism {
            options = options.parallelism(p);
        }
        options
    }
}

impl Cluster {
    /// The `${VAR}` values jobs get: `ENV`, then the explicit ones.
    fn var_pairs(&self) -> Vec<(String, String)> {
        let env = self.env.iter().map(|env| ("ENV".to_string(), env.clone()));
        env.chain(self.vars.iter().cloned()).collect()
    }

    /// The values `${VAR}` take in the jobs' SQL (the environment's as a fallback).
    pub(super) fn vars(&self) -> crate::vars::Vars {
        crate::vars::Vars::new(self.var_pairs())
    }
}

impl Default for Cluster {
    fn default() -> Self {
        Self::rest(DEFAULT_FLINK_URL)
    }
}

/// One job of a project: the statement that writes its table(s) and the DDL it needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobDef {
    /// The table the job is named after (the first one it writes).
    pub table: String,
    /// Every table it writes (more than one for a statement set).
    pub writes: Vec<String>,
    /// The tables and views it reads.
    pub reads: Vec<String>,
    /// The index of its INSERT, statement set or CREATE TABLE AS in the project's script.
    pub dml: usize,
    /// The indices of its statements in the project's script, in the order they run.
    pub statements: Vec<usize>,
    /// Why it keeps state (`GROUP BY`, `JOIN`, …), or `None` for a stateless job.
    pub stateful: Option<&'static str>,
}

/// A folder of tables and the jobs that fill them, parents first.
#[derive(Debug, Clone)]
pub struct Project {
    script: Script,
    graph: Graph,
    jobs: Vec<JobDef>,
}

impl Project {
    /// Reads every `*.sql` file under `dir` (recursively, sorted by path).
    pub fn load(dir: &Path) -> Result<Self, PipelineError> {
        Self::from_script(Script::from_inputs(&[Input::Path(dir.to_path_buf())])?)
    }

    /// The project of an already loaded script: one job per INSERT, statement set or CREATE
    /// TABLE AS, with the DDL of each table it touches.
    pub fn from_script(script: Script) -> Result<Self, PipelineError> {
        let graph = Graph::build(&script).map_err(|err| match err {
            LineageError::Cycle { tables, .. } => PipelineError::Cycle { tables },
        })?;
        let at = |i: usize| StatementRef::of(&script, i).expect("a statement of the script");
        let mut writer: HashMap<String, usize> = HashMap::new();
        let mut found: Vec<JobDef> = Vec::new();
        for stmt in &script.statements {
            let (writes, reads): (Vec<String>, Vec<String>) = match &stmt.detail {
                Detail::CreateTable(t) if t.query_sources.is_some() => {
                    (vec![t.name.clone()], stmt.sources().to_vec())
                }
                _ if !stmt.inserts().is_empty() => {
                    let mut writes = Vec::new();
                    let mut reads = Vec::new();
                    for insert in stmt.inserts() {
                        push_new(&mut writes, &insert.target);
                        for source in &insert.sources {
                            push_new(&mut reads, source);
                        }
                    }
                    (writes, reads)
                }
                _ => continue,
            };
            for table in &writes {
                if let Some(&first) = writer.get(table) {
                    return Err(PipelineError::TwoWriters {
                        table: table.clone(),
                        first: at(first),
                        second: at(stmt.index),
                    });
                }
                writer.insert(table.clone(), stmt.index);
            }
            found.push(JobDef {
                table: writes[0].clone(),
                reads: reads.into_iter().filter(|r| !writes.contains(r)).collect(),
                writes,
                dml: stmt.index,
                statements: Vec::new(),
                stateful: stateful(&stmt.text),
            });
        }
        if found.is_empty() {
            return Err(PipelineError::NoJobs);
        }
        for job in &mut found {
            job.statements = statements_of(&script, job)?;
        }
        let rank: HashMap<&str, usize> = graph
            .order
            .iter()
            .enumerate()
            .map(|(i, t)| (t.as_str(), i))
            .collect();
        found.sort_by_key(|j| rank.get(j.table.as_str()).copied().unwrap_or(usize::MAX));
        Ok(Self {
            script,
            graph,
            jobs: found,
        })
    }

    /// The jobs, parents first.
    pub fn jobs(&self) -> &[JobDef] {
        &self.jobs
    }

    /// The table graph of the whole folder.
    pub fn graph(&self) -> &Graph {
        &self.graph
    }

    /// The folder's script.
    pub fn script(&self) -> &Script {
        &self.script
    }

    /// The job that writes `table`.
    pub fn job(&self, table: &str) -> Option<&JobDef> {
        self.jobs
            .iter()
            .find(|j| j.writes.iter().any(|w| w == table))
    }

    /// The job's own script: its statements, renumbered, with the folder's sources (so that
    /// errors point into the right file and line).
    pub fn script_of(&self, job: &JobDef) -> Script {
        let statements = job
            .statements
            .iter()
            .enumerate()
            .map(|(index, &i)| {
                let mut stmt = self.script.statements[i].clone();
                stmt.index = index;
                stmt
            })
            .collect();
        Script {
            sources: self.script.sources.clone(),
            statements,
        }
    }

    /// The tables `table` reads directly (views included), in edge order.
    pub fn parents(&self, table: &str) -> Vec<String> {
        let mut out = Vec::new();
        for edge in self.graph.edges.iter().filter(|e| e.to == table) {
            push_new(&mut out, &edge.from);
        }
        out
    }

    /// The tables that read `table` directly, in edge order.
    pub fn children(&self, table: &str) -> Vec<String> {
        let mut out = Vec::new();
        for edge in self.graph.edges.iter().filter(|e| e.from == table) {
            push_new(&mut out, &edge.to);
        }
        out
    }

    /// `tables` and everything upstream (`up`) or downstream of them.
    fn closure(&self, tables: &[String], up: bool) -> HashSet<String> {
        let mut seen: HashSet<String> = tables.iter().cloned().collect();
        let mut todo: Vec<String> = tables.to_vec();
        while let Some(t) = todo.pop() {
            let next = if up {
                self.parents(&t)
            } else {
                self.children(&t)
            };
            for n in next {
                if seen.insert(n.clone()) {
                    todo.push(n);
                }
            }
        }
        seen
    }

    /// Checks that each of `tables` is a table of the folder.
    pub(super) fn check_tables(&self, tables: &[String]) -> Result<(), PipelineError> {
        for table in tables {
            if !self.graph.nodes.iter().any(|n| &n.name == table) {
                return Err(PipelineError::UnknownTable {
                    table: table.clone(),
                    known: self.graph.order.clone(),
                });
            }
        }
        Ok(())
    }

    /// The jobs of `tables` and of their descendants, children first (all jobs when `tables` is
    /// empty): what `undeploy` stops.
    pub(super) fn downstream_jobs(&self, tables: &[String]) -> Result<Vec<&JobDef>, PipelineError> {
        self.check_tables(tables)?;
        let selected = self.closure(tables, false);
        Ok(self
            .jobs
            .iter()
            .rev()
            .filter(|j| tables.is_empty() || j.writes.iter().any(|w| selected.contains(w)))
            .collect())
    }

    /// The content hash of `job` as `cluster` would run it: of its statements after
    /// substitution.
    pub fn hash(&self, job: &JobDef, cluster: &Cluster) -> String {
        let script = self.script_of(job);
        let name = cluster.job_name(&job.table);
        let prepared = Prepared::new(&script, &cluster.options(&name));
        hash(&prepared)
    }

    /// The content hash of `job`, after checking that Flink would get its job name unmasked.
    fn checked_hash(&self, job: &JobDef, cluster: &Cluster) -> Result<String, PipelineError> {
        let script = self.script_of(job);
        let name = cluster.job_name(&job.table);
        let prepared = Prepared::new(&script, &cluster.options(&name));
        if prepared.spec().is_ok_and(|spec| spec.name != name) {
            return Err(PipelineError::MaskedName {
                table: job.table.clone(),
            });
        }
        Ok(hash(&prepared))
    }

    /// What a deploy of `tables` (all jobs when empty; else these tables' jobs and those of
    /// their ancestors that do not run) would do on `cluster`, parents first.
    pub async fn plan(
        &self,
        cluster: &Cluster,
        tables: &[String],
    ) -> Result<Vec<Step>, PipelineError> {
        self.check_tables(tables)?;
        let live = live_jobs(&cluster.rest_client()).await?;
        let root = cluster.state_root()?;
        let ancestors = self.closure(tables, true);
        let mut restarted: Vec<String> = Vec::new();
        let mut steps = Vec::new();
        for job in &self.jobs {
            let name = cluster.job_name(&job.table);
            let running = live.get(&name);
            let named = tables.is_empty() || job.writes.iter().any(|w| tables.contains(w));
            let ancestor = job.writes.iter().any(|w| ancestors.contains(w));
            if !(named || ancestor && running.is_none()) {
                continue;
            }
            let hash = self.checked_hash(job, cluster)?;
            let recorded = state::read(&root, cluster.key(), &name)?;
            let left = recorded
                .as_ref()
                .and_then(|r| r.savepoint.clone())
                .filter(|_| cluster.keep_state && job.stateful.is_some());
            let (mut action, mut reason) = match running {
                None if left.is_some() => (
                    Action::Upgrade,
                    "no job of that name runs; --keep-state resumes it from the savepoint its \
                     refused upgrade left"
                        .to_string(),
                ),
                None => (Action::Start, "no job of that name runs".to_string()),
                Some(j)
                    if recorded
                        .as_ref()
                        .is_some_and(|r| r.job_id == j.id && r.hash == hash) =>
                {
                    (Action::Stay, format!("unchanged and {}", j.state))
                }
                Some(j) => {
                    let why = match &recorded {
                        Some(r) if r.job_id == j.id => "its statements changed",
                        _ => "the running job was not deployed by this pipeline",
                    };
                    match job.stateful {
                        Some(kind) if cluster.keep_state => (
                            Action::Upgrade,
                            format!(
                                "{why}; it keeps state ({kind}) and --keep-state resumes it from a savepoint, if Flink accepts it"
                            ),
                        ),
                        Some(kind) => (
                            Action::Restart,
                            format!(
                                "{why}; it keeps state ({kind}), so it restarts with fresh state"
                            ),
                        ),
                        None => (
                            Action::Upgrade,
                            format!("{why}; it is stateless, so it resumes from a savepoint"),
                        ),
                    }
                }
            };
            if running.is_some()
                && action != Action::Restart
                && let Some(kind) = job.stateful
                && let Some(parent) = self
                    .closure(&job.reads, true)
                    .into_iter()
                    .find(|t| restarted.contains(t))
            {
                action = Action::Restart;
                reason = format!(
                    "its parent {parent} restarts from scratch and it keeps state ({kind}), so it restarts with fresh state"
                );
            }
            if matches!(action, Action::Restart) {
                restarted.extend(job.writes.iter().cloned());
            }
            steps.push(Step {
                table: job.table.clone(),
                name,
                action,
                reason,
                job_id: running.map(|j| j.id.clone()),
                state: running.map(|j| j.state),
                hash,
                savepoint: left,
            });
        }
        Ok(steps)
    }
}

/// What a deploy does with one job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// No job of its name runs: launch it.
    Start,
    /// It runs with the same statements: leave it alone.
    Stay,
    /// Its statements changed and it keeps no state (or `--keep-state` asks to keep it): stop
    /// it with a savepoint, resume from it.
    Upgrade,
    /// Its statements changed (or a parent restarts) and it keeps state: cancel it and start
    /// it with fresh state.
    Restart,
}

impl Action {
    /// `start`, `stay`, `upgrade` or `restart`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Start => "start",
            Self::Stay => "stay",
            Self::Upgrade => "upgrade",
            Self::Restart => "restart",
        }
    }

    /// What a deploy reports once done: `started`, `unchanged`, `upgraded` or `restarted`.
    pub fn done(self) -> &'static str {
        match self {
            Self::Start => "started",
            Self::Stay => "unchanged",
            Self::Upgrade => "upgraded",
            Self::Restart => "restarted",
        }
    }
}

/// One job of a plan.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Step {
    /// The table the job writes.
    pub table: String,
    /// The job name.
    pub name: String,
    /// What happens to it.
    pub action: Action,
    /// Why.
    pub reason: String,
    /// The running job's id, if one runs.
    pub job_id: Option<String>,
    /// The running job's state, if one runs.
    pub state: Option<JobState>,
    /// The content hash of its statements.
    pub hash: String,
    /// With `--keep-state`, the savepoint a refused upgrade left, which the job resumes from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub savepoint: Option<String>,
}

/// The hash of a prepared job's statements, variables substituted.
fn hash(prepared: &Prepared<'_>) -> String {
    let mut hasher = Sha256::new();
    for text in &prepared.substituted().texts {
        hasher.update(text.as_bytes());
        hasher.update([0]);
    }
    hasher.finalize()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The jobs that have not ended, by name (the latest one of each name).
pub(super) async fn live_jobs(
    rest: &RestClient,
) -> Result<HashMap<String, JobSummary>, PipelineError> {
    let mut live: HashMap<String, JobSummary> = HashMap::new();
    for job in rest.jobs().await? {
        if job.state.is_terminal() {
            continue;
        }
        if live
            .get(&job.name)
            .is_none_or(|j| j.start_time < job.start_time)
        {
            live.insert(job.name.clone(), job);
        }
    }
    Ok(live)
}

fn push_new(list: &mut Vec<String>, item: &str) {
    if !list.iter().any(|x| x == item) {
        list.push(item.to_string());
    }
}

/// The statements a job runs: the SETs of its DML's file, every CREATE FUNCTION, the CREATE
/// TABLE of each table it touches, the views it reads (and their tables), then the DML.
fn statements_of(script: &Script, job: &JobDef) -> Result<Vec<usize>, PipelineError> {
    let tables = script.tables();
    let views: HashMap<&str, usize> = script
        .statements
        .iter()
        .filter_map(|s| match &s.detail {
            Detail::CreateView(v) => Some((v.name.as_str(), s.index)),
            _ => None,
        })
        .collect();
    let dml = &script.statements[job.dml];
    let mut ddl: BTreeSet<usize> = BTreeSet::new();
    let mut view_ddl: BTreeSet<usize> = BTreeSet::new();
    let mut todo: Vec<String> = job.writes.iter().chain(&job.reads).cloned().collect();
    let mut seen: HashSet<String> = HashSet::new();
    while let Some(name) = todo.pop() {
        if !seen.insert(name.clone()) {
            continue;
        }
        if let Some(&view) = views.get(name.as_str()) {
            view_ddl.insert(view);
            todo.extend(script.statements[view].sources().iter().cloned());
        } else if let Some((stmt, _)) = tables.get(&name) {
            if stmt.index != job.dml {
                ddl.insert(stmt.index);
            }
        } else if !(job.writes.contains(&name) && dml.create_table().is_some()) {
            return Err(PipelineError::NoDdl {
                table: name,
                statement: StatementRef::of(script, job.dml).expect("the job's statement"),
            });
        }
    }
    let mut out: Vec<usize> = script
        .statements
        .iter()
        .filter(|s| {
            (s.kind == StatementKind::Set && s.source == dml.source)
                || s.kind == StatementKind::CreateFunction
        })
        .map(|s| s.index)
        .collect();
    out.extend(ddl);
    out.extend(view_ddl);
    out.push(job.dml);
    Ok(out)
}

/// Why a statement keeps state, from its words (comments and string literals skipped): an
/// aggregation, a join, DISTINCT, an OVER window, MATCH_RECOGNIZE or ROW_NUMBER deduplication.
pub(super) fn stateful(text: &str) -> Option<&'static str> {
    let words = words(text);
    let has = |w: &str| words.iter().any(|x| x == w);
    if words.windows(2).any(|p| p[0] == "GROUP" && p[1] == "BY") {
        Some("GROUP BY")
    } else if has("JOIN") {
        Some("JOIN")
    } else if has("DISTINCT") {
        Some("DISTINCT")
    } else if has("MATCH_RECOGNIZE") {
        Some("MATCH_RECOGNIZE")
    } else if has("ROW_NUMBER") {
        Some("deduplication")
    } else if has("OVER") {
        Some("OVER")
    } else {
        None
    }
}

/// The upper-cased words of `text` outside comments, string literals and quoted names.
fn words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_alphanumeric() || c == '_' {
            word.push(c.to_ascii_uppercase());
            continue;
        }
        if !word.is_empty() {
            out.push(std::mem::take(&mut word));
        }
        match c {
            '\'' | '`' | '"' => {
                for d in chars.by_ref() {
                    if d == c {
                        break;
                    }
                }
            }
            '-' if chars.peek() == Some(&'-') => {
                for d in chars.by_ref() {
                    if d == '\n' {
                        break;
                    }
                }
            }
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                let mut star = false;
                for d in chars.by_ref() {
                    if star && d == '/' {
                        break;
                    }
                    star = d == '*';
                }
            }
            _ => {}
        }
    }
    if !word.is_empty() {
        out.push(word);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const FOLDER: &str = "
        CREATE TABLE fact (k STRING, n BIGINT) WITH ('connector' = 'blackhole');
        INSERT INTO fact SELECT k, COUNT(*) FROM mid GROUP BY k;
        CREATE TABLE a (k STRING) WITH ('connector' = 'datagen');
        CREATE TABLE b (k STRING) WITH ('connector' = 'datagen');
        SET 'table.exec.state.ttl' = '1 h';
        CREATE TABLE mid (k STRING) WITH ('connector' = 'blackhole');
        INSERT INTO mid SELECT k FROM a UNION ALL SELECT k FROM b;
    ";

    fn project(sql: &str) -> Result<Project, PipelineError> {
        Project::from_script(Script::parse_str(sql).unwrap())
    }

    #[test]
    fn one_job_per_sink_parents_first_with_the_ddl_it_needs() {
        let p = project(FOLDER).unwrap();
        let tables: Vec<&str> = p.jobs().iter().map(|j| j.table.as_str()).collect();
        assert_eq!(tables, ["mid", "fact"]);
        let mid = p.job("mid").unwrap();
        // The SET of its file, the DDL of a, b and mid in folder order, then the INSERT.
        assert_eq!(mid.statements, [4, 2, 3, 5, 6]);
        assert_eq!(mid.reads, ["a", "b"]);
        assert_eq!(mid.stateful, None);
        let fact = p.job("fact").unwrap();
        assert_eq!(fact.statements, [4, 0, 5, 1]);
        assert_eq!(fact.stateful, Some("GROUP BY"));
        let script = p.script_of(fact);
        assert_eq!(script.statements.len(), 4);
        assert_eq!(script.statements[3].index, 3);
        assert!(script.statements[3].text.starts_with("INSERT INTO fact"));
        assert_eq!(p.parents("mid"), ["a", "b"]);
        assert_eq!(p.children("mid"), ["fact"]);
    }

    #[test]
    fn undeploy_goes_children_first_and_takes_descendants() {
        let p = project(FOLDER).unwrap();
        let all: Vec<&str> = p
            .downstream_jobs(&[])
            .unwrap()
            .iter()
            .map(|j| j.table.as_str())
            .collect();
        assert_eq!(all, ["fact", "mid"]);
        let from_mid: Vec<&str> = p
            .downstream_jobs(&["mid".into()])
            .unwrap()
            .iter()
            .map(|j| j.table.as_str())
            .collect();
        assert_eq!(from_mid, ["fact", "mid"]);
        let fact_only = p.downstream_jobs(&["fact".into()]).unwrap();
        assert_eq!(fact_only.len(), 1);
    }

    #[test]
    fn a_cycle_is_named() {
        let err = project(
            "CREATE TABLE x (k STRING) WITH ('connector' = 'blackhole');
             CREATE TABLE y (k STRING) WITH ('connector' = 'blackhole');
             INSERT INTO x SELECT k FROM y;
             INSERT INTO y SELECT k FROM x;",
        )
        .unwrap_err();
        assert!(err.is_invalid_input());
        assert!(
            matches!(&err, PipelineError::Cycle { tables } if tables.len() == 3),
            "{err}"
        );
        let message = err.to_string();
        assert!(message.contains('x') && message.contains('y'), "{message}");
    }

    #[test]
    fn two_writers_of_one_table_are_refused() {
        let err = project(
            "CREATE TABLE a (k STRING) WITH ('connector' = 'datagen');
             CREATE TABLE s (k STRING) WITH ('connector' = 'blackhole');
             INSERT INTO s SELECT k FROM a;
             INSERT INTO s SELECT UPPER(k) FROM a;",
        )
        .unwrap_err();
        assert!(err.is_invalid_input());
        assert_eq!(err.table(), Some("s"));
        assert_eq!(err.statement().map(|s| s.index), Some(3));
        assert!(
            err.to_string().contains("written by two statements"),
            "{err}"
        );
    }

    #[test]
    fn a_table_without_ddl_is_refused() {
        let err = project(
            "CREATE TABLE a (k STRING) WITH ('connector' = 'datagen');
             INSERT INTO nowhere SELECT k FROM a;",
        )
        .unwrap_err();
        assert!(err.is_invalid_input());
        assert_eq!(err.table(), Some("nowhere"));
        let err = project(
            "CREATE TABLE s (k STRING) WITH ('connector' = 'blackhole');
             INSERT INTO s SELECT k FROM missing_source;",
        )
        .unwrap_err();
        assert_eq!(err.table(), Some("missing_source"));
    }

    #[test]
    fn a_table_not_in_the_folder_is_refused() {
        let p = project(FOLDER).unwrap();
        let err = p.check_tables(&["mid".into(), "nope".into()]).unwrap_err();
        assert!(err.is_invalid_input());
        assert_eq!(err.table(), Some("nope"));
        assert!(err.to_string().contains("a, b, mid, fact"), "{err}");
    }

    #[test]
    fn a_folder_without_insert_is_refused() {
        let err = project("CREATE TABLE a (k STRING) WITH ('connector' = 'datagen');").unwrap_err();
        assert!(matches!(err, PipelineError::NoJobs));
        assert!(err.is_invalid_input());
    }

    #[test]
    fn views_bring_their_tables() {
        let p = project(
            "CREATE TABLE a (k STRING) WITH ('connector' = 'datagen');
             CREATE VIEW v AS SELECT k FROM a;
             CREATE TABLE s (k STRING) WITH ('connector' = 'blackhole');
             INSERT INTO s SELECT k FROM v;",
        )
        .unwrap();
        assert_eq!(p.job("s").unwrap().statements, [0, 2, 1, 3]);
    }

    #[test]
    fn stateful_statements_are_recognised() {
        for (sql, kind) in [
            (
                "INSERT INTO s SELECT k, COUNT(*) FROM t GROUP BY k",
                Some("GROUP BY"),
            ),
            (
                "INSERT INTO s SELECT * FROM a JOIN b ON a.k = b.k",
                Some("JOIN"),
            ),
            ("INSERT INTO s SELECT DISTINCT k FROM t", Some("DISTINCT")),
            ("INSERT INTO s SELECT SUM(n) OVER w FROM t", Some("OVER")),
            (
                "INSERT INTO s SELECT * FROM t MATCH_RECOGNIZE (…)",
                Some("MATCH_RECOGNIZE"),
            ),
            (
                "INSERT INTO s SELECT * FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY k ORDER BY ts) AS rn FROM t) WHERE rn = 1",
                Some("deduplication"),
            ),
            (
                "INSERT INTO s SELECT k, 'group by' FROM t -- a join\n",
                None,
            ),
            ("INSERT INTO s SELECT `join` FROM t /* DISTINCT */", None),
            ("INSERT INTO s SELECT UPPER(k) FROM t WHERE n > 1", None),
        ] {
            assert_eq!(stateful(sql), kind, "{sql}");
        }
    }

    #[test]
    fn job_names_carry_the_environment() {
        assert_eq!(Cluster::default().job_name("fact"), "flinkit.fact");
        assert_eq!(Cluster::default().env("dev").job_name("fact"), "dev.fact");
        assert_eq!(Action::Upgrade.done(), "upgraded");
        assert_eq!(Action::Stay.done(), "unchanged");
    }

    #[test]
    fn hashes_follow_the_statements_and_the_variables() {
        let p = project(FOLDER).unwrap();
        let mid = p.job("mid").unwrap();
        let dev = Cluster::default().env("dev");
        assert_eq!(p.hash(mid, &dev), p.hash(mid, &dev));
        let changed =
            project(&FOLDER.replace("SELECT k FROM b", "SELECT UPPER(k) FROM b")).unwrap();
        assert_ne!(
            p.hash(mid, &dev),
            changed.hash(changed.job("mid").unwrap(), &dev)
        );
        let fact = p.job("fact").unwrap();
        assert_eq!(
            p.hash(fact, &dev),
            changed.hash(changed.job("fact").unwrap(), &dev)
        );
    }

    #[test]
    fn a_job_name_flinkit_would_mask_is_refused() {
        let sql = "CREATE TABLE a (k STRING) WITH ('connector' = 'datagen');
             CREATE TABLE mid (k STRING) WITH ('connector' = 'kafka', 'topic' = '${ENV}.mid',
               'properties.bootstrap.servers' = 'localhost:9092', 'format' = 'json');
             INSERT INTO mid SELECT k FROM a;";
        let p = project(sql).unwrap();
        let dev = Cluster::default().env("dev");
        let err = p.checked_hash(p.job("mid").unwrap(), &dev).unwrap_err();
        assert!(matches!(&err, PipelineError::MaskedName { table } if table == "mid"));
        assert!(err.is_invalid_input());
        let fine = project(&sql.replace("${ENV}.mid", "${ENV}-mid")).unwrap();
        assert!(fine.checked_hash(fine.job("mid").unwrap(), &dev).is_ok());
    }
}
