//! Pipelines: a folder of tables deployed as many jobs, one per sink table, parents first.
//!
//! A [`Project`] is a folder of SQL files read as one script. Each `INSERT` (or statement set)
//! becomes one job, keyed by the table it writes; the job carries the `CREATE TABLE` and
//! `CREATE VIEW` statements of every table it reads or writes, wherever they live in the
//! folder. Jobs are ordered parents first ([`crate::lineage`]).
//!
//! - [`Project::plan`] compares the folder with the cluster and says, per job, whether
//!   it starts, stays, upgrades or restarts, and why.
//! - [`deploy`] carries a plan out through [`crate::launch::launch`]: a changed stateless job is
//!   stopped with a savepoint and resumed from it (`upgraded`); a changed stateful job (GROUP BY,
//!   JOIN, DISTINCT, OVER, MATCH_RECOGNIZE, deduplication) is cancelled and started with fresh
//!   state (`restarted`), and so are the stateful children of a job that restarts — unless
//!   [`Cluster::keep_state`] asks to resume it from a savepoint, which Flink may refuse
//!   ([`PipelineError::StateRefused`]). A job that fails while it starts is cancelled.
//! - [`status`] shows each table with its job, its state, the records it read and wrote, its
//!   last checkpoint, its parents and children.
//! - [`undeploy`] cancels jobs, children first.
//! - [`Report`] is a table's lineage (ancestors and descendants) as JSON, Mermaid or an HTML
//!   page, from the SQL alone: it works on folders that cannot be deployed.
//!
//! Jobs are named `ENV.TABLE` (`dev.fact_orders`), `flinkit.TABLE` without an environment; the
//! environment is also the `${ENV}` variable. Each job's content hash (of its statements after
//! substitution) is kept in a state file per job under [`crate::config::state_dir`]
//! (`pipelines/`), with the job id it was launched as: a job is `unchanged` only when that very
//! job still runs with the same hash. A state file, not the job name (which users read) nor the
//! job's configuration (which the REST client does not read back and the SQL Gateway keeps per
//! session): it survives flinkit restarting, `status` reads it, and a job started by someone else
//! under the same name is never mistaken for an unchanged one.

mod ops;
mod plan;
pub(crate) mod report;
mod state;

use std::fmt;
use std::path::PathBuf;

use crate::flink::rest::RestError;
use crate::launch::{LaunchError, StatementRef};
use crate::sql::SqlError;

pub use ops::{Deployed, Outcome, TableStatus, deploy, status, undeploy};
pub use plan::{Action, Cluster, JobDef, Project, Step};
pub use report::{Place, Relation, Report, ReportEdge, ReportNode};

/// Why a pipeline could not be planned, deployed, shown or undeployed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PipelineError {
    /// The folder's SQL could not be read or split.
    #[error(transparent)]
    Sql(#[from] SqlError),
    /// The tables feed each other in a loop.
    #[error("the tables form a cycle: {}", .tables.join(" → "))]
    Cycle {
        /// The tables along the cycle, the first repeated at the end.
        tables: Vec<String>,
    },
    /// Two statements write the same table: it would have two jobs.
    #[error("{table} is written by two statements: {first} and {second}")]
    TwoWriters {
        /// The table.
        table: String,
        /// The first writer.
        first: StatementRef,
        /// The second writer.
        second: StatementRef,
    },
    /// A job reads or writes a table no `CREATE TABLE` or `CREATE VIEW` of the folder declares.
    #[error("{table} has no CREATE TABLE anywhere in the folder, but {statement} uses it")]
    NoDdl {
        /// The table.
        table: String,
        /// The statement that uses it.
        statement: StatementRef,
    },
    /// A table named on the command line is not in the folder.
    #[error("{table} is not a table of the folder (its tables: {})", .known.join(", "))]
    UnknownTable {
        /// The name given.
        table: String,
        /// The folder's tables.
        known: Vec<String>,
    },
    /// The job name of a table is also the value of a variable or of an option built from one
    /// (all treated as secrets), so Flink would get it masked and redeploys could not find it.
    #[error(
        "the job name of {table} equals a variable's value or an option value built from one, \
         which flinkit masks; rename that option's value (a topic `${{ENV}}-{table}` rather than \
         `${{ENV}}.{table}`) or the table"
    )]
    MaskedName {
        /// The table.
        table: String,
    },
    /// The folder has no INSERT, so there is nothing to deploy.
    #[error("the folder has no INSERT, so there is no job to deploy")]
    NoJobs,
    /// A job could not be launched; those before it in the order were deployed.
    #[error("deploying {table} failed; {}", Progress(.deployed, .pending))]
    Launch {
        /// The table whose job failed.
        table: String,
        /// The tables whose jobs run now.
        deployed: Vec<String>,
        /// The tables not deployed (the failed one first).
        pending: Vec<String>,
        /// Why.
        #[source]
        source: Box<LaunchError>,
    },
    /// With `--keep-state`, Flink refused to resume a changed job from its savepoint (the new
    /// query's operators do not match the state's); the old job was stopped with that
    /// savepoint, which a later `--keep-state` deploy resumes from.
    #[error(
        "Flink refused to resume {table} from its savepoint {savepoint}, so its state was not \
         kept; {}",
        Progress(.deployed, .pending)
    )]
    StateRefused {
        /// The table whose job could not resume.
        table: String,
        /// The savepoint the old job was stopped with.
        savepoint: String,
        /// The tables whose jobs run now.
        deployed: Vec<String>,
        /// The tables not deployed (the refused one first).
        pending: Vec<String>,
        /// Flink's refusal.
        #[source]
        source: Box<LaunchError>,
    },
    /// The JobManager REST API failed.
    #[error(transparent)]
    Rest(#[from] RestError),
    /// A state file could not be read or written.
    #[error("cannot use the pipeline state file {}", .path.display())]
    State {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// No state directory could be found.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
}

struct Progress<'a>(&'a [String], &'a [String]);

impl fmt::Display for Progress<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |t: &[String]| {
            if t.is_empty() {
                "none".to_string()
            } else {
                t.join(", ")
            }
        };
        write!(
            f,
            "running now: {}; not deployed: {} (deploy again to finish)",
            list(self.0),
            list(self.1)
        )
    }
}

impl PipelineError {
    /// Whether the folder, the table names or the options are at fault (the CLI exits 2).
    pub fn is_invalid_input(&self) -> bool {
        match self {
            Self::Sql(_)
            | Self::Cycle { .. }
            | Self::TwoWriters { .. }
            | Self::NoDdl { .. }
            | Self::UnknownTable { .. }
            | Self::MaskedName { .. }
            | Self::NoJobs => true,
            Self::Launch { source, .. } => source.is_invalid_input(),
            Self::StateRefused { .. } => true,
            Self::Config(err) => err.is_invalid_input(),
            Self::Rest(_) | Self::State { .. } => false,
        }
    }

    /// The table the failure is about, when there is one.
    pub fn table(&self) -> Option<&str> {
        match self {
            Self::TwoWriters { table, .. }
            | Self::NoDdl { table, .. }
            | Self::UnknownTable { table, .. }
            | Self::MaskedName { table }
            | Self::Launch { table, .. }
            | Self::StateRefused { table, .. } => Some(table),
            _ => None,
        }
    }

    /// The statement to blame, when one is.
    pub fn statement(&self) -> Option<&StatementRef> {
        match self {
            Self::TwoWriters { second, .. } => Some(second),
            Self::NoDdl { statement, .. } => Some(statement),
            Self::Launch { source, .. } | Self::StateRefused { source, .. } => source.statement(),
            _ => None,
        }
    }

    /// For a deploy that stopped part-way: the tables whose jobs run now and those not
    /// deployed (the failed one first).
    pub fn progress(&self) -> Option<(&[String], &[String])> {
        match self {
            Self::Launch {
                deployed, pending, ..
            }
            | Self::StateRefused {
                deployed, pending, ..
            } => Some((deployed, pending)),
            _ => None,
        }
    }

    /// How to fix it, when there is a known way.
    pub fn help(&self) -> Option<&'static str> {
        match self {
            Self::StateRefused { .. } => Some(
                "deploy without --keep-state to restart the job with fresh state (it reads its \
                 sources from the start), or change the query so that its stateful operators \
                 stay the same (same grouping keys, aggregates and joins; a filter's or an \
                 expression's constant may change) and deploy with --keep-state again: it \
                 resumes from that savepoint",
            ),
            Self::Launch { source, .. } => source.help(),
            _ => None,
        }
    }
}
