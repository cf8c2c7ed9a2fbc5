//! A Pulsar topic's registered schema — Pulsar's own registry, read through the admin REST
//! API (`GET /admin/v2/schemas/{tenant}/{namespace}/{topic}/schema`) before anything is
//! produced: whether the bridge's records fit it, the schema its producer announces so that
//! the broker takes them, and how a consumer decodes what was written with it.
//!
//! A topic whose schema is `JSON` takes a table's JSON rows when its columns fit the schema's
//! fields; `STRING` takes text; `BYTES` or no schema takes anything. A topic whose schema is
//! `AVRO` takes an `'format' = 'avro'` table's rows when the table's value columns are the
//! schema's record field for field (names, order, types and nullability as Flink's Avro format
//! derives them, so that a Flink job reading the table reads what the bridge wrote): each row is
//! then Avro binary of exactly the registered schema (Pulsar's `AVRO` schema has no header). In
//! every case the producer announces the schema, as a namespace with `schemaValidationEnforced`
//! requires. Anything else (`PROTOBUF`, a JSON table on an `AVRO` topic, …) would be refused by
//! the broker (`IncompatibleSchemaException`) or make the topic's readers fail, so it is
//! explained — the topic, the registered schema and version, the field, and what to do — and
//! nothing is sent.
//!
//! Flink's own Pulsar sink (`PulsarTableSerializationSchema`) announces no schema: it sends
//! the bytes of the table's format as `Schema.BYTES`. So an `avro` table on a topic without a
//! schema is written as Flink writes it, and registers none.
//!
//! A consumer decodes an `AVRO` topic's messages with the schema version each message names
//! (fetched once per version), and a message that names none with the table's own derived
//! schema (what Flink's sink writes) — or, without a table, with the latest registered one.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use pulsar::proto;
use serde::Deserialize;
use serde_json::Value;

use super::avro::AvroCodec;
use crate::bridge::pulsar::{admin_client, admin_path, admin_unreachable, full_topic};
use crate::bridge::table::{AvroCodecs, Format, TableSpec};
use crate::bridge::types::{DataType, Field, TimestampFormat, TypeKind};
use crate::bridge::{BridgeError, Broker, Endpoint};

/// A schema registered for a topic, as the admin API returns it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct TopicSchema {
    /// `JSON`, `AVRO`, `STRING`, `BYTES`, `PROTOBUF`, `KEY_VALUE`, …
    #[serde(rename = "type")]
    pub kind: String,
    /// The definition: for `JSON` and `AVRO` an Avro record schema in JSON.
    #[serde(default)]
    pub data: String,
    /// Its version in the topic's history.
    #[serde(default)]
    pub version: i64,
    /// Its properties.
    #[serde(default)]
    pub properties: BTreeMap<String, String>,
}

/// The schema registered for `topic` through the admin API at `admin`, signing in and trusting
/// certificates as the broker client does with the same `settings`; `None` when the topic has
/// none (or does not exist yet), or when the admin API refuses the credentials.
pub async fn topic_schema(
    admin: &str,
    topic: &str,
    settings: &[(String, String)],
    timeout: Duration,
) -> Result<Option<TopicSchema>, BridgeError> {
    fetch_schema(admin, topic, None, settings, timeout).await
}

/// Version `version` of the schema registered for `topic` (as [`topic_schema`] reads the
/// latest); `None` when the topic has no such version.
pub async fn topic_schema_version(
    admin: &str,
    topic: &str,
    version: i64,
    settings: &[(String, String)],
    timeout: Duration,
) -> Result<Option<TopicSchema>, BridgeError> {
    fetch_schema(admin, topic, Some(version), settings, timeout).await
}

async fn fetch_schema(
    admin: &str,
    topic: &str,
    version: Option<i64>,
    settings: &[(String, String)],
    timeout: Duration,
) -> Result<Option<TopicSchema>, BridgeError> {
    let client = admin_client(timeout, settings)?;
    let url = format!(
        "{}/admin/v2/schemas/{}/schema{}",
        admin.trim_end_matches('/'),
        admin_path(topic)
            .split_once('/')
            .map_or(String::new(), |(_, rest)| rest.to_string()),
        version.map_or(String::new(), |v| format!("/{v}"))
    );
    let answer = client
        .get(&url)
        .send()
        .await
        .map_err(|e| admin_unreachable(admin, timeout, e))?;
    let status = answer.status();
    if status == reqwest::StatusCode::NOT_FOUND {
        return Ok(None);
    }
    // Credentials the admin API refuses are the broker's to refuse too: its answer to the
    // producer is the one error the user sees.
    if status == reqwest::StatusCode::UNAUTHORIZED || status == reqwest::StatusCode::FORBIDDEN {
        tracing::debug!(%status, "the admin API refused the credentials: the schema is not checked");
        return Ok(None);
    }
    let body = answer
        .text()
        .await
        .map_err(|e| admin_unreachable(admin, timeout, e))?;
    if !status.is_success() {
        return Err(BridgeError::client(
            Broker::Pulsar,
            format!(
                "reading the schema of {} through the admin API at {admin}: HTTP {status} {body}",
                full_topic(topic)
            ),
        ));
    }
    serde_json::from_str(&body).map(Some).map_err(|e| {
        BridgeError::client_caused(
            Broker::Pulsar,
            format!(
                "reading the schema of {}: an answer that is not a schema",
                full_topic(topic)
            ),
            e,
        )
    })
}

impl TopicSchema {
    /// Checks that the records about to be written to `topic` — `table`'s rows, or without a
    /// table the values as given — fit this schema; the error says why not and what to do.
    pub fn check(&self, topic: &str, table: Option<&TableSpec>) -> Result<(), String> {
        let topic = full_topic(topic);
        let writes = table.map_or("JSON or text values".to_string(), |t| {
            format!("`{}`'s values in {}", t.name, t.value_format.as_str())
        });
        match self.kind.as_str() {
            "BYTES" | "NONE" | "STRING" => Ok(()),
            "JSON" => match table {
                Some(t) if t.value_format != Format::Json => Err(self.refusal(
                    &topic,
                    true,
                    &format!("its JSON schema takes JSON values, and the bridge writes {writes}"),
                )),
                Some(t) => self.fits(t).map_err(|why| self.refusal(&topic, true, &why)),
                None => Ok(()),
            },
            "AVRO" => match table {
                Some(t) if t.value_format == Format::Avro => self
                    .fits_avro(t)
                    .map_err(|why| self.refusal(&topic, true, &why)),
                _ => Err(self.refusal(
                    &topic,
                    table.is_some(),
                    &format!(
                        "its AVRO schema takes Avro binary records, and the bridge writes \
                         {writes} (the broker refuses them with IncompatibleSchemaException, or \
                         the topic's readers fail on them)"
                    ),
                )),
            },
            other => Err(self.refusal(
                &topic,
                table.is_some(),
                &format!(
                    "the bridge writes {writes}, which the topic's {other} schema does not \
                     take (the broker refuses them with IncompatibleSchemaException, or the \
                     topic's readers fail on them)"
                ),
            )),
        }
    }

    /// The schema a producer announces for this one, when it must announce one.
    pub fn producer_schema(&self, topic: &str) -> Option<proto::Schema> {
        let kind = match self.kind.as_str() {
            "JSON" => proto::schema::Type::Json,
            "AVRO" => proto::schema::Type::Avro,
            "STRING" => proto::schema::Type::String,
            _ => return None,
        };
        Some(proto::Schema {
            name: full_topic(topic),
            schema_data: self.data.clone().into_bytes(),
            r#type: kind as i32,
            properties: self
                .properties
                .iter()
                .map(|(key, value)| proto::KeyValue {
                    key: key.clone(),
                    value: value.clone(),
                })
                .collect(),
        })
    }

    /// `table` as it writes to a topic with this schema (after [`TopicSchema::check`]): for
    /// an `AVRO` schema its value is encoded with exactly the registered schema; otherwise
    /// the table as it is.
    pub fn writing_table(&self, table: &TableSpec) -> Result<TableSpec, String> {
        if self.kind != "AVRO" || table.value_format != Format::Avro {
            return Ok(table.clone());
        }
        let fields = self
            .avro_fields()?
            .into_iter()
            .map(|(name, avro)| {
                flink_type(&avro).map(|data_type| {
                    (
                        name.clone(),
                        Field {
                            name: name.clone(),
                            data_type,
                        },
                    )
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(with_value_codec(
            table,
            AvroCodec::registered(fields, &self.data)?,
        ))
    }

    /// The explanation for a schema the records do not fit.
    fn refusal(&self, topic: &str, with_table: bool, why: &str) -> String {
        let shown: String = self.data.chars().take(200).collect();
        let cut = if self.data.chars().count() > 200 {
            "…"
        } else {
            ""
        };
        let declare = match self.columns() {
            Some(columns) if self.kind == "AVRO" && with_table => format!(
                "declare the table's value columns as the schema has them, with \
                 'format' = 'avro': {columns}"
            ),
            Some(columns) if self.kind == "AVRO" => format!(
                "produce with --table, a table whose value columns are the schema's, with \
                 'format' = 'avro': {columns}"
            ),
            _ => "declare the table's columns and format as the schema has them".into(),
        };
        format!(
            "topic {topic} has a registered {} schema (version {}): {shown}{cut}\n\
             {why}, so nothing was sent.\n\
             What to do: write to a topic without a schema; or, if nothing reads this one by \
             its schema, delete the schema (`pulsar-admin schemas delete {topic}`, or an HTTP \
             DELETE of /admin/v2/schemas/{}/schema); or {declare}",
            self.kind,
            self.version,
            topic.split_once("://").map_or(topic, |(_, rest)| rest),
        )
    }

    /// The fields of the registered record, in order: name and Avro type.
    fn avro_fields(&self) -> Result<Vec<(String, Value)>, String> {
        let definition: Value = serde_json::from_str(&self.data)
            .map_err(|e| format!("its definition is not JSON ({e})"))?;
        let fields = definition
            .get("fields")
            .and_then(Value::as_array)
            .filter(|_| definition.get("type").and_then(Value::as_str) == Some("record"))
            .ok_or("its definition is not a record with fields")?;
        fields
            .iter()
            .map(|field| {
                let name = field
                    .get("name")
                    .and_then(Value::as_str)
                    .ok_or("a field of its record has no name")?;
                Ok((
                    name.to_string(),
                    field.get("type").cloned().unwrap_or(Value::Null),
                ))
            })
            .collect()
    }

    /// The record's fields as Flink SQL columns (`uid STRING NOT NULL, age INT`), when every
    /// field has a Flink type.
    fn columns(&self) -> Option<String> {
        let columns = self
            .avro_fields()
            .ok()?
            .into_iter()
            .map(|(name, avro)| flink_type(&avro).ok().map(|t| format!("`{name}` {t}")))
            .collect::<Option<Vec<_>>>()?;
        Some(columns.join(", "))
    }

    /// Whether an `avro` table's value, as Flink's Avro format writes it, is the registered
    /// record field for field: the same names in the same order, of the same Avro types
    /// (nullability included). Flink reads a topic with the schema it derives from the table,
    /// so anything else is read wrongly.
    fn fits_avro(&self, table: &TableSpec) -> Result<(), String> {
        let registered = self.avro_fields()?;
        let derived: Value = table
            .avro
            .value
            .as_deref()
            .ok_or_else(|| format!("table `{}` has no Avro codec for its value", table.name))
            .and_then(|codec| {
                serde_json::from_str(codec.schema_json()).map_err(|e| e.to_string())
            })?;
        let columns: Vec<(String, Value)> = derived
            .get("fields")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|f| Some((f.get("name")?.as_str()?.to_string(), f.get("type")?.clone())))
            .collect();
        for (i, (name, avro)) in registered.iter().enumerate() {
            let expected = flink_type(avro).map_or_else(
                |why| format!("(no Flink type: {why})"),
                |t| format!("`{name}` {t}"),
            );
            match columns.get(i) {
                None => {
                    return Err(format!(
                        "the schema's field {} `{name}` (declared {expected}) is not a value \
                         column of `{}`",
                        i + 1,
                        table.name
                    ));
                }
                Some((column, _)) if column != name => {
                    return Err(format!(
                        "the schema's field {} is `{name}`, and `{}`'s value column {} is \
                         `{column}` (Flink's Avro format writes the columns in order, by \
                         position)",
                        i + 1,
                        table.name,
                        i + 1
                    ));
                }
                Some((column, derived)) if shape(derived) != shape(avro) => {
                    let declared = table
                        .column(column)
                        .map_or_else(String::new, |c| c.data_type.to_string());
                    return Err(format!(
                        "column `{column}` is {declared}, which Flink's Avro format writes as \
                         {derived}, and the schema's field `{name}` is {avro} (declare it \
                         {expected})"
                    ));
                }
                Some(_) => {}
            }
        }
        if let Some((column, _)) = columns.get(registered.len()) {
            return Err(format!(
                "value column `{column}` of `{}` is not a field of the schema (it has {})",
                table.name,
                registered
                    .iter()
                    .map(|(n, _)| n.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        Ok(())
    }

    /// Whether a table's JSON rows fit a JSON schema's record fields: every value column is a
    /// field of a type that takes it, and every field the table lacks may be null.
    fn fits(&self, table: &TableSpec) -> Result<(), String> {
        self.fits_json(table, true)
    }

    /// [`TopicSchema::fits`] for a writer (`writes`), or for a reader: Flink's `json` format
    /// reads a column the records lack as null and skips fields it has no column for, so a
    /// reader needs only the types of the columns the schema has to match.
    fn fits_json(&self, table: &TableSpec, writes: bool) -> Result<(), String> {
        let definition: Value = serde_json::from_str(&self.data)
            .map_err(|e| format!("its definition is not JSON ({e})"))?;
        let Some(fields) = definition.get("fields").and_then(Value::as_array) else {
            return Err("its definition is not a record with fields".into());
        };
        let named: Vec<(&str, &Value)> = fields
            .iter()
            .filter_map(|f| Some((f.get("name")?.as_str()?, f)))
            .collect();
        let names: Vec<&str> = named.iter().map(|(n, _)| *n).collect();
        for column in &table.value_fields {
            let Some((_, field)) = named.iter().find(|(n, _)| n == column) else {
                if !writes {
                    continue;
                }
                return Err(format!(
                    "column `{column}` is not a field of the schema (it has {})",
                    names.join(", ")
                ));
            };
            let Some(data_type) = table.column(column).map(|c| &c.data_type) else {
                continue;
            };
            let avro = base_type(field.get("type").unwrap_or(&Value::Null));
            let fits = match avro.as_deref() {
                Some("string") => matches!(
                    data_type.kind,
                    TypeKind::String { .. }
                        | TypeKind::Date
                        | TypeKind::Time
                        | TypeKind::Timestamp
                        | TypeKind::TimestampLtz
                        | TypeKind::Bytes { .. }
                ),
                Some("int") => matches!(
                    data_type.kind,
                    TypeKind::TinyInt | TypeKind::SmallInt | TypeKind::Int
                ),
                Some("long") => matches!(
                    data_type.kind,
                    TypeKind::TinyInt | TypeKind::SmallInt | TypeKind::Int | TypeKind::BigInt
                ),
                Some("float" | "double") => matches!(
                    data_type.kind,
                    TypeKind::Float
                        | TypeKind::Double
                        | TypeKind::Decimal { .. }
                        | TypeKind::TinyInt
                        | TypeKind::SmallInt
                        | TypeKind::Int
                        | TypeKind::BigInt
                ),
                Some("boolean") => matches!(data_type.kind, TypeKind::Boolean),
                // Records, arrays, maps and logical types are left to the topic's readers.
                _ => true,
            };
            if !fits {
                return Err(format!(
                    "column `{column}` is {data_type}, and the schema's field `{column}` is {}",
                    field.get("type").unwrap_or(&Value::Null)
                ));
            }
        }
        for (name, field) in &named {
            let optional = field.get("default").is_some()
                || field
                    .get("type")
                    .and_then(Value::as_array)
                    .is_some_and(|types| types.iter().any(|t| t == "null"));
            if writes && !optional && !table.value_fields.iter().any(|c| c == name) {
                return Err(format!(
                    "the schema requires field `{name}`, which `{}` does not have",
                    table.name
                ));
            }
        }
        Ok(())
    }
}

/// An Avro field type without its `null` branch: `"string"` for `["null", "string"]`.
fn base_type(avro: &Value) -> Option<String> {
    match avro {
        Value::String(name) => Some(name.clone()),
        Value::Array(branches) => {
            let rest: Vec<&Value> = branches.iter().filter(|b| *b != "null").collect();
            match rest.as_slice() {
                [one] => base_type(one),
                _ => None,
            }
        }
        Value::Object(map) => map
            .get("logicalType")
            .is_none()
            .then(|| map.get("type").and_then(Value::as_str).map(str::to_string))
            .flatten(),
        _ => None,
    }
}

/// An Avro type without what does not change its binary form (record names, namespaces,
/// docs, defaults), so that two schemas compare equal when they write the same bytes.
fn shape(avro: &Value) -> Value {
    match avro {
        Value::Array(branches) => Value::Array(branches.iter().map(shape).collect()),
        Value::Object(map) => {
            let kind = map.get("type").unwrap_or(&Value::Null);
            let part = |key: &str| shape(map.get(key).unwrap_or(&Value::Null));
            match kind.as_str() {
                Some("record") => Value::Array(
                    map.get("fields")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .map(|f| {
                            serde_json::json!([
                                f.get("name"),
                                shape(f.get("type").unwrap_or(&Value::Null))
                            ])
                        })
                        .collect(),
                ),
                Some("array") => serde_json::json!({ "array": part("items") }),
                Some("map") => serde_json::json!({ "map": part("values") }),
                Some("enum") => serde_json::json!({ "enum": map.get("symbols") }),
                Some("fixed") => serde_json::json!({
                    "fixed": map.get("size"), "logicalType": map.get("logicalType"),
                }),
                Some(_) if map.contains_key("logicalType") => serde_json::json!({
                    "type": kind,
                    "logicalType": map.get("logicalType"),
                    "precision": map.get("precision"),
                    "scale": map.get("scale").and_then(Value::as_u64).unwrap_or(0),
                }),
                _ => shape(kind),
            }
        }
        other => other.clone(),
    }
}

/// The Flink SQL type of an Avro type (as Flink's `AvroSchemaConverter.convertToDataType`
/// maps it): a union with `null` is nullable, anything else NOT NULL.
fn flink_type(avro: &Value) -> Result<DataType, String> {
    DataType::parse(&type_text(avro, false)?)
}

/// The Flink SQL type a reader decodes an Avro type into: [`flink_type`]'s, and also the types
/// no table's derived schema has, as `AvroSchemaConverter.convertToDataType` maps them with
/// Flink 1.20's default legacy timestamp mapping — `enum` → STRING, `fixed` → VARBINARY(size)
/// (DECIMAL with the decimal logical type), `timestamp-micros` → TIMESTAMP(6), `time-micros`
/// → TIME(6), `local-timestamp-millis`/`-micros` → BIGINT.
fn read_type(avro: &Value) -> Result<DataType, String> {
    DataType::parse(&type_text(avro, true)?)
}

/// The Flink type of `avro` as text: as a table declares it to write it ([`flink_type`]), or
/// with `reading` as a reader decodes it ([`read_type`]).
fn type_text(avro: &Value, reading: bool) -> Result<String, String> {
    const NOT_NULL: &str = " NOT NULL";
    let base = match avro {
        Value::Array(branches) => {
            let rest: Vec<&Value> = branches.iter().filter(|b| *b != "null").collect();
            return match rest.as_slice() {
                [one] if rest.len() < branches.len() => {
                    let inner = type_text(one, reading)?;
                    Ok(inner.strip_suffix(NOT_NULL).unwrap_or(&inner).to_string())
                }
                _ => Err(format!(
                    "the union {avro} has no Flink type (Flink maps a union of one type and null)"
                )),
            };
        }
        Value::String(name) => match name.as_str() {
            "boolean" => "BOOLEAN".to_string(),
            "int" => "INT".to_string(),
            "long" => "BIGINT".to_string(),
            "float" => "FLOAT".to_string(),
            "double" => "DOUBLE".to_string(),
            "string" => "STRING".to_string(),
            "bytes" => "BYTES".to_string(),
            other => return Err(format!("the Avro type \"{other}\" has no Flink type")),
        },
        Value::Object(map) => {
            let kind = map.get("type").unwrap_or(&Value::Null);
            let logical = map.get("logicalType").and_then(Value::as_str);
            match (kind.as_str(), logical) {
                (Some("int"), Some("date")) => "DATE".to_string(),
                (Some("int"), Some("time-millis")) => "TIME(3)".to_string(),
                (Some("long"), Some("timestamp-millis")) => "TIMESTAMP(3)".to_string(),
                (Some("long"), Some("timestamp-micros")) if reading => "TIMESTAMP(6)".to_string(),
                (Some("long"), Some("time-micros")) if reading => "TIME(6)".to_string(),
                (Some("long"), Some("local-timestamp-millis" | "local-timestamp-micros"))
                    if reading =>
                {
                    "BIGINT".to_string()
                }
                (Some("fixed"), Some("decimal")) if reading => format!(
                    "DECIMAL({}, {})",
                    map.get("precision").and_then(Value::as_u64).unwrap_or(10),
                    map.get("scale").and_then(Value::as_u64).unwrap_or(0)
                ),
                (Some("bytes"), Some("decimal")) => format!(
                    "DECIMAL({}, {})",
                    map.get("precision").and_then(Value::as_u64).unwrap_or(10),
                    map.get("scale").and_then(Value::as_u64).unwrap_or(0)
                ),
                (_, Some(other)) => {
                    return Err(format!(
                        "the Avro logical type {other} of {kind} is not one the bridge writes \
                         (date, time-millis, timestamp-millis, decimal of bytes)"
                    ));
                }
                (Some("record"), None) => {
                    let fields = map
                        .get("fields")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .map(|f| {
                            let name = f.get("name").and_then(Value::as_str).unwrap_or_default();
                            type_text(f.get("type").unwrap_or(&Value::Null), reading)
                                .map(|t| format!("{name} {t}"))
                        })
                        .collect::<Result<Vec<_>, String>>()?;
                    format!("ROW<{}>", fields.join(", "))
                }
                (Some("array"), None) => format!(
                    "ARRAY<{}>",
                    type_text(map.get("items").unwrap_or(&Value::Null), reading)?
                ),
                (Some("map"), None) => format!(
                    "MAP<STRING NOT NULL, {}>",
                    type_text(map.get("values").unwrap_or(&Value::Null), reading)?
                ),
                (Some("enum"), None) if reading => "STRING".to_string(),
                (Some("fixed"), None) if reading => format!(
                    "VARBINARY({})",
                    map.get("size").and_then(Value::as_u64).unwrap_or(1)
                ),
                (Some("enum" | "fixed"), None) => {
                    return Err(format!("an Avro {kind} is not a type the bridge writes"));
                }
                _ => return type_text(kind, reading),
            }
        }
        other => return Err(format!("{other} is not an Avro type")),
    };
    Ok(base + NOT_NULL)
}

/// The option that makes Flink's Pulsar sink announce the topic's schema
/// (`Schema.AUTO_PRODUCE_BYTES`, each record checked against it) instead of sending its
/// records without one (`Schema.BYTES`).
pub const FLINK_SINK_VALIDATES: &str = "pulsar.sink.validateSinkMessageBytes";

/// Whether `topic`'s namespace takes only producers that announce the topic's schema
/// (`schemaValidationEnforced`), read through the admin API at `admin` as [`topic_schema`]
/// reads the schema; `false` when the admin API refuses the credentials.
pub async fn schema_validation_enforced(
    admin: &str,
    topic: &str,
    settings: &[(String, String)],
    timeout: Duration,
) -> Result<bool, BridgeError> {
    let client = admin_client(timeout, settings)?;
    let path = admin_path(topic);
    let namespace = path
        .split('/')
        .skip(1)
        .take(2)
        .collect::<Vec<_>>()
        .join("/");
    let url = format!(
        "{}/admin/v2/namespaces/{namespace}/schemaValidationEnforced",
        admin.trim_end_matches('/')
    );
    let answer = client
        .get(&url)
        .send()
        .await
        .map_err(|e| admin_unreachable(admin, timeout, e))?;
    if !answer.status().is_success() {
        tracing::debug!(status = %answer.status(), "schemaValidationEnforced is not known");
        return Ok(false);
    }
    let body = answer
        .text()
        .await
        .map_err(|e| admin_unreachable(admin, timeout, e))?;
    Ok(body.trim() == "true")
}

impl TopicSchema {
    /// Why a Flink job cannot read (`writes` false) or write `table` on `topic`, which has
    /// this schema; `None` when it can. Flink's Pulsar connector reads and writes the bytes of
    /// the table's format: an `avro` table's records are Avro binary of the schema Flink
    /// derives from its columns, a `json` table's are JSON, so those must be this schema's
    /// records. Its sink announces no schema unless the table sets [`FLINK_SINK_VALIDATES`]
    /// to `true`, and a namespace that enforces schemas (`enforced`) refuses such a producer
    /// (`IncompatibleSchemaException`, and the job fails). Tables in other formats are not
    /// checked.
    pub fn flink_refusal(
        &self,
        topic: &str,
        table: &TableSpec,
        writes: bool,
        validates: bool,
        enforced: bool,
    ) -> Option<String> {
        let topic = full_topic(topic);
        let fit = match (self.kind.as_str(), table.value_format) {
            ("AVRO", Format::Avro) => self.fits_avro(table),
            ("JSON", Format::Json) => self.fits_json(table, writes),
            ("AVRO" | "JSON", Format::Avro | Format::Json) => Err(format!(
                "its {} schema takes {} records, and the table's format is {}",
                self.kind,
                if self.kind == "AVRO" {
                    "Avro binary"
                } else {
                    "JSON"
                },
                table.value_format.as_str()
            )),
            _ => return None,
        };
        let head = format!(
            "topic {topic} has a registered {} schema (version {})",
            self.kind, self.version
        );
        if let Err(why) = fit {
            let declare = match self.columns() {
                Some(columns) if self.kind == "AVRO" => {
                    format!("declare the value columns {columns}, with 'format' = 'avro'")
                }
                Some(columns) => {
                    format!("declare the value columns {columns}, with 'format' = 'json'")
                }
                None => "declare the table's columns as the schema has them".into(),
            };
            let what = if writes {
                "the job would write records the topic's schema does not describe (or fail \
                 on them with 'pulsar.sink.validateSinkMessageBytes' = 'true')"
            } else {
                "the job would fail to decode the topic's records"
            };
            return Some(format!("{head}: {why}; {what}.\nWhat to do: {declare}"));
        }
        (writes && enforced && !validates).then(|| {
            format!(
                "{head}, and its namespace takes only producers that announce the topic's \
                 schema (schemaValidationEnforced); Flink's Pulsar sink sends its records \
                 without one, so the broker would refuse it (IncompatibleSchemaException) and \
                 the job would fail.\nWhat to do: add '{FLINK_SINK_VALIDATES}' = 'true' to the \
                 table's WITH options: the sink then announces the topic's schema and checks \
                 each record against it"
            )
        })
    }
}

/// `table` with `codec` for its value.
fn with_value_codec(table: &TableSpec, codec: AvroCodec) -> TableSpec {
    TableSpec {
        avro: AvroCodecs {
            key: table.avro.key.clone(),
            value: Some(Arc::new(codec)),
        },
        ..table.clone()
    }
}

/// How a consumer decodes the messages of a topic with a registered `AVRO` schema: each with
/// the schema version it names, fetched through the admin API once per version; a message that
/// names none with the table's own schema (what Flink's sink writes), or without a table with
/// the latest registered one.
pub struct AvroReading {
    admin: String,
    topic: String,
    settings: Vec<(String, String)>,
    timeout: Duration,
    /// The columns decoded (column, and the record field that carries it).
    fields: Vec<(String, Field)>,
    unversioned: TableSpec,
    /// By version: the table that decodes it, or why there is none.
    versions: HashMap<i64, Result<TableSpec, String>>,
}

impl std::fmt::Debug for AvroReading {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AvroReading")
            .field("topic", &self.topic)
            .field("versions", &self.versions.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl AvroReading {
    /// The reading of `topic` (at `endpoint`, admin API at `admin`, signing in with its
    /// settings) whose latest schema is `schema`, by `table` — an `avro` table; without one, a
    /// table whose value columns are the schema's fields. `None` when the schema is not `AVRO`
    /// or the table's value is not `avro`; an error when the schema's fields have no Flink
    /// type.
    pub fn new(
        schema: &TopicSchema,
        admin: &str,
        topic: &str,
        table: Option<&TableSpec>,
        endpoint: &Endpoint,
        timeout: Duration,
    ) -> Result<Option<Self>, String> {
        if schema.kind != "AVRO" || table.is_some_and(|t| t.value_format != Format::Avro) {
            return Ok(None);
        }
        let (fields, unversioned) = match table {
            Some(t) => {
                let fields = t
                    .fields_of(&t.value_fields)
                    .into_iter()
                    .map(|f| (f.name.clone(), f.clone()))
                    .collect();
                (fields, t.clone())
            }
            None => {
                let fields = schema
                    .avro_fields()?
                    .into_iter()
                    .map(|(name, avro)| {
                        let data_type = read_type(&avro)
                            .map_err(|why| format!("the schema's field `{name}`: {why}"))?;
                        Ok((name.clone(), Field { name, data_type }))
                    })
                    .collect::<Result<Vec<(String, Field)>, String>>()?;
                let table = TableSpec {
                    name: full_topic(topic),
                    endpoint: endpoint.clone(),
                    topics: vec![topic.to_string()],
                    upsert: false,
                    columns: fields.iter().map(|(_, f)| f.clone()).collect(),
                    key_fields: Vec::new(),
                    key_format: None,
                    key_prefix: String::new(),
                    value_format: Format::Avro,
                    value_fields: fields.iter().map(|(c, _)| c.clone()).collect(),
                    primary_key: Vec::new(),
                    key_csv: None,
                    value_csv: None,
                    debezium_schema_include: false,
                    avro: AvroCodecs::default(),
                    timestamps: TimestampFormat::Sql,
                };
                let latest =
                    with_value_codec(&table, AvroCodec::registered(fields.clone(), &schema.data)?);
                (fields, latest)
            }
        };
        let mut reading = Self {
            admin: admin.to_string(),
            topic: topic.to_string(),
            settings: endpoint.settings.clone(),
            timeout,
            fields,
            unversioned,
            versions: HashMap::new(),
        };
        let latest = reading.decoder(schema)?;
        reading.versions.insert(schema.version, Ok(latest));
        Ok(Some(reading))
    }

    /// The table that decodes a message written with schema `version` (`None`: the message
    /// names none). A version the admin API does not give is an error naming it.
    pub fn table(&mut self, version: Option<i64>) -> Result<&TableSpec, String> {
        let Some(version) = version else {
            return Ok(&self.unversioned);
        };
        if !self.versions.contains_key(&version) {
            let table = self.fetch(version).and_then(|schema| self.decoder(&schema));
            self.versions.insert(version, table);
        }
        match &self.versions[&version] {
            Ok(table) => Ok(table),
            Err(why) => Err(why.clone()),
        }
    }

    /// Version `version` of the topic's schema, from the admin API.
    fn fetch(&self, version: i64) -> Result<TopicSchema, String> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start a runtime: {e}"))?;
        runtime
            .block_on(topic_schema_version(
                &self.admin,
                &self.topic,
                version,
                &self.settings,
                self.timeout,
            ))
            .map_err(|e| e.with_causes())?
            .ok_or_else(|| {
                format!(
                    "schema version {version} of {} is not in its history",
                    full_topic(&self.topic)
                )
            })
    }

    /// The table that decodes messages written with `schema`.
    fn decoder(&self, schema: &TopicSchema) -> Result<TableSpec, String> {
        if schema.kind != "AVRO" {
            return Err(format!(
                "schema version {} of {} is {}, not AVRO",
                schema.version,
                full_topic(&self.topic),
                schema.kind
            ));
        }
        let codec = AvroCodec::registered(self.fields.clone(), &schema.data)
            .map_err(|e| format!("schema version {}: {e}", schema.version))?;
        Ok(with_value_codec(&self.unversioned, codec))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::Script;
    use crate::vars::{Vars, substitute};

    fn table(format: &str) -> TableSpec {
        let script = Script::parse_str(&format!(
            "CREATE TABLE users (uid STRING, n INT, PRIMARY KEY (uid) NOT ENFORCED) WITH ( \
             'connector' = 'upsert-pulsar', 'topics' = 'users', 'service-url' = 'pulsar://x:6650', \
             'key.format' = 'raw', 'value.format' = '{format}')"
        ))
        .unwrap();
        TableSpec::from_script(&script, &substitute(&script, &Vars::none()), "users").unwrap()
    }

    fn schema(kind: &str, fields: &str) -> TopicSchema {
        TopicSchema {
            kind: kind.into(),
            data: format!(r#"{{"type":"record","name":"User","fields":[{fields}]}}"#),
            version: 3,
            properties: BTreeMap::new(),
        }
    }

    #[test]
    fn a_json_schema_takes_rows_that_fit_it() {
        let fits = schema(
            "JSON",
            r#"{"name":"uid","type":["null","string"]},{"name":"n","type":"long"},
               {"name":"extra","type":["null","string"]}"#,
        );
        // Apache's Pulsar connector leaves the key out of the value: `n` is the value.
        assert_eq!(fits.check("users", Some(&table("json"))), Ok(()));
        let announced = fits.producer_schema("users").unwrap();
        assert_eq!(announced.r#type, proto::schema::Type::Json as i32);
        assert_eq!(announced.schema_data, fits.data.as_bytes());

        let wrong = schema("JSON", r#"{"name":"n","type":"string"}"#);
        let err = wrong.check("users", Some(&table("json"))).unwrap_err();
        assert!(
            err.contains("column `n` is INT, and the schema's field `n` is \"string\""),
            "{err}"
        );
        let required = schema(
            "JSON",
            r#"{"name":"n","type":"int"},{"name":"age","type":"int"}"#,
        );
        let err = required.check("users", Some(&table("json"))).unwrap_err();
        assert!(err.contains("requires field `age`"), "{err}");
        let err = fits.check("users", Some(&table("csv"))).unwrap_err();
        assert!(err.contains("takes JSON values"), "{err}");
    }

    #[test]
    fn an_avro_schema_refuses_other_formats_with_what_to_do() {
        let avro = schema("AVRO", r#"{"name":"n","type":"int"}"#);
        let err = avro.check("users", Some(&table("json"))).unwrap_err();
        assert!(
            err.starts_with(
                "topic persistent://public/default/users has a registered AVRO schema (version 3)"
            ),
            "{err}"
        );
        assert!(err.contains("IncompatibleSchemaException"), "{err}");
        assert!(
            err.contains("pulsar-admin schemas delete persistent://public/default/users"),
            "{err}"
        );
        assert!(
            err.contains("with 'format' = 'avro': `n` INT NOT NULL"),
            "{err}"
        );
        let err = avro.check("users", None).unwrap_err();
        assert!(
            err.contains("produce with --table, a table whose value columns are the schema's"),
            "{err}"
        );
        assert_eq!(schema("STRING", "").check("users", None), Ok(()));
        let announced = avro.producer_schema("users").unwrap();
        assert_eq!(announced.r#type, proto::schema::Type::Avro as i32);
        assert_eq!(announced.schema_data, avro.data.as_bytes());
        assert!(schema("PROTOBUF", "").producer_schema("users").is_none());
    }

    fn avro_table(columns: &str) -> TableSpec {
        let script = Script::parse_str(&format!(
            "CREATE TABLE users ({columns}) WITH ('connector' = 'pulsar', 'topics' = 'users', \
             'service-url' = 'pulsar://x:6650', 'format' = 'avro')"
        ))
        .unwrap();
        TableSpec::from_script(&script, &substitute(&script, &Vars::none()), "users").unwrap()
    }

    /// What Java's `Schema.AVRO(User.class)` registers for a POJO `{String name; int age;
    /// Double score; List<String> tags}` (nullable references, a primitive int).
    const JAVA_USER: &str = r#"{"name":"name","type":["null","string"],"default":null},
        {"name":"age","type":"int"},
        {"name":"score","type":["null","double"],"default":null},
        {"name":"tags","type":["null",{"type":"array","items":"string","java-class":"java.util.List"}],"default":null}"#;

    #[test]
    fn an_avro_table_fits_a_schema_that_writes_the_same_bytes() {
        let registered = schema("AVRO", JAVA_USER);
        let fits =
            avro_table("name STRING, age INT NOT NULL, score DOUBLE, tags ARRAY<STRING NOT NULL>");
        assert_eq!(registered.check("users", Some(&fits)), Ok(()));
        // Rows are written with the registered schema: plain Avro binary, no header.
        let table = registered.writing_table(&fits).unwrap();
        let row = serde_json::json!({"name": "ann", "age": 7, "score": 1.5, "tags": ["a"]});
        let bytes = table.encode_value(row.as_object().unwrap(), None).unwrap();
        let schema = apache_avro::Schema::parse_str(&registered.data).unwrap();
        let read = apache_avro::reader::datum::GenericDatumReader::builder(&schema)
            .build()
            .and_then(|reader| reader.read_value(&mut bytes.as_slice()))
            .unwrap();
        let apache_avro::types::Value::Record(fields) = read else {
            panic!("{read:?}")
        };
        assert_eq!(fields[1], ("age".into(), apache_avro::types::Value::Int(7)));
        // … which is what Flink's derived schema writes too.
        assert_eq!(
            bytes,
            fits.encode_value(row.as_object().unwrap(), None).unwrap()
        );
    }

    #[test]
    fn an_avro_table_that_does_not_fit_is_explained_field_by_field() {
        let registered = schema("AVRO", JAVA_USER);
        let cases = [
            (
                "name STRING, age INT, score DOUBLE, tags ARRAY<STRING NOT NULL>",
                "column `age` is INT, which Flink's Avro format writes as [\"null\",\"int\"], and \
                 the schema's field `age` is \"int\" (declare it `age` INT NOT NULL)",
            ),
            (
                "age INT NOT NULL, name STRING, score DOUBLE, tags ARRAY<STRING NOT NULL>",
                "the schema's field 1 is `name`, and `users`'s value column 1 is `age`",
            ),
            (
                "name STRING, age INT NOT NULL, score DOUBLE",
                "the schema's field 4 `tags` (declared `tags` ARRAY<STRING NOT NULL>) is not a \
                 value column of `users`",
            ),
            (
                "name STRING, age INT NOT NULL, score DOUBLE, tags ARRAY<STRING NOT NULL>, x INT",
                "value column `x` of `users` is not a field of the schema (it has name, age, \
                 score, tags)",
            ),
        ];
        for (columns, expected) in cases {
            let err = registered
                .check("users", Some(&avro_table(columns)))
                .unwrap_err();
            assert!(err.contains(expected), "{columns}: {err}");
            assert!(err.contains("(version 3)"), "{err}");
            assert!(
                err.contains(
                    "declare the table's value columns as the schema has them, with 'format' = \
                     'avro': `name` STRING, `age` INT NOT NULL, `score` DOUBLE, `tags` \
                     ARRAY<STRING NOT NULL>"
                ),
                "{err}"
            );
        }
    }

    #[test]
    fn a_flink_job_is_refused_what_its_connector_would_fail_on() {
        let json = schema(
            "JSON",
            r#"{"name": "name", "type": "string"}, {"name": "age", "type": "int"}"#,
        );
        // A reader needs only its columns' types to match; a writer every required field.
        let reader = table("json");
        assert_eq!(
            json.flink_refusal("users", &reader, false, false, true),
            None
        );
        let err = json
            .flink_refusal("users", &reader, true, true, true)
            .unwrap();
        assert!(
            err.contains("(version 3)") && err.contains("What to do"),
            "{err}"
        );
        // A sink that fits, in a namespace that enforces schemas, needs the option.
        let avro = schema("AVRO", r#"{"name": "name", "type": ["null", "string"]}"#);
        let sink = avro_table("name STRING");
        assert_eq!(avro.flink_refusal("users", &sink, true, true, true), None);
        assert_eq!(avro.flink_refusal("users", &sink, true, false, false), None);
        let err = avro
            .flink_refusal("users", &sink, true, false, true)
            .unwrap();
        assert!(
            err.contains("'pulsar.sink.validateSinkMessageBytes' = 'true'"),
            "{err}"
        );
        // Other formats are the connector's bytes as they are: not checked.
        assert_eq!(
            avro.flink_refusal("users", &table("raw"), true, false, true),
            None
        );
    }

    #[test]
    fn avro_types_map_to_flinks() {
        let cases = [
            (r#""long""#, "BIGINT NOT NULL"),
            (r#"["null","string"]"#, "STRING"),
            (r#"{"type":"int","logicalType":"date"}"#, "DATE NOT NULL"),
            (
                r#"["null",{"type":"bytes","logicalType":"decimal","precision":10,"scale":2}]"#,
                "DECIMAL(10, 2)",
            ),
            (
                r#"{"type":"record","name":"A","fields":[{"name":"c","type":"string"}]}"#,
                "ROW<c STRING NOT NULL> NOT NULL",
            ),
            (
                r#"{"type":"map","values":["null","long"]}"#,
                "MAP<STRING NOT NULL, BIGINT> NOT NULL",
            ),
        ];
        for (avro, flink) in cases {
            let avro: Value = serde_json::from_str(avro).unwrap();
            assert_eq!(flink_type(&avro).unwrap().to_string(), flink, "{avro}");
        }
        for avro in [
            r#"["null","int","string"]"#,
            r#"{"type":"enum","name":"E","symbols":["A"]}"#,
            r#"{"type":"long","logicalType":"timestamp-micros"}"#,
        ] {
            let avro: Value = serde_json::from_str(avro).unwrap();
            assert!(flink_type(&avro).is_err(), "{avro}");
        }
        // What a reader decodes them into (no table's derived schema has these types).
        let read = [
            (
                r#"{"type":"enum","name":"E","symbols":["A"]}"#,
                "STRING NOT NULL",
            ),
            (
                r#"[{"type":"enum","name":"E","symbols":["A"]},"null"]"#,
                "STRING",
            ),
            (
                r#"{"type":"fixed","name":"F","size":16}"#,
                "VARBINARY(16) NOT NULL",
            ),
            (
                r#"{"type":"fixed","name":"D","size":5,"logicalType":"decimal","precision":9,"scale":2}"#,
                "DECIMAL(9, 2) NOT NULL",
            ),
            // TIMESTAMP(6): 6 is the default precision, which the type does not show.
            (
                r#"{"type":"long","logicalType":"timestamp-micros"}"#,
                "TIMESTAMP NOT NULL",
            ),
            (
                r#"{"type":"long","logicalType":"local-timestamp-millis"}"#,
                "BIGINT NOT NULL",
            ),
            (r#"["long","null"]"#, "BIGINT"),
        ];
        for (avro, flink) in read {
            let avro: Value = serde_json::from_str(avro).unwrap();
            assert_eq!(read_type(&avro).unwrap().to_string(), flink, "{avro}");
        }
        let union: Value = serde_json::from_str(r#"["null","int","string"]"#).unwrap();
        assert!(read_type(&union).is_err());
    }

    #[test]
    fn shapes_ignore_names_and_defaults() {
        let a: Value = serde_json::from_str(
            r#"{"type":"record","name":"A","namespace":"x","fields":[{"name":"c","type":{"type":"string"},"default":"d"}]}"#,
        )
        .unwrap();
        let b: Value = serde_json::from_str(
            r#"{"type":"record","name":"B","fields":[{"name":"c","type":"string","doc":"…"}]}"#,
        )
        .unwrap();
        assert_eq!(shape(&a), shape(&b));
        let c: Value = serde_json::from_str(
            r#"{"type":"record","name":"B","fields":[{"name":"c","type":["null","string"]}]}"#,
        )
        .unwrap();
        assert_ne!(shape(&a), shape(&c));
    }
}
