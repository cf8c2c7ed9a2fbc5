//! `flinkit pipeline deploy|status|undeploy`: a folder of tables as many jobs, one library call
//! each ([`flinkit::pipeline`]), rendered as text tables or the contract's JSON.

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};
use flinkit::launch::Target;
use flinkit::pipeline::{self, Cluster, Outcome, Project, Step, TableStatus};
use serde_json::json;

use super::args::{ClusterArgs, TargetArg, VarArgs};
use super::{Context, Format, output};

/// Flags of `flinkit pipeline`.
#[derive(Args, Debug)]
pub struct PipelineArgs {
    #[command(subcommand)]
    pub command: PipelineCommand,
}

/// What to do with the pipeline.
#[derive(Subcommand, Debug)]
pub enum PipelineCommand {
    /// Deploy the folder's jobs parents first: start new ones, leave unchanged ones alone,
    /// upgrade changed stateless ones from a savepoint, restart changed stateful ones fresh.
    Deploy(DeployArgs),
    /// Each table of the folder with its job, state, parents and children.
    Status(CommonArgs),
    /// Cancel the folder's jobs (or those of TABLEs and their descendants), children first.
    Undeploy(CommonArgs),
}

/// Flags every pipeline command takes.
#[derive(Args, Debug)]
pub struct CommonArgs {
    /// The pipeline's folder (searched recursively for .sql files).
    #[arg(short = 'f', long = "file", value_name = "DIR", required = true)]
    pub dir: PathBuf,
    /// Only these tables (deploy: and their ancestors that do not run; undeploy: and their
    /// descendants).
    #[arg(value_name = "TABLE")]
    pub tables: Vec<String>,
    /// Where jobs run (default: the settings' target, else rest).
    #[arg(long, value_enum)]
    pub target: Option<PipelineTarget>,
    /// The environment: job names are ENV.TABLE, and ${ENV} is its name (default: job names
    /// are flinkit.TABLE).
    #[arg(long, value_name = "NAME", value_parser = super::values::non_empty)]
    pub env: Option<String>,
    #[command(flatten)]
    pub vars: VarArgs,
    #[command(flatten)]
    pub cluster: ClusterArgs,
}

/// Flags of `flinkit pipeline deploy`.
#[derive(Args, Debug)]
pub struct DeployArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Print the plan (what starts, stays, upgrades or restarts, in order, and why) and change
    /// nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Where an upgrade's savepoint goes (a directory the cluster can write).
    #[arg(long, value_name = "DIR", value_parser = super::values::non_empty,
          default_value = "file:///tmp/flinkit-savepoints")]
    pub savepoint_dir: String,
    /// Each job's parallelism (default: the cluster's).
    #[arg(long, value_name = "N", value_parser = super::values::parallelism)]
    pub parallelism: Option<u32>,
}

/// Where a pipeline's jobs run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PipelineTarget {
    /// The JobManager REST API (--flink-url).
    Rest,
    /// The SQL Gateway (--gateway-url).
    Gateway,
}

impl CommonArgs {
    fn cluster(&self) -> anyhow::Result<Cluster> {
        let target = self.target.map(|t| match t {
            PipelineTarget::Rest => TargetArg::Rest,
            PipelineTarget::Gateway => TargetArg::Gateway,
        });
        let resolved = self.cluster.resolve(target)?;
        let mut cluster = match resolved.target {
            Target::Gateway => Cluster::gateway(resolved.gateway_url, resolved.flink_url),
            _ => Cluster::rest(resolved.flink_url),
        };
        if let Some(env) = &self.env {
            cluster = cluster.env(env.clone());
        }
        for (key, value) in &self.vars.vars {
            cluster = cluster.var(key.clone(), value.clone());
        }
        Ok(cluster)
    }
}

/// Runs `flinkit pipeline`.
pub fn run(ctx: &Context<'_>, args: &PipelineArgs) -> anyhow::Result<()> {
    match &args.command {
        PipelineCommand::Deploy(deploy) => {
            let common = &deploy.common;
            let project = Project::load(&common.dir)?;
            let mut cluster = common
                .cluster()?
                .savepoint_dir(deploy.savepoint_dir.clone());
            if let Some(p) = deploy.parallelism {
                cluster = cluster.parallelism(p);
            }
            if deploy.dry_run {
                let steps = super::block_on(project.plan(&cluster, &common.tables))??;
                return print_plan(ctx, &steps);
            }
            let jobs = super::block_on(pipeline::deploy(&project, &cluster, &common.tables))??;
            print_jobs(ctx, &jobs)
        }
        PipelineCommand::Status(common) => {
            let project = Project::load(&common.dir)?;
            let cluster = common.cluster()?;
            let tables = super::block_on(pipeline::status(&project, &cluster))??;
            print_status(ctx, &tables)
        }
        PipelineCommand::Undeploy(common) => {
            let project = Project::load(&common.dir)?;
            let cluster = common.cluster()?;
            let jobs = super::block_on(pipeline::undeploy(&project, &cluster, &common.tables))??;
            print_jobs(ctx, &jobs)
        }
    }
}

fn or_dash(value: Option<String>) -> String {
    value.unwrap_or_else(|| "-".into())
}

fn print_jobs(ctx: &Context<'_>, jobs: &[Outcome]) -> anyhow::Result<()> {
    if ctx.format == Format::Json {
        return output::print_json(&json!({ "jobs": jobs }));
    }
    let rows: Vec<[String; 5]> = jobs
        .iter()
        .map(|j| {
            [
                j.table.clone(),
                j.action.to_string(),
                or_dash(j.state.map(|s| s.to_string())),
                or_dash(j.job_id.clone()),
                j.name.clone(),
            ]
        })
        .collect();
    if rows.is_empty() {
        return output::print("no job was running\n");
    }
    output::print(&table(
        ["TABLE", "ACTION", "STATE", "JOB ID", "NAME"],
        &rows,
    ))
}

fn print_plan(ctx: &Context<'_>, steps: &[Step]) -> anyhow::Result<()> {
    if ctx.format == Format::Json {
        return output::print_json(&json!({ "dry_run": true, "plan": steps }));
    }
    let rows: Vec<[String; 5]> = steps
        .iter()
        .enumerate()
        .map(|(i, s)| {
            [
                (i + 1).to_string(),
                s.action.as_str().to_string(),
                s.table.clone(),
                s.name.clone(),
                s.reason.clone(),
            ]
        })
        .collect();
    let mut text = table(["#", "ACTION", "TABLE", "JOB", "WHY"], &rows);
    text.push_str("(dry run: nothing was changed)\n");
    output::print(&text)
}

fn print_status(ctx: &Context<'_>, tables: &[TableStatus]) -> anyhow::Result<()> {
    if ctx.format == Format::Json {
        return output::print_json(&json!({ "tables": tables }));
    }
    let rows: Vec<[String; 5]> = tables
        .iter()
        .map(|t| {
            let state = match (&t.job, t.state) {
                (None, _) => "(no job)".to_string(),
                (Some(_), None) => "not running".to_string(),
                (Some(_), Some(state)) => state.to_string(),
            };
            let parents = if t.parents.is_empty() {
                "-".to_string()
            } else {
                format!("← {}", t.parents.join(", "))
            };
            [
                t.name.clone(),
                or_dash(t.job.clone()),
                state,
                or_dash(t.job_id.clone()),
                parents,
            ]
        })
        .collect();
    output::print(&table(
        ["TABLE", "JOB", "STATE", "JOB ID", "PARENTS"],
        &rows,
    ))
}

/// Left-aligned columns, two spaces apart.
fn table<const N: usize>(header: [&str; N], rows: &[[String; N]]) -> String {
    let mut widths = header.map(|h| h.chars().count());
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut out = String::new();
        for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
            if i + 1 == N {
                out.push_str(cell);
            } else {
                out.push_str(&format!("{cell:<w$}  "));
            }
        }
        out.push('\n');
        out
    };
    let mut text = line(header.to_vec());
    for row in rows {
        text.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    text
}
