//! Flink's changelog formats, whose message values are change events:
//!
//! - `debezium-json`: `{"before": row|null, "after": row|null, "op": "c|r|u|d"}` (inside
//!   `{"schema": …, "payload": …}` with `'debezium-json.schema-include' = 'true'`), which Flink
//!   reads as INSERT (`c`, `r`: `after`), UPDATE (`u`: `before` retracted, `after` added) or
//!   DELETE (`d`: `before` retracted);
//! - `canal-json`: `{"data": [rows], "old": [changed fields], "type": "INSERT|UPDATE|DELETE"}`
//!   (a `CREATE` is a DDL event Flink skips);
//! - `maxwell-json`: `{"data": row, "old": changed fields, "type": "insert|update|delete"}`.
//!
//! An update's `before` in Canal and Maxwell is `data` with the fields of `old` in place, as
//! Flink reads it. Input lines may be Debezium-shaped events for any of the three (converted to
//! the table's format) or events in the table's own format (sent as they are).
//!
//! Events are checked the way Flink reads them, and stricter where Flink would silently
//! compute wrong results: `op` is one of the four, `before` is there for `u` and `d` (Flink
//! refuses those without it), `after` for `c`, `r` and `u`, and both rows fit the table.
//! [`Images`] keeps the latest row per PRIMARY KEY, so plain rows become `c` or `u` events
//! with the right before-image, a tombstone becomes a `d` carrying the row it removes, and an
//! event whose `before` is not the key's current row is refused.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use serde_json::{Map, Value};

use crate::bridge::table::{Format, TableSpec};
use crate::bridge::upsert::UpsertView;

/// A row: column names and their values.
pub type Row = Map<String, Value>;

/// A change event's operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Op {
    /// `c`: a row was created.
    Create,
    /// `r`: a row was read by a snapshot (an INSERT to Flink).
    Read,
    /// `u`: a row was updated.
    Update,
    /// `d`: a row was deleted.
    Delete,
}

impl Op {
    /// The Debezium letter.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Create => "c",
            Self::Read => "r",
            Self::Update => "u",
            Self::Delete => "d",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        match text {
            "c" => Some(Self::Create),
            "r" => Some(Self::Read),
            "u" => Some(Self::Update),
            "d" => Some(Self::Delete),
            _ => None,
        }
    }
}

/// One change: the operation and the row before and after it.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// What happened.
    pub op: Op,
    /// The row before (`u`, `d`).
    pub before: Option<Row>,
    /// The row after (`c`, `r`, `u`).
    pub after: Option<Row>,
}

impl Change {
    /// The row that identifies the change's key: `after`, else `before`.
    pub fn row(&self) -> Option<&Row> {
        self.after.as_ref().or(self.before.as_ref())
    }
}

/// The fields of a Debezium event besides the rows and `op` (metadata Flink ignores unless a
/// column reads it).
const EVENT_METADATA: [&str; 3] = ["source", "ts_ms", "transaction"];

impl TableSpec {
    /// Whether the table's value format is a changelog format.
    pub fn is_changelog(&self) -> bool {
        self.value_format.is_changelog()
    }

    /// The columns that identify a row of a changelog: the PRIMARY KEY; empty without one.
    pub fn row_key_columns(&self) -> &[String] {
        &self.primary_key
    }

    /// Whether a JSON object is a change event rather than a row: it has `op` and `before`
    /// or `after` (or, with `schema-include`, a `payload`).
    pub fn is_change_event(&self, object: &Row) -> bool {
        (object.contains_key("op")
            && (object.contains_key("before") || object.contains_key("after")))
            || (self.debezium_schema_include && object.contains_key("payload"))
            || (self.value_format != Format::DebeziumJson
                && object.contains_key("type")
                && object.contains_key("data"))
    }

    /// A change event given as JSON, checked: a known `op`, the rows it needs, rows that fit
    /// the table.
    pub fn change_from_json(&self, event: &Row) -> Result<Change, String> {
        if self.value_format != Format::DebeziumJson && !event.contains_key("op") {
            let mut changes = self.native_changes(event)?;
            return match changes.len() {
                1 => Ok(changes.remove(0)),
                n => Err(format!(
                    "the event holds {n} rows; give one row per line (the bridge sends each \
                     line as one message)"
                )),
            };
        }
        let event = match event.get("payload") {
            Some(Value::Object(payload)) if self.debezium_schema_include => {
                if let Some(extra) = event
                    .keys()
                    .find(|k| !matches!(k.as_str(), "schema" | "payload"))
                {
                    return Err(format!(
                        "unknown field `{extra}` beside `schema` and `payload`"
                    ));
                }
                payload
            }
            Some(_) if self.debezium_schema_include => {
                return Err("`payload` must be the event object".into());
            }
            _ => event,
        };
        if let Some(extra) = event.keys().find(|k| {
            !matches!(k.as_str(), "op" | "before" | "after")
                && !EVENT_METADATA.contains(&k.as_str())
        }) {
            return Err(format!(
                "unknown field `{extra}` in a Debezium event (it has op, before, after, source, \
                 ts_ms, transaction)"
            ));
        }
        let op = match event.get("op") {
            Some(Value::String(op)) => Op::parse(op).ok_or_else(|| {
                format!(
                    "`op` is {op:?}: a Debezium event's op is \"c\" (create), \"r\" (read), \
                     \"u\" (update) or \"d\" (delete)"
                )
            })?,
            Some(other) => {
                return Err(format!(
                    "`op` is {other}, not one of \"c\", \"r\", \"u\", \"d\""
                ));
            }
            None => return Err("a Debezium event needs `op`: \"c\", \"r\", \"u\" or \"d\"".into()),
        };
        let image = |name: &str| -> Result<Option<Row>, String> {
            match event.get(name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::Object(row)) => {
                    self.check_row(row).map_err(|m| {
                        format!(
                            "`{name}`: field `{}`: expected {}, {}",
                            m.path, m.expected, m.problem
                        )
                    })?;
                    Ok(Some(row.clone()))
                }
                Some(_) => Err(format!("`{name}` must be a row object or null")),
            }
        };
        let before = image("before")?;
        let after = image("after")?;
        let letter = op.as_str();
        match op {
            Op::Update | Op::Delete if before.is_none() => {
                return Err(format!(
                    "a \"{letter}\" event needs `before`, the row as it was: Flink refuses an \
                     update or delete without it"
                ));
            }
            Op::Create | Op::Read | Op::Update if after.is_none() => {
                return Err(format!(
                    "a \"{letter}\" event needs `after`, the row as it is now"
                ));
            }
            Op::Create | Op::Read if before.is_some() => {
                return Err(format!(
                    "a \"{letter}\" event has no `before` (the row did not exist); an update is \"u\""
                ));
            }
            Op::Delete if after.is_some() => {
                return Err("a \"d\" event's `after` is null: the row is gone".into());
            }
            _ => {}
        }
        if let (Op::Update, Some(b), Some(a)) = (op, &before, &after)
            && !self.primary_key.is_empty()
            && self.row_key(b) != self.row_key(a)
        {
            return Err(
                "the update's `before` and `after` have different PRIMARY KEY values; a key \
                 change is a \"d\" of the old row and a \"c\" of the new one"
                    .into(),
            );
        }
        Ok(Change { op, before, after })
    }

    /// A change as the table's message value.
    pub fn encode_change(&self, change: &Change) -> Vec<u8> {
        match self.value_format {
            Format::CanalJson | Format::MaxwellJson => self.encode_native(change),
            _ => self.encode_debezium(change),
        }
    }

    fn encode_debezium(&self, change: &Change) -> Vec<u8> {
        let mut event = Map::new();
        let image = |row: &Option<Row>| match row {
            None => Value::Null,
            Some(row) => Value::Object(
                self.value_fields
                    .iter()
                    .map(|c| (c.clone(), row.get(c).cloned().unwrap_or(Value::Null)))
                    .collect(),
            ),
        };
        event.insert("before".into(), image(&change.before));
        event.insert("after".into(), image(&change.after));
        event.insert("op".into(), Value::String(change.op.as_str().into()));
        let mut value = Value::Object(event);
        if self.debezium_schema_include {
            // Kafka Connect's JsonConverter writes a schemaless payload this way.
            value = serde_json::json!({ "schema": null, "payload": value });
        }
        value.to_string().into_bytes()
    }

    /// A Canal or Maxwell event for a change: an INSERT of `after`, an UPDATE of `after` with
    /// the fields that changed as `old`, a DELETE of `before`.
    fn encode_native(&self, change: &Change) -> Vec<u8> {
        let canal = self.value_format == Format::CanalJson;
        let project = |row: &Row| -> Row {
            self.value_fields
                .iter()
                .map(|c| (c.clone(), row.get(c).cloned().unwrap_or(Value::Null)))
                .collect()
        };
        let (kind, data, old) = match (change.op, &change.before, &change.after) {
            (Op::Delete, Some(before), _) => ("delete", project(before), None),
            (Op::Update, Some(before), Some(after)) => {
                let (before, after) = (project(before), project(after));
                let old: Row = before
                    .iter()
                    .filter(|(c, v)| normal(v) != normal(after.get(*c).unwrap_or(&Value::Null)))
                    .map(|(c, v)| (c.clone(), v.clone()))
                    .collect();
                ("update", after, Some(old))
            }
            (_, _, Some(after)) => ("insert", project(after), None),
            (_, Some(before), None) => ("delete", project(before), None),
            (_, None, None) => ("insert", Row::new(), None),
        };
        let mut event = Map::new();
        let wrap = |row: Row| {
            if canal {
                Value::Array(vec![Value::Object(row)])
            } else {
                Value::Object(row)
            }
        };
        event.insert("data".into(), wrap(data));
        if let Some(old) = old {
            event.insert("old".into(), wrap(old));
        }
        let kind = if canal {
            kind.to_ascii_uppercase()
        } else {
            kind.to_string()
        };
        event.insert("type".into(), Value::String(kind));
        Value::Object(event).to_string().into_bytes()
    }

    /// The changes of a Canal or Maxwell event as Flink reads them (none for a Canal DDL event).
    fn native_changes(&self, event: &Row) -> Result<Vec<Change>, String> {
        let canal = self.value_format == Format::CanalJson;
        let name = if canal { "Canal" } else { "Maxwell" };
        let kind = match event.get("type") {
            Some(Value::String(kind)) => kind.as_str(),
            _ => return Err(format!("a {name} event needs `type`")),
        };
        let (insert, update, delete) = if canal {
            ("INSERT", "UPDATE", "DELETE")
        } else {
            ("insert", "update", "delete")
        };
        if canal && kind == "CREATE" {
            return Ok(Vec::new());
        }
        if ![insert, update, delete].contains(&kind) {
            return Err(format!(
                "`type` is {kind:?}: a {name} event's type is {insert}, {update} or {delete}"
            ));
        }
        let rows = |field: &str| -> Result<Vec<Row>, String> {
            let value = event.get(field).unwrap_or(&Value::Null);
            let items: Vec<&Value> = match (canal, value) {
                (_, Value::Null) => Vec::new(),
                (true, Value::Array(items)) => items.iter().collect(),
                (false, Value::Object(_)) => vec![value],
                _ => {
                    return Err(format!(
                        "`{field}` must be {}",
                        if canal {
                            "an array of rows"
                        } else {
                            "a row object"
                        }
                    ));
                }
            };
            items
                .into_iter()
                .map(|item| match item {
                    Value::Object(row) => Ok(row.clone()),
                    _ => Err(format!("`{field}` holds something that is not a row")),
                })
                .collect()
        };
        let data = rows("data")?;
        if data.is_empty() {
            return Err(format!("a {name} {kind} event needs `data`, its rows"));
        }
        let old = rows("old")?;
        let checked = |row: Row, what: &str| -> Result<Row, String> {
            self.check_row(&row).map_err(|m| {
                format!(
                    "`{what}`: field `{}`: expected {}, {}",
                    m.path, m.expected, m.problem
                )
            })?;
            Ok(row)
        };
        let mut changes = Vec::with_capacity(data.len());
        for (i, row) in data.into_iter().enumerate() {
            let change = if kind == update {
                let Some(changed) = old.get(i) else {
                    return Err(format!(
                        "a {name} {kind} event needs `old`, the changed fields' values before"
                    ));
                };
                let mut before = row.clone();
                for (column, value) in changed {
                    before.insert(column.clone(), value.clone());
                }
                Change {
                    op: Op::Update,
                    before: Some(checked(before, "old")?),
                    after: Some(checked(row, "data")?),
                }
            } else if kind == delete {
                Change {
                    op: Op::Delete,
                    before: Some(checked(row, "data")?),
                    after: None,
                }
            } else {
                Change {
                    op: Op::Create,
                    before: None,
                    after: Some(checked(row, "data")?),
                }
            };
            changes.push(change);
        }
        Ok(changes)
    }

    /// A message value's changes; none for what Flink skips (a tombstone's empty value, a
    /// Canal DDL event).
    pub fn decode_changes(&self, bytes: &[u8]) -> Result<Vec<Change>, String> {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Vec::new());
        }
        let event: Row = serde_json::from_slice(bytes)
            .map_err(|e| format!("the value is not a JSON object: {e}"))?;
        if self.value_format == Format::DebeziumJson {
            return self.change_from_json(&event).map(|c| vec![c]);
        }
        self.native_changes(&event)
    }

    /// A row's PRIMARY KEY values as bytes to key a map by (the whole row without a key).
    pub fn row_key(&self, row: &Row) -> Vec<u8> {
        if self.primary_key.is_empty() {
            return Value::Object(row.clone()).to_string().into_bytes();
        }
        let values: Vec<Value> = self
            .primary_key
            .iter()
            .map(|c| normal(row.get(c).unwrap_or(&Value::Null)))
            .collect();
        Value::Array(values).to_string().into_bytes()
    }
}

/// A value with numbers in one spelling (`1.50` and `1.5` alike), to compare and key by.
fn normal(value: &Value) -> Value {
    match value {
        Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => Value::from(i),
            (None, Some(f)) => serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number),
            _ => value.clone(),
        },
        Value::Array(items) => Value::Array(items.iter().map(normal).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), normal(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn same_row(a: &Row, b: &Row) -> bool {
    normal(&Value::Object(a.clone())) == normal(&Value::Object(b.clone()))
}

/// The latest row per PRIMARY KEY of a changelog topic, as a run of records leaves it: the
/// before-images of the events that follow. Memory grows with the distinct keys.
#[derive(Debug, Clone, Default)]
pub struct Images {
    rows: HashMap<Vec<u8>, Row>,
}

impl Images {
    /// No rows: a new topic.
    pub fn new() -> Self {
        Self::default()
    }

    /// The rows a view of a changelog table holds (see [`UpsertView::read`]): a topic's
    /// current rows, latest per PRIMARY KEY.
    pub fn from_view(view: &UpsertView) -> Self {
        let mut images = Self::new();
        if let Some(table) = view.table() {
            for row in view.rows() {
                images.rows.insert(table.row_key(row), row.clone());
            }
        }
        images
    }

    /// How many keys have a row.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether no key has a row.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The event for a plain row: `c` for a new key, `u` with the key's row as `before`
    /// otherwise (a table without a PRIMARY KEY only creates).
    pub fn upsert(&mut self, table: &TableSpec, row: Row) -> Change {
        if table.primary_key.is_empty() {
            return Change {
                op: Op::Create,
                before: None,
                after: Some(row),
            };
        }
        let before = self.rows.insert(table.row_key(&row), row.clone());
        Change {
            op: if before.is_some() {
                Op::Update
            } else {
                Op::Create
            },
            before,
            after: Some(row),
        }
    }

    /// The `d` event for a tombstone of `key` (the PRIMARY KEY columns), carrying the row it
    /// removes; an error when no row has that key.
    pub fn delete(&mut self, table: &TableSpec, key: &Row) -> Result<Change, String> {
        if table.primary_key.is_empty() {
            return Err(format!(
                "table `{}` has no PRIMARY KEY, so a tombstone cannot say which row it deletes; \
                 give the \"d\" event with its `before`",
                table.name
            ));
        }
        let before = self.rows.remove(&table.row_key(key)).ok_or_else(|| {
            format!(
                "no row has the key {} (not in the topic, nor earlier in the input), so there \
                 is no before-image to delete",
                Value::Object(key.clone())
            )
        })?;
        Ok(Change {
            op: Op::Delete,
            before: Some(before),
            after: None,
        })
    }

    /// Checks an event given as it is against the rows so far — a `c`/`r` for a key that has
    /// a row, or a `u`/`d` whose `before` is not the key's row, is refused — then applies it.
    pub fn check_and_apply(&mut self, table: &TableSpec, change: &Change) -> Result<(), String> {
        if table.primary_key.is_empty() {
            return Ok(());
        }
        match change.op {
            Op::Create | Op::Read => {
                if let Some(after) = &change.after
                    && let Some(current) = self.rows.get(&table.row_key(after))
                {
                    return Err(format!(
                        "a \"{}\" event for a key that already has a row ({}); an update is \
                         \"u\" with that row as `before`",
                        change.op.as_str(),
                        Value::Object(current.clone())
                    ));
                }
            }
            Op::Update | Op::Delete => {
                let before = change.before.as_ref().map(|b| table.row_key(b));
                match before.as_ref().and_then(|k| self.rows.get(k)) {
                    None => {
                        return Err(format!(
                            "the \"{}\" event's `before` has a key no row has (not in the topic, \
                             nor earlier in the input)",
                            change.op.as_str()
                        ));
                    }
                    Some(current)
                        if !change.before.as_ref().is_some_and(|b| same_row(b, current)) =>
                    {
                        return Err(format!(
                            "the \"{}\" event's `before` is not the key's current row, which is {}",
                            change.op.as_str(),
                            Value::Object(current.clone())
                        ));
                    }
                    Some(_) => {}
                }
            }
        }
        self.apply(table, change);
        Ok(())
    }

    /// Applies an event without checking it (a topic's own records).
    pub fn apply(&mut self, table: &TableSpec, change: &Change) {
        if table.primary_key.is_empty() {
            return;
        }
        if let Some(before) = &change.before {
            self.rows.remove(&table.row_key(before));
        }
        if let Some(after) = &change.after {
            self.rows.insert(table.row_key(after), after.clone());
        }
    }
}

/// [`Images`] behind a shared lock, for encoders whose lines are taken one at a time through
/// shared references: clones share the rows (a producer's row and envelope encoders see each
/// other's records).
#[derive(Debug, Clone, Default)]
pub struct SharedImages(Arc<Mutex<Images>>);

impl SharedImages {
    /// Starts from `images` (a topic's current rows).
    pub fn new(images: Images) -> Self {
        Self(Arc::new(Mutex::new(images)))
    }

    /// Runs `f` on the images.
    pub fn with<R>(&self, f: impl FnOnce(&mut Images) -> R) -> R {
        f(&mut self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::Script;
    use crate::vars::{Vars, substitute};
    use serde_json::json;

    fn table(extra: &str) -> TableSpec {
        let script = Script::parse_str(&format!(
            "CREATE TABLE orders (id INT, customer STRING, amount DECIMAL(10, 2), \
             PRIMARY KEY (id) NOT ENFORCED) WITH ('connector' = 'kafka', 'topic' = 'o', \
             'properties.bootstrap.servers' = 'x', 'format' = 'debezium-json'{extra})"
        ))
        .unwrap();
        TableSpec::from_script(&script, &substitute(&script, &Vars::none()), "orders").unwrap()
    }

    fn row(v: Value) -> Row {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn events_are_checked_like_flink_reads_them() {
        let t = table("");
        let ok = t
            .change_from_json(&row(json!({"op": "u", "before": {"id": 1, "amount": 2},
                "after": {"id": 1, "amount": 3}, "source": {"db": "x"}, "ts_ms": 5})))
            .unwrap();
        assert_eq!(ok.op, Op::Update);
        let cases = [
            (json!({"op": "x", "after": {"id": 1}}), "`op` is \"x\""),
            (json!({"op": "u", "after": {"id": 1}}), "needs `before`"),
            (json!({"op": "d", "before": null}), "needs `before`"),
            (json!({"op": "c", "before": null}), "needs `after`"),
            (
                json!({"op": "c", "before": {"id": 1}, "after": {"id": 1}}),
                "has no `before`",
            ),
            (
                json!({"op": "d", "before": {"id": 1}, "after": {"id": 1}}),
                "`after` is null",
            ),
            (
                json!({"op": "c", "after": {"id": "one"}}),
                "`after`: field `id`: expected INT",
            ),
            (
                json!({"op": "c", "after": {"id": 1}, "extra": 1}),
                "unknown field `extra`",
            ),
            (
                json!({"op": "u", "before": {"id": 1}, "after": {"id": 2}}),
                "different PRIMARY KEY",
            ),
            (json!({"op": 1, "after": {"id": 1}}), "`op` is 1"),
        ];
        for (event, expected) in cases {
            let err = t.change_from_json(&row(event.clone())).unwrap_err();
            assert!(err.contains(expected), "{event}: {err}");
        }
    }

    #[test]
    fn plain_rows_and_tombstones_get_their_before_images() {
        let t = table("");
        let mut images = Images::new();
        let c = images.upsert(&t, row(json!({"id": 1, "amount": 2})));
        assert_eq!((c.op, c.before.is_none()), (Op::Create, true));
        let u = images.upsert(&t, row(json!({"id": 1, "amount": 5})));
        assert_eq!(u.op, Op::Update);
        assert_eq!(u.before, Some(row(json!({"id": 1, "amount": 2}))));
        let d = images.delete(&t, &row(json!({"id": 1}))).unwrap();
        assert_eq!(d.before, Some(row(json!({"id": 1, "amount": 5}))));
        let err = images.delete(&t, &row(json!({"id": 1}))).unwrap_err();
        assert!(err.contains("no before-image"), "{err}");
        assert_eq!(
            String::from_utf8(t.encode_change(&d)).unwrap(),
            r#"{"before":{"id":1,"customer":null,"amount":5},"after":null,"op":"d"}"#
        );
    }

    #[test]
    fn given_events_must_match_the_rows_so_far() {
        let t = table("");
        let mut images = Images::new();
        let create = t
            .change_from_json(&row(json!({"op": "c", "after": {"id": 1, "amount": 1.50}})))
            .unwrap();
        images.check_and_apply(&t, &create).unwrap();
        let err = images.check_and_apply(&t, &create).unwrap_err();
        assert!(err.contains("already has a row"), "{err}");
        let wrong = t
            .change_from_json(&row(json!({"op": "u", "before": {"id": 1, "amount": 9},
                "after": {"id": 1, "amount": 2}})))
            .unwrap();
        let err = images.check_and_apply(&t, &wrong).unwrap_err();
        assert!(err.contains("not the key's current row"), "{err}");
        let right = t
            .change_from_json(&row(json!({"op": "u", "before": {"id": 1, "amount": 1.5},
                "after": {"id": 1, "amount": 2}})))
            .unwrap();
        images.check_and_apply(&t, &right).unwrap();
        let unknown = t
            .change_from_json(&row(json!({"op": "d", "before": {"id": 7}})))
            .unwrap();
        assert!(images.check_and_apply(&t, &unknown).is_err());
    }

    #[test]
    fn generated_rows_and_deletes_are_keyed_by_the_primary_key() {
        use crate::bridge::generate::{GenerateOptions, Generated, Generator, KeySpace};
        let t = table("");
        let mut generator = Generator::for_table(
            &t,
            GenerateOptions {
                seed: Some(3),
                key_space: KeySpace::Distinct(5),
                tombstone_ratio: 0.2,
                ..GenerateOptions::default()
            },
        )
        .unwrap();
        let mut images = Images::new();
        let mut ops = std::collections::HashSet::new();
        for _ in 0..100 {
            let change = match generator.next_item() {
                Generated::Row(row) => images.upsert(&t, row),
                Generated::Delete(key) => images.delete(&t, &key).unwrap(),
            };
            ops.insert(change.op);
        }
        assert!(images.len() <= 5);
        assert_eq!(ops.len(), 3, "{ops:?}");
    }

    #[test]
    fn schema_include_wraps_the_payload() {
        let t = table(", 'debezium-json.schema-include' = 'true'");
        let change = t
            .decode_changes(
                br#"{"schema":{"type":"struct"},"payload":{"op":"r","after":{"id":3}}}"#,
            )
            .unwrap()
            .remove(0);
        assert_eq!(change.op, Op::Read);
        let bytes = t.encode_change(&change);
        assert!(bytes.starts_with(br#"{"schema":null,"payload":{"#));
        assert_eq!(t.decode_changes(b"").unwrap(), []);
    }

    #[test]
    fn canal_and_maxwell_events_are_read_and_written_as_flink_does() {
        for (format, update, insert) in [
            (
                "canal-json",
                r#"{"data":[{"id":1,"customer":"a","amount":2}],"old":[{"amount":1}],"type":"UPDATE","database":"d","table":"orders","isDdl":false}"#,
                r#"{"data":[{"id":1,"customer":"a","amount":1}],"type":"INSERT"}"#,
            ),
            (
                "maxwell-json",
                r#"{"data":{"id":1,"customer":"a","amount":2},"old":{"amount":1},"type":"update","database":"d","table":"orders"}"#,
                r#"{"data":{"id":1,"customer":"a","amount":1},"type":"insert"}"#,
            ),
        ] {
            let t = native(format);
            let changes = t.decode_changes(update.as_bytes()).unwrap();
            assert_eq!(changes.len(), 1, "{format}");
            assert_eq!(changes[0].op, Op::Update);
            assert_eq!(
                changes[0].before.as_ref().unwrap()["amount"],
                json!(1),
                "{format}"
            );
            // Written back: the update as the format's own UPDATE with the changed field.
            let written = String::from_utf8(t.encode_change(&changes[0])).unwrap();
            assert!(
                written.contains(r#""old":"#) && written.contains(r#""amount":1"#),
                "{written}"
            );
            assert_eq!(t.decode_changes(written.as_bytes()).unwrap(), changes);
            let created = t.decode_changes(insert.as_bytes()).unwrap().remove(0);
            assert_eq!(created.op, Op::Create);
            assert_eq!(
                String::from_utf8(t.encode_change(&created)).unwrap(),
                insert
            );
            let err = t
                .decode_changes(br#"{"data":[],"type":"what"}"#)
                .unwrap_err();
            assert!(err.contains("`type` is \"what\""), "{err}");
        }
        let canal = native("canal-json");
        assert_eq!(
            canal
                .decode_changes(br#"{"type":"CREATE","sql":"CREATE TABLE x"}"#)
                .unwrap(),
            []
        );
        let two = canal
            .decode_changes(br#"{"data":[{"id":1},{"id":2}],"type":"DELETE"}"#)
            .unwrap();
        assert_eq!(two.len(), 2);
        let err = canal
            .change_from_json(&row(json!({"data":[{"id":1},{"id":2}],"type":"DELETE"})))
            .unwrap_err();
        assert!(err.contains("one row per line"), "{err}");
    }

    fn native(format: &str) -> TableSpec {
        let script = Script::parse_str(&format!(
            "CREATE TABLE orders (id INT, customer STRING, amount DECIMAL(10, 2), \
             PRIMARY KEY (id) NOT ENFORCED) WITH ('connector' = 'kafka', 'topic' = 'o', \
             'properties.bootstrap.servers' = 'x', 'format' = '{format}')"
        ))
        .unwrap();
        TableSpec::from_script(&script, &substitute(&script, &Vars::none()), "orders").unwrap()
    }

    #[test]
    fn hostile_values_do_not_panic() {
        for format in ["debezium-json", "canal-json", "maxwell-json"] {
            let t = native(format);
            for input in [
                &b"{"[..],
                b"[]",
                b"null",
                b"{\"op\":null}",
                b"{\"op\":\"u\",\"before\":[],\"after\":{}}",
                b"\xff\xfe",
                b"{\"op\":\"c\",\"after\":{\"id\":1e999999}}",
                b"{\"type\":\"UPDATE\",\"data\":[{\"id\":1}],\"old\":[]}",
                b"{\"type\":\"update\",\"data\":{\"id\":1},\"old\":7}",
                b"{\"type\":\"INSERT\",\"data\":[1]}",
            ] {
                assert!(
                    t.decode_changes(input).is_err(),
                    "{format}: {:?}",
                    String::from_utf8_lossy(input)
                );
            }
        }
    }
}
