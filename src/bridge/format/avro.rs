//! Flink's `avro` and `avro-confluent` formats: the Avro schema Flink derives from a table's
//! columns (as its `AvroSchemaConverter` does, with the legacy timestamp mapping that is Flink
//! 1.20's default), rows in JSON encoded as Avro binary (after the Confluent wire header —
//! magic byte 0 and the schema id, big-endian — for `avro-confluent`), and messages decoded
//! back into JSON rows (for `avro-confluent`, with the writer's schema fetched by its id).
//!
//! JSON values are what Flink's `json` format reads: `DATE` `yyyy-MM-dd`, `TIME`
//! `HH:mm:ss[.fff]`, `TIMESTAMP` `yyyy-MM-dd HH:mm:ss[.fff]` (written as milliseconds since the
//! epoch, the local date-time taken as UTC, as Flink does), `DECIMAL` a number (written as the
//! two's-complement unscaled value, rounded half up to the scale), `BYTES` base64, `MULTISET` an
//! object from element to count.

use std::collections::HashMap;
use std::str::FromStr as _;
use std::sync::{Arc, Mutex, OnceLock};

use apache_avro::Schema;
use apache_avro::reader::datum::GenericDatumReader;
use apache_avro::types::Value as Avro;
use apache_avro::writer::datum::GenericDatumWriter;
use base64::Engine as _;
use bigdecimal::BigDecimal;
use bigdecimal::num_bigint::BigInt;
use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Timelike as _};
use serde_json::{Map, Number, Value};

use super::registry::{Registry, RegistryError};
use crate::bridge::types::{DataType, Field, TypeKind};

/// The record name Flink gives a derived schema (`AvroSchemaConverter.convertToSchema`).
pub const RECORD_NAME: &str = "org.apache.flink.avro.generated.record";

/// The first byte of a message in Confluent's wire format.
const MAGIC: u8 = 0;

const BASE64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Where an `avro-confluent` key or value registers its schema.
#[derive(Debug, Clone, PartialEq)]
pub struct Subject {
    /// The registry.
    pub registry: Registry,
    /// The subject (`<topic>-key`, `<topic>-value`, or the table's subject option).
    pub subject: String,
}

/// The Avro codec of a table's key or value: the columns it carries, their derived schema, and
/// for `avro-confluent` the subject and the registered id.
pub struct AvroCodec {
    /// (column, field in the record): the record's field names may differ from the columns
    /// (a key's `key.fields-prefix` is stripped).
    fields: Vec<(String, Field)>,
    schema_json: String,
    schema: Resolved,
    confluent: Option<Subject>,
    /// The table's own schema option (`value.avro-confluent.schema`), when it gives one:
    /// messages are still read with their writer's schema, and writing is refused.
    own_schema: Option<String>,
    id: OnceLock<u32>,
    writers: Mutex<HashMap<u32, Arc<Resolved>>>,
}

/// A schema with its names resolved once, and the writer and reader that use them: resolving
/// (which the writer and reader builders do) costs far more than encoding one row.
#[ouroboros::self_referencing]
struct Resolved {
    schema: Schema,
    #[borrows(schema)]
    #[covariant]
    writer: GenericDatumWriter<'this>,
    #[borrows(schema)]
    #[covariant]
    reader: GenericDatumReader<'this>,
}

impl Resolved {
    fn parse(text: &str) -> Result<Self, apache_avro::Error> {
        ResolvedTryBuilder {
            schema: Schema::parse_str(text)?,
            writer_builder: |schema: &Schema| GenericDatumWriter::builder(schema).build(),
            reader_builder: |schema: &Schema| GenericDatumReader::builder(schema).build(),
        }
        .try_build()
    }
}

impl std::fmt::Debug for AvroCodec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AvroCodec")
            .field("schema", &self.schema_json)
            .field("confluent", &self.confluent)
            .finish_non_exhaustive()
    }
}

impl PartialEq for AvroCodec {
    fn eq(&self, other: &Self) -> bool {
        self.schema_json == other.schema_json && self.confluent == other.confluent
    }
}

impl AvroCodec {
    /// The codec of `fields` (column name, and the field as the record names it). Fails, saying
    /// why, for a type Flink's Avro format cannot carry.
    pub fn new(fields: Vec<(String, Field)>, confluent: Option<Subject>) -> Result<Self, String> {
        let record: Vec<Field> = fields.iter().map(|(_, f)| f.clone()).collect();
        let schema_value = record_schema(&record, RECORD_NAME)?;
        let schema_json = schema_value.to_string();
        let schema = Resolved::parse(&schema_json)
            .map_err(|e| format!("the derived Avro schema does not parse: {e}"))?;
        Ok(Self {
            fields,
            schema_json,
            schema,
            confluent,
            own_schema: None,
            id: OnceLock::new(),
            writers: Mutex::default(),
        })
    }

    /// The codec of `fields` that writes and reads with `schema_json` — a schema registered
    /// elsewhere (a Pulsar topic's) — instead of the one derived from the columns: records are
    /// built by field name, so the schema's fields must carry the columns' types.
    pub fn registered(fields: Vec<(String, Field)>, schema_json: &str) -> Result<Self, String> {
        let schema = Resolved::parse(schema_json)
            .map_err(|e| format!("the registered Avro schema does not parse: {e}"))?;
        Ok(Self {
            fields,
            schema_json: schema_json.to_string(),
            schema,
            confluent: None,
            own_schema: None,
            id: OnceLock::new(),
            writers: Mutex::default(),
        })
    }

    /// This codec for a table that gives its own schema in `option`
    /// (`value.avro-confluent.schema`): it reads every message with the writer's schema from
    /// the registry, as it does without the option, and refuses to write
    /// ([`RegistryError::OwnSchema`]).
    pub fn with_own_schema(mut self, option: impl Into<String>) -> Self {
        self.own_schema = Some(option.into());
        self
    }

    /// The Avro schema derived from the columns, as JSON text.
    pub fn schema_json(&self) -> &str {
        &self.schema_json
    }

    /// The subject of an `avro-confluent` codec.
    pub fn subject(&self) -> Option<&Subject> {
        self.confluent.as_ref()
    }

    /// For `avro-confluent`: registers the schema under the subject (or finds it there) and
    /// keeps its id; nothing for plain `avro`. Done before the first record is encoded, so a
    /// registry that does not answer is reported before anything is sent.
    pub fn prepare(&self) -> Result<(), RegistryError> {
        self.schema_id().map(drop)
    }

    fn schema_id(&self) -> Result<Option<u32>, RegistryError> {
        let Some(subject) = &self.confluent else {
            return Ok(None);
        };
        if let Some(option) = &self.own_schema {
            return Err(RegistryError::OwnSchema {
                option: option.clone(),
            });
        }
        if let Some(id) = self.id.get() {
            return Ok(Some(*id));
        }
        let id = subject
            .registry
            .register(&subject.subject, &self.schema_json)?;
        Ok(Some(*self.id.get_or_init(|| id)))
    }

    /// Checks that the registry of an `avro-confluent` codec answers (for readers, which
    /// fetch schemas by id later).
    pub fn ping(&self) -> Result<(), RegistryError> {
        match &self.confluent {
            Some(subject) => subject.registry.ping(),
            None => Ok(()),
        }
    }

    /// The message bytes of a row (an object of columns). A value that the schema cannot
    /// carry is an error naming its column (and the path below it).
    pub fn encode(&self, row: &Map<String, Value>) -> Result<Vec<u8>, String> {
        let mut record = Vec::with_capacity(self.fields.len());
        for (column, field) in &self.fields {
            let value = row.get(column).unwrap_or(&Value::Null);
            let mut path = column.clone();
            record.push((
                field.name.clone(),
                to_avro(value, &field.data_type, &mut path)?,
            ));
        }
        let mut out = Vec::new();
        if let Some(id) = self.schema_id().map_err(|e| e.to_string())? {
            out.push(MAGIC);
            out.extend_from_slice(&id.to_be_bytes());
        }
        self.schema
            .borrow_writer()
            .write_value(&mut out, Avro::Record(record))
            .map_err(|e| format!("the row does not fit the Avro schema: {e}"))?;
        Ok(out)
    }

    /// The columns of a message, by column name (a column the writer's record lacks is null).
    pub fn decode(&self, bytes: &[u8]) -> Result<Map<String, Value>, String> {
        let (writer, mut body) = match &self.confluent {
            None => (None, bytes),
            Some(subject) => {
                let [MAGIC, a, b, c, d, rest @ ..] = bytes else {
                    return Err(format!(
                        "not in Confluent's Avro wire format (magic byte 0 and a 4-byte schema \
                         id): {} bytes starting {:?}",
                        bytes.len(),
                        &bytes[..bytes.len().min(5)]
                    ));
                };
                let id = u32::from_be_bytes([*a, *b, *c, *d]);
                (Some(self.writer(&subject.registry, id)?), rest)
            }
        };
        let schema = writer.as_deref().unwrap_or(&self.schema);
        let value = schema
            .borrow_reader()
            .read_value(&mut body)
            .map_err(|e| format!("not Avro of the expected schema: {e}"))?;
        let Avro::Record(mut record) = unwrap_union(value) else {
            return Err("the Avro datum is not a record".into());
        };
        let mut out = Map::new();
        for (column, field) in &self.fields {
            let value = record
                .iter_mut()
                .find(|(name, _)| *name == field.name)
                .map(|(_, v)| std::mem::replace(v, Avro::Null))
                .unwrap_or(Avro::Null);
            out.insert(column.clone(), to_json(value, Some(&field.data_type)));
        }
        Ok(out)
    }

    /// The writer's schema with id `id`, fetched from the registry once.
    fn writer(&self, registry: &Registry, id: u32) -> Result<Arc<Resolved>, String> {
        let mut writers = self
            .writers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(schema) = writers.get(&id) {
            return Ok(schema.clone());
        }
        let text = registry.schema(id).map_err(|e| e.to_string())?;
        let schema = Arc::new(
            Resolved::parse(&text)
                .map_err(|e| format!("schema id {id} from the registry does not parse: {e}"))?,
        );
        writers.insert(id, schema.clone());
        Ok(schema)
    }
}

/// Flink's Avro schema of a ROW's fields (`AvroSchemaConverter.convertToSchema`): nested
/// records are named `<name>_<field>`; nullable types are unions with `null` first, and
/// nullable fields default to null.
fn record_schema(fields: &[Field], name: &str) -> Result<Value, String> {
    let mut out = Vec::with_capacity(fields.len());
    for field in fields {
        let schema = type_schema(&field.data_type, &format!("{name}_{}", field.name))
            .map_err(|e| format!("column `{}`: {e}", field.name))?;
        let mut entry = serde_json::json!({ "name": field.name, "type": schema });
        if field.data_type.nullable {
            entry["default"] = Value::Null;
        }
        out.push(entry);
    }
    let (namespace, simple) = name.rsplit_once('.').unwrap_or(("", name));
    let mut record = serde_json::json!({ "type": "record", "name": simple, "fields": out });
    if !namespace.is_empty() {
        record["namespace"] = Value::String(namespace.into());
    }
    Ok(record)
}

fn type_schema(data_type: &DataType, row_name: &str) -> Result<Value, String> {
    use serde_json::json;
    let schema = match &data_type.kind {
        TypeKind::Boolean => json!("boolean"),
        TypeKind::TinyInt | TypeKind::SmallInt | TypeKind::Int => json!("int"),
        TypeKind::BigInt => json!("long"),
        TypeKind::Float => json!("float"),
        TypeKind::Double => json!("double"),
        TypeKind::String { .. } => json!("string"),
        TypeKind::Bytes { .. } => json!("bytes"),
        TypeKind::Decimal { precision, scale } => json!({
            "type": "bytes", "logicalType": "decimal", "precision": precision, "scale": scale
        }),
        TypeKind::Date => json!({ "type": "int", "logicalType": "date" }),
        TypeKind::Time => json!({ "type": "int", "logicalType": "time-millis" }),
        TypeKind::Timestamp => json!({ "type": "long", "logicalType": "timestamp-millis" }),
        TypeKind::Row(fields) => record_schema(fields, row_name)?,
        TypeKind::Array(element) => {
            json!({ "type": "array", "items": type_schema(element, row_name)? })
        }
        TypeKind::Map(key, value) => {
            if !matches!(key.kind, TypeKind::String { .. }) {
                return Err(format!(
                    "{}: Flink's Avro format keeps maps with text keys only",
                    data_type.kind
                ));
            }
            json!({ "type": "map", "values": type_schema(value, row_name)? })
        }
        TypeKind::Multiset(element) => {
            if !matches!(element.kind, TypeKind::String { .. }) {
                return Err(format!(
                    "{}: Flink's Avro format keeps multisets of text only",
                    data_type.kind
                ));
            }
            json!({ "type": "map", "values": "int" })
        }
        TypeKind::TimestampLtz => {
            return Err(
                "TIMESTAMP_LTZ: Flink's Avro format derives no schema for it with the legacy \
                 timestamp mapping (its default); use TIMESTAMP(3)"
                    .into(),
            );
        }
        other => return Err(format!("{other}: Flink's Avro format cannot carry it")),
    };
    Ok(if data_type.nullable {
        json!(["null", schema])
    } else {
        schema
    })
}

/// A JSON value as the Avro value of `data_type` (already checked against the type by
/// [`crate::bridge::types::check`]; what remains are values the schema cannot hold).
fn to_avro(value: &Value, data_type: &DataType, path: &mut String) -> Result<Avro, String> {
    if value.is_null() {
        return if data_type.nullable {
            Ok(Avro::Union(0, Box::new(Avro::Null)))
        } else {
            Err(format!("`{path}` is null, and its type {data_type} is not"))
        };
    }
    let fail = |path: &str, what: &str| format!("`{path}`: {} is not {what}", short(value));
    let text = || match value {
        Value::String(s) => s.trim().to_string(),
        other => other.to_string(),
    };
    let whole = |path: &str| -> Result<i64, String> {
        text()
            .parse::<i64>()
            .map_err(|_| fail(path, "a whole number"))
    };
    let real = |path: &str| -> Result<f64, String> {
        text().parse::<f64>().map_err(|_| fail(path, "a number"))
    };
    let int = |path: &str| -> Result<i32, String> {
        i32::try_from(whole(path)?).map_err(|_| fail(path, "within INT"))
    };
    let inner = match &data_type.kind {
        TypeKind::Boolean => match value {
            Value::Bool(b) => Avro::Boolean(*b),
            _ => match text().as_str() {
                "true" => Avro::Boolean(true),
                "false" => Avro::Boolean(false),
                _ => return Err(fail(path, "true or false")),
            },
        },
        TypeKind::TinyInt | TypeKind::SmallInt | TypeKind::Int => Avro::Int(int(path)?),
        TypeKind::BigInt => Avro::Long(whole(path)?),
        #[allow(clippy::cast_possible_truncation)]
        TypeKind::Float => Avro::Float(real(path)? as f32),
        TypeKind::Double => Avro::Double(real(path)?),
        TypeKind::String { .. } => Avro::String(match value {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        }),
        TypeKind::Bytes { .. } => match value {
            Value::String(s) => Avro::Bytes(BASE64.decode(s).map_err(|_| fail(path, "base64"))?),
            _ => return Err(fail(path, "base64 text")),
        },
        TypeKind::Decimal { precision, scale } => {
            let decimal = BigDecimal::from_str(&text()).map_err(|_| fail(path, "a number"))?;
            let rounded =
                decimal.with_scale_round(i64::from(*scale), bigdecimal::RoundingMode::HalfUp);
            if rounded.digits() > u64::from(*precision) {
                return Err(fail(path, &format!("within DECIMAL({precision}, {scale})")));
            }
            let (unscaled, _) = rounded.into_bigint_and_exponent();
            Avro::Decimal(apache_avro::Decimal::from(unscaled.to_signed_bytes_be()))
        }
        TypeKind::Date => {
            let date = NaiveDate::parse_from_str(&text(), "%Y-%m-%d")
                .map_err(|_| fail(path, "a date (yyyy-MM-dd)"))?;
            let days = date.signed_duration_since(NaiveDate::default()).num_days();
            Avro::Date(i32::try_from(days).map_err(|_| fail(path, "a date Avro can hold"))?)
        }
        TypeKind::Time => {
            let time = NaiveTime::parse_from_str(&text(), "%H:%M:%S%.f")
                .map_err(|_| fail(path, "a time (HH:mm:ss[.fff])"))?;
            let millis = time.num_seconds_from_midnight() * 1000 + time.nanosecond() / 1_000_000;
            Avro::TimeMillis(i32::try_from(millis).map_err(|_| fail(path, "a time"))?)
        }
        TypeKind::Timestamp => {
            let at = NaiveDateTime::parse_from_str(&text(), "%Y-%m-%d %H:%M:%S%.f")
                .map_err(|_| fail(path, "a timestamp (yyyy-MM-dd HH:mm:ss[.fff])"))?;
            Avro::TimestampMillis(at.and_utc().timestamp_millis())
        }
        TypeKind::Array(element) => {
            let Value::Array(items) = value else {
                return Err(fail(path, "an array"));
            };
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                out.push(to_avro(item, element, path)?);
                path.truncate(len);
            }
            Avro::Array(out)
        }
        TypeKind::Map(_, element) => {
            let Value::Object(map) = value else {
                return Err(fail(path, "an object"));
            };
            let mut out = HashMap::with_capacity(map.len());
            for (k, v) in map {
                let len = path.len();
                path.push_str(&format!("[{k:?}]"));
                out.insert(k.clone(), to_avro(v, element, path)?);
                path.truncate(len);
            }
            Avro::Map(out)
        }
        TypeKind::Multiset(_) => {
            let Value::Object(map) = value else {
                return Err(fail(path, "an object of counts"));
            };
            let mut out = HashMap::with_capacity(map.len());
            for (k, count) in map {
                let count = count
                    .as_u64()
                    .and_then(|c| i32::try_from(c).ok())
                    .ok_or_else(|| fail(path, "an object of counts"))?;
                out.insert(k.clone(), Avro::Int(count));
            }
            Avro::Map(out)
        }
        TypeKind::Row(fields) => {
            let Value::Object(map) = value else {
                return Err(fail(path, "an object"));
            };
            let mut out = Vec::with_capacity(fields.len());
            for field in fields {
                let len = path.len();
                path.push('.');
                path.push_str(&field.name);
                let v = to_avro(
                    map.get(&field.name).unwrap_or(&Value::Null),
                    &field.data_type,
                    path,
                )?;
                path.truncate(len);
                out.push((field.name.clone(), v));
            }
            Avro::Record(out)
        }
        other => {
            return Err(format!(
                "`{path}`: Flink's Avro format cannot carry {other}"
            ));
        }
    };
    Ok(if data_type.nullable {
        Avro::Union(1, Box::new(inner))
    } else {
        inner
    })
}

fn short(value: &Value) -> String {
    crate::bridge::types::show(value)
}

fn unwrap_union(value: Avro) -> Avro {
    match value {
        Avro::Union(_, inner) => unwrap_union(*inner),
        other => other,
    }
}

/// An Avro value as JSON, the way Flink's `json` format writes the column's type (`hint`, when
/// known: it tells a `TIMESTAMP_LTZ` from a `TIMESTAMP` and gives a decimal's scale).
fn to_json(value: Avro, hint: Option<&DataType>) -> Value {
    let kind = hint.map(|t| &t.kind);
    match unwrap_union(value) {
        Avro::Null => Value::Null,
        Avro::Boolean(b) => Value::Bool(b),
        Avro::Int(i) | Avro::Date(i) if !matches!(kind, Some(TypeKind::Date)) => Value::from(i),
        Avro::Date(days) | Avro::Int(days) => NaiveDate::default()
            .checked_add_signed(chrono::TimeDelta::days(i64::from(days)))
            .map_or(Value::from(days), |d| {
                Value::String(d.format("%Y-%m-%d").to_string())
            }),
        Avro::Long(l) => Value::from(l),
        // Flink reads a timestamp's long into a BIGINT column as it is (and, with its default
        // legacy mapping, maps the local-timestamp types to BIGINT).
        Avro::TimestampMillis(n)
        | Avro::TimestampMicros(n)
        | Avro::TimestampNanos(n)
        | Avro::LocalTimestampMillis(n)
        | Avro::LocalTimestampMicros(n)
        | Avro::LocalTimestampNanos(n)
        | Avro::TimeMicros(n)
            if matches!(kind, Some(TypeKind::BigInt)) =>
        {
            Value::from(n)
        }
        Avro::Float(f) => number_text(&f.to_string()),
        Avro::Double(d) => number_text(&d.to_string()),
        Avro::Bytes(b) | Avro::Fixed(_, b) => Value::String(BASE64.encode(b)),
        Avro::String(s) | Avro::Enum(_, s) => Value::String(s),
        Avro::Array(items) => {
            let element = match kind {
                Some(TypeKind::Array(e)) => Some(e.as_ref()),
                _ => None,
            };
            Value::Array(items.into_iter().map(|v| to_json(v, element)).collect())
        }
        Avro::Map(map) => {
            let element = match kind {
                Some(TypeKind::Map(_, v)) => Some(v.as_ref()),
                _ => None,
            };
            let mut keys: Vec<_> = map.into_iter().collect();
            keys.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(
                keys.into_iter()
                    .map(|(k, v)| (k, to_json(v, element)))
                    .collect(),
            )
        }
        Avro::Record(fields) => {
            let types = match kind {
                Some(TypeKind::Row(types)) => Some(types),
                _ => None,
            };
            Value::Object(
                fields
                    .into_iter()
                    .map(|(name, v)| {
                        let hint = types
                            .and_then(|t| t.iter().find(|f| f.name == name))
                            .map(|f| &f.data_type);
                        (name, to_json(v, hint))
                    })
                    .collect(),
            )
        }
        Avro::Decimal(decimal) => {
            let scale = match kind {
                Some(TypeKind::Decimal { scale, .. }) => i64::from(*scale),
                _ => 0,
            };
            match Vec::<u8>::try_from(&decimal) {
                Ok(bytes) => number_text(
                    &BigDecimal::new(BigInt::from_signed_bytes_be(&bytes), scale).to_plain_string(),
                ),
                Err(_) => Value::Null,
            }
        }
        Avro::BigDecimal(decimal) => number_text(&decimal.to_plain_string()),
        Avro::TimeMillis(ms) => time_text(i64::from(ms) * 1_000_000),
        Avro::TimeMicros(us) => time_text(us * 1_000),
        Avro::TimestampMillis(ms) | Avro::LocalTimestampMillis(ms) => {
            timestamp_text(DateTime::from_timestamp_millis(ms), kind)
        }
        Avro::TimestampMicros(us) | Avro::LocalTimestampMicros(us) => {
            timestamp_text(DateTime::from_timestamp_micros(us), kind)
        }
        Avro::TimestampNanos(ns) | Avro::LocalTimestampNanos(ns) => {
            timestamp_text(Some(DateTime::from_timestamp_nanos(ns)), kind)
        }
        Avro::Uuid(uuid) => Value::String(uuid.to_string()),
        Avro::Duration(d) => Value::String(format!("{d:?}")),
        Avro::Union(..) => Value::Null,
    }
}

/// A number from its text (every digit kept), or the text when it is not a JSON number
/// (`NaN`, `inf`).
fn number_text(text: &str) -> Value {
    Number::from_str(text).map_or_else(|_| Value::String(text.into()), Value::Number)
}

/// `HH:mm:ss`, with the fraction only when it is not zero (as Flink's JSON format writes it).
fn time_text(nanos: i64) -> Value {
    let secs = u32::try_from(nanos.div_euclid(1_000_000_000)).unwrap_or(0);
    let frac = u32::try_from(nanos.rem_euclid(1_000_000_000)).unwrap_or(0);
    NaiveTime::from_num_seconds_from_midnight_opt(secs, frac).map_or(Value::Null, |t| {
        Value::String(trim_fraction(&t.format("%H:%M:%S%.9f").to_string()))
    })
}

fn timestamp_text(at: Option<DateTime<chrono::Utc>>, kind: Option<&TypeKind>) -> Value {
    let Some(at) = at else {
        return Value::Null;
    };
    let mut text = trim_fraction(&at.naive_utc().format("%Y-%m-%d %H:%M:%S%.9f").to_string());
    if matches!(kind, Some(TypeKind::TimestampLtz)) {
        text.push('Z');
    }
    Value::String(text)
}

/// `12:00:00.500000000` → `12:00:00.5`; `12:00:00.000000000` → `12:00:00`.
fn trim_fraction(text: &str) -> String {
    let trimmed = text.trim_end_matches('0');
    trimmed.strip_suffix('.').unwrap_or(trimmed).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn field(name: &str, text: &str) -> (String, Field) {
        (
            name.into(),
            Field {
                name: name.into(),
                data_type: DataType::parse(text).unwrap(),
            },
        )
    }

    fn row(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn the_schema_is_flinks() {
        let codec = AvroCodec::new(
            vec![
                field("id", "BIGINT NOT NULL"),
                field("name", "STRING"),
                field("price", "DECIMAL(10, 2)"),
                field("day", "DATE"),
                field("at", "TIMESTAMP(3)"),
                field("address", "ROW<city STRING NOT NULL>"),
                field("tags", "ARRAY<STRING>"),
            ],
            None,
        )
        .unwrap();
        let schema: Value = serde_json::from_str(codec.schema_json()).unwrap();
        assert_eq!(
            schema,
            json!({
                "type": "record", "name": "record", "namespace": "org.apache.flink.avro.generated",
                "fields": [
                    {"name": "id", "type": "long"},
                    {"name": "name", "type": ["null", "string"], "default": null},
                    {"name": "price", "type": ["null", {"type": "bytes", "logicalType": "decimal", "precision": 10, "scale": 2}], "default": null},
                    {"name": "day", "type": ["null", {"type": "int", "logicalType": "date"}], "default": null},
                    {"name": "at", "type": ["null", {"type": "long", "logicalType": "timestamp-millis"}], "default": null},
                    {"name": "address", "type": ["null", {"type": "record", "name": "record_address",
                        "namespace": "org.apache.flink.avro.generated",
                        "fields": [{"name": "city", "type": "string"}]}], "default": null},
                    {"name": "tags", "type": ["null", {"type": "array", "items": ["null", "string"]}], "default": null}
                ]
            })
        );
    }

    #[test]
    fn rows_round_trip_field_for_field() {
        let codec = AvroCodec::new(
            vec![
                field("id", "BIGINT NOT NULL"),
                field("name", "STRING"),
                field("price", "DECIMAL(20, 4)"),
                field("day", "DATE"),
                field("at", "TIMESTAMP(3)"),
                field("t", "TIME(3)"),
                field("raw", "BYTES"),
                field("ok", "BOOLEAN"),
                field("address", "ROW<city STRING NOT NULL, zip INT>"),
                field("tags", "ARRAY<STRING>"),
                field("counts", "MAP<STRING, BIGINT>"),
            ],
            None,
        )
        .unwrap();
        let r = row(serde_json::from_str(
            r#"{"id": 9007199254740993, "name": "ann", "price": 12345678901234.5678,
            "day": "2024-02-29", "at": "2024-02-29 23:59:58.123", "t": "12:30:00.5",
            "raw": "AAEC/w==", "ok": true, "address": {"city": "Oslo", "zip": null},
            "tags": ["a", null], "counts": {"x": 1}}"#,
        )
        .unwrap());
        let bytes = codec.encode(&r).unwrap();
        assert_eq!(codec.decode(&bytes).unwrap(), r);
        let nulls = row(json!({"id": 1}));
        let decoded = codec.decode(&codec.encode(&nulls).unwrap()).unwrap();
        assert_eq!(decoded["id"], json!(1));
        assert!(decoded["name"].is_null() && decoded["address"].is_null());
    }

    #[test]
    fn the_bytes_are_avros_binary_encoding() {
        let codec =
            AvroCodec::new(vec![field("n", "INT NOT NULL"), field("s", "STRING")], None).unwrap();
        // zig-zag 1 = 0x02; union branch 1 = 0x02, length 2 = 0x04, "hi"
        assert_eq!(
            codec.encode(&row(json!({"n": 1, "s": "hi"}))).unwrap(),
            [0x02, 0x02, 0x04, b'h', b'i']
        );
        assert_eq!(codec.encode(&row(json!({"n": -1}))).unwrap(), [0x01, 0x00]);
    }

    #[test]
    fn a_value_the_schema_cannot_hold_names_its_column() {
        let codec = AvroCodec::new(
            vec![
                field("n", "INT NOT NULL"),
                field("p", "DECIMAL(4, 2)"),
                field("r", "ROW<a INT NOT NULL>"),
            ],
            None,
        )
        .unwrap();
        let err = codec.encode(&row(json!({"p": 1}))).unwrap_err();
        assert!(err.contains("`n` is null"), "{err}");
        let err = codec
            .encode(&row(json!({"n": 1, "p": 123.45})))
            .unwrap_err();
        assert!(
            err.contains("`p`") && err.contains("DECIMAL(4, 2)"),
            "{err}"
        );
        let err = codec
            .encode(&row(json!({"n": 1, "r": {"a": null}})))
            .unwrap_err();
        assert!(err.contains("`r.a` is null"), "{err}");
    }

    #[test]
    fn a_timestamp_read_into_a_bigint_column_is_its_number() {
        let schema = r#"{"type": "record", "name": "r", "fields": [
            {"name": "t", "type": {"type": "long", "logicalType": "local-timestamp-millis"}}]}"#;
        // 1000 (ms), zig-zag varint.
        let bytes = [0xd0, 0x0f];
        let number = AvroCodec::registered(vec![field("t", "BIGINT NOT NULL")], schema).unwrap();
        assert_eq!(number.decode(&bytes).unwrap()["t"], json!(1000));
        let time =
            AvroCodec::registered(vec![field("t", "TIMESTAMP(3) NOT NULL")], schema).unwrap();
        assert_eq!(
            time.decode(&bytes).unwrap()["t"],
            json!("1970-01-01 00:00:01")
        );
    }

    #[test]
    fn types_flink_cannot_carry_are_refused() {
        let err = AvroCodec::new(vec![field("t", "TIMESTAMP_LTZ(3)")], None).unwrap_err();
        assert!(
            err.contains("column `t`") && err.contains("TIMESTAMP(3)"),
            "{err}"
        );
        let err = AvroCodec::new(vec![field("m", "MAP<INT, STRING>")], None).unwrap_err();
        assert!(err.contains("text keys"), "{err}");
    }

    #[test]
    fn confluent_messages_need_the_wire_header() {
        let codec = AvroCodec::new(
            vec![field("n", "INT NOT NULL")],
            Some(Subject {
                registry: Registry::new("http://127.0.0.1:9", None),
                subject: "t-value".into(),
            }),
        )
        .unwrap();
        let err = codec.decode(&[0x02]).unwrap_err();
        assert!(err.contains("wire format"), "{err}");
        let err = codec.encode(&row(json!({"n": 1}))).unwrap_err();
        assert!(err.contains("does not answer"), "{err}");
    }
}
