//! A Pulsar topic's registered schema — Pulsar's own registry, read through the admin REST
//! API (`GET /admin/v2/schemas/{tenant}/{namespace}/{topic}/schema`) before anything is
//! produced: whether the bridge's records fit it, and the schema its producer announces so
//! that the broker takes them.
//!
//! The bridge writes text (JSON, csv, raw text) and bytes. A topic whose schema is `JSON` takes
//! a table's JSON rows when its columns fit the schema's fields (the producer then announces
//! that schema, as a namespace with `schemaValidationEnforced` requires); `STRING` takes text;
//! `BYTES` or no schema takes anything. Any other schema (`AVRO`, `PROTOBUF`, …) would be
//! refused by the broker (`IncompatibleSchemaException`) or make the topic's readers fail, so
//! it is explained — the topic, the registered schema and what to do — and nothing is sent.

use std::collections::BTreeMap;
use std::time::Duration;

use pulsar::proto;
use serde::Deserialize;
use serde_json::Value;

use crate::bridge::pulsar::{admin_client, admin_path, admin_unreachable, full_topic};
use crate::bridge::table::{Format, TableSpec};
use crate::bridge::types::TypeKind;
use crate::bridge::{BridgeError, Broker};

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
    let client = admin_client(timeout, settings)?;
    let url = format!(
        "{}/admin/v2/schemas/{}/schema",
        admin.trim_end_matches('/'),
        admin_path(topic)
            .split_once('/')
            .map_or(String::new(), |(_, rest)| rest.to_string())
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
                    &format!("its JSON schema takes JSON values, and the bridge writes {writes}"),
                )),
                Some(t) => self.fits(t).map_err(|why| self.refusal(&topic, &why)),
                None => Ok(()),
            },
            other => Err(self.refusal(
                &topic,
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

    /// The explanation for a schema the records do not fit.
    fn refusal(&self, topic: &str, why: &str) -> String {
        let shown: String = self.data.chars().take(200).collect();
        let cut = if self.data.chars().count() > 200 {
            "…"
        } else {
            ""
        };
        format!(
            "topic {topic} has a registered {} schema (version {}): {shown}{cut}\n\
             {why}, so nothing was sent.\n\
             What to do: write to a topic without a schema; or, if nothing reads this one by \
             its schema, delete the schema (`pulsar-admin schemas delete {topic}`, or an HTTP \
             DELETE of /admin/v2/schemas/{}/schema); or declare the table's columns and format \
             as the schema has them",
            self.kind,
            self.version,
            topic.split_once("://").map_or(topic, |(_, rest)| rest),
        )
    }

    /// Whether a table's JSON rows fit a JSON schema's record fields: every value column is a
    /// field of a type that takes it, and every field the table lacks may be null.
    fn fits(&self, table: &TableSpec) -> Result<(), String> {
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
            if !optional && !table.value_fields.iter().any(|c| c == name) {
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
    fn an_avro_schema_is_explained_with_what_to_do() {
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
        assert!(avro.check("users", None).is_err());
        assert_eq!(schema("STRING", "").check("users", None), Ok(()));
        assert!(avro.producer_schema("users").is_none());
    }
}
