//! The materialized view of an upsert topic: the latest value per key, a tombstone removing its
//! key — what a Flink `upsert-kafka` / `upsert-pulsar` table holds — rendered as rows.
//!
//! A program feeds an [`UpsertView`] records one by one ([`UpsertView::apply`]) or from a
//! stream ([`UpsertView::feed`], [`UpsertView::wait_until`]), queries its rows
//! ([`UpsertView::rows`], [`UpsertView::row`]) and compares them with the rows it expects
//! ([`UpsertView::diff`], [`diff`]). [`UpsertView::read`] and [`UpsertView::await_rows`] do
//! the reading for a table: once to the end of its topics, or until it holds the expected rows.

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::time::{Duration, Instant};

use futures::{Stream, StreamExt as _};
use serde_json::{Map, Value};

use super::client::RecordStream;
use super::codec;
use super::table::TableSpec;
use super::{BridgeError, ConsumeOptions, InRecord, StartAt};

/// A row: column names and their values.
pub type Row = Map<String, Value>;

/// How long [`UpsertView::await_rows`] waits before it opens a topic that was not there again.
const REOPEN_AFTER: Duration = Duration::from_secs(1);

/// The latest row per key of an upsert topic.
#[derive(Debug, Clone)]
pub struct UpsertView {
    table: Option<TableSpec>,
    rows: HashMap<Vec<u8>, Row>,
    /// Records applied.
    applied: u64,
    /// Records without a key (they cannot be upserted), skipped.
    unkeyed: u64,
}

/// A record the view could not decode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{position}: {message}")]
pub struct DecodeError {
    /// Where the record is (`partition 0 offset 5` or a message id).
    pub position: String,
    /// Why it could not be decoded.
    pub message: String,
}

impl DecodeError {
    /// The error for `record`, naming its topic and position.
    pub fn at(record: &InRecord, message: impl Into<String>) -> Self {
        Self {
            position: position(record),
            message: message.into(),
        }
    }
}

impl UpsertView {
    /// An empty view; with a table, rows are decoded into its columns, else into
    /// `{"key", "value"}` pairs.
    pub fn new(table: Option<TableSpec>) -> Self {
        Self {
            table,
            rows: HashMap::new(),
            applied: 0,
            unkeyed: 0,
        }
    }

    /// Applies one record: a value replaces its key's row, a tombstone removes it. A
    /// changelog table's record is a change event applied to the row of its PRIMARY KEY (the
    /// whole row without one): `c`, `r` and `u` put `after` there, `u` and `d` remove `before`.
    pub fn apply(&mut self, record: &InRecord) -> Result<(), DecodeError> {
        self.apply_decoded_by(record, None)
    }

    /// Applies one record as [`UpsertView::apply`] does, its key and value decoded by
    /// `decoder` when given — the view's table as the schema version that wrote the record
    /// reads it (a Pulsar topic whose messages carry different versions of its schema).
    pub fn apply_decoded_by(
        &mut self,
        record: &InRecord,
        decoder: Option<&TableSpec>,
    ) -> Result<(), DecodeError> {
        if let Some(table) = decoder.or(self.table.as_ref())
            && table.is_changelog()
        {
            let Some(value) = &record.value else {
                return Ok(());
            };
            let changes = table
                .decode_changes(value)
                .map_err(|message| DecodeError::at(record, message))?;
            self.applied += u64::from(!changes.is_empty());
            for change in changes {
                if let Some(before) = &change.before {
                    self.rows.remove(&table.row_key(before));
                }
                if let Some(after) = &change.after {
                    let row: Row = table
                        .columns
                        .iter()
                        .map(|c| {
                            (
                                c.name.clone(),
                                after.get(&c.name).cloned().unwrap_or(Value::Null),
                            )
                        })
                        .collect();
                    self.rows.insert(table.row_key(after), row);
                }
            }
            return Ok(());
        }
        let Some(key) = &record.key else {
            self.unkeyed += 1;
            return Ok(());
        };
        self.applied += 1;
        let Some(value) = &record.value else {
            self.rows.remove(key);
            return Ok(());
        };
        let row = match decoder.or(self.table.as_ref()) {
            Some(table) => table
                .decode_row(Some(key), value)
                .map_err(|message| DecodeError::at(record, message))?,
            None => {
                let mut row = Map::new();
                row.insert("key".into(), codec::show(key));
                row.insert("value".into(), codec::show(value));
                row
            }
        };
        self.rows.insert(key.clone(), row);
        Ok(())
    }

    /// The rows, ordered by key (numbers numerically, text alphabetically).
    pub fn rows(&self) -> Vec<&Map<String, Value>> {
        let key_columns: Vec<String> = match &self.table {
            Some(table) if !view_key(table).is_empty() => view_key(table).to_vec(),
            _ => vec!["key".into()],
        };
        // Each row's key values are looked up (and numbers read) once, not per comparison.
        let mut rows: Vec<(Vec<SortKey>, &Map<String, Value>)> = self
            .rows
            .values()
            .map(|row| {
                let key = key_columns
                    .iter()
                    .map(|c| SortKey::of(row.get(c)))
                    .collect();
                (key, row)
            })
            .collect();
        rows.sort_by(|(a, _), (b, _)| {
            a.iter()
                .zip(b)
                .map(|(a, b)| a.cmp(b))
                .find(|o| o.is_ne())
                .unwrap_or(Ordering::Equal)
        });
        rows.into_iter().map(|(_, row)| row).collect()
    }

    /// The row of a key: the value of a one-column key, or an object of the key columns (the
    /// message key's text or JSON without a table). `None` when no row has that key, and for
    /// a table without key columns.
    pub fn row(&self, key: &Value) -> Option<&Row> {
        let key_columns: Vec<&str> = match &self.table {
            Some(table) => view_key(table).iter().map(String::as_str).collect(),
            None => vec!["key"],
        };
        let matches = |row: &Row| match (key, key_columns.as_slice()) {
            (_, []) => false,
            (Value::Object(key), columns) if columns.len() == key.len() => columns
                .iter()
                .all(|c| key.get(*c).is_some_and(|k| row.get(*c) == Some(k))),
            (scalar, [column]) => row.get(*column) == Some(scalar),
            _ => false,
        };
        self.rows.values().find(|row| matches(row))
    }

    /// How many rows (keys) the view holds.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether the view holds no row.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The table the rows are decoded for, if any.
    pub fn table(&self) -> Option<&TableSpec> {
        self.table.as_ref()
    }

    /// How the rows differ from `expected`, in any order, over the view's columns (an absent
    /// column counting as NULL).
    pub fn diff(&self, expected: &[Row]) -> TableDiff {
        diff(expected, &self.rows(), &self.columns())
    }

    /// Applies every record of `records` until the stream ends, and returns how many there
    /// were. A record that cannot be decoded fails with [`BridgeError::Decode`].
    pub async fn feed<S>(&mut self, records: S) -> Result<u64, BridgeError>
    where
        S: Stream<Item = Result<InRecord, BridgeError>>,
    {
        let mut records = std::pin::pin!(records);
        let mut count = 0;
        while let Some(record) = records.next().await {
            self.apply(&record?)?;
            count += 1;
        }
        Ok(count)
    }

    /// Applies records of `records` until the view holds exactly `expected` (in any order,
    /// see [`diff`](Self::diff)), and fails with [`BridgeError::Mismatch`] — holding the
    /// difference — when `deadline` passes or the stream ends before that. Give it a following
    /// stream ([`ConsumeOptions::follow`]) to wait for records still to come; the stream can
    /// be read on afterwards.
    pub async fn wait_until<S>(
        &mut self,
        records: &mut S,
        expected: &[Row],
        deadline: Instant,
    ) -> Result<(), BridgeError>
    where
        S: Stream<Item = Result<InRecord, BridgeError>> + Unpin,
    {
        self.wait(records, expected, deadline, Instant::now()).await
    }

    /// [`wait_until`](Self::wait_until), a mismatch telling the time since `started`.
    async fn wait<S>(
        &mut self,
        records: &mut S,
        expected: &[Row],
        deadline: Instant,
        started: Instant,
    ) -> Result<(), BridgeError>
    where
        S: Stream<Item = Result<InRecord, BridgeError>> + Unpin,
    {
        let until = tokio::time::Instant::from_std(deadline);
        loop {
            // Counting first keeps a table that is still filling up from being compared at
            // every record.
            if self.rows.len() == expected.len() && self.diff(expected).is_empty() {
                return Ok(());
            }
            match tokio::time::timeout_at(until, records.next()).await {
                Ok(Some(record)) => self.apply(&record?)?,
                Ok(None) | Err(_) => {
                    return Err(self.mismatch(started.elapsed(), self.diff(expected)));
                }
            }
        }
    }

    /// Reads a table's topics from the earliest record to the end, and returns its latest
    /// row per key. `timeout` bounds connecting.
    pub async fn read(table: &TableSpec, timeout: Duration) -> Result<Self, BridgeError> {
        let options = ConsumeOptions {
            start: StartAt::Earliest,
            follow: false,
            group: None,
        };
        let records = RecordStream::open(&table.endpoint, &table.topics, &options, timeout).await?;
        let mut view = Self::new(Some(table.clone()));
        view.feed(records).await?;
        Ok(view)
    }

    /// Reads a table's topics from the earliest record, following them, until its latest row
    /// per key is exactly `expected` (in any order), and returns the view; fails with
    /// [`BridgeError::Mismatch`] when `deadline` passes first. A topic that cannot be opened
    /// yet — a job's sink topic appears with its first write — is tried again every second
    /// until the deadline, and the last error is returned if it never opened.
    pub async fn await_rows(
        table: &TableSpec,
        expected: &[Row],
        deadline: Instant,
    ) -> Result<Self, BridgeError> {
        let options = ConsumeOptions {
            start: StartAt::Earliest,
            follow: true,
            group: None,
        };
        let started = Instant::now();
        let mut records = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match RecordStream::open(&table.endpoint, &table.topics, &options, left).await {
                Ok(records) => break records,
                Err(error) if error.is_invalid_input() || left <= REOPEN_AFTER => {
                    return Err(error);
                }
                Err(error) => {
                    tracing::debug!(%error, table = %table.name, "opening the table's topics");
                    tokio::time::sleep(REOPEN_AFTER).await;
                }
            }
        };
        let mut view = Self::new(Some(table.clone()));
        view.wait(&mut records, expected, deadline, started).await?;
        Ok(view)
    }

    fn mismatch(&self, waited: Duration, diff: TableDiff) -> BridgeError {
        BridgeError::Mismatch {
            table: self.table.as_ref().map(|t| t.name.clone()),
            waited,
            diff,
        }
    }

    /// The column names, in table order (or `key`, `value` without a table).
    pub fn columns(&self) -> Vec<String> {
        match &self.table {
            Some(table) => table.columns.iter().map(|c| c.name.clone()).collect(),
            None => vec!["key".into(), "value".into()],
        }
    }

    /// How many keyed records were applied.
    pub fn applied(&self) -> u64 {
        self.applied
    }

    /// How many records had no key and were skipped.
    pub fn unkeyed(&self) -> u64 {
        self.unkeyed
    }

    /// The rows as a text table with a header, one row per line, NULL for nulls.
    pub fn to_text(&self) -> String {
        let columns = self.columns();
        let rows = self.rows();
        let cells: Vec<Vec<(String, bool)>> = rows
            .iter()
            .map(|row| {
                columns
                    .iter()
                    .map(|c| match row.get(c) {
                        None | Some(Value::Null) => ("NULL".to_string(), false),
                        Some(Value::String(s)) => (s.clone(), false),
                        Some(v @ Value::Number(_)) => (v.to_string(), true),
                        Some(v) => (v.to_string(), false),
                    })
                    .collect()
            })
            .collect();
        let widths: Vec<usize> = columns
            .iter()
            .enumerate()
            .map(|(i, c)| {
                cells
                    .iter()
                    .map(|r| r[i].0.chars().count())
                    .chain([c.chars().count()])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let mut out = String::new();
        let line = |out: &mut String, parts: Vec<String>| {
            out.push_str(parts.join(" | ").trim_end());
            out.push('\n');
        };
        line(
            &mut out,
            columns
                .iter()
                .zip(&widths)
                .map(|(c, w)| format!("{c:<w$}"))
                .collect(),
        );
        out.push_str(
            &widths
                .iter()
                .map(|w| "-".repeat(*w))
                .collect::<Vec<_>>()
                .join("-+-"),
        );
        out.push('\n');
        for row in cells {
            line(
                &mut out,
                row.iter()
                    .zip(&widths)
                    .map(|((text, numeric), w)| {
                        if *numeric {
                            format!("{text:>w$}")
                        } else {
                            format!("{text:<w$}")
                        }
                    })
                    .collect(),
            );
        }
        let n = self.rows.len();
        out.push_str(&format!("({n} row{})\n", if n == 1 { "" } else { "s" }));
        out
    }
}

/// The columns a view's rows are keyed by: a changelog's PRIMARY KEY, else the message key's.
fn view_key(table: &TableSpec) -> &[String] {
    if table.is_changelog() {
        table.row_key_columns()
    } else {
        &table.key_fields
    }
}

/// How an actual table differs from the expected one (rows compared as multisets, an absent
/// column counting as NULL).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TableDiff {
    /// Expected rows that are not there.
    pub missing: Vec<Row>,
    /// Rows that are there but not expected.
    pub unexpected: Vec<Row>,
}

impl TableDiff {
    /// Whether the tables are the same.
    pub fn is_empty(&self) -> bool {
        self.missing.is_empty() && self.unexpected.is_empty()
    }
}

impl fmt::Display for TableDiff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |rows: &[Row]| {
            rows.iter()
                .map(|r| Value::Object(r.clone()).to_string())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut parts = Vec::new();
        if !self.missing.is_empty() {
            parts.push(format!("missing {}", list(&self.missing)));
        }
        if !self.unexpected.is_empty() {
            parts.push(format!("unexpected {}", list(&self.unexpected)));
        }
        if parts.is_empty() {
            parts.push("no difference".into());
        }
        f.write_str(&parts.join("; "))
    }
}

/// Compares `actual` with `expected` over `columns`, in any order.
pub fn diff(expected: &[Row], actual: &[&Row], columns: &[String]) -> TableDiff {
    let canonical = |row: &Row| {
        let full: Row = columns
            .iter()
            .map(|c| (c.clone(), row.get(c).cloned().unwrap_or(Value::Null)))
            .collect();
        Value::Object(full).to_string()
    };
    let mut left: BTreeMap<String, (usize, &Row)> = BTreeMap::new();
    for row in actual {
        left.entry(canonical(row)).or_insert((0, row)).0 += 1;
    }
    let mut out = TableDiff::default();
    for row in expected {
        match left.get_mut(&canonical(row)) {
            Some((n, _)) if *n > 0 => *n -= 1,
            _ => out.missing.push(row.clone()),
        }
    }
    for (n, row) in left.into_values() {
        out.unexpected
            .extend(std::iter::repeat_n(row, n).map(|r| (*r).clone()));
    }
    out
}

fn position(record: &InRecord) -> String {
    match &record.position {
        super::Position::Kafka { partition, offset } => {
            format!("{} partition {partition} offset {offset}", record.topic)
        }
        super::Position::Pulsar { message_id } => format!("{} message {message_id}", record.topic),
        super::Position::Row { row } => format!("{} row {row}", record.topic),
    }
}

/// A key column's value as rows are ordered by it: NULL (or absent) first, numbers by value,
/// text by its characters, anything else (or a mix of kinds) by its JSON text.
enum SortKey<'a> {
    Null,
    Number(f64, &'a Value),
    Text(&'a str, &'a Value),
    Other(&'a Value),
}

impl<'a> SortKey<'a> {
    fn of(value: Option<&'a Value>) -> Self {
        match value {
            None | Some(Value::Null) => Self::Null,
            Some(v @ Value::Number(n)) => Self::Number(n.as_f64().unwrap_or(0.0), v),
            Some(v @ Value::String(s)) => Self::Text(s, v),
            Some(v) => Self::Other(v),
        }
    }

    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Self::Number(x, _), Self::Number(y, _)) => x.total_cmp(y),
            (Self::Text(x, _), Self::Text(y, _)) => x.cmp(y),
            (Self::Null, Self::Null) => Ordering::Equal,
            (Self::Null, _) => Ordering::Less,
            (_, Self::Null) => Ordering::Greater,
            (x, y) => x.value().to_string().cmp(&y.value().to_string()),
        }
    }

    fn value(&self) -> &'a Value {
        match self {
            Self::Null => &Value::Null,
            Self::Number(_, v) | Self::Text(_, v) | Self::Other(v) => v,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bridge::Position;
    use crate::sql::Script;
    use crate::vars::{Vars, substitute};
    use serde_json::json;

    fn record(key: &str, value: Option<&str>, offset: i64) -> InRecord {
        InRecord {
            topic: "t".into(),
            key: Some(key.as_bytes().to_vec()),
            value: value.map(|v| v.as_bytes().to_vec()),
            properties: Vec::new(),
            timestamp: None,
            position: Position::Kafka {
                partition: 0,
                offset,
            },
            schema_version: None,
        }
    }

    fn counts() -> TableSpec {
        let script = Script::parse_str(
            "CREATE TABLE c (accountId STRING, userCount BIGINT, PRIMARY KEY (accountId) NOT ENFORCED) \
             WITH ('connector' = 'upsert-kafka', 'topic' = 'c', 'properties.bootstrap.servers' = 'x', \
             'key.format' = 'raw', 'value.format' = 'json')",
        )
        .unwrap();
        TableSpec::from_script(&script, &substitute(&script, &Vars::none()), "c").unwrap()
    }

    #[test]
    fn latest_value_per_key_and_tombstones() {
        let mut view = UpsertView::new(Some(counts()));
        for (i, (k, v)) in [
            ("101", Some(r#"{"accountId":"101","userCount":1}"#)),
            ("100", Some(r#"{"accountId":"100","userCount":1}"#)),
            ("100", Some(r#"{"accountId":"100","userCount":2}"#)),
            ("102", Some(r#"{"accountId":"102","userCount":1}"#)),
            ("101", Some(r#"{"accountId":"101","userCount":2}"#)),
            ("102", None),
        ]
        .into_iter()
        .enumerate()
        {
            view.apply(&record(k, v, i as i64)).unwrap();
        }
        assert_eq!(view.applied(), 6);
        assert_eq!(
            view.to_text(),
            "accountId | userCount\n\
             ----------+----------\n\
             100       |         2\n\
             101       |         2\n\
             (2 rows)\n"
        );
        let rows: Vec<Value> = view
            .rows()
            .into_iter()
            .map(|r| Value::Object(r.clone()))
            .collect();
        assert_eq!(
            Value::Array(rows),
            serde_json::json!([{"accountId":"100","userCount":2},{"accountId":"101","userCount":2}])
        );
    }

    #[test]
    fn rows_are_ordered_by_key_numbers_by_value_and_text_before_numbers() {
        let mut view = UpsertView::new(None);
        for (i, key) in ["10", "b", "9", "2.5", "a", "-1"].into_iter().enumerate() {
            view.apply(&record(key, Some("1"), i as i64)).unwrap();
        }
        let keys: Vec<String> = view.rows().iter().map(|r| r["key"].to_string()).collect();
        assert_eq!(keys, ["\"a\"", "\"b\"", "-1", "2.5", "9", "10"]);
    }

    #[test]
    fn without_a_table_rows_are_keys_and_values() {
        let mut view = UpsertView::new(None);
        view.apply(&record("b", Some("2"), 0)).unwrap();
        view.apply(&record("a", Some(r#"{"x":1}"#), 1)).unwrap();
        let mut unkeyed = record("z", Some("1"), 2);
        unkeyed.key = None;
        view.apply(&unkeyed).unwrap();
        assert_eq!(view.unkeyed(), 1);
        assert_eq!(
            view.to_text(),
            "key | value\n----+--------\na   | {\"x\":1}\nb   |       2\n(2 rows)\n"
        );
    }

    #[test]
    fn rows_are_found_by_key_value_or_key_object() {
        let mut view = UpsertView::new(Some(counts()));
        view.apply(&record(
            "100",
            Some(r#"{"accountId":"100","userCount":2}"#),
            0,
        ))
        .unwrap();
        assert_eq!(view.len(), 1);
        assert_eq!(view.row(&json!("100")).unwrap()["userCount"], 2);
        assert_eq!(
            view.row(&json!({"accountId": "100"})).unwrap()["userCount"],
            2
        );
        assert!(view.row(&json!("101")).is_none());
        assert!(view.row(&json!({"userCount": 2})).is_none());
        view.apply(&record("100", None, 1)).unwrap();
        assert!(view.is_empty() && view.row(&json!("100")).is_none());
    }

    #[test]
    fn diff_names_missing_and_unexpected_rows_with_absent_columns_as_null() {
        let row = |value: Value| value.as_object().cloned().unwrap_or_default();
        let columns = vec!["k".to_string(), "v".to_string()];
        let expected = vec![
            row(json!({"k": "a", "v": 1})),
            row(json!({"k": "b", "v": null})),
        ];
        let same = [row(json!({"k": "b"})), row(json!({"v": 1, "k": "a"}))];
        assert!(diff(&expected, &same.iter().collect::<Vec<_>>(), &columns).is_empty());
        let other = [row(json!({"k": "a", "v": 2})), row(json!({"k": "b"}))];
        let d = diff(&expected, &other.iter().collect::<Vec<_>>(), &columns);
        assert_eq!(d.missing, [row(json!({"k": "a", "v": 1}))]);
        assert_eq!(d.unexpected, [row(json!({"k": "a", "v": 2}))]);
        assert_eq!(
            d.to_string(),
            r#"missing {"k":"a","v":1}; unexpected {"k":"a","v":2}"#
        );
    }

    #[tokio::test]
    async fn waiting_ends_with_the_difference_when_the_records_end_first() {
        let mut view = UpsertView::new(Some(counts()));
        let mut records = futures::stream::iter([
            Ok(record(
                "101",
                Some(r#"{"accountId":"101","userCount":1}"#),
                0,
            )),
            Ok(record(
                "100",
                Some(r#"{"accountId":"100","userCount":1}"#),
                1,
            )),
        ]);
        let expected = [json!({"accountId": "100", "userCount": 1})
            .as_object()
            .cloned()
            .unwrap()];
        let deadline = Instant::now() + Duration::from_secs(5);
        let error = view
            .wait_until(&mut records, &expected, deadline)
            .await
            .unwrap_err();
        let diff = error.diff().unwrap();
        assert!(diff.missing.is_empty());
        assert_eq!(diff.unexpected[0]["accountId"], "101");
        assert!(
            error
                .to_string()
                .starts_with("`c` is not the expected table after ")
        );
    }

    #[tokio::test]
    async fn waiting_stops_reading_once_the_rows_are_there() {
        let mut view = UpsertView::new(Some(counts()));
        let mut records = futures::stream::iter([
            Ok(record(
                "100",
                Some(r#"{"accountId":"100","userCount":1}"#),
                0,
            )),
            Ok(record("100", None, 1)),
        ])
        .chain(futures::stream::pending());
        let expected = [json!({"accountId": "100", "userCount": 1})
            .as_object()
            .cloned()
            .unwrap()];
        let deadline = Instant::now() + Duration::from_secs(5);
        view.wait_until(&mut records, &expected, deadline)
            .await
            .unwrap();
        assert_eq!(view.applied(), 1);
        view.wait_until(&mut records, &[], deadline).await.unwrap();
        assert_eq!(view.applied(), 2);
        let soon = Instant::now() + Duration::from_millis(300);
        let error = view
            .wait_until(&mut records, &expected, soon)
            .await
            .unwrap_err();
        assert_eq!(error.diff().unwrap().missing, expected);
    }

    #[test]
    fn undecodable_records_name_their_position() {
        let mut view = UpsertView::new(Some(counts()));
        let err = view.apply(&record("100", Some("nope"), 9)).unwrap_err();
        assert_eq!(err.position, "t partition 0 offset 9");
    }
}
