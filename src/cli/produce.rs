//! `flinkit produce`: sends records to a Kafka or Pulsar topic (or a jdbc table's PostgreSQL
//! table) — from flags, from JSON lines (checked first, then sent), or generated from the
//! table's schema — and exits non-zero unless
//! every record was acknowledged.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::Args;
use flinkit::bridge::format::changelog::{Change, Images, SharedImages};
use flinkit::bridge::format::pulsar_schema::{TopicSchema, topic_schema};
use flinkit::bridge::generate::{GenerateOptions, Generated, Generator, KeySpace, Pacer, Schedule};
use flinkit::bridge::input::{Encoder, InputError, Shape};
use flinkit::bridge::produce::{self, Delivery, Progress, Step};
use flinkit::bridge::pulsar::PulsarProducer;
use flinkit::bridge::spool::{self, SpoolOptions, Spooled};
use flinkit::bridge::table::TableSpec;
use flinkit::bridge::upsert::UpsertView;
use flinkit::bridge::{self, BridgeError, Broker, OutRecord};
use flinkit::config::Settings;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

use super::topic::{Target, TopicArgs, open_input};
use super::{Context, Format, InvalidInput, Reported, output};

/// How many bad records are listed before the rest are only counted.
const SHOWN_ERRORS: usize = 10;

/// Flags of `flinkit produce`.
#[derive(Args, Debug)]
pub struct ProduceArgs {
    #[command(flatten)]
    pub topic: TopicArgs,
    /// The key of the one record given with --value (with a table: the key column's value).
    #[arg(long, value_name = "KEY", requires = "value")]
    pub key: Option<String>,
    /// One record's value, as JSON (with a table: an object of its columns).
    #[arg(long, value_name = "JSON", conflicts_with_all = ["file", "tombstone"])]
    pub value: Option<String>,
    /// Send a tombstone (a delete) for this key.
    #[arg(long, value_name = "KEY", conflicts_with = "file")]
    pub tombstone: Option<String>,
    /// JSON lines to send, one record per line (`-` reads stdin); checked before anything is sent.
    /// A csv table also takes csv lines (a line not starting with `{`); a changelog table
    /// (debezium-json, canal-json, maxwell-json) takes change events as well as plain rows.
    #[arg(long = "file", value_name = "PATH")]
    pub file: Option<PathBuf>,
    /// Without a table: the field of each value whose value is the message key.
    #[arg(long, value_name = "FIELD", conflicts_with = "table")]
    pub key_field: Option<String>,
    /// Lines are envelopes: {"key": …, "value": …|null, "properties": {…}, "timestamp": ms}.
    #[arg(long)]
    pub envelope: bool,
    /// A property (Kafka header) on every record (repeatable).
    #[arg(long = "property", value_name = "KEY=VALUE", value_parser = super::args::KeyValue)]
    pub properties: Vec<(String, String)>,
    /// Skip the first N lines of --file (resume an interrupted run).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub skip: u64,
    /// Send the valid records of --file and report the invalid ones, instead of sending nothing.
    #[arg(long)]
    pub skip_invalid: bool,
    /// Generate N realistic records from the table's columns (needs --table).
    #[arg(long, value_name = "N", requires = "table", conflicts_with_all = ["file", "value", "tombstone"], value_parser = super::values::count)]
    pub generate: Option<u64>,
    /// Generate records for this long (needs --table; with --generate, whichever ends first).
    #[arg(long, value_name = "DURATION", requires = "table", value_parser = super::values::duration,
          conflicts_with_all = ["file", "value", "tombstone"])]
    pub duration: Option<Duration>,
    /// Generated records per second (default: as fast as the broker takes them).
    #[arg(long, value_name = "R", value_parser = super::values::rate)]
    pub rate: Option<String>,
    /// Rate changes for load tests, relative to the start: `30s-60s:300%,90s-100s:0%`.
    #[arg(long, value_name = "WINDOWS", requires = "rate", value_parser = super::values::traffic_pattern)]
    pub traffic_pattern: Option<String>,
    /// Seed of the generator, to repeat a run (printed when not given).
    #[arg(long, value_name = "SEED")]
    pub seed: Option<u64>,
    /// How many distinct keys generated records use (default: a quarter of --generate N, so
    /// keys repeat as updates).
    #[arg(long, value_name = "N", value_parser = super::values::count)]
    pub key_space: Option<u64>,
    /// The share of generated records that are tombstones of a key seen before (0 to 1).
    #[arg(long, value_name = "RATIO", default_value_t = 0.0, value_parser = super::values::ratio)]
    pub tombstone_ratio: f64,
    /// How long to wait for the last acknowledgements.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = super::values::duration)]
    pub timeout: Duration,
}

/// Runs `flinkit produce`.
pub fn run(ctx: &Context<'_>, args: &ProduceArgs) -> anyhow::Result<()> {
    let stdin = |p: &PathBuf| p.as_os_str() == "-";
    if args.file.as_ref().is_some_and(stdin) && args.topic.sql_files.iter().any(stdin) {
        return Err(InvalidInput(
            "-f - and --file - both read standard input; the SQL would swallow the records: \
             give one of them a file"
                .into(),
        )
        .into());
    }
    let mut target = args.topic.resolve()?;
    if target.topics.len() != 1 {
        return Err(InvalidInput(format!(
            "produce writes one topic, and {} are named ({}); pick one with TOPIC",
            target.topics.len(),
            target.topics.join(", ")
        ))
        .into());
    }
    // A Pulsar topic's registered schema is checked before anything is read or sent; an AVRO
    // one becomes the table's value schema.
    let mut announced = None;
    if target.endpoint.broker == Broker::Pulsar
        && let Some((_, schema)) = pulsar_schema(&target, args.topic.connect_timeout)?
    {
        let topic = &target.topics[0];
        schema
            .check(topic, target.table.as_ref())
            .map_err(InvalidInput)?;
        if let Some(table) = &target.table {
            target.table = Some(schema.writing_table(table).map_err(|e| {
                InvalidInput(format!(
                    "the schema of {topic} (version {}): {e}",
                    schema.version
                ))
            })?);
        }
        announced = schema.producer_schema(topic);
    }
    target.ready_formats(true)?;
    // A changelog table's before-images start from the rows its topic holds: the producer
    // is opened first (it creates a missing topic), then the topic is read to its end.
    let changelog = target
        .table
        .as_ref()
        .filter(|t| t.is_changelog() && !t.row_key_columns().is_empty());
    let mut opened = None;
    let images = match changelog {
        Some(table) => {
            opened = Some(open(&target, args, announced.clone())?);
            topic_rows(&target, table, args)?
        }
        None => Images::new(),
    };
    let encoder = Encoder {
        table: target.table.clone(),
        shape: if args.envelope {
            Shape::Envelope
        } else {
            Shape::Value
        },
        key_field: args.key_field.clone(),
        properties: args.properties.clone(),
        images: SharedImages::new(images),
    };
    let stop = Arc::new(AtomicBool::new(false));
    let checking = Arc::new(AtomicBool::new(false));
    let (flag, in_check, json) = (stop.clone(), checking.clone(), ctx.format == Format::Json);
    ctrlc::set_handler(move || {
        if in_check.load(Ordering::SeqCst) {
            // Nothing is sent while the input is read and checked (a pipe may stay idle for
            // ever), so there is nothing to flush: stop at once.
            let message = "interrupted while reading and checking the input; nothing was sent";
            if json {
                let _ = output::print_json(&json!({ "error": { "message": message } }));
            } else {
                eprintln!("error: {message}");
            }
            std::process::exit(1);
        }
        flag.store(true, Ordering::SeqCst)
    })
    .context("cannot handle Ctrl-C")?;
    let mut open = |target: &Target, args: &ProduceArgs| match opened.take() {
        Some(producer) => Ok(producer),
        None => open(target, args, announced.clone()),
    };

    if let Some(path) = &args.file {
        checking.store(true, Ordering::SeqCst);
        let spooled = check_file(ctx, args, &encoder, path);
        checking.store(false, Ordering::SeqCst);
        let spooled = spooled?;
        if spooled.invalid > 0 {
            for error in &spooled.errors {
                eprintln!("warning: skipped {error}");
            }
        }
        let invalid = spooled.invalid;
        let mut producer = open(&target, args)?;
        let delivery = send(&mut *producer, spooled.steps(), &stop, args)?;
        if invalid > 0 {
            eprintln!("warning: skipped {invalid} invalid records");
        }
        return report(ctx, &target, &delivery);
    }

    if args.generate.is_some() || args.duration.is_some() {
        let table = target.table.as_ref().ok_or_else(|| {
            InvalidInput(
                "--generate and --duration need --table: records follow its columns".into(),
            )
        })?;
        let steps = generated(args, table, encoder.images.clone())?;
        let mut producer = open(&target, args)?;
        let delivery = send(&mut *producer, steps, &stop, args)?;
        return report(ctx, &target, &delivery);
    }
    if args.rate.is_some() {
        return Err(InvalidInput(
            "--rate paces generated records: add --generate N or --duration D".into(),
        )
        .into());
    }
    let record = match (&args.tombstone, &args.value) {
        (Some(key), None) => encoder.tombstone(key),
        (None, Some(value)) => encoder.single(args.key.as_deref(), value),
        _ => {
            return Err(InvalidInput(
                "give the records: --value JSON [--key K], --tombstone K, or --file PATH|-".into(),
            )
            .into());
        }
    }
    .map_err(|e| InvalidInput(e.message))?;
    let mut producer = open(&target, args)?;
    let steps = std::iter::once(Ok(Step::Record(1, record)));
    let delivery = send(&mut *producer, steps, &stop, args)?;
    report(ctx, &target, &delivery)
}

/// The rows a changelog table's topic holds now, latest per PRIMARY KEY: its events from the
/// earliest to the end, at the target's topic and endpoint (which flags may have changed).
fn topic_rows(target: &Target, table: &TableSpec, args: &ProduceArgs) -> anyhow::Result<Images> {
    let table = TableSpec {
        endpoint: target.endpoint.clone(),
        topics: target.topics.clone(),
        ..table.clone()
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .context("cannot start a runtime")?;
    let view = runtime
        .block_on(UpsertView::read(&table, args.topic.connect_timeout))
        .with_context(|| format!("cannot read the current rows of `{}`", table.name))?;
    Ok(Images::from_view(&view))
}

/// The producer of the target's topic; a Pulsar producer announces `announced`, the topic's
/// registered schema.
fn open(
    target: &Target,
    args: &ProduceArgs,
    announced: Option<pulsar::proto::Schema>,
) -> anyhow::Result<Box<dyn bridge::Producer>> {
    let topic = &target.topics[0];
    let timeout = args.topic.connect_timeout;
    let producer = match target.endpoint.broker {
        Broker::Pulsar => PulsarProducer::with_schema(&target.endpoint, topic, timeout, announced)
            .map(|p| Box::new(p) as Box<dyn bridge::Producer>),
        _ => bridge::producer(&target.endpoint, topic, timeout),
    };
    producer.with_context(|| format!("cannot produce to {}", target.describe()))
}

/// The admin API of a Pulsar endpoint: its `admin-url` setting, else `FLINKIT_PULSAR_ADMIN_URL`,
/// else for a broker on this machine the local stack's; `None` for a remote broker without one.
pub(super) fn pulsar_admin(endpoint: &bridge::Endpoint) -> anyhow::Result<Option<String>> {
    let given = endpoint
        .settings
        .iter()
        .rev()
        .find(|(k, _)| k == "admin-url")
        .map(|(_, url)| url.clone())
        .or_else(|| std::env::var("FLINKIT_PULSAR_ADMIN_URL").ok());
    let local = ["://localhost:", "://127.0.0.1:", "://[::1]:"]
        .iter()
        .any(|host| endpoint.address.contains(host));
    Ok(match given {
        Some(url) => Some(url),
        None if local => Some(Settings::load(None)?.stack.pulsar_admin()),
        None => {
            tracing::debug!(
                "no Pulsar admin URL for a remote broker: the topic's schema is not checked"
            );
            None
        }
    })
}

/// The schema registered for a Pulsar target's topic, read through the admin API (with the
/// API's URL): the table's 'admin-url', else `$FLINKIT_PULSAR_ADMIN_URL`, else — for a broker
/// on this machine — the local stack's. For a remote broker without an admin URL, and when the
/// admin API does not answer as one, the schema is not checked (a warning; the broker still
/// refuses what does not fit its schema).
pub(super) fn pulsar_schema(
    target: &Target,
    timeout: Duration,
) -> anyhow::Result<Option<(String, TopicSchema)>> {
    let Some(admin) = pulsar_admin(&target.endpoint)? else {
        return Ok(None);
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start a runtime")?;
    match runtime.block_on(topic_schema(
        &admin,
        &target.topics[0],
        &target.endpoint.settings,
        timeout,
    )) {
        Ok(schema) => Ok(schema.map(|s| (admin, s))),
        Err(err) => {
            eprintln!(
                "warning: the topic's schema was not checked: {}",
                err.with_causes()
            );
            Ok(None)
        }
    }
}

/// Checks and encodes every line of the file before anything is sent (the records wait in a
/// temporary file, so memory stays flat); fails, naming the first bad lines, unless every line
/// is valid or `--skip-invalid` leaves the bad ones out.
fn check_file(
    ctx: &Context<'_>,
    args: &ProduceArgs,
    encoder: &Encoder,
    path: &std::path::Path,
) -> anyhow::Result<Spooled> {
    let reader = open_input(path)?;
    let options = SpoolOptions {
        skip: args.skip,
        skip_invalid: args.skip_invalid,
        keep_errors: SHOWN_ERRORS,
    };
    let spooled = spool::spool(reader, encoder, options)
        .with_context(|| format!("cannot read {}", path.display()))?;
    if spooled.invalid == 0 || args.skip_invalid {
        return Ok(spooled);
    }
    let source = if path.as_os_str() == "-" {
        "<stdin>".to_string()
    } else {
        path.display().to_string()
    };
    let listed: Vec<String> = spooled
        .errors
        .iter()
        .map(|e| format!("{source}:{}: {}", e.line, e.message))
        .collect();
    if ctx.format == Format::Text {
        for item in &listed {
            eprintln!("error: {item}");
        }
    }
    let more = spooled.invalid - spooled.errors.len() as u64;
    let mut message = format!(
        "{} of {} records are invalid, so nothing was sent (--skip-invalid sends the valid ones)",
        spooled.invalid, spooled.checked
    );
    if ctx.format == Format::Json || more > 0 {
        message = format!("{message}:\n  {}", listed.join("\n  "));
        if more > 0 {
            message.push_str(&format!("\n  … and {more} more"));
        }
    }
    Err(InvalidInput(message).into())
}

/// Sends with a progress bar on a terminal.
pub fn send(
    producer: &mut dyn bridge::Producer,
    steps: impl Iterator<Item = Result<Step, BridgeError>>,
    stop: &AtomicBool,
    args: &ProduceArgs,
) -> anyhow::Result<Delivery> {
    let bar = std::io::stderr().is_terminal().then(|| {
        let bar = ProgressBar::new_spinner();
        bar.set_style(
            ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar
    });
    let started = std::time::Instant::now();
    let topic = producer.topic().to_string();
    let mut on_progress = |p: Progress| {
        if let Some(bar) = &bar {
            let secs = started.elapsed().as_secs_f64().max(0.001);
            bar.set_message(format!(
                "{topic}: {} sent, {} in flight, {} failed, {:.0}/s",
                p.sent,
                p.queued - p.sent - p.failed,
                p.failed,
                p.sent as f64 / secs
            ));
            bar.tick();
        }
    };
    let result = produce::send_all(producer, steps, stop, args.timeout, &mut on_progress);
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    Ok(result?)
}

/// Prints `{"sent","failed","topic"}` and fails unless every record was acknowledged (in JSON
/// mode the failure is the document's `error`, so stdout holds one document).
pub fn report(ctx: &Context<'_>, target: &Target, d: &Delivery) -> anyhow::Result<()> {
    let topic = &target.topics[0];
    let failure = if d.interrupted {
        Some(format!(
            "interrupted: input lines 1 to {n} are delivered; resume with --skip {n}",
            n = d.delivered_lines
        ))
    } else if d.failed > 0 {
        Some(format!(
            "{} record{} not acknowledged ({}): {}{}; lines 1 to {n} are delivered, resume with \
             --skip {n}",
            d.failed,
            if d.failed == 1 { " was" } else { "s were" },
            d.first_error.as_deref().unwrap_or("no reason given"),
            line_ranges(&d.failed_lines),
            d.unsent_after
                .map(|line| format!("; the lines after {line} were not sent"))
                .unwrap_or_default(),
            n = d.delivered_lines
        ))
    } else {
        None
    };
    match ctx.format {
        Format::Json => {
            let mut document = json!({
                "sent": d.sent,
                "failed": d.failed,
                "topic": topic,
                "broker": target.endpoint.broker.as_str(),
                "delivered_lines": d.delivered_lines,
                "failed_lines": d.failed_lines,
                "unsent_after": d.unsent_after,
                "interrupted": d.interrupted,
                "elapsed_ms": d.elapsed.as_millis() as u64,
            });
            if let Some(message) = &failure {
                document["error"] = json!({ "message": message });
            }
            output::print_json(&document)?;
            if let Some(message) = failure {
                return Err(Reported(message).into());
            }
        }
        _ => {
            let secs = d.elapsed.as_secs_f64();
            eprintln!(
                "sent {} record{} to {} in {secs:.2}s{}",
                d.sent,
                if d.sent == 1 { "" } else { "s" },
                target.describe(),
                if d.failed > 0 {
                    format!(", {} failed", d.failed)
                } else {
                    String::new()
                }
            );
            if let Some(message) = failure {
                anyhow::bail!(message);
            }
        }
    }
    Ok(())
}

/// How many ranges of failed lines a text report names; JSON names them all.
const NAMED_RANGES: usize = 20;

/// `input line 7` or `input lines 2-4, 7, 9-10` (the first [`NAMED_RANGES`], then how many more).
fn line_ranges(ranges: &[(u64, u64)]) -> String {
    let single = matches!(ranges, [(a, b)] if a == b);
    let mut text = String::from(if single {
        "input line "
    } else {
        "input lines "
    });
    let named: Vec<String> = ranges
        .iter()
        .take(NAMED_RANGES)
        .map(|&(a, b)| {
            if a == b {
                a.to_string()
            } else {
                format!("{a}-{b}")
            }
        })
        .collect();
    text.push_str(&named.join(", "));
    if ranges.len() > NAMED_RANGES {
        text.push_str(&format!(
            " and {} more ranges (--format json lists them all)",
            ranges.len() - NAMED_RANGES
        ));
    }
    text
}

/// The steps of a generated run: records from the table's schema, paced by the schedule.
fn generated(
    args: &ProduceArgs,
    table: &TableSpec,
    images: SharedImages,
) -> anyhow::Result<impl Iterator<Item = Result<Step, BridgeError>> + use<>> {
    let schedule = Schedule::parse(args.rate.as_deref(), args.traffic_pattern.as_deref())
        .map_err(|e| InvalidInput(e.to_string()))?;
    let expected = match (
        args.generate,
        args.duration.map(|d| schedule.count_before(d)),
    ) {
        (Some(n), Some(Some(m))) => Some(n.min(m)),
        (Some(n), _) => Some(n),
        (None, Some(m)) => m,
        (None, None) => None,
    };
    let key_space = match args.key_space {
        Some(n) => KeySpace::Distinct(n),
        None => KeySpace::for_rows(expected),
    };
    let mut generator = Generator::for_table(
        table,
        GenerateOptions {
            seed: args.seed,
            key_space,
            tombstone_ratio: args.tombstone_ratio,
            ..GenerateOptions::default()
        },
    )
    .map_err(|e| InvalidInput(e.to_string()))?;
    if args.seed.is_none() {
        eprintln!(
            "generating with seed {} (--seed {} repeats the run)",
            generator.seed(),
            generator.seed()
        );
    }
    let mut pacer = Pacer::new(schedule);
    let limit = args.generate;
    let duration = args.duration;
    let table = table.clone();
    let properties = args.properties.clone();
    let started = Instant::now();
    let mut made = 0u64;
    Ok(std::iter::from_fn(move || {
        if limit.is_some_and(|n| made >= n) || duration.is_some_and(|d| started.elapsed() >= d) {
            return None;
        }
        let wait = pacer.delay(started.elapsed());
        if wait > Duration::from_millis(1) {
            return Some(Ok(Step::Wait(wait.min(Duration::from_millis(100)))));
        }
        pacer.sent();
        made += 1;
        let record = match generator.next_item() {
            // A changelog's rows and deletes become events with their before-images.
            Generated::Row(row) if table.is_changelog() => {
                let change = images.with(|images| images.upsert(&table, row));
                changed(&table, &change, &properties)
            }
            Generated::Delete(key) if table.is_changelog() => images
                .with(|images| images.delete(&table, &key))
                .and_then(|change| changed(&table, &change, &properties)),
            Generated::Row(row) => table.encode_key(&row).and_then(|key| {
                Ok(OutRecord {
                    key,
                    value: Some(table.encode_value(&row, None)?),
                    properties: properties.clone(),
                    timestamp: None,
                })
            }),
            Generated::Delete(key) => table.encode_key(&key).map(|key| OutRecord {
                key,
                value: None,
                properties: properties.clone(),
                timestamp: None,
            }),
        };
        Some(record.map(|r| Step::Record(made, r)).map_err(|message| {
            InputError {
                line: made,
                message,
            }
            .into()
        }))
    }))
}

/// A change event of a changelog table as a record keyed by its row.
fn changed(
    table: &TableSpec,
    change: &Change,
    properties: &[(String, String)],
) -> Result<OutRecord, String> {
    let row = change
        .row()
        .ok_or_else(|| "an event without rows".to_string())?;
    Ok(OutRecord {
        key: table.encode_key(row)?,
        value: Some(table.encode_change(change)),
        properties: properties.to_vec(),
        timestamp: None,
    })
}

#[cfg(test)]
mod tests {
    use super::line_ranges;

    #[test]
    fn failed_lines_read_as_ranges_and_a_long_list_is_cut() {
        assert_eq!(line_ranges(&[(7, 7)]), "input line 7");
        assert_eq!(line_ranges(&[(2, 4), (7, 7)]), "input lines 2-4, 7");
        let many: Vec<(u64, u64)> = (0..25).map(|i| (i * 10, i * 10 + 1)).collect();
        let text = line_ranges(&many);
        assert!(text.starts_with("input lines 0-1, 10-11"), "{text}");
        assert!(
            text.ends_with("190-191 and 5 more ranges (--format json lists them all)"),
            "{text}"
        );
    }
}
