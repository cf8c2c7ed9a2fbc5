//! The command line: clap types, global flags, input gathering, logging, exit codes and the
//! rendering of failures. Each subcommand lives in its own module.

/// `eprintln!` for the whole command line (this definition shadows the standard one in every
/// module declared below): a message to a closed stderr (`flinkit … 2>&1 | head -1`) is lost,
/// never a panic, so the command still ends with its own exit code.
macro_rules! eprintln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

/// `eprint!` that never panics, like [`eprintln!`] above.
macro_rules! eprint {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stderr(), $($arg)*);
    }};
}

mod args;
mod completions;
mod consume;
mod demo;
mod flink_pulsar;
mod graph;
mod jobs;
mod launch;
mod local;
mod output;
mod pipeline;
mod produce;
mod progress;
mod report;
mod run;
mod setup;
mod split;
mod stack;
mod topic;
mod validate;
mod values;

use std::process::ExitCode;

use anyhow::Context as _;
use clap::{ArgMatches, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};

pub use output::{ColorMode, Format};

/// flinkit — run Apache Flink SQL without learning Flink.
#[derive(Parser, Debug)]
#[command(name = "flinkit", version, about, long_about = None, propagate_version = true)]
#[command(after_help = "Examples:
  flinkit demo
  flinkit split -f job.sql --format json
  flinkit graph -f sql/ --format mermaid
  flinkit completions bash > /etc/bash_completion.d/flinkit")]
pub struct Cli {
    /// More logging on stderr (-v info, -vv debug, -vvv trace); FLINKIT_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// Output format: text for people, json for scripts (graph also takes dot and mermaid; pipeline report mermaid and html).
    #[arg(long, value_enum, default_value_t = Format::Text, global = true)]
    pub format: Format,
    /// When to color text output.
    #[arg(long, value_enum, default_value_t = ColorMode::Auto, global = true)]
    pub color: ColorMode,
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Split SQL into statements and describe each one (kind, name, target, sources, position).
    #[command(after_help = "Examples:
  flinkit split -f job.sql
  flinkit split --format json \"CREATE TABLE t (x INT) WITH ('connector' = 'datagen')\" \"INSERT INTO o SELECT x FROM t\"
  cat job.sql | flinkit split -")]
    Split(split::SplitArgs),
    /// Check a script offline: connector options, formats, keys, metadata columns, INSERTs.
    #[command(after_help = "Examples:
  flinkit validate -f job.sql
  flinkit validate -f job.sql --format json
  flinkit validate -f job.sql --var KAFKA=broker:9092     # values for ${KAFKA} in options
  flinkit validate -f seed.sql --fix                      # show repairs as a diff
  flinkit validate -f seed.sql --fix --write              # apply them")]
    Validate(validate::ValidateArgs),
    /// Show the table graph of a script: tables, views, INSERT edges and a deploy order.
    #[command(after_help = "Examples:
  flinkit graph -f sql/user-count/kafka.sql
  flinkit graph -f sql/ --format json
  flinkit graph -f job.sql --format dot | dot -Tpng > graph.png")]
    Graph(graph::GraphArgs),
    /// Run a script as one Flink job (locally on an embedded Flink by default).
    #[command(after_help = "Examples:
  flinkit launch -f job.sql                          # runs until the job ends or Ctrl-C
  flinkit launch \"CREATE TABLE …\" \"INSERT INTO …\"    # one statement per argument
  flinkit launch -f job.sql --detach --format json   # background; prints pid, log, web UI
  flinkit launch -f stream.sql --timeout 30s         # run a streaming job for 30 seconds
  flinkit local up; flinkit launch -f job.sql        # in the warm local session: about a second")]
    Launch(Box<launch::LaunchArgs>),
    /// A warm local Flink in the background, so that local runs and `validate --deep` take about
    /// a second: up, down, status.
    #[command(after_help = "Examples:
  flinkit local up                        # start it; stops after 15 minutes without a run
  flinkit local up --idle-timeout 2h --exit-with $$   # and when this shell exits
  flinkit launch -f job.sql               # runs in the session while it is up
  flinkit local status --format json      # {\"running\",\"pid\",\"web_ui\",…}
  flinkit local down")]
    Local(local::LocalArgs),
    /// Jobs on a running cluster: list, status, watch, exceptions, cancel, stop with a savepoint.
    #[command(after_help = "Examples:
  flinkit jobs list --format json
  flinkit jobs status 5f0c…
  flinkit jobs watch 5f0c…                # records/s, busy time, back pressure, every second
  flinkit jobs stop 5f0c… --savepoint-dir file:///tmp/savepoints
  FLINKIT_FLINK_URL=http://flink:8081 flinkit jobs list")]
    Jobs(jobs::JobsArgs),
    /// Build and cache what running Flink needs: the runner jar and Flink's runtime classpath.
    #[command(after_help = "Examples:
  flinkit setup             # first run: Maven downloads Flink (about a minute)
  flinkit setup --verify    # check every cached jar's SHA-256
  flinkit setup --force     # rebuild from scratch")]
    Setup(setup::SetupArgs),
    /// Run a local Flink cluster, SQL Gateway, Kafka, Pulsar and PostgreSQL: up, down, status, logs.
    #[command(after_help = "Examples:
  flinkit stack up                          # all five services; returns when healthy
  flinkit stack up --services kafka,flink   # some of them
  flinkit stack status --format json        # {\"services\":[{\"name\",\"healthy\",\"endpoint\"}]}
  flinkit stack up --services postgres       # jdbc:postgresql://localhost:5432/flinkit, user flinkit
  flinkit stack up --services schema-registry  # http://localhost:8085/apis/ccompat/v7 (avro-confluent.url)
  flinkit stack logs pulsar -n 100
  flinkit stack down --purge                # stop and delete the data")]
    Stack(stack::StackArgs),
    /// Send records to a Kafka or Pulsar topic, or a jdbc table's PostgreSQL table: flags, JSON
    /// lines, or generated from a table.
    #[command(after_help = "Examples:
  flinkit produce kafka users --key 100-1 --value '{\"uid\":\"100-1\",\"accountId\":\"100\"}'
  flinkit produce --table users -f sql/user-count/kafka.sql --file users.jsonl
  flinkit produce --table users -f sql/user-count/kafka.sql --tombstone 100-1
  flinkit produce pulsar events --file - --envelope < events.jsonl
  flinkit produce --table users -f users-jdbc.sql --file users.jsonl   # 'connector' = 'jdbc': one transaction
  flinkit produce --table orders -f orders.sql --file orders.csv    # 'format' = 'csv'
  flinkit produce --table orders -f debezium.sql --file events.jsonl  # 'format' = 'debezium-json'
  flinkit produce --table users -f sql/user-count/kafka-avro.sql --file users.jsonl   # avro-confluent: registered first
Formats, key and value, as Flink reads them: raw, json, csv (with the table's csv.* options; a
csv table also takes csv lines), avro and avro-confluent (the schema Flink derives from the
columns, registered at 'avro-confluent.url'), debezium-json, canal-json and maxwell-json (change
events: {\"op\",\"before\",\"after\"} or the format's own; plain rows and tombstones become events
with their before-images). A Pulsar topic's registered schema is read first: JSON rows that fit a
JSON schema are sent announcing it; anything else is explained and nothing is sent.")]
    Produce(Box<produce::ProduceArgs>),
    /// Read a Kafka or Pulsar topic (or a jdbc table's rows) as JSON lines, or as a materialized
    /// upsert table.
    #[command(after_help = "Examples:
  flinkit consume kafka users --count 10
  flinkit consume --table user_count_by_account -f sql/user-count/kafka.sql --upsert
  flinkit consume pulsar events --from 10m --follow
  flinkit consume --table users -f users-jdbc.sql --upsert             # a PostgreSQL table as it is
  flinkit consume --table orders -f debezium.sql --upsert   # events applied by PRIMARY KEY
  flinkit consume --table users -f sql/user-count/kafka-avro.sql --upsert   # Avro, schemas by id from the registry
A changelog table's records (debezium-json, canal-json, maxwell-json) print the row after the
change as `value`, with `op` (c, r, u, d) and `before`.")]
    Consume(Box<consume::ConsumeArgs>),
    /// Show a tutorial's job working: stack, records, job, result table, all in one command.
    #[command(after_help = "Examples:
  flinkit demo                                   # user-count on Kafka
  flinkit demo favorite-color-cheese --broker kafka
  flinkit demo user-delete --broker pulsar --format json
  flinkit demo --down                            # and stop the services it started")]
    Demo(demo::DemoArgs),
    /// Deploy a folder of tables as many jobs, one per sink table, parents first; show its
    /// status; undeploy it; report a table's lineage.
    #[command(after_help = "Examples:
  flinkit pipeline deploy -f pipelines/ --env dev --dry-run   # the plan, nothing changed
  flinkit pipeline deploy -f pipelines/ --env dev             # start, upgrade, restart jobs
  flinkit pipeline deploy -f pipelines/ fact_orders            # one table and its ancestors
  flinkit pipeline status -f pipelines/ --env dev --format json
  flinkit pipeline undeploy -f pipelines/ --env dev
  flinkit pipeline report fact_orders -f pipelines/ --format html > fact_orders.html")]
    Pipeline(pipeline::PipelineArgs),
    /// Feed a script's sources, run it, watch it, read its sinks and measure the run.
    #[command(after_help = "Examples:
  flinkit run -f sql/user-count/kafka.sql --target rest --duration 30s --rate 200
  flinkit run -f job.sql --traffic-pattern 10s-20s:300% --report run.html
  flinkit run -f job.sql --rows users=users.jsonl --format json
  flinkit run -f job.sql --set execution.checkpointing.interval=5s --keep")]
    Run(Box<run::RunArgs>),
    /// Print a shell completion script.
    #[command(after_help = "Examples:
  flinkit completions bash > ~/.local/share/bash-completion/completions/flinkit
  flinkit completions zsh > \"${fpath[1]}/_flinkit\"")]
    Completions(completions::CompletionsArgs),
}

/// What every command gets besides its own flags.
pub struct Context<'a> {
    pub format: Format,
    pub color: ColorMode,
    /// The matches of the running subcommand (for the order of inputs).
    pub matches: &'a ArgMatches,
}

/// A failure caused by the user's input (exit code 2) rather than by the world (exit code 1).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct InvalidInput(pub String);

/// A failure whose JSON document a command already printed (with its `error`), so that
/// `--format json` prints one document; text mode prints the message as usual.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Reported(pub String);

/// Parses the command line, runs the command and returns the exit code.
pub fn main() -> ExitCode {
    let matches = match Cli::command().try_get_matches() {
        Ok(matches) => matches,
        Err(err) => usage_error(err),
    };
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(err) => usage_error(err),
    };
    let name = matches.subcommand_name().unwrap_or_default();
    if let Err(problem) = require_format(name, cli.format, cli.command.formats()) {
        usage_error(Cli::command().error(clap::error::ErrorKind::InvalidValue, problem));
    }
    output::init_logging(cli.verbose);
    let sub = matches.subcommand().map(|(_, m)| m).unwrap_or(&matches);
    let ctx = Context {
        format: cli.format,
        color: cli.color,
        matches: sub,
    };
    let result = match &cli.command {
        Command::Split(args) => split::run(&ctx, args),
        Command::Graph(args) => graph::run(&ctx, args),
        Command::Validate(args) => validate::run(&ctx, args),
        Command::Launch(args) => launch::run(&ctx, args),
        Command::Local(args) => local::run(&ctx, args),
        Command::Jobs(args) => jobs::run(&ctx, args),
        Command::Setup(args) => setup::run(&ctx, args),
        Command::Stack(args) => stack::run(&ctx, args),
        Command::Produce(args) => produce::run(&ctx, args),
        Command::Consume(args) => consume::run(&ctx, args),
        Command::Demo(args) => demo::run(&ctx, args),
        Command::Pipeline(args) => pipeline::run(&ctx, args),
        Command::Run(args) => run::run(&ctx, args),
        Command::Completions(args) => completions::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => report::failure(&ctx, &err),
    }
}

/// Exits on a command line clap refused: as clap prints it, and with `--format json` also the
/// contract's `{"error":{"message","help"}}` on stdout, so that a script reading stdout gets
/// one document for every failure. Help and version requests print and exit 0 as usual.
fn usage_error(err: clap::Error) -> ! {
    use clap::error::ErrorKind;
    let usage = !matches!(
        err.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    );
    if usage && json_requested(std::env::args()) {
        let rendered = err.render().to_string();
        let message = rendered
            .lines()
            .find(|line| !line.trim().is_empty())
            .unwrap_or_default()
            .trim_start_matches("error: ")
            .to_string();
        let mut error = serde_json::json!({ "message": message });
        if let Some(tip) = rendered
            .lines()
            .find_map(|line| line.trim().strip_prefix("tip: "))
        {
            error["help"] = serde_json::json!(tip);
        }
        let _ = output::print_json(&serde_json::json!({ "error": error }));
    }
    err.exit()
}

/// Whether the command line asks for `--format json` (read from the raw arguments, as clap
/// refused them).
fn json_requested(args: impl Iterator<Item = String>) -> bool {
    let mut previous_is_format = false;
    for arg in args {
        if arg == "--" {
            return false;
        }
        if arg == "--format=json" || (previous_is_format && arg == "json") {
            return true;
        }
        previous_is_format = arg == "--format";
    }
    false
}

impl Command {
    /// The output formats the command prints.
    fn formats(&self) -> &'static [Format] {
        match self {
            Self::Graph(_) => &[Format::Text, Format::Json, Format::Dot, Format::Mermaid],
            Self::Pipeline(args)
                if matches!(args.command, pipeline::PipelineCommand::Report(_)) =>
            {
                &[Format::Text, Format::Json, Format::Mermaid, Format::Html]
            }
            Self::Completions(_) => &[Format::Text],
            _ => &[Format::Text, Format::Json],
        }
    }
}

/// Rejects output formats a command does not have, when the flags are parsed.
fn require_format(command: &str, format: Format, allowed: &[Format]) -> Result<(), String> {
    if allowed.contains(&format) {
        return Ok(());
    }
    let name = |f: &Format| {
        f.to_possible_value()
            .map_or("?".into(), |v| v.get_name().to_string())
    };
    let names: Vec<String> = allowed.iter().map(name).collect();
    Err(format!(
        "`{command}` prints --format {}, not {}",
        names.join("|"),
        name(&format)
    ))
}

/// Runs an async library call to completion on a runtime this command owns (the library is
/// async; the CLI is one call at a time).
pub fn block_on<F: std::future::Future>(future: F) -> anyhow::Result<F::Output> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    Ok(runtime.block_on(future))
}

#[cfg(test)]
mod tests {
    use super::json_requested;

    fn args(line: &str) -> impl Iterator<Item = String> {
        line.split(' ')
            .map(str::to_string)
            .collect::<Vec<_>>()
            .into_iter()
    }

    #[test]
    fn json_is_requested_by_the_format_flag_only() {
        assert!(json_requested(args(
            "flinkit launch --format json --parallelism 0"
        )));
        assert!(json_requested(args("flinkit --format=json launch -x")));
        assert!(!json_requested(args("flinkit launch --format text json")));
        assert!(!json_requested(args("flinkit launch json")));
        assert!(!json_requested(args("flinkit split -- --format json")));
    }
}
