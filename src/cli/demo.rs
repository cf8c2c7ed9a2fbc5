//! `flinkit demo [NAME] [--broker kafka|pulsar]`: one command that shows a tutorial's job
//! working — the missing services of the local stack started, the records produced into fresh
//! topics, the job run on the stack's Flink, its result table printed once it is what the
//! tutorial says, and the job cancelled (the stack stays up unless `--down`).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context as _;
use clap::Args;
use flinkit::bridge::Broker;
use flinkit::demo::{self, DemoEvent, DemoOptions, DemoReport, Tutorial};
use flinkit::provision::Cache;
use flinkit::stack::{Service, Stack};
use serde_json::{Value, json};

use super::progress::Reporter;
use super::topic::BrokerArg;
use super::{Context, Format, InvalidInput, output};

/// Flags of `flinkit demo`.
#[derive(Args, Debug)]
pub struct DemoArgs {
    /// The tutorial: user-count, favorite-color-cheese or user-delete.
    #[arg(value_name = "NAME", default_value = demo::DEFAULT_TUTORIAL)]
    pub name: String,
    /// The broker whose variant of the tutorial runs.
    #[arg(long, value_enum, default_value_t = BrokerArg::Kafka)]
    pub broker: BrokerArg,
    /// How long each step may take to show its table (and the job to start).
    #[arg(long, value_name = "DURATION", default_value = "120s", value_parser = super::values::duration)]
    pub timeout: Duration,
    /// How long the stack's services may take to become healthy.
    #[arg(long, value_name = "DURATION", default_value = "180s", value_parser = super::values::duration)]
    pub stack_timeout: Duration,
    /// Afterwards, stop the services this run started (services already running stay up).
    #[arg(long)]
    pub down: bool,
    /// Also print the SQL that ran (its topics carry this run's suffix).
    #[arg(long)]
    pub show_sql: bool,
}

/// Runs `flinkit demo`.
pub fn run(ctx: &Context<'_>, args: &DemoArgs) -> anyhow::Result<()> {
    let tutorial = Tutorial::named(&args.name).map_err(|e| InvalidInput(e.to_string()))?;
    let (broker, service) = match args.broker {
        BrokerArg::Kafka => (Broker::Kafka, Service::Kafka),
        BrokerArg::Pulsar => (Broker::Pulsar, Service::Pulsar),
    };
    let stack = Stack::from_env(None)?;
    let needed = [Service::Flink, service];
    let missing: Vec<Service> = stack
        .status(&needed)
        .into_iter()
        .filter(|s| !s.healthy)
        .map(|s| s.service)
        .collect();
    let runtime = super::stack::runtime(&stack, super::stack::RuntimeArg::Auto);
    super::stack::start(
        &stack,
        runtime,
        &needed,
        flinkit::flink::line::FlinkLine::default(),
        args.stack_timeout,
    )?;

    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst))
        .context("cannot handle Ctrl-C")?;
    let ports = stack.ports();
    let options = DemoOptions {
        flink_url: ports.endpoint(Service::Flink),
        kafka: ports.endpoint(Service::Kafka),
        pulsar: ports.endpoint(Service::Pulsar),
        ..DemoOptions::local(broker, args.timeout)
    };
    eprintln!(
        "flinkit: demo {} on {broker}: {} (topics end in {})",
        tutorial.name, tutorial.title, options.topic_suffix
    );
    let cache = Cache::from_env()?;
    let mut reporter = Reporter::new(true);
    let result = super::block_on(demo::run(
        &tutorial,
        &options,
        &cache,
        &stop,
        &mut |event| on_event(&mut reporter, &tutorial, event),
    ))?;
    drop(reporter);
    let outcome = result
        .map_err(anyhow::Error::from)
        .and_then(|report| print(ctx, args, &tutorial, &report));
    if args.down {
        if missing.is_empty() {
            eprintln!("flinkit: --down: this run started no service, so none is stopped");
        } else {
            super::stack::stop(&stack, runtime, &missing, false)?;
        }
    }
    if stop.load(Ordering::SeqCst) {
        eprintln!("flinkit: interrupted; the job was cancelled");
        std::process::exit(130);
    }
    outcome
}

fn on_event(reporter: &mut Reporter, tutorial: &Tutorial, event: DemoEvent<'_>) {
    match event {
        DemoEvent::Provision(p) => reporter.provision(p),
        DemoEvent::Produced {
            topic, file, sent, ..
        } => reporter.done(&format!(
            "sent {sent} record{} from {}/{file} to {topic}",
            if sent == 1 { "" } else { "s" },
            tutorial.dir()
        )),
        DemoEvent::Submitting { flink_url } => {
            reporter.start(&format!("submitting the job to {flink_url}"))
        }
        DemoEvent::Running { job_id, name } => {
            reporter.done(&format!("job {name:?} ({job_id}) RUNNING"))
        }
        DemoEvent::Waiting { table, step } => reporter.start(&format!(
            "waiting for {table} to show step {} of {}: {}",
            step + 1,
            tutorial.steps.len(),
            tutorial.steps[step].note
        )),
        DemoEvent::Matched { step, took } => reporter.done(&format!(
            "{} is the tutorial's table for step {} after {:.1}s",
            tutorial.sink,
            step + 1,
            took.as_secs_f64()
        )),
        DemoEvent::Cancelled { job_id, state } => reporter.done(&format!("job {job_id} {state}")),
        _ => {}
    }
}

fn print(
    ctx: &Context<'_>,
    args: &DemoArgs,
    tutorial: &Tutorial,
    report: &DemoReport,
) -> anyhow::Result<()> {
    if ctx.format == Format::Json {
        let steps: Vec<Value> = report
            .steps
            .iter()
            .map(|s| {
                let produced: Vec<Value> = s
                    .produced
                    .iter()
                    .map(|p| json!({"file": p.file, "table": p.table, "topic": p.topic, "sent": p.sent}))
                    .collect();
                json!({"note": s.note, "produced": produced, "rows": s.rows,
                       "waited_ms": s.waited.as_millis() as u64})
            })
            .collect();
        let mut doc = json!({
            "tutorial": report.tutorial,
            "broker": report.broker.as_str(),
            "table": tutorial.sink,
            "rows": report.steps.last().map(|s| s.rows.clone()).unwrap_or_default(),
            "job_id": report.job_id,
            "job_name": report.job_name,
            "state": report.final_state,
            "steps": steps,
        });
        if args.show_sql {
            doc["sql"] = json!(report.sql);
        }
        return output::print_json(&doc);
    }
    let mut text = String::new();
    if args.show_sql {
        text.push_str(&report.sql);
        text.push_str("\n\n");
    }
    for (i, step) in report.steps.iter().enumerate() {
        if i > 0 {
            text.push('\n');
        }
        let files: Vec<&str> = step.produced.iter().map(|p| p.file.as_str()).collect();
        text.push_str(&format!("{} after {}:\n", tutorial.sink, files.join(", ")));
        text.push_str(&step.text);
    }
    output::print(&text)
}
