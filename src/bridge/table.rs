//! What a `CREATE TABLE` tells the bridge: the broker and endpoint, the topic(s), the physical
//! columns and their types, which columns form the message key, and the key and value formats.
//! A `jdbc` table's "topic" is its `table-name`, its endpoint its `url` (with `username` and
//! `password`), its key the primary key, and its records are rows in JSON (see
//! [`super::jdbc`]).

use std::sync::Arc;

use serde_json::{Map, Value};

use super::format::avro::{AvroCodec, Subject};
use super::format::csv::CsvOptions;
use super::format::registry::{Registry, RegistryError};
use super::types::{self, DataType, Field, Mismatch, TimestampFormat, TypeKind};
use super::{Broker, Endpoint};
use crate::sql::Script;
use crate::sql::model::{ColumnKind, CreateTable};
use crate::vars::Substituted;

/// A message format the bridge encodes and decodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Flink's `raw`: one column, as UTF-8 text or big-endian bytes.
    Raw,
    /// Flink's `json`: an object of the columns.
    Json,
    /// Flink's `csv`: one record of the columns (options in [`TableSpec::key_csv`] and
    /// [`TableSpec::value_csv`]).
    Csv,
    /// Flink's `debezium-json`: change events (see [`super::format::changelog`]); values only.
    DebeziumJson,
    /// Flink's `canal-json`: change events `{"data": [rows], "old": [rows], "type"}`.
    CanalJson,
    /// Flink's `maxwell-json`: change events `{"data": row, "old": row, "type"}`.
    MaxwellJson,
    /// Flink's `avro`: Avro binary of the schema derived from the columns.
    Avro,
    /// Flink's `avro-confluent`: Confluent's wire format (magic byte, schema id, Avro binary),
    /// the schema registered in a Schema Registry.
    AvroConfluent,
}

impl Format {
    fn parse(table: &str, option: &str, value: &str) -> Result<Self, TableError> {
        match value {
            "raw" => Ok(Self::Raw),
            "json" => Ok(Self::Json),
            "csv" => Ok(Self::Csv),
            "debezium-json" => Ok(Self::DebeziumJson),
            "canal-json" => Ok(Self::CanalJson),
            "maxwell-json" => Ok(Self::MaxwellJson),
            "avro" => Ok(Self::Avro),
            "avro-confluent" => Ok(Self::AvroConfluent),
            other => Err(TableError::Unsupported {
                table: table.into(),
                message: format!(
                    "'{option}' = '{other}': the bridge reads and writes the raw, json, csv, avro, \
                     avro-confluent, debezium-json, canal-json and maxwell-json formats"
                ),
            }),
        }
    }

    /// The format's Flink name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Raw => "raw",
            Self::Json => "json",
            Self::Csv => "csv",
            Self::DebeziumJson => "debezium-json",
            Self::CanalJson => "canal-json",
            Self::MaxwellJson => "maxwell-json",
            Self::Avro => "avro",
            Self::AvroConfluent => "avro-confluent",
        }
    }

    /// Whether messages in this format are change events (a changelog), not rows.
    pub fn is_changelog(self) -> bool {
        matches!(
            self,
            Self::DebeziumJson | Self::CanalJson | Self::MaxwellJson
        )
    }

    /// Whether this is `avro` or `avro-confluent`.
    pub fn is_avro(self) -> bool {
        matches!(self, Self::Avro | Self::AvroConfluent)
    }

    /// Whether the format has a `timestamp-format.standard` option: `json` and the changelog
    /// formats, all of them JSON.
    fn has_timestamp_standard(self) -> bool {
        self == Self::Json || self.is_changelog()
    }
}

/// The Avro codecs of a table's key and value, when their format is `avro` or
/// `avro-confluent`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AvroCodecs {
    /// The key's codec.
    pub key: Option<Arc<AvroCodec>>,
    /// The value's codec.
    pub value: Option<Arc<AvroCodec>>,
}

/// Everything the bridge needs to know about one table.
#[derive(Debug, Clone, PartialEq)]
pub struct TableSpec {
    /// The table name.
    pub name: String,
    /// Where its topics live (options substituted; settings from `properties.*`).
    pub endpoint: Endpoint,
    /// Its topics (a `;`-separated list in Kafka's `topic` and Pulsar's `topics`).
    pub topics: Vec<String>,
    /// `upsert-kafka` / `upsert-pulsar`: keyed changelog semantics.
    pub upsert: bool,
    /// The physical columns in order (metadata and computed columns are not in messages).
    pub columns: Vec<Field>,
    /// The columns carried in the message key, in key order; empty when there is no key.
    pub key_fields: Vec<String>,
    /// The key format, when the table has a key.
    pub key_format: Option<Format>,
    /// `key.fields-prefix`: stripped from key column names in the key's JSON.
    pub key_prefix: String,
    /// The value format.
    pub value_format: Format,
    /// The columns carried in the value (all, or all but the key with `EXCEPT_KEY`).
    pub value_fields: Vec<String>,
    /// The PRIMARY KEY columns (empty without one): what identifies a row of a changelog.
    pub primary_key: Vec<String>,
    /// The key's `key.csv.*` options when the key format is `csv`.
    pub key_csv: Option<CsvOptions>,
    /// The value's `csv.*` (or `value.csv.*`) options when the value format is `csv`.
    pub value_csv: Option<CsvOptions>,
    /// `debezium-json.schema-include` (`value.debezium-json.…`): events are the `payload` of
    /// `{"schema", "payload"}`.
    pub debezium_schema_include: bool,
    /// The Avro codecs, for an `avro` or `avro-confluent` key or value.
    pub avro: AvroCodecs,
    /// How the rows' TIMESTAMP and TIMESTAMP_LTZ values are written: the value format's
    /// `timestamp-format.standard` (`json.…`, `debezium-json.…`, …; `SQL` for the other
    /// formats). A key in JSON with another standard is refused when a key column holds a
    /// timestamp, as the key's values are the row's.
    pub timestamps: TimestampFormat,
}

/// Why a table cannot be used by the bridge.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TableError {
    /// No `CREATE TABLE` has that name.
    #[error("no CREATE TABLE named `{name}` in the SQL{}", suggestion(.near, .available))]
    NotFound {
        /// The name asked for.
        name: String,
        /// The nearest name, if one is close.
        near: Option<String>,
        /// Every table the script creates.
        available: Vec<String>,
    },
    /// The table is not backed by Kafka or Pulsar, or uses something the bridge cannot do.
    #[error("table `{table}`: {message}")]
    Unsupported {
        /// The table.
        table: String,
        /// What is not supported, and what to do.
        message: String,
    },
    /// A record does not fit the table.
    #[error("{0}")]
    Record(String),
}

fn suggestion(near: &Option<String>, available: &[String]) -> String {
    match (near, available.is_empty()) {
        (Some(near), _) => format!(" (did you mean `{near}`?)"),
        (None, true) => " (it creates no table)".into(),
        (None, false) => format!(" (it creates {})", available.join(", ")),
    }
}

impl TableSpec {
    /// Finds table `name` in `script` and reads its spec, with option values taken from
    /// `values` (so `${VAR}` are substituted).
    pub fn from_script(
        script: &Script,
        values: &Substituted,
        name: &str,
    ) -> Result<Self, TableError> {
        let tables: Vec<(usize, &CreateTable)> = script
            .statements
            .iter()
            .filter_map(|s| s.create_table().map(|t| (s.index, t)))
            .collect();
        let kept = script.tables();
        let found = tables
            .iter()
            .find(|(index, t)| {
                t.name == name && kept.get(name).is_some_and(|(s, _)| s.index == *index)
            })
            .or_else(|| {
                tables
                    .iter()
                    .rev()
                    .find(|(_, t)| t.name.eq_ignore_ascii_case(name))
            });
        let Some(&(index, table)) = found else {
            let available: Vec<String> = tables.iter().map(|(_, t)| t.name.clone()).collect();
            let near = available
                .iter()
                .map(|t| (strsim::jaro_winkler(t, name), t))
                .filter(|(score, _)| *score > 0.8)
                .max_by(|a, b| a.0.total_cmp(&b.0))
                .map(|(_, t)| t.clone());
            return Err(TableError::NotFound {
                name: name.into(),
                near,
                available,
            });
        };
        let mut options: Vec<(String, String)> = Vec::new();
        let mut columns: Vec<Field> = Vec::new();
        let mut primary_key = table.primary_key.as_ref().map(|pk| pk.columns.clone());
        let parent = table.like.as_ref().and_then(|like| {
            tables
                .iter()
                .rev()
                .find(|(i, t)| *i < index && t.name == like.table)
                .map(|&(i, t)| (like, i, t))
        });
        if let Some((like, parent_index, parent)) = parent {
            columns.extend(physical_columns(&parent.name, parent)?);
            if like.inherits_options() {
                options.extend(parent.options.iter().map(|o| {
                    let value = values.value(parent_index, o.value_span.start, &o.value);
                    (o.key.clone(), value.to_string())
                }));
            }
            if primary_key.is_none() {
                primary_key = parent.primary_key.as_ref().map(|pk| pk.columns.clone());
            }
        }
        columns.extend(physical_columns(&table.name, table)?);
        for (i, o) in table.options.iter().enumerate() {
            if table.options[..i].iter().any(|first| first.key == o.key) {
                return Err(TableError::Unsupported {
                    table: table.name.clone(),
                    message: format!(
                        "'{}' is set twice in its WITH clause; keep one (validate shows where)",
                        o.key
                    ),
                });
            }
        }
        for o in &table.options {
            let value = values
                .value(index, o.value_span.start, &o.value)
                .to_string();
            options.retain(|(k, _)| k != &o.key);
            options.push((o.key.clone(), value));
        }
        Self::from_parts(&table.name, columns, primary_key, &options)
    }

    fn from_parts(
        name: &str,
        columns: Vec<Field>,
        primary_key: Option<Vec<String>>,
        options: &[(String, String)],
    ) -> Result<Self, TableError> {
        let option = |key: &str| last_option(options, key);
        let unsupported = |message: String| unsupported_table(name, message);
        let connector = option("connector")
            .ok_or_else(|| unsupported("it has no 'connector' option".into()))?;
        let (broker, upsert) = match connector {
            "kafka" => (Broker::Kafka, false),
            "upsert-kafka" => (Broker::Kafka, true),
            "pulsar" => (Broker::Pulsar, false),
            "upsert-pulsar" => (Broker::Pulsar, true),
            "jdbc" => (Broker::Jdbc, false),
            other => {
                return Err(unsupported(format!(
                    "its connector is '{other}'; the bridge feeds and reads kafka, upsert-kafka, \
                     pulsar, upsert-pulsar and jdbc tables"
                )));
            }
        };
        let (address, topics, settings) = match broker {
            Broker::Jdbc => return Self::jdbc(name, columns, primary_key, options),
            Broker::Kafka => {
                let address = option("properties.bootstrap.servers").ok_or_else(|| {
                    unsupported("it has no 'properties.bootstrap.servers' option".into())
                })?;
                if option("topic-pattern").is_some() {
                    return Err(unsupported(
                        "it reads a 'topic-pattern'; name the topic with --topic".into(),
                    ));
                }
                let topics = option("topic")
                    .map(|t| split_list(t, ';'))
                    .unwrap_or_default();
                let settings = options
                    .iter()
                    .filter_map(|(k, v)| {
                        let key = k.strip_prefix("properties.")?;
                        (key != "bootstrap.servers" && key != "group.id")
                            .then(|| (key.to_string(), v.clone()))
                    })
                    .collect();
                (address.to_string(), topics, settings)
            }
            Broker::Pulsar => {
                let address = option("service-url")
                    .ok_or_else(|| unsupported("it has no 'service-url' option".into()))?;
                let topics = option("topics")
                    .or_else(|| option("topic"))
                    .map(|t| split_list(t, ';'))
                    .unwrap_or_default();
                let mut settings = Vec::new();
                for key in [
                    "admin-url",
                    "pulsar.client.authPluginClassName",
                    "pulsar.client.authParams",
                    "pulsar.client.tlsTrustCertsFilePath",
                ] {
                    if let Some(v) = option(key) {
                        settings.push((key.to_string(), v.to_string()));
                    }
                }
                (address.to_string(), topics, settings)
            }
        };
        if topics.is_empty() {
            return Err(unsupported("it names no topic".into()));
        }
        let value_format_option = if option("value.format").is_some() {
            "value.format"
        } else {
            "format"
        };
        let value_format = Format::parse(
            name,
            value_format_option,
            option(value_format_option)
                .ok_or_else(|| unsupported("it has neither 'value.format' nor 'format'".into()))?,
        )?;
        let key_prefix = option("key.fields-prefix").unwrap_or("").to_string();
        let key_fields: Vec<String> = if upsert {
            primary_key.clone().ok_or_else(|| {
                unsupported(format!(
                    "'{connector}' needs a PRIMARY KEY (…) NOT ENFORCED: it is the message key"
                ))
            })?
        } else {
            option("key.fields")
                .map(|f| split_list(f, ';'))
                .unwrap_or_default()
        };
        let key_format = match option("key.format") {
            Some(f) => Some(Format::parse(name, "key.format", f)?),
            None if key_fields.is_empty() => None,
            None => return Err(unsupported("it has a key but no 'key.format'".into())),
        };
        for key in &key_fields {
            if !columns.iter().any(|c| &c.name == key) {
                return Err(unsupported(format!(
                    "key column `{key}` is not a physical column"
                )));
            }
        }
        if key_format == Some(Format::Raw) && key_fields.len() != 1 {
            return Err(unsupported(format!(
                "'key.format' = 'raw' carries exactly one column, but the key has {}",
                key_fields.len()
            )));
        }
        // Apache's Pulsar connector never writes or reads key columns in the value (its
        // value-format projection leaves them out); Kafka does unless told EXCEPT_KEY.
        let except_key = option("value.fields-include")
            .is_some_and(|v| v.eq_ignore_ascii_case("EXCEPT_KEY"))
            || (broker == Broker::Pulsar && key_format.is_some());
        let value_fields: Vec<String> = columns
            .iter()
            .map(|c| c.name.clone())
            .filter(|c| !(except_key && key_fields.contains(c)))
            .collect();
        if value_format == Format::Raw && value_fields.len() != 1 {
            return Err(unsupported(format!(
                "'{value_format_option}' = 'raw' carries exactly one column, but the value has {}",
                value_fields.len()
            )));
        }
        if let Some(format) = key_format.filter(|f| f.is_changelog()) {
            return Err(unsupported(format!(
                "'key.format' = '{}': a key format writes plain keys (Flink refuses a changelog \
                 format there); use json, raw or csv",
                format.as_str()
            )));
        }
        if upsert && value_format.is_changelog() {
            return Err(unsupported(format!(
                "'{connector}' takes an insert-only value format, and {} is a changelog: use \
                 'connector' = 'kafka' for change events",
                value_format.as_str()
            )));
        }
        // A format's own options: `csv.x` with 'format', `value.csv.x` with 'value.format'.
        let value_prefix = if value_format_option == "format" {
            ""
        } else {
            "value."
        };
        let csv_options = |prefix: &str, names: &[String]| -> Result<CsvOptions, TableError> {
            let options = CsvOptions::from_options(prefix, option).map_err(&unsupported)?;
            let fields: Vec<&Field> = names
                .iter()
                .filter_map(|n| columns.iter().find(|c| &c.name == n))
                .collect();
            CsvOptions::check_fields(&fields).map_err(&unsupported)?;
            Ok(options)
        };
        if let Some(format) = key_format {
            encoded_as_flink_defaults(format, "key.", option).map_err(&unsupported)?;
        }
        encoded_as_flink_defaults(value_format, value_prefix, option).map_err(&unsupported)?;
        let key_csv = (key_format == Some(Format::Csv))
            .then(|| csv_options("key.csv.", &key_fields))
            .transpose()?;
        let value_csv = (value_format == Format::Csv)
            .then(|| csv_options(&format!("{value_prefix}csv."), &value_fields))
            .transpose()?;
        let standard = |format: Format, prefix: &str| -> Result<TimestampFormat, TableError> {
            if !format.has_timestamp_standard() {
                return Ok(TimestampFormat::Sql);
            }
            let key = format!("{prefix}{}.timestamp-format.standard", format.as_str());
            match option(&key) {
                None => Ok(TimestampFormat::Sql),
                Some(value) => TimestampFormat::parse(value).ok_or_else(|| {
                    unsupported(format!(
                        "'{key}' = '{value}': Flink takes 'SQL' or 'ISO-8601' (exactly so)"
                    ))
                }),
            }
        };
        let timestamps = standard(value_format, value_prefix)?;
        if let Some(format) = key_format {
            let key_timestamps = standard(format, "key.")?;
            let timestamp_key = key_fields.iter().find(|k| {
                columns
                    .iter()
                    .any(|c| &c.name == *k && holds_timestamp(&c.data_type))
            });
            if let Some(column) = timestamp_key
                && key_timestamps != timestamps
            {
                let writes = |format: Format, prefix: &str, standard: TimestampFormat| {
                    let name = standard.name();
                    if format.has_timestamp_standard() {
                        format!(
                            "{} ('{prefix}{}.timestamp-format.standard' = '{name}')",
                            format.as_str(),
                            format.as_str()
                        )
                    } else {
                        format!("{} ({name} form)", format.as_str())
                    }
                };
                return Err(unsupported(format!(
                    "key column `{column}` holds a timestamp, and the key's format, {}, writes \
                     timestamps otherwise than the value's, {}: the bridge writes a key column \
                     as the row gives it; give both the same form",
                    writes(format, "key.", key_timestamps),
                    writes(value_format, value_prefix, timestamps)
                )));
            }
        }
        let schema_include = format!("{value_prefix}debezium-json.schema-include");
        let debezium_schema_include = match option(&schema_include) {
            None => false,
            Some(v) if v.eq_ignore_ascii_case("true") => true,
            Some(v) if v.eq_ignore_ascii_case("false") => false,
            Some(v) => {
                return Err(unsupported(format!(
                    "'{schema_include}' = '{v}': expected true or false"
                )));
            }
        };
        let avro_codec =
            |format: Format, prefix: &str, suffix: &str, fields: Vec<(String, Field)>| {
                avro_codec(
                    name, options, &topics, broker, format, prefix, suffix, fields,
                )
            };
        // Flink makes primary key columns NOT NULL, and derives their Avro types so.
        let field = |column: &str, record_name: &str| {
            columns.iter().find(|c| c.name == column).map(|c| {
                let mut data_type = c.data_type.clone();
                if primary_key.as_ref().is_some_and(|pk| pk.contains(&c.name)) {
                    data_type.nullable = false;
                }
                (
                    c.name.clone(),
                    Field {
                        name: record_name.to_string(),
                        data_type,
                    },
                )
            })
        };
        let avro = AvroCodecs {
            key: match key_format {
                Some(format) if format.is_avro() => avro_codec(
                    format,
                    "key.",
                    "key",
                    key_fields
                        .iter()
                        .filter_map(|k| field(k, k.strip_prefix(key_prefix.as_str()).unwrap_or(k)))
                        .collect(),
                )?,
                _ => None,
            },
            value: avro_codec(
                value_format,
                if value_format_option == "format" {
                    ""
                } else {
                    "value."
                },
                "value",
                value_fields.iter().filter_map(|c| field(c, c)).collect(),
            )?,
        };
        Ok(Self {
            name: name.into(),
            endpoint: Endpoint {
                broker,
                address,
                settings,
            },
            topics,
            upsert,
            columns,
            key_fields,
            key_format,
            key_prefix,
            value_format,
            value_fields,
            avro,
            primary_key: primary_key.unwrap_or_default(),
            key_csv,
            value_csv,
            debezium_schema_include,
            timestamps,
        })
    }

    /// A `jdbc` table: rows in JSON, keyed by the primary key (an upsert table when it has
    /// one, as Flink's JDBC sink upserts then).
    fn jdbc(
        name: &str,
        columns: Vec<Field>,
        primary_key: Option<Vec<String>>,
        options: &[(String, String)],
    ) -> Result<Self, TableError> {
        let option = |key: &str| last_option(options, key);
        let unsupported = |message: String| unsupported_table(name, message);
        let url = option("url").ok_or_else(|| unsupported("it has no 'url' option".into()))?;
        let table_name = option("table-name")
            .ok_or_else(|| unsupported("it has no 'table-name' option".into()))?;
        for column in &columns {
            if !column.data_type.is_scalar() {
                return Err(unsupported(format!(
                    "column `{}` is {}: the bridge writes and reads scalar columns of databases",
                    column.name, column.data_type
                )));
            }
        }
        let key_fields = primary_key.unwrap_or_default();
        for key in &key_fields {
            if !columns.iter().any(|c| &c.name == key) {
                return Err(unsupported(format!(
                    "key column `{key}` is not a physical column"
                )));
            }
        }
        let settings = super::jdbc::SETTINGS
            .iter()
            .filter_map(|key| option(key).map(|v| (key.to_string(), v.to_string())))
            .collect();
        Ok(Self {
            name: name.into(),
            endpoint: Endpoint {
                broker: Broker::Jdbc,
                address: url.to_string(),
                settings,
            },
            topics: vec![table_name.to_string()],
            upsert: !key_fields.is_empty(),
            key_format: (!key_fields.is_empty()).then_some(Format::Json),
            key_prefix: String::new(),
            value_format: Format::Json,
            value_fields: columns.iter().map(|c| c.name.clone()).collect(),
            primary_key: key_fields.clone(),
            key_csv: None,
            value_csv: None,
            debezium_schema_include: false,
            timestamps: TimestampFormat::Sql,
            key_fields,
            columns,
            avro: AvroCodecs::default(),
        })
    }

    /// The column named `name`.
    pub fn column(&self, name: &str) -> Option<&Field> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// Checks a row (an object of column values) against the physical columns: every field is a
    /// column, every value fits its type (absent means NULL), and key columns are not NULL.
    pub fn check_row(&self, row: &Map<String, Value>) -> Result<(), Mismatch> {
        types::check_object(row, &self.columns, &mut String::new(), self.timestamps)?;
        for key in &self.key_fields {
            if row.get(key).is_none_or(Value::is_null) {
                let column = self.column(key).map(|c| c.data_type.to_string());
                return Err(Mismatch {
                    path: key.clone(),
                    expected: column.unwrap_or_default(),
                    problem: "the key column is missing or null".into(),
                });
            }
        }
        Ok(())
    }

    /// Readies the table's formats for writing: for `avro-confluent`, registers the key's and
    /// the value's schemas (or finds them registered), so a registry that does not answer, or
    /// refuses the schema, is known before anything is sent.
    pub fn prepare_writing(&self) -> Result<(), RegistryError> {
        for codec in [&self.avro.key, &self.avro.value].into_iter().flatten() {
            codec.prepare()?;
        }
        Ok(())
    }

    /// Readies the table's formats for reading: for `avro-confluent`, checks that the registry
    /// answers (schemas are fetched by id as messages name them).
    pub fn prepare_reading(&self) -> Result<(), RegistryError> {
        for codec in [&self.avro.key, &self.avro.value].into_iter().flatten() {
            codec.ping()?;
        }
        Ok(())
    }

    /// The key's JSON field name for key column `column` (the prefix stripped).
    pub fn key_json_name<'a>(&self, column: &'a str) -> &'a str {
        column
            .strip_prefix(self.key_prefix.as_str())
            .unwrap_or(column)
    }
}

/// The Avro codec of a key (`prefix` `key.`) or value (`value.`, or none with `'format'`)
/// in `format`, or `None` when the format is not Avro. For `avro-confluent` the registry is the
/// `avro-confluent.url` option and the subject the `avro-confluent.subject` option, else
/// `<topic>-key` / `<topic>-value` on Kafka as Flink's Kafka connector names it.
#[allow(clippy::too_many_arguments)]
fn avro_codec(
    table: &str,
    options: &[(String, String)],
    topics: &[String],
    broker: Broker,
    format: Format,
    prefix: &str,
    suffix: &str,
    fields: Vec<(String, Field)>,
) -> Result<Option<Arc<AvroCodec>>, TableError> {
    let option = |name: &str| last_option(options, &format!("{prefix}{name}"));
    let unsupported = |message: String| unsupported_table(table, message);
    let confluent = match format {
        Format::Avro => None,
        Format::AvroConfluent => {
            let key = |name: &str| format!("{prefix}avro-confluent.{name}");
            let url = option("avro-confluent.url")
                .or_else(|| option("avro-confluent.schema-registry.url"))
                .ok_or_else(|| unsupported(format!("it has no '{}' option", key("url"))))?;
            let subject = match option("avro-confluent.subject")
                .or_else(|| option("avro-confluent.schema-registry.subject"))
            {
                Some(subject) => subject.to_string(),
                None if broker == Broker::Kafka && topics.len() == 1 => {
                    format!("{}-{suffix}", topics[0])
                }
                None => {
                    return Err(unsupported(format!(
                        "it has no '{}' option (Flink names the subject itself only for one \
                         Kafka topic)",
                        key("subject")
                    )));
                }
            };
            let user_info = option("avro-confluent.basic-auth.user-info").map(String::from);
            Some(Subject {
                registry: Registry::new(url, user_info),
                subject,
            })
        }
        _ => return Ok(None),
    };
    for name in [
        "avro.timestamp_mapping.legacy",
        "avro-confluent.timestamp_mapping.legacy",
    ] {
        if option(name).is_some_and(|v| v.eq_ignore_ascii_case("false")) {
            return Err(unsupported(format!(
                "'{prefix}{name}' = 'false': the bridge writes Flink's default (legacy) timestamp \
                 mapping only"
            )));
        }
    }
    let own_schema = (format == Format::AvroConfluent && option("avro-confluent.schema").is_some())
        .then(|| format!("{prefix}avro-confluent.schema"));
    AvroCodec::new(fields, confluent)
        .map(|codec| match own_schema {
            Some(option) => codec.with_own_schema(option),
            None => codec,
        })
        .map(|codec| Some(Arc::new(codec)))
        .map_err(|e| unsupported(format!("'{prefix}format' {}: {e}", format.as_str())))
}

/// The physical columns of a table with their parsed types.
fn physical_columns(table: &str, create: &CreateTable) -> Result<Vec<Field>, TableError> {
    let mut out = Vec::new();
    for column in &create.columns {
        if let ColumnKind::Physical {
            data_type,
            nullable,
        } = &column.kind
        {
            let mut parsed = DataType::parse(data_type).map_err(|e| TableError::Unsupported {
                table: table.into(),
                message: format!("column `{}`: {e}", column.name),
            })?;
            parsed.nullable = parsed.nullable && *nullable;
            out.push(Field {
                name: column.name.clone(),
                data_type: parsed,
            });
        }
    }
    Ok(out)
}

fn split_list(text: &str, separator: char) -> Vec<String> {
    text.split(separator)
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(String::from)
        .collect()
}

/// The value of `key` in a table's options (the last one wins, as in Flink's `WITH`).
fn last_option<'a>(options: &'a [(String, String)], key: &str) -> Option<&'a str> {
    options
        .iter()
        .rev()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// The options of `format` (written after `prefix`) that change how Flink encodes its messages
/// both ways, each with the values the bridge encodes and decodes as (Flink's default).
const WIRE_OPTIONS: &[(Format, &str, &[&str])] = &[
    (Format::Raw, "raw.charset", &["UTF-8", "UTF8"]),
    (Format::Raw, "raw.endianness", &["big-endian"]),
];

/// Fails on an option of `format` that makes Flink encode its messages otherwise than the
/// bridge does (a UTF-16 or little-endian raw value), which would have the bridge write what
/// Flink cannot read, and misread what Flink writes.
fn encoded_as_flink_defaults<'a>(
    format: Format,
    prefix: &str,
    option: impl Fn(&str) -> Option<&'a str>,
) -> Result<(), String> {
    for (_, name, defaults) in WIRE_OPTIONS.iter().filter(|(f, ..)| *f == format) {
        let key = format!("{prefix}{name}");
        if let Some(value) = option(&key)
            && !defaults
                .iter()
                .any(|d| d.eq_ignore_ascii_case(value.trim()))
        {
            return Err(format!(
                "'{key}' = '{value}': the bridge writes and reads {} messages in Flink's \
                 default '{}' only; leave the option out",
                format.as_str(),
                defaults[0]
            ));
        }
    }
    Ok(())
}

/// Whether a value of `data_type` is, or holds, a TIMESTAMP or TIMESTAMP_LTZ.
fn holds_timestamp(data_type: &DataType) -> bool {
    match &data_type.kind {
        TypeKind::Timestamp | TypeKind::TimestampLtz => true,
        TypeKind::Array(element) | TypeKind::Multiset(element) => holds_timestamp(element),
        TypeKind::Map(key, value) => holds_timestamp(key) || holds_timestamp(value),
        TypeKind::Row(fields) => fields.iter().any(|f| holds_timestamp(&f.data_type)),
        _ => false,
    }
}

/// The error for a table the bridge cannot read or write.
fn unsupported_table(table: &str, message: String) -> TableError {
    TableError::Unsupported {
        table: table.into(),
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vars::{Vars, substitute};

    fn spec(sql: &str, name: &str) -> Result<TableSpec, TableError> {
        let script = Script::parse_str(sql).unwrap();
        let values = substitute(&script, &Vars::new([("BROKER".into(), "b:9092".into())]));
        TableSpec::from_script(&script, &values, name)
    }

    #[test]
    fn upsert_kafka_table() {
        let s = spec(
            "CREATE TABLE users (uid STRING, n INT NOT NULL, ts TIMESTAMP_LTZ(3) METADATA FROM 'timestamp', \
             c AS n + 1, PRIMARY KEY (uid) NOT ENFORCED) WITH ('connector' = 'upsert-kafka', \
             'topic' = 'users', 'properties.bootstrap.servers' = '${BROKER}', \
             'properties.security.protocol' = 'PLAINTEXT', 'key.format' = 'raw', 'value.format' = 'json')",
            "users",
        )
        .unwrap();
        assert_eq!(s.endpoint.address, "b:9092");
        assert_eq!(s.endpoint.broker, Broker::Kafka);
        assert_eq!(
            s.endpoint.settings,
            vec![("security.protocol".to_string(), "PLAINTEXT".to_string())]
        );
        assert!(s.upsert);
        assert_eq!(s.topics, ["users"]);
        let names: Vec<&str> = s.columns.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["uid", "n"]);
        assert!(!s.columns[1].data_type.nullable);
        assert_eq!(s.key_fields, ["uid"]);
        assert_eq!(s.key_format, Some(Format::Raw));
        assert_eq!(s.value_fields, ["uid", "n"]);
    }

    /// Regression: a table whose `raw` options change Flink's encoding (UTF-16 text,
    /// little-endian numbers) was written and read in the default encoding.
    #[test]
    fn a_raw_encoding_the_bridge_does_not_write_is_refused() {
        let table = |with: &str| {
            spec(
                &format!(
                    "CREATE TABLE t (k STRING, n INT) WITH ('connector' = 'kafka', \
                     'topic' = 't', 'properties.bootstrap.servers' = 'x', \
                     'key.format' = 'raw', 'key.fields' = 'k', 'value.fields-include' = \
                     'EXCEPT_KEY', {with})"
                ),
                "t",
            )
        };
        for (with, option) in [
            (
                "'value.format' = 'raw', 'key.raw.charset' = 'UTF-16'",
                "'key.raw.charset' = 'UTF-16'",
            ),
            (
                "'value.format' = 'raw', 'value.raw.endianness' = 'little-endian'",
                "'value.raw.endianness' = 'little-endian'",
            ),
        ] {
            let err = table(with).unwrap_err().to_string();
            assert!(
                err.contains(option) && err.contains("leave the option out"),
                "{err}"
            );
        }
        let ok = "'value.format' = 'raw', 'key.raw.charset' = 'utf-8', \
                  'value.raw.endianness' = 'big-endian'";
        assert!(table(ok).is_ok(), "{ok}");
    }

    #[test]
    fn pulsar_topics_key_fields_and_except_key() {
        let s = spec(
            "CREATE TABLE t (k_id INT, v STRING) WITH ('connector' = 'pulsar', \
             'topics' = 'persistent://public/default/a; b', 'service-url' = 'pulsar://h:6650', \
             'key.format' = 'json', 'key.fields' = 'k_id', 'key.fields-prefix' = 'k_', \
             'value.fields-include' = 'EXCEPT_KEY', 'value.format' = 'json')",
            "t",
        )
        .unwrap();
        assert_eq!(s.topics, ["persistent://public/default/a", "b"]);
        assert!(!s.upsert);
        assert_eq!(s.key_fields, ["k_id"]);
        assert_eq!(s.key_json_name("k_id"), "id");
        assert_eq!(s.value_fields, ["v"]);
    }

    #[test]
    fn the_first_table_wins_and_a_key_set_twice_is_refused() {
        let kafka =
            "'connector' = 'kafka', 'properties.bootstrap.servers' = 'x', 'format' = 'json'";
        let s = spec(
            &format!(
                "CREATE TABLE t (a INT) WITH ({kafka}, 'topic' = 'first');\n\
                 CREATE TABLE IF NOT EXISTS t (a INT) WITH ({kafka}, 'topic' = 'second')"
            ),
            "t",
        )
        .unwrap();
        assert_eq!(s.topics, ["first"]);
        let err = spec(
            &format!("CREATE TABLE t (a INT) WITH ({kafka}, 'topic' = 'a', 'topic' = 'b')"),
            "t",
        )
        .unwrap_err();
        assert!(err.to_string().contains("'topic' is set twice"), "{err}");
    }

    #[test]
    fn a_json_formats_timestamp_standard_is_how_rows_are_checked() {
        let kafka =
            "'connector' = 'kafka', 'topic' = 't', 'properties.bootstrap.servers' = 'b:9092'";
        let table = |columns: &str, options: &str| {
            spec(
                &format!("CREATE TABLE t ({columns}) WITH ({kafka}, {options})"),
                "t",
            )
        };
        let row = |value: Value| value.as_object().unwrap().clone();
        let iso = table(
            "at TIMESTAMP(3)",
            "'format' = 'json', 'json.timestamp-format.standard' = 'ISO-8601'",
        )
        .unwrap();
        assert_eq!(iso.timestamps, TimestampFormat::Iso8601);
        assert!(
            iso.check_row(&row(serde_json::json!({"at": "2024-01-01T10:00:00"})))
                .is_ok()
        );
        let err = iso
            .check_row(&row(serde_json::json!({"at": "2024-01-01 10:00:00"})))
            .unwrap_err();
        assert!(err.problem.contains("yyyy-MM-ddTHH:mm:ss"), "{err:?}");
        // The changelog formats' own option, with 'value.format' too.
        let events = table(
            "at TIMESTAMP(3)",
            "'value.format' = 'debezium-json', 'value.debezium-json.timestamp-format.standard' = 'ISO-8601'",
        )
        .unwrap();
        assert_eq!(events.timestamps, TimestampFormat::Iso8601);
        // Other formats, and the default, are SQL.
        for options in ["'format' = 'json'", "'format' = 'csv'", "'format' = 'avro'"] {
            assert_eq!(
                table("at TIMESTAMP(3)", options).unwrap().timestamps,
                TimestampFormat::Sql
            );
        }
        let err = table(
            "at TIMESTAMP(3)",
            "'format' = 'json', 'json.timestamp-format.standard' = 'iso'",
        )
        .unwrap_err();
        assert!(err.to_string().contains("'SQL' or 'ISO-8601'"), "{err}");
        // A key in JSON writing timestamps otherwise than the value, with a timestamp key column.
        let keyed = |key: &str| {
            table(
                &format!("{key}, v INT"),
                "'key.format' = 'json', 'key.fields' = 'k', 'value.format' = 'json', \
                 'value.json.timestamp-format.standard' = 'ISO-8601'",
            )
        };
        let err = keyed("k ROW<at TIMESTAMP(3)>").unwrap_err();
        assert!(
            err.to_string().contains("key column `k` holds a timestamp"),
            "{err}"
        );
        assert_eq!(
            keyed("k STRING").unwrap().timestamps,
            TimestampFormat::Iso8601
        );
    }

    #[test]
    fn errors_name_the_problem() {
        let err = spec(
            "CREATE TABLE users (a INT) WITH ('connector' = 'datagen')",
            "user",
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "no CREATE TABLE named `user` in the SQL (did you mean `users`?)"
        );
        let err = spec(
            "CREATE TABLE users (a INT) WITH ('connector' = 'datagen')",
            "users",
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("its connector is 'datagen'"),
            "{err}"
        );
        let err = spec(
            "CREATE TABLE u (a INT, b INT) WITH ('connector' = 'upsert-kafka', 'topic' = 't', \
             'properties.bootstrap.servers' = 'x', 'key.format' = 'raw', 'value.format' = 'json')",
            "u",
        )
        .unwrap_err();
        assert!(err.to_string().contains("needs a PRIMARY KEY"), "{err}");
        let err = spec(
            "CREATE TABLE u (a INT, b INT) WITH ('connector' = 'kafka', 'topic' = 't', \
             'properties.bootstrap.servers' = 'x', 'format' = 'protobuf')",
            "u",
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("canal-json and maxwell-json formats"),
            "{err}"
        );
    }

    #[test]
    fn rows_are_checked_against_columns() {
        let s = spec(
            "CREATE TABLE users (uid STRING, id INT, PRIMARY KEY (uid) NOT ENFORCED) WITH ( \
             'connector' = 'upsert-kafka', 'topic' = 'users', 'properties.bootstrap.servers' = 'x', \
             'key.format' = 'raw', 'value.format' = 'json')",
            "users",
        )
        .unwrap();
        let row = |v: serde_json::Value| v.as_object().unwrap().clone();
        assert!(
            s.check_row(&row(serde_json::json!({"uid": "a", "id": 1})))
                .is_ok()
        );
        let err = s
            .check_row(&row(serde_json::json!({"uid": "a", "id": "one"})))
            .unwrap_err();
        assert_eq!(err.path, "id");
        let err = s.check_row(&row(serde_json::json!({"id": 1}))).unwrap_err();
        assert_eq!(err.problem, "the key column is missing or null");
    }
}
