//! The Kafka, Pulsar and JDBC bridge: producing records into the topics (or database tables)
//! behind tables and reading them back, with upsert semantics (keys, tombstones, the latest
//! value per key).
//!
//! The transports ([`kafka`], [`pulsar`], and [`jdbc`] for PostgreSQL tables, whose records
//! are rows in JSON) move bytes: a [`Producer`] sends [`OutRecord`]s and
//! reports each one's acknowledgement, a [`Consumer`] yields [`InRecord`]s. Everything that
//! knows about tables lives beside them: [`table`] derives topic, endpoint, key fields and
//! formats from a `CREATE TABLE`, [`types`] checks JSON values against Flink types, [`codec`]
//! encodes and decodes keys and values, [`input`] reads JSON lines, [`generate`] makes records
//! from a schema, [`upsert`] materializes the latest value per key, [`spool`] checks and encodes
//! a whole input before anything is sent, and [`produce`] drives a producer over an input with
//! delivery tracking.
//!
//! Async programs use [`client`]: a producer whose `send` resolves on delivery, a consumer
//! that is a `Stream`, their table-aware forms, and [`upsert::UpsertView`] fed from them.

pub mod client;
pub mod codec;
pub mod format;
pub mod generate;
pub mod input;
pub mod jdbc;
pub mod kafka;
mod kafka_security;
pub mod produce;
pub mod pulsar;
pub mod spool;
pub mod table;
pub mod types;
pub mod upsert;

use std::fmt;
use std::time::Duration;

/// The broker family of a topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Broker {
    /// Apache Kafka (through librdkafka).
    Kafka,
    /// Apache Pulsar (through the `pulsar` crate).
    Pulsar,
    /// A PostgreSQL database behind a `jdbc` table (through `tokio-postgres`).
    Jdbc,
}

impl Broker {
    /// `kafka` or `pulsar`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Kafka => "kafka",
            Self::Pulsar => "pulsar",
            Self::Jdbc => "jdbc",
        }
    }
}

impl fmt::Display for Broker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a broker is and how to talk to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// Which broker.
    pub broker: Broker,
    /// Kafka bootstrap servers (`host:port,…`), a Pulsar service URL (`pulsar://host:port`) or
    /// a JDBC URL (`jdbc:postgresql://host:port/database`, which may hold a password: show it
    /// with [`Endpoint::shown`]).
    pub address: String,
    /// Client settings: librdkafka properties for Kafka; for Pulsar the keys listed in
    /// [`pulsar::SETTINGS`]; for JDBC [`jdbc::SETTINGS`]. Values may be secrets: never print
    /// them.
    pub settings: Vec<(String, String)>,
}

impl Endpoint {
    /// The local stack's Kafka (`localhost:9092`).
    pub fn local_kafka() -> Self {
        Self {
            broker: Broker::Kafka,
            address: "localhost:9092".into(),
            settings: Vec::new(),
        }
    }

    /// The local stack's Pulsar (`pulsar://localhost:6650`).
    pub fn local_pulsar() -> Self {
        Self {
            broker: Broker::Pulsar,
            address: "pulsar://localhost:6650".into(),
            settings: Vec::new(),
        }
    }

    /// The address to show: a JDBC URL's `password=` masked.
    pub fn shown(&self) -> String {
        match self.broker {
            Broker::Jdbc => jdbc::shown_url(&self.address),
            _ => self.address.clone(),
        }
    }

    /// The endpoint with one more client setting (later settings win).
    pub fn with_setting(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.settings.push((key.into(), value.into()));
        self
    }
}

/// One record to send. A `value` of `None` is a tombstone: for Kafka a null value, for Pulsar
/// a message with its key and an empty payload (how `upsert-pulsar` reads a DELETE).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OutRecord {
    /// The message key.
    pub key: Option<Vec<u8>>,
    /// The payload; `None` for a tombstone.
    pub value: Option<Vec<u8>>,
    /// Headers (Kafka) or properties (Pulsar).
    pub properties: Vec<(String, String)>,
    /// Record timestamp (Kafka) or event time (Pulsar), milliseconds since the epoch.
    pub timestamp: Option<i64>,
}

/// Where a record was read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Position {
    /// A Kafka partition and offset.
    Kafka {
        /// The partition.
        partition: i32,
        /// The offset in it.
        offset: i64,
    },
    /// A Pulsar message id, as `ledger:entry:partition:batch_index`.
    Pulsar {
        /// The message id.
        message_id: String,
    },
    /// A database table's row, counted from 1 in the order read (by primary key).
    Row {
        /// The row's number.
        row: u64,
    },
}

/// One record read from a topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InRecord {
    /// The topic it came from.
    pub topic: String,
    /// The message key (Pulsar keys that were sent base64-encoded are decoded).
    pub key: Option<Vec<u8>>,
    /// The payload; `None` for a tombstone (Kafka null value, Pulsar empty payload).
    pub value: Option<Vec<u8>>,
    /// Headers (Kafka) or properties (Pulsar), in order.
    pub properties: Vec<(String, String)>,
    /// Record timestamp (Kafka) or event time, else publish time (Pulsar), ms since the epoch.
    pub timestamp: Option<i64>,
    /// Partition and offset, or message id.
    pub position: Position,
    /// Pulsar: the version of the topic's registered schema its producer announced (`None`
    /// for a producer that announced none, and for Kafka and tables).
    pub schema_version: Option<i64>,
}

/// The outcome of one sent record.
#[derive(Debug)]
pub struct Ack {
    /// The sequence number given to [`Producer::send`].
    pub seq: u64,
    /// `Ok` once the broker acknowledged it, else why it failed.
    pub result: Result<(), BridgeError>,
}

/// A producer for one topic. Sending is asynchronous: [`Producer::send`] queues a record and
/// acknowledgements come back through [`Producer::poll`] and [`Producer::flush`].
pub trait Producer {
    /// Queues one record, waiting (while serving acknowledgements) when the client's queue is
    /// full. `seq` is the caller's number for the record, returned in its [`Ack`]. An `Err`
    /// means the record was not queued: no `Ack` follows for it.
    fn send(
        &mut self,
        seq: u64,
        record: OutRecord,
        acks: &mut dyn FnMut(Ack),
    ) -> Result<(), BridgeError>;

    /// Hands over the acknowledgements that arrived, waiting at most `timeout` for one.
    fn poll(&mut self, timeout: Duration, acks: &mut dyn FnMut(Ack));

    /// Waits until every queued record is acknowledged or failed, at most `timeout`. Records
    /// still unacknowledged then are reported through `acks` as failed, and the result is
    /// `Err(BridgeError::Timeout)`.
    fn flush(&mut self, timeout: Duration, acks: &mut dyn FnMut(Ack)) -> Result<(), BridgeError>;

    /// The topic written to.
    fn topic(&self) -> &str;
}

/// Where a consumer starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StartAt {
    /// The oldest retained record.
    #[default]
    Earliest,
    /// Only records written after the consumer starts.
    Latest,
    /// The first record at or after this time, milliseconds since the epoch (Kafka:
    /// offsets for times; Pulsar: seek by publish time).
    Timestamp(i64),
}

/// How a consumer reads.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConsumeOptions {
    /// Where to start.
    pub start: StartAt,
    /// Keep waiting for new records at the end instead of stopping there.
    pub follow: bool,
    /// Kafka consumer group / Pulsar subscription name: reading starts from its committed
    /// position and [`Consumer::commit`] moves it. Partitions are not shared among members
    /// (each consumer reads every partition). Without it nothing is committed and nothing
    /// durable is left on the broker.
    pub group: Option<String>,
}

/// What [`Consumer::next`] found.
#[derive(Debug)]
pub enum Next {
    /// A record.
    Record(Box<InRecord>),
    /// Nothing arrived within the timeout.
    Idle,
    /// Not following, and every record that existed when the consumer started was read.
    End,
}

/// A consumer of one or more topics.
pub trait Consumer {
    /// The next record, waiting at most `timeout`.
    fn next(&mut self, timeout: Duration) -> Result<Next, BridgeError>;

    /// Commits what was read (only with a group); a no-op otherwise.
    fn commit(&mut self) -> Result<(), BridgeError>;
}

/// Opens a producer for `topic` (a JDBC table's `table-name`) at `endpoint`, checking that the
/// broker answers within `timeout` (and that the database has the table).
pub fn producer(
    endpoint: &Endpoint,
    topic: &str,
    timeout: Duration,
) -> Result<Box<dyn Producer>, BridgeError> {
    match endpoint.broker {
        Broker::Kafka => Ok(Box::new(kafka::KafkaProducer::new(
            endpoint, topic, timeout,
        )?)),
        Broker::Pulsar => Ok(Box::new(pulsar::PulsarProducer::new(
            endpoint, topic, timeout,
        )?)),
        Broker::Jdbc => Ok(Box::new(jdbc::JdbcProducer::new(endpoint, topic, timeout)?)),
    }
}

/// Opens a consumer of `topics` at `endpoint`, checking that the broker answers within
/// `timeout`. A database table (a JDBC endpoint, one topic: its `table-name`) is read through
/// `table`, whose columns its rows become.
pub fn consumer(
    endpoint: &Endpoint,
    topics: &[String],
    table: Option<&table::TableSpec>,
    options: &ConsumeOptions,
    timeout: Duration,
) -> Result<Box<dyn Consumer>, BridgeError> {
    match endpoint.broker {
        Broker::Kafka => Ok(Box::new(kafka::KafkaConsumer::new(
            endpoint, topics, options, timeout,
        )?)),
        Broker::Pulsar => Ok(Box::new(pulsar::PulsarConsumer::new(
            endpoint, topics, options, timeout,
        )?)),
        Broker::Jdbc => {
            let [name] = topics else {
                return Err(BridgeError::Setting {
                    key: "table-name".into(),
                    message: format!("one database table is read at a time, not {}", topics.len()),
                });
            };
            Ok(Box::new(jdbc::JdbcConsumer::new(
                endpoint,
                jdbc::needs_table(table)?,
                name,
                options,
                timeout,
            )?))
        }
    }
}

/// What can go wrong in the bridge.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BridgeError {
    /// The broker did not answer within the timeout.
    #[error("{broker} at {endpoint} did not answer within {timeout:?}: {detail}")]
    Unreachable {
        /// Which broker.
        broker: Broker,
        /// The address tried.
        endpoint: String,
        /// How long flinkit waited.
        timeout: Duration,
        /// What the client said.
        detail: String,
    },
    /// The broker answered but refused the client: its credentials, or its TLS handshake (an
    /// untrusted certificate).
    #[error("{broker} at {endpoint} refused the connection: {detail}")]
    Refused {
        /// Which broker.
        broker: Broker,
        /// The address tried.
        endpoint: String,
        /// What the client said (never a secret).
        detail: String,
    },
    /// A client setting is unknown or has a bad value.
    #[error("setting `{key}`: {message}")]
    Setting {
        /// The setting's key.
        key: String,
        /// What is wrong.
        message: String,
    },
    /// The broker or client refused or failed an operation.
    #[error("{broker}: {message}")]
    Client {
        /// Which broker.
        broker: Broker,
        /// What failed (the client library's own error, if any, is the source).
        message: String,
        /// The client library's error: an `rdkafka::error::KafkaError` or `RDKafkaErrorCode`,
        /// or a `pulsar::Error`; see [`BridgeError::kafka_error_code`] and
        /// [`BridgeError::pulsar_error`].
        #[source]
        source: Option<ClientCause>,
    },
    /// A record was not acknowledged in time.
    #[error("not acknowledged within {0:?}")]
    Timeout(Duration),
    /// The table cannot be used with the bridge.
    #[error(transparent)]
    Table(#[from] table::TableError),
    /// An input record is bad.
    #[error(transparent)]
    Input(#[from] input::InputError),
    /// Reading or writing a file failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A record read is not one of the table's rows.
    #[error("a record is not a row of the table: {0}")]
    Decode(#[from] upsert::DecodeError),
    /// An upsert view did not hold the expected rows by its deadline, or its records ended
    /// first.
    #[error(
        "{} is not the expected table after {:.1}s: {diff}",
        table.as_ref().map_or("the view".to_string(), |t| format!("`{t}`")),
        waited.as_secs_f64()
    )]
    Mismatch {
        /// The table the view was of, if any.
        table: Option<String>,
        /// How long it was waited for.
        waited: Duration,
        /// What differs.
        diff: upsert::TableDiff,
    },
    /// The thread behind an async producer or consumer ([`client`]) is gone: it panicked, or
    /// the consumer's records ended.
    #[error("the {what} stopped")]
    Stopped {
        /// `producer` or `consumer`.
        what: &'static str,
    },
}

/// A client library's own error, kept as the source of a [`BridgeError::Client`].
pub type ClientCause = Box<dyn std::error::Error + Send + Sync + 'static>;

impl BridgeError {
    /// A client error for `broker` that has no library error behind it.
    pub fn client(broker: Broker, message: impl fmt::Display) -> Self {
        Self::Client {
            broker,
            message: message.to_string(),
            source: None,
        }
    }

    /// A client error for `broker`: what was being done, and the client library's error.
    pub fn client_caused(
        broker: Broker,
        doing: impl fmt::Display,
        source: impl Into<ClientCause>,
    ) -> Self {
        Self::Client {
            broker,
            message: doing.to_string(),
            source: Some(source.into()),
        }
    }

    /// The librdkafka error code behind a Kafka [`BridgeError::Client`], if there is one.
    pub fn kafka_error_code(&self) -> Option<rdkafka::error::RDKafkaErrorCode> {
        let cause = self.client_cause()?;
        match cause.downcast_ref::<rdkafka::error::KafkaError>() {
            Some(error) => error.rdkafka_error_code(),
            None => cause.downcast_ref().copied(),
        }
    }

    /// The `pulsar` crate's error behind a Pulsar [`BridgeError::Client`], if there is one.
    pub fn pulsar_error(&self) -> Option<&::pulsar::Error> {
        self.client_cause()?.downcast_ref()
    }

    fn client_cause(&self) -> Option<&(dyn std::error::Error + Send + Sync + 'static)> {
        match self {
            Self::Client {
                source: Some(source),
                ..
            } => Some(source.as_ref()),
            _ => None,
        }
    }

    /// The message with its causes, `: `-separated — what `{:#}` prints through `anyhow`.
    pub fn with_causes(&self) -> String {
        let mut text = self.to_string();
        let mut cause = std::error::Error::source(self);
        while let Some(error) = cause {
            text.push_str(": ");
            text.push_str(&error.to_string());
            cause = error.source();
        }
        text
    }

    /// Whether the error is the user's input (exit code 2) rather than the world's: a bad
    /// setting, a table the bridge cannot use, or a record that does not fit.
    pub fn is_invalid_input(&self) -> bool {
        matches!(self, Self::Setting { .. } | Self::Table(_) | Self::Input(_))
    }

    /// Whether something was not done in time: a record not acknowledged, or a broker that
    /// did not answer.
    pub fn is_timeout(&self) -> bool {
        matches!(self, Self::Timeout(_) | Self::Unreachable { .. })
    }

    /// The bad input record's 1-based line (or record number), for [`BridgeError::Input`].
    pub fn input_line(&self) -> Option<u64> {
        match self {
            Self::Input(error) => Some(error.line),
            _ => None,
        }
    }

    /// What differs, for a [`BridgeError::Mismatch`].
    pub fn diff(&self) -> Option<&upsert::TableDiff> {
        match self {
            Self::Mismatch { diff, .. } => Some(diff),
            _ => None,
        }
    }
}
