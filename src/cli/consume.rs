//! `flinkit consume`: reads a Kafka or Pulsar topic (or a jdbc table's rows) and prints each
//! record as a JSON line
//! (decoded per the table's formats with --table), or with `--upsert` the materialized table:
//! the latest row per key, tombstones removing keys.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use clap::Args;
use flinkit::bridge::table::TableSpec;
use flinkit::bridge::upsert::UpsertView;
use flinkit::bridge::{self, ConsumeOptions, InRecord, Next, Position, StartAt, codec};
use serde_json::{Map, Value, json};

use super::topic::TopicArgs;
use super::{Context, Format, InvalidInput, output};

/// Flags of `flinkit consume`.
#[derive(Args, Debug)]
pub struct ConsumeArgs {
    #[command(flatten)]
    pub topic: TopicArgs,
    /// Where to start: earliest, latest, a time (2024-05-01T10:00:00Z), or a time ago (10m).
    #[arg(long, value_name = "WHERE", default_value = "earliest", value_parser = parse_start)]
    pub from: StartAt,
    /// Stop after this many records.
    #[arg(long, value_name = "N", value_parser = super::values::count)]
    pub count: Option<u64>,
    /// Stop after this long without a new record.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = super::values::duration)]
    pub timeout: Duration,
    /// Keep reading new records at the end of the topic (until --count, --timeout or Ctrl-C).
    #[arg(long)]
    pub follow: bool,
    /// Consumer group (Kafka) or subscription (Pulsar): resume where it left off and commit.
    /// Without it nothing is committed.
    #[arg(long, value_name = "NAME", value_parser = super::values::non_empty)]
    pub group: Option<String>,
    /// Print the materialized table (latest row per key; tombstones delete) instead of records.
    #[arg(long)]
    pub upsert: bool,
}

/// `earliest`, `latest`, an RFC 3339 time, milliseconds since the epoch, or a duration ago.
fn parse_start(text: &str) -> Result<StartAt, String> {
    match text {
        "earliest" | "beginning" => return Ok(StartAt::Earliest),
        "latest" | "end" => return Ok(StartAt::Latest),
        _ => {}
    }
    if let Ok(ms) = text.parse::<i64>() {
        return Ok(StartAt::Timestamp(ms));
    }
    let millis = |t: SystemTime| {
        t.duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
    };
    if let Ok(time) = humantime::parse_rfc3339_weak(text) {
        return Ok(StartAt::Timestamp(millis(time)));
    }
    if let Ok(ago) = humantime::parse_duration(text.trim_start_matches('-')) {
        return Ok(StartAt::Timestamp(millis(SystemTime::now() - ago)));
    }
    Err(
        "expected earliest, latest, a time like 2024-05-01T10:00:00Z, epoch milliseconds, \
         or a duration ago like 10m"
            .into(),
    )
}

/// Runs `flinkit consume`.
pub fn run(ctx: &Context<'_>, args: &ConsumeArgs) -> anyhow::Result<()> {
    if args.upsert && args.follow {
        return Err(InvalidInput(
            "--upsert prints the table once the topic is read; it cannot --follow".into(),
        )
        .into());
    }
    let target = args.topic.resolve()?;
    target.ready_formats(false)?;
    let options = ConsumeOptions {
        start: args.from,
        follow: args.follow,
        group: args.group.clone(),
    };
    let mut consumer = bridge::consumer(
        &target.endpoint,
        &target.topics,
        target.table.as_ref(),
        &options,
        args.topic.connect_timeout,
    )
    .with_context(|| format!("cannot consume {}", target.describe()))?;
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst))
        .context("cannot handle Ctrl-C")?;

    let mut view = args.upsert.then(|| UpsertView::new(target.table.clone()));
    // Records are written through a buffer, flushed whenever the topic goes quiet and at the
    // end; a reader that closes the pipe (`| head`) ends the run quietly.
    let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    let mut read = 0u64;
    let mut idle_since = Instant::now();
    let tick = Duration::from_millis(200);
    while !stop.load(Ordering::Relaxed) && args.count.is_none_or(|n| read < n) {
        match consumer.next(tick)? {
            Next::Record(record) => {
                read += 1;
                idle_since = Instant::now();
                match view.as_mut() {
                    Some(view) => {
                        if let Err(err) = view.apply(&record) {
                            eprintln!("warning: left out of the table: {err}");
                        }
                    }
                    None => {
                        let line = record_json(target.table.as_ref(), &record);
                        if !write_line(&mut out, &line)? {
                            break;
                        }
                    }
                }
            }
            Next::Idle if idle_since.elapsed() >= args.timeout => break,
            Next::Idle => {
                if !flush(&mut out)? {
                    break;
                }
            }
            Next::End => break,
        }
    }
    flush(&mut out)?;
    drop(out);
    consumer.commit()?;
    if let Some(view) = view {
        match ctx.format {
            Format::Json => {
                let rows: Vec<Value> = view
                    .rows()
                    .into_iter()
                    .map(|r| Value::Object(r.clone()))
                    .collect();
                output::print_json(&json!({ "rows": rows }))?;
            }
            _ => output::print(&view.to_text())?,
        }
        if view.unkeyed() > 0 {
            eprintln!(
                "warning: {} record{} without a key were left out of the table",
                view.unkeyed(),
                if view.unkeyed() == 1 { "" } else { "s" }
            );
        }
    }
    Ok(())
}

/// Writes one JSON line; false when stdout was closed.
fn write_line(out: &mut impl Write, value: &Value) -> anyhow::Result<bool> {
    let result = serde_json::to_writer(&mut *out, value)
        .map_err(std::io::Error::from)
        .and_then(|()| out.write_all(b"\n"));
    closed_is_fine(result)
}

/// Flushes; false when stdout was closed.
fn flush(out: &mut impl Write) -> anyhow::Result<bool> {
    closed_is_fine(out.flush())
}

fn closed_is_fine(result: std::io::Result<()>) -> anyhow::Result<bool> {
    match result {
        Ok(()) => Ok(true),
        Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => Ok(false),
        Err(err) => Err(err.into()),
    }
}

/// One record as the contract's JSON line.
fn record_json(table: Option<&TableSpec>, record: &InRecord) -> Value {
    let mut out = Map::new();
    out.insert("topic".into(), json!(record.topic));
    let mut problems = Vec::new();
    let key = record.key.as_deref().map(|key| match table {
        Some(t) if t.key_format.is_some() => match t.decode_key(key) {
            Ok(columns) if columns.len() == 1 => {
                columns.into_iter().next().map_or(Value::Null, |(_, v)| v)
            }
            Ok(columns) => Value::Object(columns),
            Err(e) => {
                problems.push(format!("key: {e}"));
                codec::show(key)
            }
        },
        _ => codec::show(key),
    });
    out.insert("key".into(), key.unwrap_or(Value::Null));
    let mut change = None;
    let value = record.value.as_deref().map(|value| match table {
        Some(t) if t.is_changelog() => match t.decode_changes(value) {
            Ok(events) => {
                let after = match events.as_slice() {
                    [one] => one.after.clone().map_or(Value::Null, Value::Object),
                    _ => Value::Null,
                };
                change = Some(events);
                after
            }
            Err(e) => {
                problems.push(format!("value: {e}"));
                codec::show(value)
            }
        },
        Some(t) => match t.decode_row(record.key.as_deref(), value) {
            Ok(row) => Value::Object(row),
            Err(e) => {
                problems.push(format!("value: {e}"));
                codec::show(value)
            }
        },
        None => codec::show(value),
    });
    out.insert("value".into(), value.unwrap_or(Value::Null));
    match change.as_deref() {
        // A change event: `value` is the row after it (null for a delete), `before` the row
        // before it, `op` what happened (c, r, u, d).
        Some([one]) => {
            out.insert("op".into(), json!(one.op.as_str()));
            out.insert(
                "before".into(),
                one.before.clone().map_or(Value::Null, Value::Object),
            );
        }
        // A Canal event of several rows (or a DDL event, none): each change in `changes`.
        Some(many) => {
            let changes: Vec<Value> = many
                .iter()
                .map(|c| {
                    json!({
                        "op": c.op.as_str(),
                        "before": c.before.clone().map_or(Value::Null, Value::Object),
                        "after": c.after.clone().map_or(Value::Null, Value::Object),
                    })
                })
                .collect();
            out.insert("changes".into(), Value::Array(changes));
        }
        None => {}
    }
    out.insert("timestamp".into(), json!(record.timestamp));
    let properties: Map<String, Value> = record
        .properties
        .iter()
        .map(|(k, v)| (k.clone(), json!(v)))
        .collect();
    out.insert("properties".into(), Value::Object(properties));
    match &record.position {
        Position::Kafka { partition, offset } => {
            out.insert("partition".into(), json!(partition));
            out.insert("offset".into(), json!(offset));
        }
        Position::Pulsar { message_id } => {
            out.insert("message_id".into(), json!(message_id));
        }
        Position::Row { row } => {
            out.insert("row".into(), json!(row));
        }
    }
    if !problems.is_empty() {
        out.insert("decode_error".into(), json!(problems.join("; ")));
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_positions() {
        assert_eq!(parse_start("earliest"), Ok(StartAt::Earliest));
        assert_eq!(parse_start("latest"), Ok(StartAt::Latest));
        assert_eq!(
            parse_start("1700000000000"),
            Ok(StartAt::Timestamp(1_700_000_000_000))
        );
        assert_eq!(
            parse_start("2024-05-01T10:00:00Z"),
            Ok(StartAt::Timestamp(1_714_557_600_000))
        );
        assert!(matches!(parse_start("10m"), Ok(StartAt::Timestamp(_))));
        assert!(parse_start("yesterday").is_err());
    }
}
