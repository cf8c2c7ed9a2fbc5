//! `flinkit pipeline deploy|status|undeploy|report`: a folder of tables as many jobs, one
//! library call each ([`flinkit::pipeline`]), rendered as text (tables, a tree) or the
//! contract's JSON; `report` also as Mermaid or an HTML page.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};
use flinkit::launch::Target;
use flinkit::pipeline::{
    self, Action, Cluster, Outcome, Project, Relation, Report, Step, TableStatus,
};
use flinkit::sql::{Input, Script};
use flinkit::vars::{self, Vars};
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
    /// Each table of the folder with its job, state, records in and out, last checkpoint,
    /// parents and children: a tree from the sources down (--format json: {"tables":[{"name",
    /// "job_id","state","parents","children","job","records_in","records_out",
    /// "last_checkpoint","restored_from"}]}).
    Status(CommonArgs),
    /// Cancel the folder's jobs (or those of TABLEs and their descendants), children first.
    Undeploy(CommonArgs),
    /// A table's ancestors and descendants, from the SQL alone (no cluster): --format html is
    /// one self-contained page with the graph drawn, json the nodes and edges, mermaid a
    /// flowchart, text the layers.
    Report(ReportArgs),
}

/// Flags of `flinkit pipeline report`.
#[derive(Args, Debug)]
pub struct ReportArgs {
    /// The table whose lineage to report.
    #[arg(value_name = "TABLE")]
    pub table: String,
    /// The pipeline's folder (searched recursively for .sql files).
    #[arg(short = 'f', long = "file", value_name = "DIR", required = true)]
    pub dir: PathBuf,
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
    /// nothing. With --format json: {"dry_run":true,"plan":[{"table","name","action":
    /// "start|stay|upgrade|restart","reason","job_id","state","hash"}]}, parents first ("savepoint"
    /// too when --keep-state resumes a job from the savepoint a refused upgrade left).
    #[arg(long)]
    pub dry_run: bool,
    /// Where an upgrade's savepoint goes (a directory the cluster can write).
    #[arg(long, value_name = "DIR", value_parser = super::values::non_empty,
          default_value = "file:///tmp/flinkit-savepoints")]
    pub savepoint_dir: String,
    /// Each job's parallelism (default: the cluster's).
    #[arg(long, value_name = "N", value_parser = super::values::parallelism)]
    pub parallelism: Option<u32>,
    /// A changed stateful job resumes from a savepoint, keeping its state, instead of
    /// restarting with fresh state. If Flink refuses the savepoint (the query's stateful
    /// operators changed), deploy stops there, says so and keeps the savepoint for the next
    /// --keep-state deploy.
    #[arg(long)]
    pub keep_state: bool,
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

    /// The folder's `${VAR}` values as its jobs get them: `${ENV}`, `--var`, the environment.
    fn vars(&self) -> Vars {
        let env = self.env.iter().map(|env| ("ENV".to_string(), env.clone()));
        Vars::new(env.chain(self.vars.vars.iter().cloned()))
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
                .savepoint_dir(deploy.savepoint_dir.clone())
                .keep_state(deploy.keep_state);
            if let Some(p) = deploy.parallelism {
                cluster = cluster.parallelism(p);
            }
            if deploy.dry_run {
                let steps = super::block_on(project.plan(&cluster, &common.tables))??;
                return print_plan(ctx, &steps);
            }
            // The Pulsar tables of each job that starts against their topics' schemas, as
            // `launch` checks them: a refusal is located and nothing is deployed.
            let steps = super::block_on(project.plan(&cluster, &common.tables))??;
            for step in steps.iter().filter(|s| s.action != Action::Stay) {
                if let Some(job) = project.job(&step.table) {
                    let script = project.script_of(job);
                    let values = vars::substitute(&script, &common.vars());
                    super::flink_pulsar::check(&script, &values)?;
                }
            }
            let jobs = super::block_on(pipeline::deploy(&project, &cluster, &common.tables))??;
            print_jobs(ctx, &jobs)
        }
        PipelineCommand::Status(common) => {
            let project = Project::load(&common.dir)?;
            let cluster = common.cluster()?;
            let tables = super::block_on(pipeline::status(&project, &cluster, &common.tables))??;
            print_status(ctx, &tables)
        }
        PipelineCommand::Report(args) => {
            let script = Script::from_inputs(&[Input::Path(args.dir.clone())])?;
            let report = Report::build(&script, &args.table)?;
            match ctx.format {
                Format::Json => output::print_json(&report),
                Format::Mermaid => output::print(&report.to_mermaid()),
                Format::Html => output::print(&report.to_html()),
                _ => output::print(&report_text(&report)),
            }
        }
        PipelineCommand::Undeploy(common) => {
            let project = Project::load(&common.dir)?;
            let cluster = common.cluster()?;
            let jobs = super::block_on(pipeline::undeploy(&project, &cluster, &common.tables))??;
            print_jobs(ctx, &jobs)
        }
    }
}

/// The report's layers, one line each, the table marked with `*` and each node's relation.
fn report_text(report: &Report) -> String {
    let mut text = String::new();
    let layers = report.nodes.iter().map(|n| n.layer + 1).max().unwrap_or(0);
    for layer in 0..layers {
        let names: Vec<String> = report
            .nodes
            .iter()
            .filter(|n| n.layer == layer)
            .map(|n| match n.relation {
                Relation::Table => format!("*{}*", n.name),
                _ => n.name.clone(),
            })
            .collect();
        text.push_str(&format!("{layer}  {}\n", names.join(", ")));
    }
    text.push_str(&format!(
        "ancestors: {}\ndescendants: {}\n",
        or_dash(Some(report.ancestors.join(", ")).filter(|s| !s.is_empty())),
        or_dash(Some(report.descendants.join(", ")).filter(|s| !s.is_empty()))
    ));
    text
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
    output::print(&status_tree(tables))
}

/// The tables as a tree from the roots (tables nothing feeds) down to their children; a table
/// with several parents is shown in full under the first and as `(↑ shown above)` after.
fn status_tree(tables: &[TableStatus]) -> String {
    let by_name: HashMap<&str, &TableStatus> =
        tables.iter().map(|t| (t.name.as_str(), t)).collect();
    let mut shown: HashSet<&str> = HashSet::new();
    let mut text = String::new();
    for root in tables.iter().filter(|t| t.parents.is_empty()) {
        branch(root, &by_name, &mut shown, "", None, &mut text);
    }
    text
}

/// One table's line under `prefix` (`last`: whether it is its parent's last child; `None` for
/// a root), then its children.
fn branch<'t>(
    table: &'t TableStatus,
    by_name: &HashMap<&str, &'t TableStatus>,
    shown: &mut HashSet<&'t str>,
    prefix: &str,
    last: Option<bool>,
    text: &mut String,
) {
    let (elbow, indent) = match last {
        None => ("", ""),
        Some(true) => ("└─ ", "   "),
        Some(false) => ("├─ ", "│  "),
    };
    let first = shown.insert(table.name.as_str());
    let detail = if first {
        describe(table)
    } else {
        "(↑ shown above)".to_string()
    };
    text.push_str(&format!("{prefix}{elbow}{}  {detail}\n", table.name));
    if !first {
        return;
    }
    let inner = format!("{prefix}{indent}");
    let children: Vec<&TableStatus> = table
        .children
        .iter()
        .filter_map(|c| by_name.get(c.as_str()).copied())
        .collect();
    for (i, child) in children.iter().enumerate() {
        branch(
            child,
            by_name,
            shown,
            &inner,
            Some(i + 1 == children.len()),
            text,
        );
    }
}

/// A table's job, state, records and last checkpoint, in one line.
fn describe(table: &TableStatus) -> String {
    let Some(job) = &table.job else {
        return "(no job: a source or a view)".to_string();
    };
    let (Some(id), Some(state)) = (&table.job_id, table.state) else {
        return format!("{job}  not running");
    };
    let mut line = format!("{job}  {state}  {id}");
    if let (Some(i), Some(o)) = (table.records_in, table.records_out) {
        line.push_str(&format!("  in {i}  out {o}"));
    }
    match &table.last_checkpoint {
        Some(c) => line.push_str(&format!("  checkpoint {} at {}", c.id, clock(c.time))),
        None => line.push_str("  no checkpoint"),
    }
    if let Some(r) = &table.restored_from {
        let kind = if r.is_savepoint {
            "savepoint"
        } else {
            "checkpoint"
        };
        line.push_str(&format!(
            "  (resumed from {kind} {})",
            or_dash(r.path.clone())
        ));
    }
    line
}

/// Milliseconds since the epoch as an RFC 3339 time in seconds (UTC).
fn clock(millis: i64) -> String {
    let time = std::time::UNIX_EPOCH + std::time::Duration::from_millis(millis.max(0) as u64);
    humantime::format_rfc3339_seconds(time).to_string()
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
