//! Settings, loaded one way for every command: built-in defaults, then the user's config file
//! (`$XDG_CONFIG_HOME/flinkit/config.toml`, else `~/.config/flinkit/config.toml`), then the
//! project's `./flinkit.toml` (or the file given with `--config`), then `FLINKIT_*` environment
//! variables; command-line flags win over all of them. The `[cluster]` section gives the default
//! target and the Flink REST and SQL Gateway addresses, `[stack]` the local stack's ports,
//! top-level `jars` the connector or user jars every script gets, `[bridge.kafka]` and
//! `[bridge.pulsar]` the client settings (credentials by `${VAR}`) of the bridge's connections.
//! Also where flinkit keeps its state and cache. Layering is figment's; the XDG folders are
//! etcetera's.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use etcetera::BaseStrategy;
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

use crate::bridge::Broker;
use crate::launch::Target;
use crate::stack::Ports;

/// The `[cluster]` section.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Cluster {
    /// `local`, `rest` or `gateway` (`FLINKIT_TARGET`).
    pub target: Option<Target>,
    /// The JobManager REST address (`FLINKIT_FLINK_URL`).
    pub flink_url: Option<String>,
    /// The SQL Gateway address (`FLINKIT_GATEWAY_URL`).
    pub gateway_url: Option<String>,
}

/// The `[bridge]` section: the client settings every Kafka (`[bridge.kafka]`, librdkafka
/// properties) or Pulsar (`[bridge.pulsar]`, the keys `-X` takes) connection of `produce`,
/// `consume` and `run` starts with; a table's own properties and `-X` flags come after and
/// win. A value may name environment variables (`"sasl.password" = "${KAFKA_PASSWORD}"`), so
/// that no file holds a secret.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Bridge {
    /// librdkafka properties for every Kafka connection.
    #[serde(default)]
    pub kafka: BTreeMap<String, String>,
    /// Pulsar client settings for every Pulsar connection.
    #[serde(default)]
    pub pulsar: BTreeMap<String, String>,
}

impl Bridge {
    /// The settings for `broker`, each `${NAME}` replaced by the environment variable's value
    /// (none for a jdbc table).
    pub fn settings(&self, broker: Broker) -> Result<Vec<(String, String)>, ConfigError> {
        let table = match broker {
            Broker::Kafka => &self.kafka,
            Broker::Pulsar => &self.pulsar,
            _ => return Ok(Vec::new()),
        };
        table
            .iter()
            .map(|(key, value)| Ok((key.clone(), expand(key, value)?)))
            .collect()
    }
}

/// `value` with each `${NAME}` replaced by the variable's value.
fn expand(key: &str, value: &str) -> Result<String, ConfigError> {
    let problem = |problem: String| ConfigError::Variable {
        setting: key.to_string(),
        problem,
    };
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find('}')
            .ok_or_else(|| problem("`${` without its closing `}`".to_string()))?;
        let name = &after[..end];
        let found = std::env::var(name).map_err(|_| {
            problem(format!(
                "${{{name}}} has no value: set {name} in the environment"
            ))
        })?;
        out.push_str(&found);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Every setting, after layering.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Where jobs run.
    #[serde(default)]
    pub cluster: Cluster,
    /// The local stack's ports.
    #[serde(default)]
    pub stack: Ports,
    /// The secure stack's ports (`flinkit stack up --secure`).
    #[serde(default = "Ports::secure_default")]
    pub secure_stack: Ports,
    /// Jars every script gets (`jars = ["lib/my-connector.jar", "GROUP:ARTIFACT:VERSION"]`),
    /// before the `--jar` flags.
    #[serde(default)]
    pub jars: Vec<crate::connectors::resolve::JarSource>,
    /// Client settings for the bridge's connections.
    #[serde(default)]
    pub bridge: Bridge,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            cluster: Cluster::default(),
            stack: Ports::default(),
            secure_stack: Ports::secure_default(),
            jars: Vec::new(),
            bridge: Bridge::default(),
        }
    }
}

/// The environment variables that are settings, and the keys they set.
const ENV_KEYS: [(&str, &str); 3] = [
    ("TARGET", "cluster.target"),
    ("FLINK_URL", "cluster.flink_url"),
    ("GATEWAY_URL", "cluster.gateway_url"),
];

/// Why settings could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A file or variable holds something that is not a setting, or a bad value.
    #[error("settings: {0}")]
    Invalid(#[source] Box<figment::Error>),
    /// The file given explicitly does not exist.
    #[error("{}: no such file", .0.display())]
    Missing(PathBuf),
    /// A `[bridge]` setting names a variable that has no value, or is malformed.
    #[error("flinkit.toml [bridge] setting `{setting}`: {problem}")]
    Variable {
        /// The setting's key.
        setting: String,
        /// What is wrong.
        problem: String,
    },
    /// No folder for state or cache: `HOME` is not set.
    #[error("no {what} directory: set {variable}")]
    NoDir {
        /// `state` or `cache`.
        what: &'static str,
        /// The variable that sets it.
        variable: &'static str,
    },
}

impl ConfigError {
    /// Whether the user's files or variables are at fault.
    pub fn is_invalid_input(&self) -> bool {
        matches!(
            self,
            Self::Invalid(_) | Self::Missing(_) | Self::Variable { .. }
        )
    }
}

impl Settings {
    /// Loads the settings: defaults < user file < `project` (else `./flinkit.toml`, when it
    /// exists) < `FLINKIT_*` variables. A `project` file given explicitly must exist.
    pub fn load(project: Option<&Path>) -> Result<Self, ConfigError> {
        if let Some(path) = project
            && !path.exists()
        {
            return Err(ConfigError::Missing(path.to_path_buf()));
        }
        Figment::from(Serialized::defaults(Settings::default()))
            .merge(files(project))
            .merge(Env::prefixed("FLINKIT_").filter_map(|key| {
                ENV_KEYS
                    .iter()
                    .find(|(name, _)| key.as_str().eq_ignore_ascii_case(name))
                    .map(|(_, setting)| (*setting).into())
            }))
            .extract()
            .map_err(|e| ConfigError::Invalid(Box::new(e)))
    }

    /// Whether the user's file or the project's (`project`, else `./flinkit.toml`) has a
    /// `[stack]` section: without one, the ports are the defaults, and a stack started elsewhere
    /// is found by its state directory ([`crate::stack::Stack::from_env`]).
    pub fn stack_configured(project: Option<&Path>) -> bool {
        files(project).contains("stack")
    }
}

/// The settings files, lowest first: the user's, then the project's.
fn files(project: Option<&Path>) -> Figment {
    let mut figment = Figment::new();
    if let Some(user) = user_file() {
        figment = figment.merge(Toml::file(user));
    }
    figment.merge(Toml::file(project.unwrap_or(Path::new("flinkit.toml"))))
}

/// The user's config file, `$XDG_CONFIG_HOME/flinkit/config.toml` (or under `~/.config`).
pub fn user_file() -> Option<PathBuf> {
    etcetera::choose_base_strategy()
        .ok()
        .map(|dirs| dirs.config_dir().join("flinkit").join("config.toml"))
}

fn var(name: &str) -> Option<PathBuf> {
    std::env::var_os(name)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// Where flinkit keeps state (the stack's processes and data, local runs):
/// `$FLINKIT_STATE_DIR`, else `$XDG_STATE_HOME/flinkit`, else `~/.local/state/flinkit`.
pub fn state_dir() -> Result<PathBuf, ConfigError> {
    var("FLINKIT_STATE_DIR")
        .or_else(|| {
            etcetera::choose_base_strategy()
                .ok()
                .and_then(|dirs| dirs.state_dir())
                .map(|d| d.join("flinkit"))
        })
        .ok_or(ConfigError::NoDir {
            what: "state",
            variable: "FLINKIT_STATE_DIR",
        })
}

/// Where flinkit caches runner jars and Flink runtimes: `$FLINKIT_CACHE_DIR`, else
/// `$XDG_CACHE_HOME/flinkit`, else `~/.cache/flinkit`.
pub fn cache_dir() -> Result<PathBuf, ConfigError> {
    var("FLINKIT_CACHE_DIR")
        .or_else(|| {
            etcetera::choose_base_strategy()
                .ok()
                .map(|dirs| dirs.cache_dir().join("flinkit"))
        })
        .ok_or(ConfigError::NoDir {
            what: "cache",
            variable: "FLINKIT_CACHE_DIR",
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[expect(
        clippy::result_large_err,
        reason = "figment::Jail's closure returns figment's own error type"
    )]
    fn bridge_settings_come_from_the_file_with_variables_from_the_environment() {
        figment::Jail::expect_with(|jail| {
            jail.clear_env();
            jail.set_env("XDG_CONFIG_HOME", jail.directory().join("user").display());
            jail.create_file(
                "flinkit.toml",
                "[bridge.kafka]\n\
                 \"security.protocol\" = \"SASL_SSL\"\n\
                 \"sasl.password\" = \"${FLINKIT_TEST_PW}\"\n\
                 [bridge.pulsar]\n\
                 \"auth.token\" = \"tok-${FLINKIT_TEST_TOKEN}-end\"\n",
            )?;
            let bridge = Settings::load(None).unwrap().bridge;
            let missing = bridge.settings(Broker::Kafka).unwrap_err();
            assert!(missing.is_invalid_input());
            assert_eq!(
                missing.to_string(),
                "flinkit.toml [bridge] setting `sasl.password`: ${FLINKIT_TEST_PW} has no value: \
                 set FLINKIT_TEST_PW in the environment"
            );
            jail.set_env("FLINKIT_TEST_PW", "s3cret");
            jail.set_env("FLINKIT_TEST_TOKEN", "abc");
            assert_eq!(
                bridge.settings(Broker::Kafka).unwrap(),
                [
                    ("sasl.password".to_string(), "s3cret".to_string()),
                    ("security.protocol".to_string(), "SASL_SSL".to_string()),
                ]
            );
            assert_eq!(
                bridge.settings(Broker::Pulsar).unwrap(),
                [("auth.token".to_string(), "tok-abc-end".to_string())]
            );
            assert!(bridge.settings(Broker::Jdbc).unwrap().is_empty());
            jail.create_file("flinkit.toml", "[bridge.kafka]\nx = \"${OPEN\"\n")?;
            let err = Settings::load(None).unwrap().bridge.settings(Broker::Kafka);
            assert!(err.unwrap_err().to_string().contains("without its closing"));
            Ok(())
        });
    }

    #[test]
    #[expect(
        clippy::result_large_err,
        reason = "figment::Jail's closure returns figment's own error type"
    )]
    fn files_and_variables_layer_over_the_defaults() {
        figment::Jail::expect_with(|jail| {
            // The variables of the shell running the tests (a FLINKIT_FLINK_URL pointing at a
            // stack, say) must not leak into what this test layers.
            jail.clear_env();
            jail.set_env("XDG_CONFIG_HOME", jail.directory().join("user").display());
            std::fs::create_dir_all(jail.directory().join("user/flinkit")).unwrap();
            jail.create_file(
                "user/flinkit/config.toml",
                "[cluster]\ntarget = \"gateway\"\nflink_url = \"http://user:8081\"\n",
            )?;
            assert_eq!(
                Settings::load(None).unwrap().cluster.target,
                Some(Target::Gateway)
            );
            jail.create_file(
                "flinkit.toml",
                "[stack]\nflink_port = 18081\n\n[cluster]\ntarget = \"rest\"\n",
            )?;
            let settings = Settings::load(None).unwrap();
            assert_eq!(settings.cluster.target, Some(Target::Rest));
            assert_eq!(
                settings.cluster.flink_url.as_deref(),
                Some("http://user:8081")
            );
            assert_eq!(settings.stack.flink_port, 18081);
            assert_eq!(settings.stack.kafka_port, Ports::default().kafka_port);
            jail.set_env("FLINKIT_FLINK_URL", "http://env:8081");
            jail.set_env("FLINKIT_KAFKA_URL", "not a setting here");
            let settings = Settings::load(None).unwrap();
            assert_eq!(
                settings.cluster.flink_url.as_deref(),
                Some("http://env:8081")
            );
            jail.set_env("FLINKIT_TARGET", "yarn");
            let err = Settings::load(None).unwrap_err();
            assert!(
                err.is_invalid_input() && err.to_string().contains("yarn"),
                "{err}"
            );
            jail.set_env("FLINKIT_TARGET", "rest");
            jail.create_file("flinkit.toml", "[cluster]\nflink_ulr = \"x\"\n")?;
            let err = Settings::load(None).unwrap_err();
            assert!(err.is_invalid_input());
            assert!(err.to_string().contains("flink_ulr"), "{err}");
            assert!(matches!(
                Settings::load(Some(Path::new("nope.toml"))),
                Err(ConfigError::Missing(_))
            ));
            Ok(())
        });
    }
}
