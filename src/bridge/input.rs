//! Records in: JSON lines read as a stream (value objects or `{"key","value","properties",
//! "timestamp"}` envelopes), single `--key/--value` and `--tombstone` records, and turning each
//! into an [`OutRecord`] — checked against the table's columns when there is a table.

use std::io::{self, BufRead};

use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::OutRecord;
use super::format::changelog::{Change, SharedImages};
use super::table::{Format, TableSpec};
use super::types::{self, Mismatch, TypeKind};

/// A bad input record: which line and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct InputError {
    /// The 1-based input line (1 for a record given with flags).
    pub line: u64,
    /// What is wrong.
    pub message: String,
}

/// The longest input line taken as one record: 64 MiB, far above Kafka's (1 MiB) and Pulsar's
/// (5 MiB) default message limits. A longer line (or `/dev/zero`, one endless line) is refused.
pub const MAX_LINE_BYTES: usize = 64 << 20;

/// Reads one line, its `\n` included, into `buf` like [`BufRead::read_until`], but fails with an
/// [`InputError`] for line `line` (inside an `io::Error` of kind `InvalidData`, see
/// [`read_error`]) instead of growing `buf` past [`MAX_LINE_BYTES`]. Returns the bytes read.
pub fn read_line<R: BufRead + ?Sized>(
    reader: &mut R,
    buf: &mut Vec<u8>,
    line: u64,
) -> io::Result<usize> {
    let mut read = 0;
    loop {
        let available = match reader.fill_buf() {
            Ok(bytes) => bytes,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) => return Err(err),
        };
        if available.is_empty() {
            return Ok(read);
        }
        let (complete, used) = match memchr::memchr(b'\n', available) {
            Some(at) => (true, at + 1),
            None => (false, available.len()),
        };
        if buf.len() + used > MAX_LINE_BYTES {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                InputError {
                    line,
                    message: format!(
                        "the line is longer than {} MiB, the most one record may take",
                        MAX_LINE_BYTES >> 20
                    ),
                },
            ));
        }
        buf.extend_from_slice(&available[..used]);
        reader.consume(used);
        read += used;
        if complete {
            return Ok(read);
        }
    }
}

/// The error for a failed read: a line [`read_line`] refused is invalid input, anything else
/// an I/O failure.
pub fn read_error(err: io::Error) -> super::BridgeError {
    match err.get_ref().and_then(|e| e.downcast_ref::<InputError>()) {
        Some(input) => super::BridgeError::Input(input.clone()),
        None => super::BridgeError::Io {
            context: "reading the records".into(),
            source: err,
        },
    }
}

/// Reads non-blank lines without allocating per line; memory stays at the longest line, at most
/// [`MAX_LINE_BYTES`].
pub struct Lines<R> {
    reader: R,
    buf: Vec<u8>,
    line: u64,
}

impl<R: BufRead> Lines<R> {
    /// Lines of `reader`.
    pub fn new(reader: R) -> Self {
        Self {
            reader,
            buf: Vec::with_capacity(4096),
            line: 0,
        }
    }

    /// The next non-blank line with its 1-based number, without the line ending.
    pub fn next_line(&mut self) -> io::Result<Option<(u64, &[u8])>> {
        loop {
            self.buf.clear();
            if read_line(&mut self.reader, &mut self.buf, self.line + 1)? == 0 {
                return Ok(None);
            }
            self.line += 1;
            let mut end = self.buf.len();
            while end > 0 && matches!(self.buf[end - 1], b'\n' | b'\r') {
                end -= 1;
            }
            if self.buf[..end].iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            return Ok(Some((self.line, &self.buf[..end])));
        }
    }

    /// The number of the last line read (blank lines included).
    pub fn line(&self) -> u64 {
        self.line
    }
}

/// How each input line is shaped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Shape {
    /// A value (a row object with a table); the key comes from the table or `--key-field`.
    #[default]
    Value,
    /// `{"key": …, "value": …|null, "properties": {…}, "timestamp": ms}`.
    Envelope,
}

/// Turns input into records.
#[derive(Debug, Clone, Default)]
pub struct Encoder {
    /// The table records are checked against and encoded for, if any.
    pub table: Option<TableSpec>,
    /// How lines are shaped.
    pub shape: Shape,
    /// Without a table: the value field whose value is the message key.
    pub key_field: Option<String>,
    /// Properties (headers) added to every record.
    pub properties: Vec<(String, String)>,
    /// For a changelog table (`debezium-json`, `canal-json`, `maxwell-json`): the latest row
    /// per PRIMARY KEY so far — the topic's rows it starts from, then every line's — giving
    /// plain rows and tombstones their before-images and checking given events against them.
    /// Clones of the encoder share them; check lines on a [`SharedImages::copy`].
    pub images: SharedImages,
}

impl Encoder {
    /// One input line (JSON text) as a record; errors carry `line`.
    /// A UTF-8 byte order mark at the start of the first line is skipped.
    pub fn line(&self, line: u64, text: &[u8]) -> Result<OutRecord, InputError> {
        let fail = |message: String| InputError { line, message };
        let text = match text.strip_prefix(crate::sql::lexer::BOM.as_bytes()) {
            Some(rest) if line == 1 => rest,
            _ => text,
        };
        if self.table.is_none() && self.shape == Shape::Value && self.key_field.is_none() {
            // Nothing to look into: the line only has to be JSON, and is sent as it is.
            serde_json::from_slice::<serde::de::IgnoredAny>(text)
                .map_err(|e| fail(format!("not JSON: {e}")))?;
            return Ok(OutRecord {
                key: None,
                value: Some(text.to_vec()),
                properties: self.properties.clone(),
                timestamp: None,
            });
        }
        if let Some(table) = &self.table
            && let Some(options) = &table.value_csv
            && self.shape == Shape::Value
            && text.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{')
        {
            // A csv table's line that is not a JSON object is one record of its value columns.
            if table.value_fields.len() != table.columns.len() {
                return Err(fail(format!(
                    "a csv line carries the value's columns only ({}), so the key columns are \
                     missing: give this table's rows as JSON objects",
                    table.value_fields.join(", ")
                )));
            }
            let row = options
                .parse(&table.fields_of(&table.value_fields), text)
                .map_err(fail)?;
            return self.record(line, Value::Object(row), None);
        }
        if let Some(table) = &self.table
            && self.shape == Shape::Value
            && let Some(mut record) = flat_row(table, text)
        {
            record.properties.extend(self.properties.iter().cloned());
            return Ok(record);
        }
        let value: Value =
            serde_json::from_slice(text).map_err(|e| fail(format!("not JSON: {e}")))?;
        self.record(line, value, Some(text))
    }

    /// One record given as a JSON value — a row, or an envelope with [`Shape::Envelope`] —
    /// checked and encoded exactly as [`Encoder::line`] does with its text; errors carry `line`.
    pub fn json(&self, line: u64, value: Value) -> Result<OutRecord, InputError> {
        self.record(line, value, None)
    }

    fn record(
        &self,
        line: u64,
        value: Value,
        original: Option<&[u8]>,
    ) -> Result<OutRecord, InputError> {
        let mut record = match self.shape {
            Shape::Value => self.value(value, original),
            Shape::Envelope => self.envelope(value),
        }
        .map_err(|message| InputError { line, message })?;
        record.properties.extend(self.properties.iter().cloned());
        Ok(record)
    }

    /// A record given with `--key` and `--value` (either may be absent).
    pub fn single(&self, key: Option<&str>, value: &str) -> Result<OutRecord, InputError> {
        let fail = |message: String| InputError { line: 1, message };
        let value: Value =
            serde_json::from_str(value).map_err(|e| fail(format!("--value is not JSON: {e}")))?;
        let mut record = match (&self.table, key) {
            (None, key) => {
                let mut record = self.value(value, None).map_err(fail)?;
                if let Some(key) = key {
                    record.key = Some(key.as_bytes().to_vec());
                }
                record
            }
            (Some(table), Some(key)) => {
                let key = cli_key(table, key).map_err(fail)?;
                self.table_record(table, Some(key), value, None)
                    .map_err(fail)?
            }
            (Some(_), None) => self.value(value, None).map_err(fail)?,
        };
        record.properties.extend(self.properties.iter().cloned());
        Ok(record)
    }

    /// A tombstone for `key` given with `--tombstone`.
    pub fn tombstone(&self, key: &str) -> Result<OutRecord, InputError> {
        let fail = |message: String| InputError { line: 1, message };
        let mut record = match &self.table {
            None => OutRecord {
                key: Some(key.as_bytes().to_vec()),
                ..OutRecord::default()
            },
            Some(table) => {
                let key = cli_key(table, key).map_err(fail)?;
                self.delete(table, key).map_err(fail)?
            }
        };
        record.properties = self.properties.clone();
        Ok(record)
    }

    /// The record deleting the row of key columns `key`: a tombstone, or for a changelog table
    /// a `d` event carrying the row it removes.
    fn delete(&self, table: &TableSpec, key: Map<String, Value>) -> Result<OutRecord, String> {
        if !table.is_changelog() {
            return Ok(OutRecord {
                key: Some(table_key(table, &key)?),
                value: None,
                ..OutRecord::default()
            });
        }
        let change = self.images.with(|images| images.delete(table, &key))?;
        self.change_record(table, &change, None)
    }

    /// A change event as a record: keyed by its row, the event as the value (`original`, the
    /// line's text, sent as it is when it has the table's shape).
    fn change_record(
        &self,
        table: &TableSpec,
        change: &Change,
        original: Option<&[u8]>,
    ) -> Result<OutRecord, String> {
        let row = change
            .row()
            .ok_or_else(|| "the event has neither `before` nor `after`".to_string())?;
        let value = match original {
            Some(text) => text.to_vec(),
            None => table.encode_change(change),
        };
        Ok(OutRecord {
            key: table.encode_key(row)?,
            value: Some(value),
            properties: Vec::new(),
            timestamp: None,
        })
    }

    fn value(&self, value: Value, original: Option<&[u8]>) -> Result<OutRecord, String> {
        if let Some(table) = &self.table {
            return self.table_record(table, None, value, original);
        }
        let key = match &self.key_field {
            None => None,
            Some(field) => match value.get(field) {
                Some(Value::Null) | None => {
                    return Err(format!("the key field `{field}` is missing or null"));
                }
                Some(k) => Some(plain_key(k)),
            },
        };
        let bytes = match original {
            Some(text) => text.to_vec(),
            None => value.to_string().into_bytes(),
        };
        Ok(OutRecord {
            key,
            value: Some(bytes),
            properties: Vec::new(),
            timestamp: None,
        })
    }

    fn envelope(&self, envelope: Value) -> Result<OutRecord, String> {
        let Value::Object(mut envelope) = envelope else {
            return Err(
                "an envelope must be an object {\"key\", \"value\", \"properties\"}".into(),
            );
        };
        if let Some(extra) = envelope
            .keys()
            .find(|k| !matches!(k.as_str(), "key" | "value" | "properties" | "timestamp"))
        {
            return Err(format!(
                "unknown envelope field `{extra}` (an envelope has key, value, properties, timestamp)"
            ));
        }
        let key = envelope.remove("key").filter(|k| !k.is_null());
        let value = envelope.remove("value").ok_or(
            "an envelope needs `value`: the row, or `\"value\": null` for a delete (tombstone)"
                .to_string(),
        )?;
        let mut properties = Vec::new();
        match envelope.remove("properties") {
            None | Some(Value::Null) => {}
            Some(Value::Object(map)) => {
                for (k, v) in map {
                    let v = match v {
                        Value::String(s) => s,
                        Value::Number(n) => n.to_string(),
                        Value::Bool(b) => b.to_string(),
                        Value::Null => {
                            return Err(format!(
                                "property `{k}` is null; a property is text (leave it out to send none)"
                            ));
                        }
                        Value::Array(_) | Value::Object(_) => {
                            return Err(format!("property `{k}` is not text"));
                        }
                    };
                    properties.push((k, v));
                }
            }
            Some(_) => return Err("`properties` must be an object of strings".into()),
        }
        let timestamp = match envelope.remove("timestamp") {
            None | Some(Value::Null) => None,
            Some(Value::Number(n)) if n.as_i64().is_some() => n.as_i64(),
            Some(_) => return Err("`timestamp` must be milliseconds since the epoch".into()),
        };
        let mut record = match (&self.table, value) {
            (None, Value::Null) => OutRecord {
                key: Some(
                    key.as_ref()
                        .map(plain_key)
                        .ok_or("a tombstone (`\"value\": null`) needs a `key`".to_string())?,
                ),
                value: None,
                ..OutRecord::default()
            },
            (None, value) => OutRecord {
                key: key.as_ref().map(plain_key),
                value: Some(value.to_string().into_bytes()),
                ..OutRecord::default()
            },
            (Some(table), Value::Null) => {
                let key = key.ok_or("a tombstone (`\"value\": null`) needs a `key`".to_string())?;
                let key = key_row(table, key)?;
                self.delete(table, key)?
            }
            (Some(table), value) => {
                let key = key.map(|k| key_row(table, k)).transpose()?;
                self.table_record(table, key, value, None)?
            }
        };
        record.properties = properties;
        record.timestamp = timestamp;
        Ok(record)
    }

    /// A row (with key columns possibly given apart) checked and encoded for the table.
    fn table_record(
        &self,
        table: &TableSpec,
        key: Option<Map<String, Value>>,
        value: Value,
        original: Option<&[u8]>,
    ) -> Result<OutRecord, String> {
        let Value::Object(mut row) = value else {
            return Err(format!(
                "a row of `{}` must be a JSON object of its columns ({})",
                table.name,
                column_list(table)
            ));
        };
        if table.is_changelog() && table.is_change_event(&row) {
            if key.is_some() {
                return Err(
                    "a change event takes its key from its row: give it without `key`".into(),
                );
            }
            let change = table.change_from_json(&row)?;
            self.images
                .with(|images| images.check_and_apply(table, &change))?;
            // Sent as given only when it is already in the table's own shape.
            let own_shape = match table.value_format {
                Format::DebeziumJson => {
                    row.contains_key("payload") == table.debezium_schema_include
                }
                _ => !row.contains_key("op"),
            };
            let as_given = original.filter(|_| own_shape);
            return self.change_record(table, &change, as_given);
        }
        let mut original = original;
        if let Some(key) = key {
            for (column, k) in key {
                match row.get(&column) {
                    Some(v) if !v.is_null() && *v != k => {
                        return Err(format!(
                            "the key says `{column}` is {k} but the value says {v}"
                        ));
                    }
                    Some(v) if !v.is_null() => {}
                    _ => {
                        row.insert(column, k);
                        original = None;
                    }
                }
            }
        }
        table.check_row(&row).map_err(|m| mismatch(table, &m))?;
        if table.is_changelog() {
            let change = self.images.with(|images| images.upsert(table, row));
            return self.change_record(table, &change, None);
        }
        let key = table.encode_key(&row)?;
        let value = table.encode_value(&row, original)?;
        Ok(OutRecord {
            key,
            value: Some(value),
            properties: Vec::new(),
            timestamp: None,
        })
    }
}

/// A row of `table` given as a flat JSON object, checked and encoded without building a tree:
/// the common case of a keyed produce (a JSON value sent as it is, a raw or JSON key). `None`
/// whenever this cannot decide, or the row does not fit: the line then takes the full path,
/// which gives the same record, or the error, exactly as before.
fn flat_row(table: &TableSpec, text: &[u8]) -> Option<OutRecord> {
    if table.is_changelog()
        || table.value_format != Format::Json
        || table.value_fields.len() != table.columns.len()
        || !matches!(table.key_format, None | Some(Format::Raw | Format::Json))
    {
        return None;
    }
    let FlatObject(fields) = serde_json::from_slice(text).ok()?;
    let mut given: Vec<Option<&RawValue>> = vec![None; table.columns.len()];
    for (name, raw) in &fields {
        let at = table.columns.iter().position(|c| c.name == *name)?;
        if given[at].replace(raw).is_some() {
            return None;
        }
    }
    for (column, raw) in table.columns.iter().zip(&given) {
        let fits = match raw {
            Some(raw) => types::fits_raw(raw, &column.data_type, table.timestamps),
            None => column.data_type.nullable,
        };
        if !fits {
            return None;
        }
    }
    let mut key = Map::new();
    for name in &table.key_fields {
        let at = table.columns.iter().position(|c| c.name == *name)?;
        let value: Value = serde_json::from_str(given[at]?.get()).ok()?;
        if value.is_null() {
            return None;
        }
        key.insert(name.clone(), value);
    }
    Some(OutRecord {
        key: table.encode_key(&key).ok()?,
        value: Some(text.to_vec()),
        properties: Vec::new(),
        timestamp: None,
    })
}

/// A JSON object's members as borrowed text, in order, duplicates kept (a name written with
/// escapes cannot be borrowed, and fails).
struct FlatObject<'a>(Vec<(&'a str, &'a RawValue)>);

impl<'de> serde::Deserialize<'de> for FlatObject<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Members;
        impl<'de> serde::de::Visitor<'de> for Members {
            type Value = FlatObject<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Self::Value, A::Error> {
                let mut members = Vec::with_capacity(map.size_hint().unwrap_or(8));
                while let Some(member) = map.next_entry::<&'de str, &'de RawValue>()? {
                    members.push(member);
                }
                Ok(FlatObject(members))
            }
        }
        deserializer.deserialize_map(Members)
    }
}

/// The message key of key columns (a tombstone's key).
fn table_key(table: &TableSpec, key: &Map<String, Value>) -> Result<Vec<u8>, String> {
    if table.key_fields.is_empty() {
        return Err(format!(
            "table `{}` has no key (no PRIMARY KEY or 'key.fields'), so it cannot take tombstones",
            table.name
        ));
    }
    for column in &table.key_fields {
        let field = table
            .column(column)
            .ok_or(format!("no column `{column}`"))?;
        let value = key.get(column).unwrap_or(&Value::Null);
        if value.is_null() {
            return Err(format!("the key column `{column}` is missing or null"));
        }
        super::types::check(value, &field.data_type, table.timestamps).map_err(|m| {
            mismatch(
                table,
                &Mismatch {
                    path: column.clone(),
                    ..m
                },
            )
        })?;
    }
    table
        .encode_key(key)?
        .ok_or_else(|| "the key encodes to nothing".to_string())
}

/// Key columns from an envelope key: an object of key columns, or a scalar for a one-column key
/// (a changelog table's key is its PRIMARY KEY).
fn key_row(table: &TableSpec, key: Value) -> Result<Map<String, Value>, String> {
    let key_fields = key_columns(table);
    match key {
        Value::Object(map) => {
            if let Some(extra) = map.keys().find(|k| !key_fields.contains(k)) {
                return Err(format!(
                    "`{extra}` is not a key column of `{}` (the key is {})",
                    table.name,
                    key_fields.join(", ")
                ));
            }
            Ok(map)
        }
        scalar if key_fields.len() == 1 => Ok(Map::from_iter([(key_fields[0].clone(), scalar)])),
        _ => Err(format!(
            "the key of `{}` has columns {}: give it as an object",
            table.name,
            key_fields.join(", ")
        )),
    }
}

/// The columns a key names: the message key's, or a changelog table's PRIMARY KEY.
fn key_columns(table: &TableSpec) -> &[String] {
    if table.is_changelog() {
        table.row_key_columns()
    } else {
        &table.key_fields
    }
}

/// Key columns from a `--key`/`--tombstone` flag: text for a one-column text key, else JSON.
fn cli_key(table: &TableSpec, key: &str) -> Result<Map<String, Value>, String> {
    let key_fields = key_columns(table);
    let single_text = key_fields.len() == 1
        && table
            .column(&key_fields[0])
            .is_some_and(|c| matches!(c.data_type.kind, TypeKind::String { .. }));
    let value = if single_text {
        Value::String(key.to_string())
    } else {
        serde_json::from_str(key).map_err(|_| {
            format!(
                "the key of `{}` ({}) is given as JSON, like {}",
                table.name,
                key_fields.join(", "),
                if key_fields.len() == 1 {
                    "42".to_string()
                } else {
                    format!("{{\"{}\": …}}", key_fields.join("\": …, \""))
                }
            )
        })?
    };
    key_row(table, value)
}

/// A key without a table: text as its UTF-8 bytes, anything else as JSON text.
fn plain_key(key: &Value) -> Vec<u8> {
    match key {
        Value::String(s) => s.as_bytes().to_vec(),
        other => other.to_string().into_bytes(),
    }
}

fn column_list(table: &TableSpec) -> String {
    table
        .columns
        .iter()
        .map(|c| format!("{} {}", c.name, c.data_type))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A type mismatch as a message naming the field, the expected type and the value.
fn mismatch(table: &TableSpec, m: &Mismatch) -> String {
    if m.problem.starts_with("unknown field") && !m.path.contains(['.', '[']) {
        return format!(
            "{} — `{}` has columns {}",
            m.problem,
            table.name,
            column_list(table)
        );
    }
    if m.problem.starts_with("unknown field") {
        return format!("{} — {}", m.problem, m.expected);
    }
    format!("field `{}`: expected {}, {}", m.path, m.expected, m.problem)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::Script;
    use crate::vars::{Vars, substitute};

    fn users() -> TableSpec {
        let script = Script::parse_str(
            "CREATE TABLE users (uid STRING, accountId STRING, id INT, \
             PRIMARY KEY (uid) NOT ENFORCED) WITH ('connector' = 'upsert-kafka', 'topic' = 'u', \
             'properties.bootstrap.servers' = 'x', 'key.format' = 'raw', 'value.format' = 'json')",
        )
        .unwrap();
        TableSpec::from_script(&script, &substitute(&script, &Vars::none()), "users").unwrap()
    }

    fn table_encoder(shape: Shape) -> Encoder {
        Encoder {
            table: Some(users()),
            shape,
            ..Encoder::default()
        }
    }

    #[test]
    fn lines_skip_blanks_and_strip_crlf() {
        let mut lines = Lines::new(&b"a\r\n\n  \nb"[..]);
        assert_eq!(lines.next_line().unwrap(), Some((1, &b"a"[..])));
        assert_eq!(lines.next_line().unwrap(), Some((4, &b"b"[..])));
        assert_eq!(lines.next_line().unwrap(), None);
    }

    #[test]
    fn an_endless_line_is_refused_with_its_number() {
        let input = std::io::Read::chain("{}\n".as_bytes(), std::io::repeat(0));
        let mut lines = Lines::new(std::io::BufReader::new(input));
        assert_eq!(lines.next_line().unwrap().unwrap().0, 1);
        let err = lines.next_line().unwrap_err();
        match read_error(err) {
            super::super::BridgeError::Input(InputError { line, message }) => {
                assert_eq!(line, 2);
                assert!(message.contains("64 MiB"), "{message}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn table_rows_are_keyed_and_checked() {
        let e = table_encoder(Shape::Value);
        let text = br#"{"uid":"100-1","accountId":"100","id":1}"#;
        let r = e.line(3, text).unwrap();
        assert_eq!(r.key.as_deref(), Some(&b"100-1"[..]));
        assert_eq!(r.value.as_deref(), Some(&text[..]));
        let err = e.line(7, br#"{"uid":"100-1","id":"one"}"#).unwrap_err();
        assert_eq!(err.line, 7);
        assert_eq!(
            err.message,
            "field `id`: expected INT, \"one\" is not a whole number"
        );
        let err = e.line(8, br#"{"uid":"1","acountId":"1"}"#).unwrap_err();
        assert!(
            err.message
                .starts_with("unknown field `acountId` (did you mean `accountId`?)")
        );
        let err = e.line(9, br#"{"accountId":"1"}"#).unwrap_err();
        assert_eq!(
            err.message,
            "field `uid`: expected STRING, the key column is missing or null"
        );
        assert!(
            e.line(10, b"{oops")
                .unwrap_err()
                .message
                .starts_with("not JSON")
        );
    }

    #[test]
    fn envelopes_with_tables_carry_tombstones_and_properties() {
        let e = table_encoder(Shape::Envelope);
        let r = e
            .line(
                1,
                br#"{"key":"100-1","value":{"accountId":"100"},"properties":{"op":"u"},"timestamp":5}"#,
            )
            .unwrap();
        assert_eq!(r.key.as_deref(), Some(&b"100-1"[..]));
        let v: Value = serde_json::from_slice(r.value.as_deref().unwrap()).unwrap();
        assert_eq!(v["uid"], "100-1");
        assert_eq!(r.properties, [("op".to_string(), "u".to_string())]);
        assert_eq!(r.timestamp, Some(5));
        let t = e.line(2, br#"{"key":"100-1","value":null}"#).unwrap();
        assert_eq!((t.key.as_deref(), t.value), (Some(&b"100-1"[..]), None));
        let err = e.line(3, br#"{"value":null}"#).unwrap_err();
        assert!(err.message.contains("needs a `key`"));
        let err = e
            .line(4, br#"{"key":"a","value":{"uid":"b"}}"#)
            .unwrap_err();
        assert!(err.message.contains("the key says `uid` is \"a\""));
    }

    #[test]
    fn a_bom_starts_the_first_line_only() {
        let e = table_encoder(Shape::Value);
        let text = "\u{feff}{\"uid\":\"1\"}".as_bytes();
        let r = e.line(1, text).unwrap();
        assert_eq!(r.value.as_deref(), Some(&br#"{"uid":"1"}"#[..]));
        assert!(e.line(2, text).is_err(), "mid-file it is not JSON");
        let bare = Encoder::default();
        assert_eq!(
            bare.line(1, "\u{feff}[1]".as_bytes())
                .unwrap()
                .value
                .as_deref(),
            Some(&b"[1]"[..])
        );
    }

    #[test]
    fn a_delete_is_an_explicit_null_value_and_properties_are_text() {
        for e in [
            table_encoder(Shape::Envelope),
            Encoder {
                shape: Shape::Envelope,
                ..Encoder::default()
            },
        ] {
            let err = e.line(1, br#"{"key":"100-1"}"#).unwrap_err();
            assert!(err.message.contains("needs `value`"), "{}", err.message);
            let err = e
                .line(
                    2,
                    br#"{"key":"100-1","value":null,"properties":{"p":null}}"#,
                )
                .unwrap_err();
            assert!(
                err.message.contains("property `p` is null"),
                "{}",
                err.message
            );
            let r = e
                .line(
                    3,
                    br#"{"key":"100-1","value":null,"properties":{"n":1,"b":true}}"#,
                )
                .unwrap();
            assert_eq!(
                r.properties,
                [
                    ("n".to_string(), "1".to_string()),
                    ("b".to_string(), "true".to_string())
                ]
            );
        }
    }

    #[test]
    fn an_unknown_nested_field_is_named_by_its_path() {
        let script = Script::parse_str(
            "CREATE TABLE n (id INT, a ROW<b ROW<c INT>>) WITH ('connector' = 'kafka', \
             'topic' = 'n', 'properties.bootstrap.servers' = 'x', 'format' = 'json')",
        )
        .unwrap();
        let table =
            TableSpec::from_script(&script, &substitute(&script, &Vars::none()), "n").unwrap();
        let e = Encoder {
            table: Some(table),
            ..Encoder::default()
        };
        let err = e
            .line(1, br#"{"id":1,"a":{"b":{"c":1,"x":2}}}"#)
            .unwrap_err();
        assert_eq!(err.message, "unknown field `a.b.x` — `a.b` has fields c");
    }

    #[test]
    fn decimals_keep_every_digit_and_overflow_is_refused() {
        let script = Script::parse_str(
            "CREATE TABLE d (id STRING, amount DECIMAL(38, 18), small DECIMAL(5, 2), \
             PRIMARY KEY (id) NOT ENFORCED) WITH ('connector' = 'upsert-kafka', 'topic' = 'd', \
             'properties.bootstrap.servers' = 'x', 'key.format' = 'raw', 'value.format' = 'json')",
        )
        .unwrap();
        let table =
            TableSpec::from_script(&script, &substitute(&script, &Vars::none()), "d").unwrap();
        let e = Encoder {
            table: Some(table),
            shape: Shape::Envelope,
            ..Encoder::default()
        };
        let r = e
            .line(
                1,
                br#"{"key":"a","value":{"amount":12345678901234567890.123456789012345678}}"#,
            )
            .unwrap();
        let value = String::from_utf8(r.value.unwrap()).unwrap();
        assert!(
            value.contains(r#""amount":12345678901234567890.123456789012345678"#),
            "{value}"
        );
        let err = e
            .line(2, br#"{"key":"a","value":{"small":999.995}}"#)
            .unwrap_err();
        assert!(
            err.message.contains("Flink would read NULL"),
            "{}",
            err.message
        );
    }

    #[test]
    fn plain_records() {
        let e = Encoder {
            key_field: Some("id".into()),
            properties: vec![("src".into(), "test".into())],
            ..Encoder::default()
        };
        let r = e.line(1, r#"{"id": 42, "x": "é"}"#.as_bytes()).unwrap();
        assert_eq!(r.key.as_deref(), Some(&b"42"[..]));
        assert_eq!(
            r.value.as_deref(),
            Some(r#"{"id": 42, "x": "é"}"#.as_bytes())
        );
        assert_eq!(r.properties, [("src".to_string(), "test".to_string())]);
        assert!(
            e.line(2, br#"{"x": 1}"#)
                .unwrap_err()
                .message
                .contains("`id`")
        );
        let bare = Encoder::default();
        assert_eq!(
            bare.line(3, br#"[1, "x"]"#).unwrap().value.as_deref(),
            Some(&br#"[1, "x"]"#[..])
        );
        assert!(
            bare.line(4, b"[1,")
                .unwrap_err()
                .message
                .starts_with("not JSON")
        );
        let t = Encoder::default().tombstone("k").unwrap();
        assert_eq!((t.key.as_deref(), t.value), (Some(&b"k"[..]), None));
        let s = Encoder::default().single(Some("k"), "[1,2]").unwrap();
        assert_eq!(s.value.as_deref(), Some(&b"[1,2]"[..]));
    }

    #[test]
    fn flags_with_a_table() {
        let e = table_encoder(Shape::Value);
        let r = e.single(Some("100-9"), r#"{"accountId":"100"}"#).unwrap();
        assert_eq!(r.key.as_deref(), Some(&b"100-9"[..]));
        let t = e.tombstone("100-9").unwrap();
        assert_eq!(t.key.as_deref(), Some(&b"100-9"[..]));
    }

    /// The flat path must give what the full path gives, for every line it takes.
    #[test]
    fn a_flat_row_is_encoded_as_the_full_path_encodes_it() {
        let columns = [
            (
                "k",
                "STRING NOT NULL",
                &["\"a\"", "\"\\u00e9t\\u00e9\"", "12", "true", "null", "{}"][..],
            ),
            (
                "n",
                "INT",
                &[
                    "1",
                    "-2147483648",
                    "2147483648",
                    "\"7\"",
                    "1.0",
                    "1e2",
                    "null",
                    "[1]",
                ],
            ),
            (
                "t",
                "TINYINT NOT NULL",
                &["127", "128", "-129", "\" 5 \"", "null"],
            ),
            (
                "b",
                "BIGINT",
                &["9223372036854775807", "9223372036854775808", "-0", "\"x\""],
            ),
            (
                "d",
                "DOUBLE",
                &["1.5e300", "-0.0", "\"2.5\"", "\"nan\"", "true"],
            ),
            (
                "f",
                "BOOLEAN",
                &["true", "false", "\"true\"", "\" false\"", "1"],
            ),
            (
                "m",
                "DECIMAL(5, 2)",
                &["123.45", "1234.5", "\"1.5\"", "1e2"],
            ),
            (
                "s",
                "VARCHAR(3)",
                &[
                    "\"abcdef\"",
                    "3.25",
                    "false",
                    "[\"a\"]",
                    "\"\\ud800\"",
                    "\"\\ud83d\\ude00\"",
                    "\"\\\\u\"",
                ],
            ),
            (
                "ts",
                "TIMESTAMP(3)",
                &["\"2024-01-02 03:04:05.678\"", "\"2024-13-01\"", "5"],
            ),
            ("a", "ARRAY<INT>", &["[1,2]", "[\"x\"]", "null", "1"]),
            ("r", "ROW<x INT>", &["{\"x\":1}", "{\"y\":1}", "{}"]),
        ];
        let ddl: Vec<String> = columns.iter().map(|(n, t, _)| format!("{n} {t}")).collect();
        let mut covered = 0;
        for key in ["raw", "json"] {
            let script = Script::parse_str(&format!(
                "CREATE TABLE f ({}, PRIMARY KEY (k) NOT ENFORCED) WITH ('connector' = \
                 'upsert-kafka', 'topic' = 'f', 'properties.bootstrap.servers' = 'x', \
                 'key.format' = '{key}', 'value.format' = 'json')",
                ddl.join(", ")
            ))
            .unwrap();
            let table =
                TableSpec::from_script(&script, &substitute(&script, &Vars::none()), "f").unwrap();
            let encoder = Encoder {
                table: Some(table.clone()),
                ..Encoder::default()
            };
            // Rows from a fixed sequence of choices: a value of each column, or none, plus
            // now and then an unknown, repeated or escaped member.
            let mut seed = 7u64;
            let mut next = |n: usize| {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (seed >> 33) as usize % n
            };
            for _ in 0..20_000 {
                let mut members: Vec<String> = Vec::new();
                for (name, _, values) in &columns {
                    let pick = next(values.len() + 3);
                    if let Some(value) = values.get(pick.min(values.len())) {
                        members.push(format!("\"{name}\": {value}"));
                    } else if pick == values.len() {
                        members.push(format!("\"{name}\":{}", values[0]));
                    }
                }
                match next(20) {
                    0 => members.push("\"zz\":1".into()),
                    1 => members.push(members.first().cloned().unwrap_or_default()),
                    2 => members.push("\"\\u006e\":3".into()),
                    _ => {}
                }
                let line = format!("{{{}}}", members.join(","));
                let text = line.as_bytes();
                let full = serde_json::from_slice(text)
                    .map_err(|e| e.to_string())
                    .and_then(|v| encoder.record(1, v, Some(text)).map_err(|e| e.to_string()));
                if let Some(flat) = flat_row(&table, text) {
                    covered += 1;
                    assert_eq!(Ok(flat), full, "{line}");
                }
            }
        }
        assert!(covered > 500, "the flat path took only {covered} rows");
    }
}
