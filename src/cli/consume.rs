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
use flinkit::bridge::format::pulsar_schema::AvroReading;
use flinkit::bridge::table::TableSpec;
use flinkit::bridge::upsert::UpsertView;
use flinkit::bridge::{self, Broker, ConsumeOptions, InRecord, Next, Position, StartAt, codec};
use serde_json::Value;
use serde_json::value::RawValue;

use super::topic::{Target, TopicArgs};
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
    let mut avro = avro_reading(&target, args.topic.connect_timeout)?;
    // Schema versions that could not be read, each reported once.
    let mut unreadable = std::collections::BTreeSet::new();
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
    // Since when no record came, taken at the first idle tick (not at every record: reading
    // the clock for each costs as much as reading the record).
    let mut quiet_since: Option<Instant> = None;
    let tick = Duration::from_millis(200);
    while !stop.load(Ordering::Relaxed) && args.count.is_none_or(|n| read < n) {
        match consumer.next(tick)? {
            Next::Record(record) => {
                read += 1;
                quiet_since = None;
                // The table that decodes it: on a Pulsar topic with an AVRO schema, as the
                // schema version that wrote it reads it.
                let table = match avro.as_mut() {
                    Some(reading) => match reading.table(record.schema_version) {
                        Ok(table) => Some(table),
                        Err(err) => {
                            if unreadable.insert(record.schema_version) {
                                eprintln!("warning: {err}");
                            }
                            target.table.as_ref()
                        }
                    },
                    None => target.table.as_ref(),
                };
                match view.as_mut() {
                    Some(view) => {
                        // Without a table the view shows keys and values as they are.
                        let decoder = target.table.as_ref().and(table);
                        if let Err(err) = view.apply_decoded_by(&record, decoder) {
                            eprintln!("warning: left out of the table: {err}");
                        }
                    }
                    None => {
                        if !write_line(&mut out, table, &record)? {
                            break;
                        }
                    }
                }
            }
            // An idle tick means `tick` went by without a record.
            Next::Idle
                if quiet_since.get_or_insert_with(Instant::now).elapsed() + tick
                    >= args.timeout =>
            {
                break;
            }
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
                /// `{"rows":[…]}`, serialized straight from the view.
                #[derive(serde::Serialize)]
                struct Rows<'a> {
                    rows: Vec<&'a serde_json::Map<String, Value>>,
                }
                output::write_json(&Rows { rows: view.rows() })?;
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
        // The command ends here: the view's rows (every key's, millions of allocations) are
        // left to the process's exit instead of being freed one by one, a quarter of the run.
        std::mem::forget(view);
    }
    Ok(())
}

/// Writes one record as a JSON line; false when stdout was closed.
/// For one Pulsar topic with a registered AVRO schema: how its messages are decoded (a
/// warning, and the messages shown as they are, when the schema's fields have no Flink type).
fn avro_reading(target: &Target, timeout: Duration) -> anyhow::Result<Option<AvroReading>> {
    if target.endpoint.broker != Broker::Pulsar || target.topics.len() != 1 {
        return Ok(None);
    }
    let Some((admin, schema)) = super::produce::pulsar_schema(target, timeout)? else {
        return Ok(None);
    };
    let topic = &target.topics[0];
    let table = target.table.as_ref();
    match AvroReading::new(&schema, &admin, topic, table, &target.endpoint, timeout) {
        Ok(reading) => Ok(reading),
        Err(err) => {
            eprintln!(
                "warning: {topic}'s AVRO schema (version {}) does not decode it: {err}",
                schema.version
            );
            Ok(None)
        }
    }
}

fn write_line(
    out: &mut impl Write,
    table: Option<&TableSpec>,
    record: &InRecord,
) -> anyhow::Result<bool> {
    closed_is_fine(write_record(out, table, record).and_then(|()| out.write_all(b"\n")))
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

/// One record as the contract's JSON object, written field by field: `topic`, `key`, `value`,
/// `timestamp`, `properties`, the position (`partition` and `offset`, `message_id` or `row`),
/// and `decode_error` when the table's formats could not decode the key or value (which are
/// then shown as without a table). Nothing is built per record but the decoded rows of a table.
fn write_record(
    out: &mut impl Write,
    table: Option<&TableSpec>,
    record: &InRecord,
) -> std::io::Result<()> {
    let mut problems = Vec::new();
    out.write_all(b"{\"topic\":")?;
    write_json(out, &record.topic)?;
    out.write_all(b",\"key\":")?;
    match record.key.as_deref() {
        None => out.write_all(b"null")?,
        Some(key) => match table {
            Some(t) if t.key_format.is_some() => match t.decode_key(key) {
                Ok(columns) if columns.len() == 1 => {
                    write_json(out, columns.values().next().unwrap_or(&Value::Null))?;
                }
                Ok(columns) => write_json(out, &columns)?,
                Err(e) => {
                    problems.push(format!("key: {e}"));
                    write_shown(out, key)?;
                }
            },
            _ => write_shown(out, key)?,
        },
    }
    out.write_all(b",\"value\":")?;
    let mut change = None;
    match (record.value.as_deref(), table) {
        (None, _) => out.write_all(b"null")?,
        (Some(value), Some(t)) if t.is_changelog() => match t.decode_changes(value) {
            Ok(events) => {
                match events.as_slice() {
                    [one] => write_json(out, &one.after)?,
                    _ => out.write_all(b"null")?,
                }
                change = Some(events);
            }
            Err(e) => {
                problems.push(format!("value: {e}"));
                write_shown(out, value)?;
            }
        },
        (Some(value), Some(t)) => match t.decode_row(record.key.as_deref(), value) {
            Ok(row) => write_json(out, &row)?,
            Err(e) => {
                problems.push(format!("value: {e}"));
                write_shown(out, value)?;
            }
        },
        (Some(value), None) => write_shown(out, value)?,
    }
    match change.as_deref() {
        // A change event: `value` is the row after it (null for a delete), `before` the row
        // before it, `op` what happened (c, r, u, d).
        Some([one]) => {
            out.write_all(b",\"op\":")?;
            write_json(out, one.op.as_str())?;
            out.write_all(b",\"before\":")?;
            write_json(out, &one.before)?;
        }
        // A Canal event of several rows (or a DDL event, none): each change in `changes`.
        Some(many) => {
            let changes: Vec<Value> = many
                .iter()
                .map(|c| {
                    serde_json::json!({
                        "op": c.op.as_str(),
                        "before": &c.before,
                        "after": &c.after,
                    })
                })
                .collect();
            out.write_all(b",\"changes\":")?;
            write_json(out, &changes)?;
        }
        None => {}
    }
    out.write_all(b",\"timestamp\":")?;
    write_json(out, &record.timestamp)?;
    out.write_all(b",\"properties\":{")?;
    for (i, (name, value)) in record.properties.iter().enumerate() {
        if i > 0 {
            out.write_all(b",")?;
        }
        write_json(out, name)?;
        out.write_all(b":")?;
        write_json(out, value)?;
    }
    out.write_all(b"}")?;
    match &record.position {
        Position::Kafka { partition, offset } => {
            write!(out, ",\"partition\":{partition},\"offset\":{offset}")?;
        }
        Position::Pulsar { message_id } => {
            out.write_all(b",\"message_id\":")?;
            write_json(out, message_id)?;
        }
        Position::Row { row } => write!(out, ",\"row\":{row}")?,
    }
    if !problems.is_empty() {
        out.write_all(b",\"decode_error\":")?;
        write_json(out, &problems.join("; "))?;
    }
    out.write_all(b"}")
}

fn write_json(
    out: &mut impl Write,
    value: &(impl serde::Serialize + ?Sized),
) -> std::io::Result<()> {
    serde_json::to_writer(out, value).map_err(std::io::Error::from)
}

/// A key or value without a table, as [`codec::show`] gives it, written without building it:
/// JSON as it is (checked, and without the whitespace between its tokens, so that it stays on
/// one line), else its text as a JSON string when it is UTF-8, else `{"base64": …}`.
fn write_shown(out: &mut impl Write, bytes: &[u8]) -> std::io::Result<()> {
    if let Ok(raw) = serde_json::from_slice::<&RawValue>(bytes) {
        return write_compact(out, raw.get().as_bytes());
    }
    match std::str::from_utf8(bytes) {
        Ok(text) => write_json(out, text),
        Err(_) => write_json(out, &codec::show(bytes)),
    }
}

/// Valid JSON text without the whitespace outside its strings. Written here because serde_json
/// can only re-serialize a parsed tree (the allocation per string and number that this saves),
/// and checked against that in the tests.
fn write_compact(out: &mut impl Write, json: &[u8]) -> std::io::Result<()> {
    let mut from = 0;
    let mut at = 0;
    while at < json.len() {
        match json[at] {
            b'"' => {
                // A string, skipped to its closing quote: searched for with memchr, since
                // strings are most of a record's bytes.
                at += 1;
                loop {
                    match json
                        .get(at..)
                        .and_then(|rest| memchr::memchr2(b'"', b'\\', rest))
                    {
                        Some(i) if json[at + i] == b'"' => {
                            at += i + 1;
                            break;
                        }
                        Some(i) => at += i + 2,
                        None => {
                            at = json.len();
                            break;
                        }
                    }
                }
            }
            b' ' | b'\n' | b'\r' | b'\t' => {
                out.write_all(&json[from..at])?;
                at += 1;
                from = at;
            }
            _ => at += 1,
        }
    }
    out.write_all(&json[from.min(json.len())..])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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

    fn line(table: Option<&TableSpec>, record: &InRecord) -> String {
        let mut out = Vec::new();
        write_record(&mut out, table, record).unwrap();
        String::from_utf8(out).unwrap()
    }

    fn record(key: Option<&[u8]>, value: Option<&[u8]>) -> InRecord {
        InRecord {
            topic: "t\"1".into(),
            key: key.map(<[u8]>::to_vec),
            value: value.map(<[u8]>::to_vec),
            properties: vec![("h".into(), "v\n".into()), ("e".into(), String::new())],
            timestamp: Some(1_700_000_000_000),
            position: Position::Kafka {
                partition: 2,
                offset: 7,
            },
            schema_version: None,
        }
    }

    #[test]
    fn keys_and_values_are_shown_as_codec_shows_them_on_one_line() {
        let samples: &[&[u8]] = &[
            br#"{"uid":"1-1","fullName":"User 1 of account 1","score":12.500}"#,
            b"{ \"a\" : [1, 2 ,\t3],\r\n  \"b\": {\"c\": \"x y\\\" z\"} }\n",
            br#"  12345678901234567890.12345678901234567890  "#,
            br#""esc\u00e9 \"q\" \\ /""#,
            b"100-1",
            b"plain text with \"quotes\"",
            b"not { json",
            &[0xff, 0xfe, 0x00],
            b"",
            b"[]",
            b"null",
            "{\"k\": \"caf\u{e9} \u{1f600}\"}".as_bytes(),
        ];
        for bytes in samples {
            let mut out = Vec::new();
            write_shown(&mut out, bytes).unwrap();
            assert!(!out.contains(&b'\n'), "{out:?}");
            let shown: Value = serde_json::from_slice(&out).unwrap();
            assert_eq!(
                shown,
                codec::show(bytes),
                "{}",
                String::from_utf8_lossy(bytes)
            );
        }
    }

    #[test]
    fn compacting_keeps_strings_and_drops_the_rest_of_the_whitespace() {
        let mut out = Vec::new();
        write_compact(
            &mut out,
            b"{ \"a b\" : [ 1 ,\n 2 ], \"c\\\" d\":\t\"\\\\\" }",
        )
        .unwrap();
        assert_eq!(out, b"{\"a b\":[1,2],\"c\\\" d\":\"\\\\\"}");
        // Text that is not JSON (never given) ends without a panic.
        for broken in [&b"\"ab\\"[..], b"\"", b"\\", b"\" \\\" "] {
            out.clear();
            write_compact(&mut out, broken).unwrap();
        }
    }

    #[test]
    fn a_record_line_has_the_contracts_fields_in_order() {
        let text = line(None, &record(Some(b"100-1"), Some(b"{\"a\": 1}")));
        assert_eq!(
            text,
            r#"{"topic":"t\"1","key":"100-1","value":{"a":1},"timestamp":1700000000000,"properties":{"h":"v\n","e":""},"partition":2,"offset":7}"#
        );
        let mut tombstone = record(Some(b"7"), None);
        tombstone.properties.clear();
        tombstone.timestamp = None;
        tombstone.position = Position::Pulsar {
            message_id: "1:2:-1:0".into(),
        };
        assert_eq!(
            line(None, &tombstone),
            r#"{"topic":"t\"1","key":7,"value":null,"timestamp":null,"properties":{},"message_id":"1:2:-1:0"}"#
        );
        let mut row = record(None, Some(b"{}"));
        row.position = Position::Row { row: 3 };
        assert!(line(None, &row).ends_with(r#""key":null,"value":{},"timestamp":1700000000000,"properties":{"h":"v\n","e":""},"row":3}"#));
    }

    #[test]
    fn a_tables_records_are_decoded_and_what_does_not_decode_is_named() {
        let script = flinkit::sql::Script::parse_str(
            "CREATE TABLE u (id BIGINT, name STRING, PRIMARY KEY (id) NOT ENFORCED) WITH ( \
             'connector' = 'upsert-kafka', 'topic' = 'u', 'properties.bootstrap.servers' = 'x', \
             'key.format' = 'raw', 'value.format' = 'json')",
        )
        .unwrap();
        let values = flinkit::vars::substitute(&script, &flinkit::vars::Vars::none());
        let table = TableSpec::from_script(&script, &values, "u").unwrap();
        let key = 5i64.to_be_bytes();
        let good = line(Some(&table), &record(Some(&key), Some(br#"{"name":"x"}"#)));
        let good: Value = serde_json::from_str(&good).unwrap();
        assert_eq!(good["key"], json!(5));
        assert_eq!(good["value"], json!({"id": 5, "name": "x"}));
        assert!(good.get("decode_error").is_none());
        let bad = line(Some(&table), &record(Some(b"12"), Some(b"[1]")));
        let bad: Value = serde_json::from_str(&bad).unwrap();
        assert_eq!(bad["key"], json!(12));
        assert_eq!(bad["value"], json!([1]));
        let problem = bad["decode_error"].as_str().unwrap();
        assert!(
            problem.starts_with("key: a raw BIGINT has 8 bytes"),
            "{problem}"
        );
        assert!(
            problem.contains("; value: the value is not a JSON object"),
            "{problem}"
        );
    }
}
