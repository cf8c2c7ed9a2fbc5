//! Encoding rows into message keys and values the way Flink's formats read them (`raw` and
//! `json` here, `csv`, `debezium-json`, `avro` and `avro-confluent` in [`super::format`]), and
//! decoding messages back into rows.

use base64::Engine as _;
use serde_json::{Map, Number, Value};

use super::format::changelog::{Change, Op};
use super::table::{Format, TableSpec};
use super::types::{DataType, Field, TypeKind};

/// The base64 alphabet Flink's JSON format uses for BYTES.
const BASE64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

impl TableSpec {
    /// The message key of a row: the key columns in the key format, or `None` when the table
    /// has no key (or the single raw key column is NULL).
    pub fn encode_key(&self, row: &Map<String, Value>) -> Result<Option<Vec<u8>>, String> {
        let Some(format) = self.key_format else {
            return Ok(None);
        };
        match format {
            Format::Raw => {
                let column = &self.key_fields[0];
                let field = self.column(column).ok_or_else(|| missing(column))?;
                encode_raw(row.get(column).unwrap_or(&Value::Null), &field.data_type)
            }
            Format::Json => {
                let mut key = Map::new();
                for column in &self.key_fields {
                    key.insert(
                        self.key_json_name(column).to_string(),
                        row.get(column).cloned().unwrap_or(Value::Null),
                    );
                }
                Ok(Some(Value::Object(key).to_string().into_bytes()))
            }
            Format::Csv => {
                let options = self.key_csv.as_ref().ok_or_else(no_csv_options)?;
                options
                    .encode(&self.fields_of(&self.key_fields), row)
                    .map(Some)
            }
            Format::DebeziumJson | Format::CanalJson | Format::MaxwellJson => {
                Err(no_changelog_key())
            }
            Format::Avro | Format::AvroConfluent => self.key_codec()?.encode(row).map(Some),
        }
    }

    fn key_codec(&self) -> Result<&super::format::avro::AvroCodec, String> {
        self.avro
            .key
            .as_deref()
            .ok_or_else(|| format!("table `{}` has no Avro codec for its key", self.name))
    }

    fn value_codec(&self) -> Result<&super::format::avro::AvroCodec, String> {
        self.avro
            .value
            .as_deref()
            .ok_or_else(|| format!("table `{}` has no Avro codec for its value", self.name))
    }

    /// The message value of a row. `original` is the row's JSON text as read, sent as it is
    /// when the value carries every column in the JSON format (no re-serialization).
    pub fn encode_value(
        &self,
        row: &Map<String, Value>,
        original: Option<&[u8]>,
    ) -> Result<Vec<u8>, String> {
        match self.value_format {
            Format::Raw => {
                let column = &self.value_fields[0];
                let field = self.column(column).ok_or_else(|| missing(column))?;
                Ok(
                    encode_raw(row.get(column).unwrap_or(&Value::Null), &field.data_type)?
                        .unwrap_or_default(),
                )
            }
            Format::Json => {
                if let Some(original) = original
                    && self.value_fields.len() == self.columns.len()
                {
                    return Ok(original.to_vec());
                }
                let mut value = Map::new();
                for column in &self.value_fields {
                    value.insert(
                        column.clone(),
                        row.get(column).cloned().unwrap_or(Value::Null),
                    );
                }
                Ok(Value::Object(value).to_string().into_bytes())
            }
            Format::Csv => {
                let options = self.value_csv.as_ref().ok_or_else(no_csv_options)?;
                options.encode(&self.fields_of(&self.value_fields), row)
            }
            Format::DebeziumJson | Format::CanalJson | Format::MaxwellJson => Ok(self
                .encode_change(&Change {
                    op: Op::Create,
                    before: None,
                    after: Some(row.clone()),
                })),
            Format::Avro | Format::AvroConfluent => self.value_codec()?.encode(row),
        }
    }

    /// The key columns of a message key, by column name.
    pub fn decode_key(&self, bytes: &[u8]) -> Result<Map<String, Value>, String> {
        let mut out = Map::new();
        match self.key_format {
            None => {}
            Some(Format::Raw) => {
                let column = &self.key_fields[0];
                let field = self.column(column).ok_or_else(|| missing(column))?;
                out.insert(column.clone(), decode_raw(bytes, &field.data_type)?);
            }
            Some(Format::Json) => {
                let key: Map<String, Value> = serde_json::from_slice(bytes)
                    .map_err(|e| format!("the key is not a JSON object: {e}"))?;
                for column in &self.key_fields {
                    let value = key
                        .get(self.key_json_name(column))
                        .cloned()
                        .unwrap_or(Value::Null);
                    out.insert(column.clone(), value);
                }
            }
            Some(Format::Csv) => {
                let options = self.key_csv.as_ref().ok_or_else(no_csv_options)?;
                out = options
                    .decode(&self.fields_of(&self.key_fields), bytes)?
                    .ok_or_else(|| "Flink reads no key from it (an empty record)".to_string())?;
            }
            Some(Format::DebeziumJson | Format::CanalJson | Format::MaxwellJson) => {
                return Err(no_changelog_key());
            }
            Some(Format::Avro | Format::AvroConfluent) => {
                out = self
                    .key_codec()?
                    .decode(bytes)
                    .map_err(|e| format!("the key: {e}"))?;
            }
        }
        Ok(out)
    }

    /// The value columns of a message value, by column name.
    pub fn decode_value(&self, bytes: &[u8]) -> Result<Map<String, Value>, String> {
        match self.value_format {
            Format::Raw => {
                let column = &self.value_fields[0];
                let field = self.column(column).ok_or_else(|| missing(column))?;
                let mut out = Map::new();
                out.insert(column.clone(), decode_raw(bytes, &field.data_type)?);
                Ok(out)
            }
            Format::Json => serde_json::from_slice(bytes)
                .map_err(|e| format!("the value is not a JSON object: {e}")),
            Format::Csv => {
                let options = self.value_csv.as_ref().ok_or_else(no_csv_options)?;
                options
                    .decode(&self.fields_of(&self.value_fields), bytes)?
                    .ok_or_else(|| {
                        "Flink reads no row from it (an empty record or a comment, or one it \
                         cannot read with 'csv.ignore-parse-errors')"
                            .to_string()
                    })
            }
            Format::DebeziumJson | Format::CanalJson | Format::MaxwellJson => self
                .decode_changes(bytes)?
                .into_iter()
                .next()
                .and_then(|change| change.after.or(change.before))
                .ok_or_else(|| "the value holds no change of a row (Flink skips it)".to_string()),
            Format::Avro | Format::AvroConfluent => self
                .value_codec()?
                .decode(bytes)
                .map_err(|e| format!("the value: {e}")),
        }
    }

    /// The columns named `names`, in that order.
    pub fn fields_of(&self, names: &[String]) -> Vec<&Field> {
        names.iter().filter_map(|n| self.column(n)).collect()
    }

    /// A whole row from a message: every physical column in table order, taken from the value,
    /// or from the key for key columns the value does not carry.
    pub fn decode_row(
        &self,
        key: Option<&[u8]>,
        value: &[u8],
    ) -> Result<Map<String, Value>, String> {
        let mut value = self.decode_value(value)?;
        let mut key = match key {
            Some(bytes) if self.key_format.is_some() => self.decode_key(bytes)?,
            _ => Map::new(),
        };
        let mut row = Map::new();
        for column in &self.columns {
            // Key columns come from the value when it carries them, else from the key: Apache
            // upsert-pulsar's sink leaves them out of the value even with fields-include ALL.
            let cell = if self.value_fields.contains(&column.name) {
                value
                    .remove(&column.name)
                    .or_else(|| key.remove(&column.name))
            } else {
                key.remove(&column.name)
            };
            row.insert(column.name.clone(), cell.unwrap_or(Value::Null));
        }
        Ok(row)
    }
}

fn no_csv_options() -> String {
    "the table's csv options were not read".into()
}

fn no_changelog_key() -> String {
    "a key is never in a changelog format".into()
}

fn missing(column: &str) -> String {
    format!("column `{column}` is not in the table")
}

/// One value in Flink's `raw` format: text as UTF-8, bytes as they are, numbers big-endian.
fn encode_raw(value: &Value, data_type: &DataType) -> Result<Option<Vec<u8>>, String> {
    if value.is_null() {
        return Ok(None);
    }
    let whole = |v: &Value| -> Result<i64, String> {
        match v {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
        .ok_or_else(|| format!("{v} is not a whole number"))
    };
    let real = |v: &Value| -> Result<f64, String> {
        match v {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
        .ok_or_else(|| format!("{v} is not a number"))
    };
    let bytes = match &data_type.kind {
        TypeKind::String { .. } => match value {
            Value::String(s) => s.as_bytes().to_vec(),
            other => other.to_string().into_bytes(),
        },
        TypeKind::Bytes { .. } => match value {
            Value::String(s) => BASE64
                .decode(s)
                .map_err(|_| format!("{value} is not base64"))?,
            _ => return Err(format!("{value} is not base64 text")),
        },
        TypeKind::Boolean => match value {
            Value::Bool(b) => vec![u8::from(*b)],
            Value::String(s) if s.trim() == "true" => vec![1],
            Value::String(s) if s.trim() == "false" => vec![0],
            _ => return Err(format!("{value} is not true or false")),
        },
        TypeKind::TinyInt => i8::try_from(whole(value)?)
            .map_err(|e| e.to_string())?
            .to_be_bytes()
            .to_vec(),
        TypeKind::SmallInt => i16::try_from(whole(value)?)
            .map_err(|e| e.to_string())?
            .to_be_bytes()
            .to_vec(),
        TypeKind::Int => i32::try_from(whole(value)?)
            .map_err(|e| e.to_string())?
            .to_be_bytes()
            .to_vec(),
        TypeKind::BigInt => whole(value)?.to_be_bytes().to_vec(),
        #[allow(clippy::cast_possible_truncation)]
        TypeKind::Float => (real(value)? as f32).to_be_bytes().to_vec(),
        TypeKind::Double => real(value)?.to_be_bytes().to_vec(),
        other => return Err(format!("the raw format cannot carry {other}")),
    };
    Ok(Some(bytes))
}

/// One value from Flink's `raw` format.
fn decode_raw(bytes: &[u8], data_type: &DataType) -> Result<Value, String> {
    let fixed = |n: usize| -> Result<&[u8], String> {
        if bytes.len() == n {
            Ok(bytes)
        } else {
            Err(format!(
                "a raw {} has {n} bytes, this one has {}",
                data_type.kind,
                bytes.len()
            ))
        }
    };
    Ok(match &data_type.kind {
        TypeKind::String { .. } => Value::String(String::from_utf8_lossy(bytes).into_owned()),
        TypeKind::Boolean => Value::Bool(fixed(1)?[0] != 0),
        TypeKind::TinyInt => Value::from(i8::from_be_bytes([fixed(1)?[0]])),
        TypeKind::SmallInt => Value::from(i16::from_be_bytes(array(fixed(2)?))),
        TypeKind::Int => Value::from(i32::from_be_bytes(array(fixed(4)?))),
        TypeKind::BigInt => Value::from(i64::from_be_bytes(array(fixed(8)?))),
        TypeKind::Float => number(f64::from(f32::from_be_bytes(array(fixed(4)?)))),
        TypeKind::Double => number(f64::from_be_bytes(array(fixed(8)?))),
        _ => Value::String(BASE64.encode(bytes)),
    })
}

fn array<const N: usize>(bytes: &[u8]) -> [u8; N] {
    let mut out = [0; N];
    out.copy_from_slice(&bytes[..N]);
    out
}

fn number(f: f64) -> Value {
    Number::from_f64(f).map_or(Value::Null, Value::Number)
}

/// A message key or value as JSON when nothing says how to decode it: its JSON when it parses
/// as JSON, else its text when it is UTF-8, else `{"base64": …}` (standard alphabet).
pub fn show(bytes: &[u8]) -> Value {
    if let Ok(value) = serde_json::from_slice::<Value>(bytes) {
        return value;
    }
    match std::str::from_utf8(bytes) {
        Ok(text) => Value::String(text.to_string()),
        Err(_) => serde_json::json!({ "base64": BASE64.encode(bytes) }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::Script;
    use crate::vars::{Vars, substitute};
    use serde_json::json;

    fn spec(sql: &str) -> TableSpec {
        let script = Script::parse_str(sql).unwrap();
        let values = substitute(&script, &Vars::none());
        TableSpec::from_script(&script, &values, "t").unwrap()
    }

    fn row(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn raw_key_json_value_round_trip() {
        let t = spec(
            "CREATE TABLE t (uid STRING, n INT, PRIMARY KEY (uid) NOT ENFORCED) WITH ( \
             'connector' = 'upsert-kafka', 'topic' = 't', 'properties.bootstrap.servers' = 'x', \
             'key.format' = 'raw', 'value.format' = 'json')",
        );
        let r = row(json!({"uid": "100-1", "n": 5}));
        let key = t.encode_key(&r).unwrap().unwrap();
        assert_eq!(key, b"100-1");
        let original = br#"{"uid":"100-1","n":5}"#;
        let value = t.encode_value(&r, Some(original)).unwrap();
        assert_eq!(value, original);
        assert_eq!(t.decode_row(Some(&key), &value).unwrap(), r);
    }

    #[test]
    fn json_key_with_prefix_and_except_key() {
        let t = spec(
            "CREATE TABLE t (k_id INT, k_region STRING, v DOUBLE) WITH ('connector' = 'kafka', \
             'topic' = 't', 'properties.bootstrap.servers' = 'x', 'key.format' = 'json', \
             'key.fields' = 'k_id;k_region', 'key.fields-prefix' = 'k_', \
             'value.fields-include' = 'EXCEPT_KEY', 'value.format' = 'json')",
        );
        let r = row(json!({"k_id": 7, "k_region": "eu", "v": 1.5}));
        let key = t.encode_key(&r).unwrap().unwrap();
        assert_eq!(
            String::from_utf8(key.clone()).unwrap(),
            r#"{"id":7,"region":"eu"}"#
        );
        let value = t.encode_value(&r, Some(b"ignored")).unwrap();
        assert_eq!(String::from_utf8(value.clone()).unwrap(), r#"{"v":1.5}"#);
        assert_eq!(t.decode_row(Some(&key), &value).unwrap(), r);
    }

    #[test]
    fn key_columns_missing_from_the_value_come_from_the_key() {
        let t = spec(
            "CREATE TABLE t (accountId STRING, userCount BIGINT, PRIMARY KEY (accountId) NOT ENFORCED) \
             WITH ('connector' = 'upsert-pulsar', 'topics' = 't', 'service-url' = 'pulsar://x:6650', \
             'key.format' = 'raw', 'value.format' = 'json')",
        );
        assert_eq!(
            t.decode_row(Some(b"100"), br#"{"userCount":2}"#).unwrap(),
            row(json!({"accountId": "100", "userCount": 2}))
        );
    }

    #[test]
    fn raw_numbers_are_big_endian() {
        let t = spec(
            "CREATE TABLE t (id BIGINT, v STRING, PRIMARY KEY (id) NOT ENFORCED) WITH ( \
             'connector' = 'upsert-kafka', 'topic' = 't', 'properties.bootstrap.servers' = 'x', \
             'key.format' = 'raw', 'value.format' = 'raw', 'value.fields-include' = 'EXCEPT_KEY')",
        );
        let r = row(json!({"id": 258, "v": "héllo"}));
        let key = t.encode_key(&r).unwrap().unwrap();
        assert_eq!(key, [0, 0, 0, 0, 0, 0, 1, 2]);
        assert_eq!(t.encode_value(&r, None).unwrap(), "héllo".as_bytes());
        assert_eq!(t.decode_row(Some(&key), "héllo".as_bytes()).unwrap(), r);
        assert!(t.decode_key(&[1, 2]).unwrap_err().contains("has 8 bytes"));
    }

    #[test]
    fn guessing_undeclared_payloads() {
        assert_eq!(show(br#"{"a":1}"#), json!({"a": 1}));
        assert_eq!(show(b"plain text"), json!("plain text"));
        assert_eq!(show(&[0xff, 0xfe]), json!({"base64": "//4="}));
    }
}
