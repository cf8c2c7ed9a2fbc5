//! Carrying a plan out (`deploy`), showing the pipeline on the cluster (`status`) and stopping
//! it children first (`undeploy`).

use std::time::{Duration, Instant};

use serde::Serialize;

use super::PipelineError;
use super::plan::{Action, Cluster, Project, live_jobs};
use super::state::{self, Record};
use crate::bridge::Broker;
use crate::bridge::table::TableSpec;
use crate::flink::JobState;
use crate::flink::rest::Checkpoint;
use crate::launch::{Job, LaunchError, launch};
use crate::sql::Script;
use crate::vars::Vars;

/// How long a launched job may take to have all its tasks running before deploy moves on.
const RUNNING_TIMEOUT: Duration = Duration::from_secs(90);
/// How long a cancelled job may take to end.
const CANCEL_TIMEOUT: Duration = Duration::from_secs(60);
/// How long the broker may take to create a job's topics.
const TOPIC_TIMEOUT: Duration = Duration::from_secs(10);

/// One job after `deploy` or `undeploy`: the contract's `jobs` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Outcome {
    /// The table the job writes.
    pub table: String,
    /// Flink's job id (`None` when nothing ran).
    pub job_id: Option<String>,
    /// The job name.
    pub name: String,
    /// `started`, `unchanged`, `upgraded`, `restarted` or `stopped`.
    pub action: &'static str,
    /// The job's state afterwards.
    pub state: Option<JobState>,
}

/// What `deploy` did, parents first.
pub type Deployed = Vec<Outcome>;

/// Deploys `tables` of `project` (all when empty) on `cluster`: plans (see
/// [`Project::plan`]), then starts, upgrades and restarts jobs in order through
/// [`launch`], recording each job's content hash. A failure part-way is
/// [`PipelineError::Launch`] (or, for a job `--keep-state` could not resume,
/// [`PipelineError::StateRefused`]), which names what runs now and what is not deployed;
/// deploying again finishes the job. A job that fails or restarts before all its tasks run is
/// cancelled and is the failure.
pub async fn deploy(
    project: &Project,
    cluster: &Cluster,
    tables: &[String],
) -> Result<Deployed, PipelineError> {
    let steps = project.plan(cluster, tables).await?;
    let root = cluster.state_root()?;
    let rest = cluster.rest_client();
    let mut outcomes: Vec<Outcome> = Vec::new();
    for (i, step) in steps.iter().enumerate() {
        let job = project.job(&step.table).expect("a planned table has a job");
        let mut action = step.action;
        if action == Action::Stay {
            outcomes.push(Outcome {
                table: step.table.clone(),
                job_id: step.job_id.clone(),
                name: step.name.clone(),
                action: action.done(),
                state: step.state,
            });
            continue;
        }
        let failed = |outcomes: &[Outcome], source: LaunchError| PipelineError::Launch {
            table: step.table.clone(),
            deployed: outcomes.iter().map(|o| o.table.clone()).collect(),
            pending: steps[i..].iter().map(|s| s.table.clone()).collect(),
            source: Box::new(source),
        };
        // A savepoint needs a RUNNING job; one still waiting for slots restarts instead (with
        // --keep-state too: it has no state to keep yet).
        if action == Action::Upgrade
            && step.job_id.is_some()
            && step.state != Some(JobState::Running)
        {
            action = Action::Restart;
        }
        let keep = action == Action::Upgrade && job.stateful.is_some();
        let mut options = cluster.options(&step.name);
        let mut kept_savepoint = None;
        match (action, &step.job_id) {
            (Action::Restart, Some(id)) => {
                tracing::info!(job = %id, table = %step.table, "cancelling for a fresh start");
                let cancelled = async {
                    rest.cancel(id).await?;
                    rest.wait_ended(id, CANCEL_TIMEOUT).await
                };
                cancelled
                    .await
                    .map_err(|e| failed(&outcomes, LaunchError::from(e)))?;
            }
            // --keep-state: the state must come back whole, so no operator's state may be
            // dropped; the savepoint is taken here to be named if Flink refuses it.
            (Action::Upgrade, _) if keep => {
                let savepoint = match &step.job_id {
                    Some(id) => rest
                        .stop_with_savepoint(id, cluster.savepoints())
                        .await
                        .map_err(|e| failed(&outcomes, LaunchError::from(e)))?,
                    None => step
                        .savepoint
                        .clone()
                        .expect("a keep-state start has a savepoint"),
                };
                options = options.from_savepoint(&savepoint);
                kept_savepoint = Some(savepoint);
            }
            // Operators a changed query no longer has (Flink SQL derives their ids from the
            // plan) leave state behind that nothing reads: dropped, the rest restored.
            (Action::Upgrade, _) => {
                options = options
                    .replace(cluster.savepoints())
                    .allow_non_restored_state(true);
            }
            _ => {}
        }
        let script = project.script_of(job);
        create_topics(&script, &cluster.vars(), &step.table).await;
        let launched = async {
            let handle = launch(&script, &options).await?;
            let id = handle.id().to_string();
            Ok::<_, LaunchError>((id, wait_started(handle).await?))
        };
        let (job_id, state) = match (launched.await, kept_savepoint) {
            (Ok(done), _) => done,
            // The savepoint is kept for the next --keep-state deploy whatever went wrong; it is
            // Flink's refusal only if Flink turned the job down or it failed restoring.
            (Err(source), Some(savepoint)) => {
                state::write(
                    &root,
                    cluster.key(),
                    &step.name,
                    &Record {
                        job_id: step.job_id.clone().unwrap_or_default(),
                        hash: step.hash.clone(),
                        savepoint: Some(savepoint.clone()),
                    },
                )?;
                if !matches!(
                    source,
                    LaunchError::Rejected { .. } | LaunchError::Failed { .. }
                ) {
                    return Err(failed(&outcomes, source));
                }
                return Err(PipelineError::StateRefused {
                    table: step.table.clone(),
                    savepoint,
                    deployed: outcomes.iter().map(|o| o.table.clone()).collect(),
                    pending: steps[i..].iter().map(|s| s.table.clone()).collect(),
                    source: Box::new(source),
                });
            }
            (Err(source), None) => return Err(failed(&outcomes, source)),
        };
        state::write(
            &root,
            cluster.key(),
            &step.name,
            &Record {
                job_id: job_id.clone(),
                hash: step.hash.clone(),
                savepoint: None,
            },
        )?;
        outcomes.push(Outcome {
            table: step.table.clone(),
            job_id: Some(job_id),
            name: step.name.clone(),
            action: action.done(),
            state: Some(state),
        });
    }
    Ok(outcomes)
}

/// Creates the Kafka topics of `table` (the table a job writes) before its job starts, so that
/// the jobs reading it, deployed after it, find the topic even before its first record: Flink's
/// Kafka source fails on a topic that does not exist yet. Topics that exist are left as they
/// are; a table that is not on Kafka is not touched, and a broker that refuses is left to the
/// job itself to report (a warning here).
async fn create_topics(script: &Script, vars: &Vars, table: &str) {
    let substituted = crate::vars::substitute(script, vars);
    let Ok(spec) = TableSpec::from_script(script, &substituted, table) else {
        return;
    };
    if spec.endpoint.broker != Broker::Kafka || spec.topics.is_empty() {
        return;
    }
    if let Err(error) =
        crate::bridge::kafka::create_topics(&spec.endpoint, &spec.topics, TOPIC_TIMEOUT).await
    {
        tracing::warn!(%table, %error, "could not create the table's topics before its job");
    }
}

/// Waits (at most [`RUNNING_TIMEOUT`]) until every task of a launched job runs. A job that
/// fails or starts restarting on the way — a sink that refuses its records, state it cannot
/// restore — is cancelled (Flink would retry it forever under a checkpointing job's restart
/// strategy) and is the failure, with its root cause.
async fn wait_started(job: Job) -> Result<JobState, LaunchError> {
    let started = Instant::now();
    loop {
        let state = job.wait_running(Duration::from_secs(1)).await?;
        let failure = match state {
            JobState::Failing | JobState::Restarting => Some(
                job.exceptions()
                    .await?
                    .unwrap_or_else(|| "no exception recorded".into()),
            ),
            // Between two restarts a job is CREATED or RUNNING again: its exceptions tell.
            JobState::Created | JobState::Initializing | JobState::Reconciling => {
                job.exceptions().await?
            }
            other => return Ok(other),
        };
        if let Some(message) = failure {
            let job_id = job.id().to_string();
            job.cancel().await?;
            return Err(LaunchError::Failed {
                job_id,
                state,
                statement: None,
                message,
            });
        }
        if started.elapsed() >= RUNNING_TIMEOUT {
            return Ok(state);
        }
    }
}

/// Cancels the jobs of `tables` and of the tables downstream of them (all jobs when `tables`
/// is empty), children first, and forgets their hashes. Jobs that do not run are not listed.
pub async fn undeploy(
    project: &Project,
    cluster: &Cluster,
    tables: &[String],
) -> Result<Vec<Outcome>, PipelineError> {
    let jobs = project.downstream_jobs(tables)?;
    let rest = cluster.rest_client();
    let live = live_jobs(&rest).await?;
    let root = cluster.state_root()?;
    let mut outcomes = Vec::new();
    for job in jobs {
        let name = cluster.job_name(&job.table);
        state::remove(&root, cluster.key(), &name)?;
        let Some(running) = live.get(&name) else {
            continue;
        };
        rest.cancel(&running.id).await?;
        let state = rest.wait_ended(&running.id, CANCEL_TIMEOUT).await?;
        outcomes.push(Outcome {
            table: job.table.clone(),
            job_id: Some(running.id.clone()),
            name,
            action: "stopped",
            state: Some(state),
        });
    }
    Ok(outcomes)
}

/// A table of the pipeline with its job on the cluster: the contract's `tables` entry, with
/// the job's name, record counts and last checkpoint besides.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TableStatus {
    /// The table (or view).
    pub name: String,
    /// The id of the job that writes it, when one runs.
    pub job_id: Option<String>,
    /// That job's state (`None` for a table no job writes or whose job does not run).
    pub state: Option<JobState>,
    /// The tables it reads.
    pub parents: Vec<String>,
    /// The tables that read it.
    pub children: Vec<String>,
    /// The name of the job that writes it, when the folder has one.
    pub job: Option<String>,
    /// Records the job's sources emitted, when it runs.
    pub records_in: Option<u64>,
    /// Records the job's sinks received, when it runs.
    pub records_out: Option<u64>,
    /// The job's latest completed checkpoint (none without checkpointing).
    pub last_checkpoint: Option<Checkpoint>,
    /// The savepoint or checkpoint the job started from, when it resumed from one.
    pub restored_from: Option<Checkpoint>,
}

/// The tables of `project` (those named in `tables`, every one when it is empty), parents
/// first, each with its job on `cluster`: its state, the records it read and wrote, its last
/// checkpoint. A name that is not a table of the folder is [`PipelineError::UnknownTable`].
pub async fn status(
    project: &Project,
    cluster: &Cluster,
    tables: &[String],
) -> Result<Vec<TableStatus>, PipelineError> {
    project.check_tables(tables)?;
    let rest = cluster.rest_client();
    let live = live_jobs(&rest).await?;
    let shown = project
        .graph()
        .order
        .iter()
        .filter(|table| tables.is_empty() || tables.contains(table));
    let rows = shown.map(|table| {
        let job = project.job(table).map(|j| cluster.job_name(&j.table));
        let running = job.as_ref().and_then(|n| live.get(n)).cloned();
        let rest = &rest;
        async move {
            // A job may end between the listing and these reads: its figures are then absent.
            let (io, checkpoints) = match &running {
                Some(j) => {
                    let (io, checkpoints) = tokio::join!(rest.io(&j.id), rest.checkpoints(&j.id));
                    let io = io.inspect_err(|e| tracing::warn!(job = %j.id, "records: {e}"));
                    let checkpoints = checkpoints
                        .inspect_err(|e| tracing::warn!(job = %j.id, "checkpoints: {e}"));
                    (io.ok(), checkpoints.ok())
                }
                None => (None, None),
            };
            let checkpoints = checkpoints.unwrap_or_default();
            TableStatus {
                name: table.clone(),
                job_id: running.as_ref().map(|j| j.id.clone()),
                state: running.as_ref().map(|j| j.state),
                parents: project.parents(table),
                children: project.children(table),
                job,
                records_in: io.map(|io| io.records_in),
                records_out: io.map(|io| io.records_out),
                last_checkpoint: checkpoints.latest,
                restored_from: checkpoints.restored,
            }
        }
    });
    Ok(futures::future::join_all(rows).await)
}
