//! The materialized view of an upsert topic: the latest value per key, a tombstone removing its
//! key — what a Flink `upsert-kafka` / `upsert-pulsar` table holds — rendered as rows.

use std::cmp::Ordering;
use std::collections::HashMap;

use serde_json::{Map, Value};

use super::InRecord;
use super::codec;
use super::table::TableSpec;

/// The latest row per key of an upsert topic.
#[derive(Debug, Clone)]
pub struct UpsertView {
    table: Option<TableSpec>,
    rows: HashMap<Vec<u8>, Map<String, Value>>,
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

    /// Applies one record: a value replaces its key's row, a tombstone removes it.
    pub fn apply(&mut self, record: &InRecord) -> Result<(), DecodeError> {
        let Some(key) = &record.key else {
            self.unkeyed += 1;
            return Ok(());
        };
        self.applied += 1;
        let Some(value) = &record.value else {
            self.rows.remove(key);
            return Ok(());
        };
        let row = match &self.table {
            Some(table) => table
                .decode_row(Some(key), value)
                .map_err(|message| DecodeError {
                    position: position(record),
                    message,
                })?,
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
            Some(table) if !table.key_fields.is_empty() => table.key_fields.clone(),
            _ => vec!["key".into()],
        };
        let mut rows: Vec<&Map<String, Value>> = self.rows.values().collect();
        rows.sort_by(|a, b| {
            key_columns
                .iter()
                .map(|c| compare(a.get(c), b.get(c)))
                .find(|o| o.is_ne())
                .unwrap_or(Ordering::Equal)
        });
        rows
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

fn position(record: &InRecord) -> String {
    match &record.position {
        super::Position::Kafka { partition, offset } => {
            format!("{} partition {partition} offset {offset}", record.topic)
        }
        super::Position::Pulsar { message_id } => format!("{} message {message_id}", record.topic),
    }
}

fn compare(a: Option<&Value>, b: Option<&Value>) -> Ordering {
    match (a, b) {
        (Some(Value::Number(x)), Some(Value::Number(y))) => x
            .as_f64()
            .unwrap_or(0.0)
            .total_cmp(&y.as_f64().unwrap_or(0.0)),
        (Some(Value::String(x)), Some(Value::String(y))) => x.cmp(y),
        (None | Some(Value::Null), None | Some(Value::Null)) => Ordering::Equal,
        (None | Some(Value::Null), _) => Ordering::Less,
        (_, None | Some(Value::Null)) => Ordering::Greater,
        (Some(x), Some(y)) => x.to_string().cmp(&y.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bridge::Position;
    use crate::sql::Script;
    use crate::vars::{Vars, substitute};

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
    fn undecodable_records_name_their_position() {
        let mut view = UpsertView::new(Some(counts()));
        let err = view.apply(&record("100", Some("nope"), 9)).unwrap_err();
        assert_eq!(err.position, "t partition 0 offset 9");
    }
}
