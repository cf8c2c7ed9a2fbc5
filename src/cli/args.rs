//! Flags shared by several subcommands, in one place: where SQL comes from, `--var`, the
//! cluster's addresses and target, and the value parsers they use. Each subcommand's module
//! owns only its own flags.

use std::path::PathBuf;

use clap::{ArgMatches, Args, ValueEnum};
use flinkit::config::Settings;
use flinkit::launch::{DEFAULT_FLINK_URL, DEFAULT_GATEWAY_URL, Target};
use flinkit::sql::Input;
use flinkit::vars::Vars;

use super::InvalidInput;

/// Where SQL comes from, shared by every command that reads SQL.
#[derive(Args, Debug, Clone)]
pub struct SqlArgs {
    /// SQL text, one argument each (split on its own); `-` reads standard input.
    #[arg(value_name = "STATEMENT")]
    pub statements: Vec<String>,
    /// SQL text (repeatable).
    #[arg(long = "sql", value_name = "TEXT")]
    pub sql: Vec<String>,
    /// A .sql file, or a folder searched recursively for .sql files (repeatable; `-` is stdin).
    #[arg(short = 'f', long = "file", value_name = "PATH")]
    pub files: Vec<PathBuf>,
}

impl SqlArgs {
    /// The inputs in the order they were given on the command line.
    pub fn inputs(&self, matches: &ArgMatches) -> Vec<Input> {
        let indices = |id: &str| -> Vec<usize> {
            matches
                .indices_of(id)
                .map(|i| i.collect())
                .unwrap_or_default()
        };
        let mut ordered: Vec<(usize, Input)> = Vec::new();
        let text = |s: &String| {
            if s == "-" {
                Input::Stdin
            } else {
                Input::Text(s.clone())
            }
        };
        ordered.extend(
            indices("statements")
                .into_iter()
                .zip(self.statements.iter().map(text)),
        );
        ordered.extend(
            indices("sql")
                .into_iter()
                .zip(self.sql.iter().map(|s| Input::Text(s.clone()))),
        );
        ordered.extend(indices("files").into_iter().zip(self.files.iter().map(|p| {
            if p.as_os_str() == "-" {
                Input::Stdin
            } else {
                Input::Path(p.clone())
            }
        })));
        ordered.sort_by_key(|(i, _)| *i);
        ordered.into_iter().map(|(_, input)| input).collect()
    }
}

/// `--var NAME=VALUE`, shared by every command that substitutes variables.
#[derive(Args, Debug, Clone)]
pub struct VarArgs {
    /// A value for `${NAME}` in option values (repeatable; wins over the environment).
    #[arg(long = "var", value_name = "NAME=VALUE", value_parser = KeyValue)]
    pub vars: Vec<(String, String)>,
}

impl VarArgs {
    /// The variables to substitute.
    pub fn vars(&self) -> Vars {
        Vars::new(self.vars.iter().cloned())
    }
}

/// Where jobs run, as flags; unset flags come from the settings (`FLINKIT_*`, `flinkit.toml`).
#[derive(Args, Debug, Clone, Default)]
pub struct ClusterArgs {
    /// The JobManager REST address (default: FLINKIT_FLINK_URL, flinkit.toml, else
    /// http://localhost:8081).
    #[arg(long, value_name = "URL", global = true, value_parser = super::values::http_url)]
    pub flink_url: Option<String>,
    /// The SQL Gateway address for `--target gateway` (default: FLINKIT_GATEWAY_URL,
    /// flinkit.toml, else http://localhost:8083).
    #[arg(long, value_name = "URL", global = true, value_parser = super::values::http_url)]
    pub gateway_url: Option<String>,
}

/// The cluster's addresses and the target, flags over settings over defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cluster {
    /// Where a job runs.
    pub target: Target,
    /// The JobManager REST address.
    pub flink_url: String,
    /// The SQL Gateway address.
    pub gateway_url: String,
}

impl ClusterArgs {
    /// Resolves the flags against the settings; `target` is the `--target` flag, if given.
    pub fn resolve(&self, target: Option<TargetArg>) -> anyhow::Result<Cluster> {
        let settings = Settings::load(None)?;
        let target = target
            .map(Target::from)
            .or(settings.cluster.target)
            .unwrap_or(Target::Local);
        // Flags were checked when parsed; addresses from the settings are checked here, before
        // anything connects.
        let checked = |url: String, what: &str| {
            super::values::http_url(&url)
                .map_err(|e| InvalidInput(format!("{what} (FLINKIT_* or flinkit.toml): {e}")))
        };
        Ok(Cluster {
            target,
            flink_url: checked(
                self.flink_url
                    .clone()
                    .or(settings.cluster.flink_url)
                    .unwrap_or_else(|| DEFAULT_FLINK_URL.into()),
                "the Flink URL",
            )?,
            gateway_url: checked(
                self.gateway_url
                    .clone()
                    .or(settings.cluster.gateway_url)
                    .unwrap_or_else(|| DEFAULT_GATEWAY_URL.into()),
                "the SQL Gateway URL",
            )?,
        })
    }
}

/// Where a job runs (the `--target` flag).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TargetArg {
    /// An embedded Flink MiniCluster in a child JVM on this machine.
    Local,
    /// A running cluster, through its JobManager REST API (--flink-url).
    Rest,
    /// A running cluster, through its SQL Gateway (--gateway-url).
    Gateway,
}

impl From<TargetArg> for Target {
    fn from(arg: TargetArg) -> Self {
        match arg {
            TargetArg::Local => Self::Local,
            TargetArg::Rest => Self::Rest,
            TargetArg::Gateway => Self::Gateway,
        }
    }
}

/// The parser of `KEY=VALUE` flags (`--var`, `-X`, `--set`, …): the name trimmed, the value
/// after the first `=`. Its error never repeats the argument, which may hold a secret
/// (`-X sasl.password:…` written without its `=`).
#[derive(Debug, Clone, Copy)]
pub struct KeyValue;

impl clap::builder::TypedValueParser for KeyValue {
    type Value = (String, String);

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<Self::Value, clap::Error> {
        value
            .to_str()
            .and_then(|text| text.split_once('='))
            .map(|(k, v)| (k.trim().to_string(), v.to_string()))
            .filter(|(k, _)| !k.is_empty())
            .ok_or_else(|| {
                let flag = arg
                    .map(ToString::to_string)
                    .unwrap_or_else(|| "KEY=VALUE".into());
                clap::Error::raw(
                    clap::error::ErrorKind::ValueValidation,
                    format!(
                        "{flag} takes KEY=VALUE: a name, `=`, then the value (the argument given \
                         is not shown, as it may hold a secret)\n"
                    ),
                )
                .with_cmd(cmd)
            })
    }
}

/// `--jar`: jars a script gets beyond the runner and the connectors flinkit fetches itself.
#[derive(Args, Debug, Clone, Default)]
pub struct JarArgs {
    /// A jar to add: a file, or a Maven artifact fetched into the cache (repeatable; after
    /// `jars` in flinkit.toml). Its connectors and formats are checked like the bundled ones.
    #[arg(long = "jar", value_name = "PATH|G:A:V", value_parser = super::values::jar)]
    pub jars: Vec<flinkit::connectors::resolve::JarSource>,
}

impl JarArgs {
    /// The settings' `jars`, then the flags'.
    pub fn resolve(&self) -> anyhow::Result<Vec<flinkit::connectors::resolve::JarSource>> {
        let mut jars = flinkit::config::Settings::load(None)?.jars;
        jars.extend(self.jars.iter().cloned());
        Ok(jars)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_value_keeps_its_value_as_given() {
        let command = clap::Command::new("t").arg(
            clap::Arg::new("kv")
                .long("kv")
                .value_parser(KeyValue)
                .action(clap::ArgAction::Append),
        );
        let matches = command
            .try_get_matches_from([
                "t",
                "--kv",
                " name = two words ",
                "--kv",
                "a=b=c",
                "--kv",
                "e=",
            ])
            .unwrap();
        let pairs: Vec<&(String, String)> = matches.get_many("kv").unwrap().collect();
        // A password may begin or end with a space, and hold an `=`.
        assert_eq!(
            pairs,
            [
                &("name".to_string(), " two words ".to_string()),
                &("a".to_string(), "b=c".to_string()),
                &("e".to_string(), String::new()),
            ]
        );
    }
}
