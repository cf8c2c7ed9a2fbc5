//! The Flink lines flinkit has a runner for — 1.20 (the default) and one 2.x line — and how a
//! line is chosen: asked for (`--flink-version 2`, `2.2`, `1.20`) or read from a cluster's
//! version (`/config`'s `flink-version`, the SQL Gateway's `/v1/info`). Each line has its own
//! runner jar (one Maven source, built with `-Dflink.line=…`), local runtime, stack and option
//! catalog; the versions come from `jars/pom.xml`.

use std::fmt;
use std::str::FromStr;

use crate::connectors::catalog::Catalog;
use crate::versions;

/// A Flink line flinkit runs scripts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum FlinkLine {
    /// Flink 1.20 (LTS): the default, with the Kafka and Pulsar connectors.
    #[default]
    V1_20,
    /// The newest Flink 2.x line Maven Central serves a Kafka connector for (2.2): Kafka only,
    /// as the Pulsar connector has no 2.x release.
    V2,
}

/// Why no line could be had.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LineError {
    /// `--flink-version` names a version flinkit has no runner for.
    #[error(
        "--flink-version {asked}: flinkit runs Flink {}; pass one of them (or `2` for the newest 2.x)",
        supported()
    )]
    Unsupported {
        /// What was asked for.
        asked: String,
    },
    /// A cluster runs a Flink line flinkit has no runner for.
    #[error(
        "{service} at {url} runs Flink {version}, a line flinkit has no runner for (it runs Flink {}); nothing was submitted",
        supported()
    )]
    NoRunner {
        /// `the cluster` or `the SQL Gateway`.
        service: &'static str,
        /// Its URL.
        url: String,
        /// The version it reported.
        version: String,
    },
    /// `--flink-version` disagrees with the cluster's own version.
    #[error(
        "--flink-version {asked}, but {service} at {url} runs Flink {version}; leave --flink-version out for a cluster, flinkit reads its version"
    )]
    Mismatch {
        /// What was asked for.
        asked: String,
        /// `the cluster` or `the SQL Gateway`.
        service: &'static str,
        /// Its URL.
        url: String,
        /// The version it reported.
        version: String,
    },
}

/// The lines, for messages: `1.20.3 and 2.2.0`.
fn supported() -> String {
    FlinkLine::ALL
        .iter()
        .map(|l| l.flink_version())
        .collect::<Vec<_>>()
        .join(" and ")
}

impl FlinkLine {
    /// Every line, the default first.
    pub const ALL: [FlinkLine; 2] = [FlinkLine::V1_20, FlinkLine::V2];

    /// The line's name: `1.20`, `2.2`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::V1_20 => "1.20",
            Self::V2 => versions::property("flink2.line").unwrap_or("2"),
        }
    }

    /// The Flink release the line's runner, runtime and stack are built from.
    pub fn flink_version(self) -> &'static str {
        match self {
            Self::V1_20 => versions::flink(),
            Self::V2 => versions::property("flink2.version").unwrap_or("unknown"),
        }
    }

    /// The Kafka connector the line's runner bundles.
    pub fn kafka_connector(self) -> &'static str {
        match self {
            Self::V1_20 => versions::kafka_connector(),
            Self::V2 => versions::property("flink2.kafka.connector.version").unwrap_or("unknown"),
        }
    }

    /// The Pulsar connector the line's runner bundles (none for 2.x).
    pub fn pulsar_connector(self) -> Option<&'static str> {
        match self {
            Self::V1_20 => Some(versions::pulsar_connector()),
            Self::V2 => None,
        }
    }

    /// Whether this is the default line (whose cache folders keep their old names).
    pub fn is_default(self) -> bool {
        self == Self::default()
    }

    /// The Maven arguments that build the line's jars from `jars/` (its profile).
    pub fn maven_args(self) -> Vec<String> {
        match self {
            Self::V1_20 => Vec::new(),
            Self::V2 => vec![format!("-Dflink.line={}", self.as_str())],
        }
    }

    /// The options of the connectors and formats the line's runner bundles.
    pub fn catalog(self) -> &'static Catalog {
        match self {
            Self::V1_20 => Catalog::builtin(),
            Self::V2 => Catalog::builtin_2(),
        }
    }

    /// The line a cluster reporting `version` (`1.20.3`, `2.2.0`) runs, if flinkit has a
    /// runner for it. `service` and `url` name it in the error.
    pub fn of_cluster(version: &str, service: &'static str, url: &str) -> Result<Self, LineError> {
        Self::ALL
            .into_iter()
            .find(|l| same_line(version, l.flink_version()))
            .ok_or_else(|| LineError::NoRunner {
                service,
                url: url.to_string(),
                version: version.to_string(),
            })
    }
}

/// Whether two versions share their first two numbers (`2.2.0` and `2.2.1`).
fn same_line(a: &str, b: &str) -> bool {
    let line = |v: &str| v.split('.').take(2).map(str::to_string).collect::<Vec<_>>();
    let (a, b) = (line(a), line(b));
    a.len() == 2 && a == b
}

impl fmt::Display for FlinkLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for FlinkLine {
    type Err = LineError;

    /// `2` is the newest supported 2.x line; `1.20`, `2.2` a line; `1.20.3`, `2.2.0` a release
    /// of one (any release of the line: the runner is built for the line).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let asked = s.trim();
        let unsupported = || LineError::Unsupported {
            asked: s.to_string(),
        };
        let parts: Vec<&str> = asked.split('.').collect();
        if parts.is_empty()
            || parts.len() > 3
            || parts
                .iter()
                .any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(unsupported());
        }
        if parts.len() == 1 {
            return Self::ALL
                .into_iter()
                .rev()
                .find(|l| l.as_str().split('.').next() == Some(parts[0]))
                .ok_or_else(unsupported);
        }
        Self::ALL
            .into_iter()
            .find(|l| same_line(asked, l.flink_version()))
            .ok_or_else(unsupported)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_asked_for_by_major_line_or_release() {
        assert_eq!("2".parse::<FlinkLine>(), Ok(FlinkLine::V2));
        assert_eq!("2.2".parse::<FlinkLine>(), Ok(FlinkLine::V2));
        assert_eq!("2.2.0".parse::<FlinkLine>(), Ok(FlinkLine::V2));
        assert_eq!("1.20".parse::<FlinkLine>(), Ok(FlinkLine::V1_20));
        assert_eq!("1".parse::<FlinkLine>(), Ok(FlinkLine::V1_20));
        assert_eq!(FlinkLine::default(), FlinkLine::V1_20);
        for bad in ["2.1", "1.19", "3", "", "2.x", "2..2", "1.20.3.1"] {
            let err = bad.parse::<FlinkLine>().unwrap_err();
            assert!(err.to_string().contains("1.20.3 and 2.2.0"), "{bad}: {err}");
        }
    }

    #[test]
    fn a_clusters_version_picks_its_line_or_is_refused() {
        assert_eq!(
            FlinkLine::of_cluster("1.20.1", "the cluster", "http://x"),
            Ok(FlinkLine::V1_20)
        );
        assert_eq!(
            FlinkLine::of_cluster("2.2.1", "the cluster", "http://x"),
            Ok(FlinkLine::V2)
        );
        let err = FlinkLine::of_cluster("2.1.0", "the cluster", "http://x").unwrap_err();
        assert_eq!(
            err.to_string(),
            "the cluster at http://x runs Flink 2.1.0, a line flinkit has no runner for (it runs Flink 1.20.3 and 2.2.0); nothing was submitted"
        );
        assert!(FlinkLine::of_cluster("unknown", "the cluster", "http://x").is_err());
    }

    #[test]
    fn each_line_has_its_versions_and_catalog() {
        assert_eq!(FlinkLine::V2.as_str(), "2.2");
        assert!(FlinkLine::V2.kafka_connector().ends_with("-2.2"));
        assert_eq!(FlinkLine::V2.pulsar_connector(), None);
        assert!(FlinkLine::V2.catalog().flink_version.starts_with("2.2."));
        assert!(FlinkLine::V2.catalog().connector("pulsar").is_none());
        assert!(FlinkLine::V2.catalog().connector("upsert-kafka").is_some());
        assert!(FlinkLine::V1_20.catalog().connector("pulsar").is_some());
        assert_eq!(FlinkLine::V2.maven_args(), ["-Dflink.line=2.2"]);
    }
}
