//! Connector jars on demand: which connectors, formats and catalog types a script names that the
//! runner does not bundle ([`needs`]), the curated table of the Maven artifacts that provide them
//! for the Flink line in use ([`PROVIDERS`]), and the jars a user adds (`--jar PATH` or
//! `--jar GROUP:ARTIFACT:VERSION`, [`JarSource`]).
//!
//! Fetching the artifacts into the cache, describing their factories and shipping them to a
//! target are [`crate::provision::Cache::extra_jars`], [`crate::provision::Cache::describe`] and
//! [`crate::launch`]'s business; this module only decides what is needed.

use std::fmt;
use std::ops::Range;
use std::path::PathBuf;
use std::str::FromStr;

use crate::connectors::catalog::Catalog;
use crate::sql::{Detail, Script};
use crate::vars::Substituted;

/// A Maven artifact, `GROUP:ARTIFACT:VERSION` (a jar).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Artifact {
    /// The group id.
    pub group: String,
    /// The artifact id.
    pub artifact: String,
    /// The version.
    pub version: String,
}

impl Artifact {
    /// The Flink line a connector release was built for: the suffix of versions like
    /// `3.3.0-1.20` (externalised connectors), or the version itself for Flink's own modules
    /// (`org.apache.flink:flink-protobuf:1.20.0`). `None` for artifacts that are not Flink's.
    pub fn flink_line(&self) -> Option<String> {
        if self.group != "org.apache.flink" {
            return None;
        }
        let version = match self.version.rsplit_once('-') {
            Some((_, suffix)) if suffix.starts_with("1.") || suffix.starts_with("2.") => suffix,
            _ if self.version.starts_with("1.") || self.version.starts_with("2.") => {
                self.version.as_str()
            }
            _ => return None,
        };
        let mut parts = version.split('.');
        Some(format!("{}.{}", parts.next()?, parts.next()?))
    }
}

impl fmt::Display for Artifact {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.group, self.artifact, self.version)
    }
}

/// Why a `--jar` value is not a jar reference.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{0}` is neither a jar file's path (ending in .jar) nor a Maven artifact GROUP:ARTIFACT:VERSION"
)]
pub struct BadJarSource(pub String);

impl FromStr for Artifact {
    type Err = BadJarSource;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let parts: Vec<&str> = text.split(':').collect();
        let valid = |p: &str| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        };
        match parts[..] {
            [group, artifact, version] if [group, artifact, version].into_iter().all(valid) => {
                Ok(Self {
                    group: group.into(),
                    artifact: artifact.into(),
                    version: version.into(),
                })
            }
            _ => Err(BadJarSource(text.into())),
        }
    }
}

/// A jar the user adds: a file, or a Maven artifact fetched into the cache.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum JarSource {
    /// A jar file on this machine.
    Path(PathBuf),
    /// A Maven artifact, fetched with its runtime dependencies.
    Maven(Artifact),
}

impl FromStr for JarSource {
    type Err = BadJarSource;

    /// A value with a `/` or ending in `.jar` is a path; `G:A:V` an artifact.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text.contains('/') || text.ends_with(".jar") {
            Ok(Self::Path(PathBuf::from(text)))
        } else {
            text.parse().map(Self::Maven)
        }
    }
}

impl fmt::Display for JarSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Path(path) => write!(f, "{}", path.display()),
            Self::Maven(artifact) => artifact.fmt(f),
        }
    }
}

impl serde::Serialize for JarSource {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for JarSource {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// What an identifier names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// A table connector (`'connector' = '…'`).
    Connector,
    /// A format (`'format'`, `'key.format'`, `'value.format'`).
    Format,
    /// A catalog type (`CREATE CATALOG … WITH ('type' = '…')`).
    Catalog,
}

impl Kind {
    /// `connector`, `format` or `catalog`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Connector => "connector",
            Self::Format => "format",
            Self::Catalog => "catalog",
        }
    }
}

/// The artifacts that provide connectors, formats or catalog types the runner does not bundle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Provider {
    /// What the identifiers name.
    pub kind: Kind,
    /// The identifiers this provides.
    pub identifiers: &'static [&'static str],
    /// The artifacts (`G:A:V`), fetched with their runtime dependencies.
    pub artifacts: &'static [&'static str],
}

impl Provider {
    /// Whether every Flink artifact of this provider was built for Flink `line` (`1.20`), or
    /// for no particular line.
    pub fn fits(&self, line: &str) -> bool {
        self.artifacts()
            .iter()
            .all(|a| a.flink_line().is_none_or(|built| built == line))
    }

    /// The artifacts, parsed.
    pub fn artifacts(&self) -> Vec<Artifact> {
        self.artifacts
            .iter()
            .filter_map(|a| a.parse().ok())
            .collect()
    }
}

/// The curated table for Flink 1.20: Apache's releases built for 1.20 where there is one (JDBC
/// 3.3.0-1.20, Flink CDC 3.5.0, Flink's own format modules 1.20.x), else the newest release
/// (OpenSearch's newest, 1.2.0, was built for 1.19). A test checks each entry parses.
///
/// JDBC is its `core` module and the PostgreSQL dialect, not the `flink-connector-jdbc` bundle:
/// the 3.3.0 bundle registers two catalog factories named `jdbc` (the old package's and the new
/// one's), so Flink refuses every `CREATE CATALOG … ('type' = 'jdbc')` with it.
pub const PROVIDERS: &[Provider] = &[
    Provider {
        kind: Kind::Connector,
        identifiers: &["jdbc"],
        artifacts: &[
            "org.apache.flink:flink-connector-jdbc-core:3.3.0-1.20",
            "org.apache.flink:flink-connector-jdbc-postgres:3.3.0-1.20",
            "org.postgresql:postgresql:42.7.8",
        ],
    },
    Provider {
        kind: Kind::Catalog,
        identifiers: &["jdbc"],
        artifacts: &[
            "org.apache.flink:flink-connector-jdbc-core:3.3.0-1.20",
            "org.apache.flink:flink-connector-jdbc-postgres:3.3.0-1.20",
            "org.postgresql:postgresql:42.7.8",
        ],
    },
    Provider {
        kind: Kind::Connector,
        identifiers: &["postgres-cdc"],
        artifacts: &["org.apache.flink:flink-sql-connector-postgres-cdc:3.5.0"],
    },
    Provider {
        kind: Kind::Connector,
        identifiers: &["mysql-cdc"],
        artifacts: &[
            "org.apache.flink:flink-sql-connector-mysql-cdc:3.5.0",
            "com.mysql:mysql-connector-j:8.0.33",
        ],
    },
    Provider {
        kind: Kind::Connector,
        identifiers: &["mongodb-cdc"],
        artifacts: &["org.apache.flink:flink-sql-connector-mongodb-cdc:3.5.0"],
    },
    Provider {
        kind: Kind::Connector,
        identifiers: &["elasticsearch-7"],
        artifacts: &["org.apache.flink:flink-sql-connector-elasticsearch7:3.1.0-1.20"],
    },
    Provider {
        kind: Kind::Connector,
        identifiers: &["opensearch"],
        artifacts: &["org.apache.flink:flink-sql-connector-opensearch:1.2.0-1.19"],
    },
    Provider {
        kind: Kind::Connector,
        identifiers: &["mongodb"],
        artifacts: &["org.apache.flink:flink-sql-connector-mongodb:2.0.0-1.20"],
    },
    Provider {
        kind: Kind::Format,
        identifiers: &["protobuf"],
        artifacts: &["org.apache.flink:flink-protobuf:1.20.0"],
    },
    Provider {
        kind: Kind::Format,
        identifiers: &["parquet"],
        artifacts: &[
            "org.apache.flink:flink-parquet:1.20.1",
            "org.apache.hadoop:hadoop-client-api:3.3.6",
            "org.apache.hadoop:hadoop-client-runtime:3.3.6",
        ],
    },
    Provider {
        kind: Kind::Format,
        identifiers: &["orc"],
        artifacts: &[
            "org.apache.flink:flink-orc:1.20.1",
            "org.apache.hadoop:hadoop-client-api:3.3.6",
            "org.apache.hadoop:hadoop-client-runtime:3.3.6",
        ],
    },
];

/// The provider of `identifier` as a `kind`, from the curated table.
pub fn provider(kind: Kind, identifier: &str) -> Option<&'static Provider> {
    PROVIDERS
        .iter()
        .find(|p| p.kind == kind && p.identifiers.contains(&identifier))
}

/// Catalog types Flink itself provides.
const BUILTIN_CATALOGS: &[&str] = &["generic_in_memory"];

/// An identifier a script names that the runner does not bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Need {
    /// What it names.
    pub kind: Kind,
    /// The identifier (after variable substitution).
    pub identifier: String,
    /// The statement that names it.
    pub statement: usize,
    /// The byte range of the value literal.
    pub span: Range<usize>,
}

/// Every connector, format and catalog type `script` names that `catalog` (the bundled one)
/// lacks, once each, in the order they first appear.
pub fn needs(script: &Script, values: &Substituted, catalog: &Catalog) -> Vec<Need> {
    let mut out: Vec<Need> = Vec::new();
    let mut add = |kind: Kind, identifier: &str, statement: usize, span: &Range<usize>| {
        let known = match kind {
            Kind::Connector => catalog.connector(identifier).is_some(),
            Kind::Format => catalog.format(identifier).is_some(),
            Kind::Catalog => BUILTIN_CATALOGS.contains(&identifier),
        };
        if !known
            && !identifier.is_empty()
            && !out
                .iter()
                .any(|n| n.kind == kind && n.identifier == identifier)
        {
            out.push(Need {
                kind,
                identifier: identifier.to_string(),
                statement,
                span: span.clone(),
            });
        }
    };
    for stmt in &script.statements {
        let options = match &stmt.detail {
            Detail::CreateTable(table) => &table.options,
            Detail::CreateCatalog(created) => {
                if let Some(kind) = created.kind() {
                    let value = values.value(stmt.index, kind.value_span.start, &kind.value);
                    add(Kind::Catalog, value, stmt.index, &kind.value_span);
                }
                continue;
            }
            _ => continue,
        };
        for option in options {
            let kind = match option.key.as_str() {
                "connector" => Kind::Connector,
                "format" | "key.format" | "value.format" => Kind::Format,
                _ => continue,
            };
            let value = values.value(stmt.index, option.value_span.start, &option.value);
            add(kind, value, stmt.index, &option.value_span);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vars::{self, Vars};

    #[test]
    fn every_provider_names_artifacts_that_parse() {
        for provider in PROVIDERS {
            assert_eq!(
                provider.artifacts().len(),
                provider.artifacts.len(),
                "{provider:?}"
            );
        }
        assert!(provider(Kind::Connector, "jdbc").is_some());
        assert!(provider(Kind::Catalog, "jdbc").is_some());
        assert!(provider(Kind::Format, "jdbc").is_none());
    }

    #[test]
    fn jar_sources_are_paths_or_coordinates() {
        assert_eq!(
            "lib/x.jar".parse::<JarSource>().unwrap(),
            JarSource::Path("lib/x.jar".into())
        );
        let maven: JarSource = "org.apache.flink:flink-connector-jdbc:3.3.0-1.20"
            .parse()
            .unwrap();
        assert_eq!(
            maven.to_string(),
            "org.apache.flink:flink-connector-jdbc:3.3.0-1.20"
        );
        assert!(
            "org.apache.flink:flink-connector-jdbc"
                .parse::<JarSource>()
                .is_err()
        );
        assert!("a:b:c:d".parse::<JarSource>().is_err());
        assert!("a b:c:d".parse::<JarSource>().is_err());
    }

    #[test]
    fn flink_lines_of_versions() {
        let line = |s: &str| s.parse::<Artifact>().unwrap().flink_line();
        assert_eq!(
            line("org.apache.flink:flink-connector-jdbc:3.1.2-1.17").as_deref(),
            Some("1.17")
        );
        assert_eq!(
            line("org.apache.flink:flink-protobuf:1.20.0").as_deref(),
            Some("1.20")
        );
        assert_eq!(
            line("org.apache.flink:flink-sql-connector-postgres-cdc:3.5.0"),
            None
        );
        assert_eq!(line("org.postgresql:postgresql:42.7.8"), None);
    }

    #[test]
    fn needs_are_the_unbundled_identifiers_once_each() {
        let script = Script::parse_str(
            "CREATE CATALOG pg WITH ('type' = 'jdbc', 'base-url' = 'jdbc:postgresql://h/');
             CREATE TABLE a (x INT) WITH ('connector' = 'jdbc', 'url' = 'u', 'table-name' = 't');
             CREATE TABLE b (x INT) WITH ('connector' = '${C}', 'format' = 'protobuf');
             CREATE TABLE c (x INT) WITH ('connector' = 'kafka', 'format' = 'json');",
        )
        .unwrap();
        let values = vars::substitute(&script, &Vars::new([("C".into(), "jdbc".into())]));
        let needs = needs(&script, &values, Catalog::builtin());
        let got: Vec<(Kind, &str, usize)> = needs
            .iter()
            .map(|n| (n.kind, n.identifier.as_str(), n.statement))
            .collect();
        assert_eq!(
            got,
            [
                (Kind::Catalog, "jdbc", 0),
                (Kind::Connector, "jdbc", 1),
                (Kind::Format, "protobuf", 2)
            ]
        );
    }
}
