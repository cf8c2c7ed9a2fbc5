//! What `produce` and `consume` share: naming the topic (`kafka|pulsar TOPIC`, or `--table NAME`
//! with the table's SQL — a jdbc table's is its database table), the endpoint and its client
//! settings.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};
use flinkit::bridge::table::TableSpec;
use flinkit::bridge::{Broker, Endpoint};
use flinkit::config::Settings;
use flinkit::sql::{Input, Script};
use flinkit::vars;

use super::InvalidInput;
use super::args::VarArgs;

/// The broker named on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BrokerArg {
    /// Apache Kafka.
    Kafka,
    /// Apache Pulsar.
    Pulsar,
}

/// Which topic, where: shared by `produce` and `consume`.
#[derive(Args, Debug, Clone)]
pub struct TopicArgs {
    /// `kafka` or `pulsar` (not needed with --table).
    #[arg(value_enum, value_name = "BROKER", required_unless_present = "table")]
    pub broker: Option<BrokerArg>,
    /// The topic (with --table: overrides the table's topic, or a jdbc table's 'table-name').
    #[arg(value_name = "TOPIC")]
    pub topics: Vec<String>,
    /// Take topic, endpoint, key and formats from this table's CREATE TABLE (needs -f or --sql);
    /// a 'connector' = 'jdbc' table's rows go to (and come from) its PostgreSQL table.
    #[arg(long, value_name = "NAME")]
    pub table: Option<String>,
    /// With --table: the SQL file or folder holding the CREATE TABLE (repeatable).
    #[arg(
        short = 'f',
        long = "sql-file",
        value_name = "PATH",
        requires = "table"
    )]
    pub sql_files: Vec<PathBuf>,
    /// With --table: SQL text holding the CREATE TABLE (repeatable).
    #[arg(long = "sql", value_name = "TEXT", requires = "table")]
    pub sql: Vec<String>,
    #[command(flatten)]
    pub vars: VarArgs,
    /// Broker address: Kafka bootstrap servers, a Pulsar service URL or a jdbc table's JDBC URL
    /// (default: the table's, else $FLINKIT_KAFKA_URL / $FLINKIT_PULSAR_URL, else the local
    /// stack's).
    #[arg(long, value_name = "ADDRESS", value_parser = super::values::endpoint)]
    pub endpoint: Option<String>,
    /// A client setting: any librdkafka property for Kafka (`-X compression.type=lz4`); for
    /// Pulsar batch.size, batch.bytes, batch.delay.ms, compression, max.pending, auth.token; for
    /// a jdbc table username, password.
    #[arg(short = 'X', value_name = "KEY=VALUE", value_parser = super::args::KeyValue)]
    pub settings: Vec<(String, String)>,
    /// How long to wait for the broker to answer at the start.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = super::values::duration)]
    pub connect_timeout: Duration,
}

/// The resolved target of a produce or consume.
pub struct Target {
    /// The broker and its client settings.
    pub endpoint: Endpoint,
    /// The topics.
    pub topics: Vec<String>,
    /// The table, in table mode.
    pub table: Option<TableSpec>,
}

impl Target {
    /// Readies the table's formats before any record is read or sent: an `avro-confluent`
    /// table's schemas are registered (`writing`) or its registry reached (reading). A
    /// registry that does not answer is a runtime failure (exit 1); one that refuses the
    /// table's schema (incompatible with the subject's) is the input's fault (exit 2).
    pub fn ready_formats(&self, writing: bool) -> anyhow::Result<()> {
        let Some(table) = &self.table else {
            return Ok(());
        };
        let ready = if writing {
            table.prepare_writing()
        } else {
            table.prepare_reading()
        };
        ready.map_err(|err| {
            if err.is_invalid_input() {
                anyhow::Error::new(InvalidInput(format!("table `{}`: {err}", table.name)))
            } else {
                anyhow::Error::new(err).context(format!("table `{}`", table.name))
            }
        })
    }
}

impl TopicArgs {
    /// Reads the table (if any) and works out endpoint and topics.
    pub fn resolve(&self) -> anyhow::Result<Target> {
        let table = match &self.table {
            None => None,
            Some(name) => {
                let mut inputs: Vec<Input> = self
                    .sql_files
                    .iter()
                    .map(|p| {
                        if p.as_os_str() == "-" {
                            Input::Stdin
                        } else {
                            Input::Path(p.clone())
                        }
                    })
                    .collect();
                inputs.extend(self.sql.iter().cloned().map(Input::Text));
                if inputs.is_empty() {
                    return Err(InvalidInput(format!(
                        "--table {name} needs the SQL that creates it: -f FILE or --sql TEXT"
                    ))
                    .into());
                }
                let script = Script::from_inputs(&inputs)?;
                let values = vars::substitute(&script, &self.vars.vars());
                if let Some(undefined) = values.undefined.first() {
                    return Err(InvalidInput(format!(
                        "${{{}}} has no value: pass --var {}=… or set it in the environment",
                        undefined.name, undefined.name
                    ))
                    .into());
                }
                if let Some(malformed) = values.malformed.first() {
                    let stmt = &script.statements[malformed.statement];
                    let at = script.source_of(stmt).position(malformed.span.start);
                    return Err(InvalidInput(format!(
                        "{}:{}:{}: {}",
                        script.source_of(stmt).name(),
                        at.line,
                        at.column,
                        malformed.problem
                    ))
                    .into());
                }
                Some(TableSpec::from_script(&script, &values, name)?)
            }
        };
        if let (Some(broker), Some(table)) = (self.broker, &table) {
            let named = match broker {
                BrokerArg::Kafka => Broker::Kafka,
                BrokerArg::Pulsar => Broker::Pulsar,
            };
            if named != table.endpoint.broker {
                return Err(InvalidInput(format!(
                    "table `{}` is on {}, not {named}",
                    table.name, table.endpoint.broker
                ))
                .into());
            }
        }
        let mut endpoint = match (&table, self.broker) {
            (Some(table), _) => table.endpoint.clone(),
            (None, Some(BrokerArg::Kafka)) => Endpoint {
                address: env_or("FLINKIT_KAFKA_URL", Endpoint::local_kafka().address),
                ..Endpoint::local_kafka()
            },
            (None, Some(BrokerArg::Pulsar)) => Endpoint {
                address: env_or("FLINKIT_PULSAR_URL", Endpoint::local_pulsar().address),
                ..Endpoint::local_pulsar()
            },
            (None, None) => {
                return Err(InvalidInput("name kafka or pulsar, or --table".into()).into());
            }
        };
        if let Some(address) = &self.endpoint {
            endpoint.address.clone_from(address);
        }
        // flinkit.toml's [bridge] settings first: the table's properties and -X win.
        let mut settings = Settings::load(None)?.bridge.settings(endpoint.broker)?;
        settings.append(&mut endpoint.settings);
        settings.extend(self.settings.iter().cloned());
        endpoint.settings = settings;
        let topics = if self.topics.is_empty() {
            match &table {
                Some(table) => table.topics.clone(),
                None => {
                    return Err(InvalidInput("name the topic: kafka|pulsar TOPIC".into()).into());
                }
            }
        } else {
            self.topics.clone()
        };
        for topic in &topics {
            check_topic(endpoint.broker, topic)?;
        }
        Ok(Target {
            endpoint,
            topics,
            table,
        })
    }
}

/// Refuses a topic name the broker would refuse, before anything connects: Kafka takes 1 to 249
/// ASCII letters, digits, `.`, `_` and `-` (not `.` or `..`); Pulsar a name without white space
/// or control characters. A jdbc table's name is the database's to judge.
fn check_topic(broker: Broker, topic: &str) -> Result<(), InvalidInput> {
    let problem = match broker {
        Broker::Kafka => {
            let legal = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
            if topic.is_empty() || topic.len() > 249 || topic == "." || topic == ".." {
                Some("a Kafka topic name is 1 to 249 characters, and not `.` or `..`")
            } else if !topic.chars().all(legal) {
                Some("a Kafka topic name holds only ASCII letters, digits, `.`, `_` and `-`")
            } else {
                None
            }
        }
        Broker::Pulsar if topic.is_empty() => Some("a Pulsar topic name is not empty"),
        Broker::Pulsar if topic.chars().any(|c| c.is_whitespace() || c.is_control()) => {
            Some("a Pulsar topic name holds no white space or control characters")
        }
        _ => None,
    };
    match problem {
        Some(problem) => Err(InvalidInput(format!(
            "`{}` is not a topic {broker} accepts: {problem}",
            topic.escape_debug()
        ))),
        None => Ok(()),
    }
}

impl Target {
    /// `kafka localhost:9092 topic users`, for messages.
    pub fn describe(&self) -> String {
        format!(
            "{} {} {} {}",
            self.endpoint.broker,
            self.endpoint.shown(),
            if self.endpoint.broker == Broker::Jdbc {
                "table"
            } else {
                "topic"
            },
            self.topics.join(",")
        )
    }
}

fn env_or(name: &str, default: String) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or(default)
}

/// Opens a file for reading, or stdin for `-`.
pub fn open_input(path: &std::path::Path) -> anyhow::Result<Box<dyn std::io::BufRead>> {
    if path.as_os_str() == "-" {
        return Ok(Box::new(std::io::stdin().lock()));
    }
    let file = std::fs::File::open(path).map_err(|e| {
        anyhow::Error::new(e).context(InvalidInput(format!("cannot read {}", path.display())))
    })?;
    Ok(Box::new(std::io::BufReader::with_capacity(1 << 16, file)))
}
