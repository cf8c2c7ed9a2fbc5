//! The option catalog: every connector and format the runner jar bundles, with their options
//! (type, enum values, default, fallback keys), forwarded options and metadata keys. It is the
//! runner's own `--describe-connectors` output, checked in as `catalog.json` and compiled in; a
//! test compares it with the live output whenever Java is present.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::Deserialize;

/// The snapshot of `flink-sql-runner --describe-connectors` (the Flink 1.20 runner).
pub const SNAPSHOT: &str = include_str!("catalog.json");

/// The same snapshot of the Flink 2.x runner ([`crate::flink::line::FlinkLine::V2`]).
pub const SNAPSHOT_2: &str = include_str!("catalog-2.json");

/// Every connector and format.
#[derive(Debug, Clone, Deserialize)]
pub struct Catalog {
    /// The Flink version the factories came from.
    pub flink_version: String,
    /// Table connectors, by identifier.
    pub connectors: Vec<Connector>,
    /// Formats, by identifier.
    pub formats: Vec<Format>,
}

/// A table connector (`'connector' = '…'`).
#[derive(Debug, Clone, Deserialize)]
pub struct Connector {
    /// The `'connector'` value.
    pub identifier: String,
    /// Whether it can be read.
    #[serde(default)]
    pub source: bool,
    /// Whether it can be written.
    #[serde(default)]
    pub sink: bool,
    /// Options that must be set.
    #[serde(default)]
    pub required_options: Vec<OptionSpec>,
    /// Options that may be set.
    #[serde(default)]
    pub optional_options: Vec<OptionSpec>,
    /// Metadata keys a source can read, with their types.
    #[serde(default)]
    pub readable_metadata: BTreeMap<String, String>,
    /// Metadata keys a sink can write, with their types.
    #[serde(default)]
    pub writable_metadata: BTreeMap<String, String>,
}

/// A format (`'format' = '…'`, `'key.format'`, `'value.format'`).
#[derive(Debug, Clone, Deserialize)]
pub struct Format {
    /// The format's name.
    pub identifier: String,
    /// Options that must be set (under the format's prefix).
    #[serde(default)]
    pub required_options: Vec<OptionSpec>,
    /// Options that may be set (under the format's prefix).
    #[serde(default)]
    pub optional_options: Vec<OptionSpec>,
}

/// One option.
#[derive(Debug, Clone, Deserialize)]
pub struct OptionSpec {
    /// The key (`#` stands for a column name in datagen's `fields.#.kind`).
    pub key: String,
    /// `string`, `int`, `long`, `float`, `boolean`, `duration`, `memory_size`, `enum`, `list`,
    /// `map`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The allowed values of an enum.
    #[serde(default)]
    pub values: Vec<String>,
    /// The default, as written in a `WITH` clause.
    #[serde(default)]
    pub default: Option<String>,
    /// Older keys still accepted.
    #[serde(default)]
    pub fallback_keys: Vec<String>,
    /// Keys accepted but deprecated.
    #[serde(default)]
    pub deprecated_keys: Vec<String>,
}

impl OptionSpec {
    /// Whether `key` names this option (its key, a fallback or a deprecated key), with `#`
    /// matching one column name.
    pub fn matches(&self, key: &str) -> bool {
        std::iter::once(&self.key)
            .chain(&self.fallback_keys)
            .chain(&self.deprecated_keys)
            .any(|pattern| key_matches(pattern, key))
    }
}

fn key_matches(pattern: &str, key: &str) -> bool {
    match pattern.split_once('#') {
        None => pattern == key,
        Some((prefix, suffix)) => {
            key.len() > prefix.len() + suffix.len()
                && key.starts_with(prefix)
                && key.ends_with(suffix)
                && !key[prefix.len()..key.len() - suffix.len()].contains('.')
        }
    }
}

impl Connector {
    /// Required and optional options together.
    pub fn options(&self) -> impl Iterator<Item = &OptionSpec> {
        self.required_options.iter().chain(&self.optional_options)
    }

    /// The option `key` stands for.
    pub fn option(&self, key: &str) -> Option<&OptionSpec> {
        self.options().find(|o| o.matches(key))
    }

    /// Key prefixes the connector forwards as-is to its client (not declared by the factory).
    pub fn forwarded_prefixes(&self) -> &'static [&'static str] {
        match self.identifier.as_str() {
            "kafka" | "upsert-kafka" => &["properties."],
            "pulsar" | "upsert-pulsar" => &[
                "pulsar.client.",
                "pulsar.admin.",
                "pulsar.source.",
                "pulsar.consumer.",
                "pulsar.producer.",
                "pulsar.sink.",
            ],
            _ => &[],
        }
    }

    /// Whether the connector holds only inserts (no updates or deletes) when written.
    pub fn is_append_only_sink(&self) -> bool {
        matches!(self.identifier.as_str(), "kafka" | "pulsar" | "filesystem")
    }

    /// Whether the connector is an upsert connector (keyed by the primary key).
    pub fn is_upsert(&self) -> bool {
        self.identifier.starts_with("upsert-")
    }
}

impl Format {
    /// Required and optional options together.
    pub fn options(&self) -> impl Iterator<Item = &OptionSpec> {
        self.required_options.iter().chain(&self.optional_options)
    }
}

impl Catalog {
    /// The compiled-in snapshot of the default (Flink 1.20) runner.
    pub fn builtin() -> &'static Catalog {
        static CATALOG: OnceLock<Catalog> = OnceLock::new();
        CATALOG.get_or_init(|| Self::snapshot(SNAPSHOT))
    }

    /// The compiled-in snapshot of the Flink 2.x runner.
    pub fn builtin_2() -> &'static Catalog {
        static CATALOG: OnceLock<Catalog> = OnceLock::new();
        CATALOG.get_or_init(|| Self::snapshot(SNAPSHOT_2))
    }

    fn snapshot(json: &str) -> Catalog {
        serde_json::from_str(json).unwrap_or_else(|err| Catalog {
            flink_version: format!("unreadable snapshot: {err}"),
            connectors: Vec::new(),
            formats: Vec::new(),
        })
    }

    /// This catalog with `extra`'s connectors and formats added (those whose identifiers it
    /// lacks): the bundled catalog extended by the factories of added jars.
    pub fn extended(&self, extra: Catalog) -> Catalog {
        let mut out = self.clone();
        for connector in extra.connectors {
            if out.connector(&connector.identifier).is_none() {
                out.connectors.push(connector);
            }
        }
        for format in extra.formats {
            if out.format(&format.identifier).is_none() {
                out.formats.push(format);
            }
        }
        out
    }

    /// The connector named `identifier`.
    pub fn connector(&self, identifier: &str) -> Option<&Connector> {
        self.connectors.iter().find(|c| c.identifier == identifier)
    }

    /// The format named `identifier`.
    pub fn format(&self, identifier: &str) -> Option<&Format> {
        self.formats.iter().find(|f| f.identifier == identifier)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_snapshot_has_every_bundled_connector_and_format() {
        let catalog = Catalog::builtin();
        assert!(catalog.flink_version.starts_with("1.20."));
        for id in [
            "kafka",
            "upsert-kafka",
            "pulsar",
            "upsert-pulsar",
            "datagen",
            "print",
            "blackhole",
            "filesystem",
        ] {
            assert!(catalog.connector(id).is_some(), "{id}");
        }
        for id in [
            "json",
            "csv",
            "raw",
            "avro",
            "avro-confluent",
            "debezium-json",
        ] {
            assert!(catalog.format(id).is_some(), "{id}");
        }
        let pulsar = catalog.connector("upsert-pulsar").unwrap();
        assert!(pulsar.readable_metadata.contains_key("event_time"));
        assert!(pulsar.option("topics").is_some());
        assert!(pulsar.option("topic").is_none());
    }

    #[test]
    fn hash_patterns_match_one_column() {
        let datagen = Catalog::builtin().connector("datagen").unwrap();
        assert!(datagen.option("fields.id.kind").is_some());
        assert!(datagen.option("fields.a.b.kind").is_none());
        assert!(datagen.option("fields..kind").is_none());
    }
}
