//! Kafka through librdkafka (rdkafka): an idempotent, acks=all producer and a consumer that
//! reads partitions from earliest, latest, a timestamp or a group's committed offsets.
//!
//! Both clients take the endpoint's settings as librdkafka properties, applied after flinkit's
//! defaults so that they win (the CLI's `-X key=value`). librdkafka's log lines go to `tracing`
//! under the target `librdkafka`: its errors at info (mostly transient connection failures,
//! which the operation at hand reports itself as a [`BridgeError`]), its warnings at warn,
//! notices and info at debug, debug lines at trace; its error events at debug.
//!
//! The consumer never joins a group: it assigns every partition of its topics itself. With a
//! group ([`ConsumeOptions::group`]) it starts from the group's committed offsets and
//! [`Consumer::commit`] commits what was read; without one nothing is committed (librdkafka
//! needs a `group.id` to assign partitions, so it gets a private, never-committed one).

use std::collections::HashSet;
use std::ffi::{CStr, c_char, c_void};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication, TopicResult};
use rdkafka::bindings as rdsys;
use rdkafka::client::DefaultClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer as _, ConsumerContext};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{BorrowedMessage, Header, OwnedHeaders};
use rdkafka::producer::{
    BaseProducer, BaseRecord, DeliveryResult, Producer as _, ProducerContext, PurgeConfig,
};
use rdkafka::util::Timeout;
use rdkafka::{ClientConfig, ClientContext, Message as _, Offset, TopicPartitionList};
use tokio::time::timeout as tokio_timeout;

use super::{
    Ack, BridgeError, Broker, ConsumeOptions, Consumer, Endpoint, InRecord, Next, OutRecord,
    Position, Producer, StartAt,
};

/// Creates `topics` with one partition each and the broker's default replication (topics
/// that exist already are not an error), waiting at most `timeout` for the broker's answer.
pub async fn create_topics(
    endpoint: &Endpoint,
    topics: &[String],
    timeout: Duration,
) -> Result<(), BridgeError> {
    if topics.is_empty() {
        return Ok(());
    }
    let admin = admin_client(endpoint)?;
    let new: Vec<NewTopic<'_>> = topics
        .iter()
        .map(|t| NewTopic::new(t, 1, TopicReplication::Fixed(-1)))
        .collect();
    let options = AdminOptions::new().operation_timeout(Some(wait(timeout)));
    let outcome = admin.create_topics(&new, &options);
    admin_outcome(
        endpoint,
        timeout,
        "creating",
        RDKafkaErrorCode::TopicAlreadyExists,
        outcome,
    )
    .await
}

/// Deletes `topics` from the cluster at `endpoint` (topics that do not exist are not an error),
/// waiting at most `timeout` for the broker's answer.
pub async fn delete_topics(
    endpoint: &Endpoint,
    topics: &[String],
    timeout: Duration,
) -> Result<(), BridgeError> {
    if topics.is_empty() {
        return Ok(());
    }
    let admin = admin_client(endpoint)?;
    let names: Vec<&str> = topics.iter().map(String::as_str).collect();
    let options = AdminOptions::new().operation_timeout(Some(wait(timeout)));
    let outcome = admin.delete_topics(&names, &options);
    admin_outcome(
        endpoint,
        timeout,
        "deleting",
        RDKafkaErrorCode::UnknownTopicOrPartition,
        outcome,
    )
    .await
}

fn admin_client(endpoint: &Endpoint) -> Result<AdminClient<DefaultClientContext>, BridgeError> {
    client_config(endpoint, &[])?
        .create()
        .map_err(creation_error)
}

/// Waits at most `timeout` for a topic operation (`doing`: "creating", "deleting") and turns
/// its per-topic answers into one result, `ignored` (the topic is already as asked) not being an
/// error.
async fn admin_outcome(
    endpoint: &Endpoint,
    timeout: Duration,
    doing: &str,
    ignored: RDKafkaErrorCode,
    outcome: impl std::future::Future<Output = rdkafka::error::KafkaResult<Vec<TopicResult>>>,
) -> Result<(), BridgeError> {
    let results = tokio_timeout(timeout, outcome)
        .await
        .map_err(|_| BridgeError::Unreachable {
            broker: Broker::Kafka,
            endpoint: endpoint.address.clone(),
            timeout,
            detail: format!("{doing} topics"),
        })?
        .map_err(|e| BridgeError::client_caused(Broker::Kafka, format!("{doing} topics"), e))?;
    for result in results {
        if let Err((topic, code)) = result
            && code != ignored
        {
            return Err(BridgeError::client_caused(
                Broker::Kafka,
                format!("{doing} topic {topic}"),
                code,
            ));
        }
    }
    Ok(())
}

/// The `tracing` target of librdkafka's log lines and error events.
const LOG_TARGET: &str = "librdkafka";

/// The largest record the clients send or accept by default: the local stack's broker limit.
const MAX_MESSAGE_BYTES: &str = "10485760";

/// How long [`KafkaProducer::send`] serves acknowledgements before retrying on a full queue.
const QUEUE_FULL_WAIT: Duration = Duration::from_millis(1);

/// The slice [`KafkaProducer`] polls in while waiting: librdkafka's poll runs for its whole
/// timeout, so a long wait is cut into slices to return soon after an acknowledgement.
const POLL_SLICE: Duration = Duration::from_millis(1);

/// How many records a streaming producer sends between serving librdkafka's events.
const SERVE_EVERY: u32 = 64;

/// How often the producer asks again for a topic the broker may be creating.
const TOPIC_RETRY: Duration = Duration::from_millis(50);

/// How long a metadata request waits before the client checks whether the broker refused it.
const REFUSAL_CHECK: Duration = Duration::from_secs(1);

/// How many queued events are served, at most, to find the error that explains a timeout.
const SERVE_ERRORS: usize = 64;

/// How long a flush that timed out waits for the reports of the records it purged.
const PURGE_GRACE: Duration = Duration::from_secs(2);

/// Producer defaults; endpoint settings override them.
const PRODUCER_DEFAULTS: &[(&str, &str)] = &[
    // With sparse connections, the first metadata request waits some 50 ms for a connection.
    ("enable.sparse.connections", "false"),
    ("acks", "all"),
    ("enable.idempotence", "true"),
    ("message.max.bytes", MAX_MESSAGE_BYTES),
    ("linger.ms", "5"),
    ("batch.num.messages", "10000"),
    ("batch.size", "1000000"),
    // Two full batches in flight keep the broker busy; more only costs memory (a 1 GB file
    // peaks at 28 MB resident with 20,000, 71 MB with librdkafka's 100,000, at the same speed).
    ("queue.buffering.max.messages", "20000"),
    ("client.id", "flinkit"),
];

/// Consumer defaults; endpoint settings override them.
const CONSUMER_DEFAULTS: &[(&str, &str)] = &[
    ("enable.sparse.connections", "false"),
    ("enable.auto.commit", "false"),
    ("enable.auto.offset.store", "false"),
    ("allow.auto.create.topics", "false"),
    ("message.max.bytes", MAX_MESSAGE_BYTES),
    // librdkafka pauses fetching for a second (the default) whenever its queue holds
    // `queued.min.messages`, which stalls a consumer that keeps up; 20 ms keeps it fed.
    ("fetch.queue.backoff.ms", "20"),
    ("client.id", "flinkit"),
];

/// Callbacks shared by the producer and the consumer: logs to `tracing`, remembers the first
/// error event (to explain an unreachable broker) and collects delivery reports.
#[derive(Default)]
struct Hooks {
    /// The first error librdkafka reported, e.g. `Connect to … failed: Connection refused`.
    first_error: Mutex<Option<String>>,
    /// The first authentication or TLS failure: the broker answers, but refuses the client.
    refused: Mutex<Option<String>>,
    /// Delivery reports not yet handed over: the sequence number and the error, if any.
    reports: Mutex<Vec<(u64, Option<KafkaError>)>>,
}

/// Locks `mutex`, also when a panicking thread poisoned it (the data stays consistent: every
/// critical section here is a single push or swap).
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl ClientContext for Hooks {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, message: &str) {
        match level {
            RDKafkaLogLevel::Emerg | RDKafkaLogLevel::Alert | RDKafkaLogLevel::Critical => {
                tracing::error!(target: LOG_TARGET, facility = fac, "{message}");
            }
            RDKafkaLogLevel::Error => {
                tracing::info!(target: LOG_TARGET, facility = fac, "{message}")
            }
            // A warning librdkafka recovers from by itself (a broker still loading its
            // coordinator right after it started: "…: retrying") is only detail.
            RDKafkaLogLevel::Warning if message.trim_end().ends_with("retrying") => {
                tracing::debug!(target: LOG_TARGET, facility = fac, "{message}");
            }
            RDKafkaLogLevel::Warning => {
                tracing::warn!(target: LOG_TARGET, facility = fac, "{message}");
            }
            RDKafkaLogLevel::Notice | RDKafkaLogLevel::Info => {
                tracing::debug!(target: LOG_TARGET, facility = fac, "{message}");
            }
            RDKafkaLogLevel::Debug => {
                tracing::trace!(target: LOG_TARGET, facility = fac, "{message}")
            }
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        if error.rdkafka_error_code() == Some(RDKafkaErrorCode::PartitionEOF) {
            tracing::trace!(target: LOG_TARGET, "{reason}");
            return;
        }
        tracing::debug!(target: LOG_TARGET, %error, "{reason}");
        if matches!(
            error.rdkafka_error_code(),
            Some(RDKafkaErrorCode::Authentication | RDKafkaErrorCode::SSL)
        ) {
            lock(&self.refused).get_or_insert_with(|| reason.to_string());
        }
        lock(&self.first_error).get_or_insert_with(|| reason.to_string());
    }
}

impl ProducerContext for Hooks {
    type DeliveryOpaque = Box<u64>;

    fn delivery(&self, result: &DeliveryResult<'_>, seq: Box<u64>) {
        let error = result.as_ref().err().map(|(error, _)| error.clone());
        lock(&self.reports).push((*seq, error));
    }
}

impl ConsumerContext for Hooks {}

/// librdkafka's log level for what `tracing` would show of it (see [`Hooks::log`]).
fn log_level() -> RDKafkaLogLevel {
    if tracing::enabled!(target: LOG_TARGET, tracing::Level::TRACE) {
        RDKafkaLogLevel::Debug
    } else if tracing::enabled!(target: LOG_TARGET, tracing::Level::DEBUG) {
        RDKafkaLogLevel::Info
    } else if tracing::enabled!(target: LOG_TARGET, tracing::Level::INFO) {
        RDKafkaLogLevel::Error
    } else if tracing::enabled!(target: LOG_TARGET, tracing::Level::WARN) {
        RDKafkaLogLevel::Warning
    } else {
        RDKafkaLogLevel::Critical
    }
}

/// The last value the endpoint's settings give `key`.
fn setting<'e>(endpoint: &'e Endpoint, key: &str) -> Option<&'e str> {
    endpoint
        .settings
        .iter()
        .rev()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// The client configuration: bootstrap servers, `defaults`, then the endpoint's settings
/// (security settings as the Java client writes them turned into librdkafka's, see
/// [`super::kafka_security`]).
fn client_config(
    endpoint: &Endpoint,
    defaults: &[(&str, &str)],
) -> Result<ClientConfig, BridgeError> {
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", &endpoint.address);
    for (key, value) in defaults {
        config.set(*key, *value);
    }
    for (key, value) in super::kafka_security::to_librdkafka(&endpoint.settings)? {
        config.set(key, value);
    }
    config.set_log_level(log_level());
    Ok(config)
}

/// The producer configuration. Idempotence needs `acks=all`: when the settings lower `acks`
/// without deciding on idempotence, the default idempotence is dropped rather than making
/// librdkafka refuse the combination.
fn producer_config(endpoint: &Endpoint) -> Result<ClientConfig, BridgeError> {
    let mut config = client_config(endpoint, PRODUCER_DEFAULTS)?;
    let acks_all = setting(endpoint, "acks").is_none_or(|acks| matches!(acks, "all" | "-1"));
    if !acks_all && setting(endpoint, "enable.idempotence").is_none() {
        config.set("enable.idempotence", "false");
    }
    Ok(config)
}

/// librdkafka's description of a rejected setting without the value, which may be a secret.
/// The value appears in librdkafka's messages as `value "…"` or `value … is outside …`.
fn redact(description: &str, value: &str) -> String {
    let description = description.trim();
    if value.is_empty() || !description.contains(value) {
        return description.to_string();
    }
    let message = description
        .replace(&format!(" \"{value}\""), "")
        .replace(&format!(" value {value} "), " value ");
    if message.contains(value) {
        "librdkafka rejects the value".to_string()
    } else {
        message
    }
}

/// The error for a client librdkafka would not create.
fn creation_error(error: KafkaError) -> BridgeError {
    match error {
        KafkaError::ClientConfig(_, description, key, value) => BridgeError::Setting {
            message: redact(&description, &value),
            key,
        },
        KafkaError::ClientCreation(message) => BridgeError::client(Broker::Kafka, message),
        other => BridgeError::client_caused(Broker::Kafka, "creating the client", other),
    }
}

/// The error for a broker that did not answer a metadata request in time.
fn unreachable(
    endpoint: &Endpoint,
    timeout: Duration,
    error: &KafkaError,
    hooks: &Hooks,
) -> BridgeError {
    if let Some(reason) = lock(&hooks.refused).as_deref() {
        return BridgeError::Refused {
            broker: Broker::Kafka,
            endpoint: endpoint.address.clone(),
            detail: reason.to_string(),
        };
    }
    let detail = match lock(&hooks.first_error).as_deref() {
        Some(first) => format!("{error}; {first}"),
        None => error.to_string(),
    };
    BridgeError::Unreachable {
        broker: Broker::Kafka,
        endpoint: endpoint.address.clone(),
        timeout,
        detail,
    }
}

/// `now + timeout`, or `None` when that is beyond what `Instant` can hold (no deadline).
fn deadline_in(timeout: Duration) -> Option<Instant> {
    Instant::now().checked_add(timeout)
}

/// What is left until `deadline` (all the time in the world without one).
fn remaining(deadline: Option<Instant>) -> Duration {
    deadline.map_or(Duration::MAX, |d| {
        d.saturating_duration_since(Instant::now())
    })
}

/// `duration` as a librdkafka timeout, which counts milliseconds in an `i32`: longer is never.
fn wait(duration: Duration) -> Timeout {
    if duration.as_millis() >= i32::MAX as u128 {
        Timeout::Never
    } else {
        Timeout::After(duration)
    }
}

/// A Kafka producer for one topic: idempotent, `acks=all`, batching for 5 ms. Dropping it
/// without a [`Producer::flush`] abandons the records still queued.
pub struct KafkaProducer {
    producer: BaseProducer<Hooks>,
    topic: String,
    handover: Handover,
    /// Records queued since librdkafka's events were last served.
    unserved: u32,
}

/// Turns delivery reports into [`Ack`]s.
struct Handover {
    /// The reports being handed over (kept to reuse its allocation).
    spare: Vec<(u64, Option<KafkaError>)>,
    /// The timeout of the flush that purged records, reported in their acknowledgements.
    purged_after: Duration,
}

impl Handover {
    /// Hands the reports collected in `hooks` to `acks`; returns how many there were.
    fn run(&mut self, hooks: &Hooks, topic: &str, acks: &mut dyn FnMut(Ack)) -> usize {
        std::mem::swap(&mut *lock(&hooks.reports), &mut self.spare);
        let count = self.spare.len();
        for (seq, error) in self.spare.drain(..) {
            let result = match error {
                None => Ok(()),
                Some(error)
                    if matches!(
                        error.rdkafka_error_code(),
                        Some(RDKafkaErrorCode::PurgeQueue | RDKafkaErrorCode::PurgeInflight)
                    ) =>
                {
                    Err(BridgeError::Timeout(self.purged_after))
                }
                Some(error) => Err(BridgeError::client_caused(
                    Broker::Kafka,
                    format!("delivery to `{topic}` failed"),
                    error,
                )),
            };
            acks(Ack { seq, result });
        }
        count
    }
}

impl KafkaProducer {
    /// Connects to `endpoint` and checks, within `timeout`, that the broker answers and `topic`
    /// exists or is created on demand.
    pub fn new(endpoint: &Endpoint, topic: &str, timeout: Duration) -> Result<Self, BridgeError> {
        let producer: BaseProducer<Hooks> = producer_config(endpoint)?
            .create_with_context(Hooks::default())
            .map_err(creation_error)?;
        let deadline = deadline_in(timeout);
        // A broker that creates topics on demand may answer "unknown topic" while it does.
        loop {
            // In slices, so that a broker refusing the credentials fails at once.
            let slice = remaining(deadline).min(REFUSAL_CHECK);
            let metadata = match producer.client().fetch_metadata(Some(topic), wait(slice)) {
                Ok(metadata) => metadata,
                Err(error) => {
                    for _ in 0..SERVE_ERRORS {
                        if lock(&producer.context().first_error).is_some() {
                            break;
                        }
                        producer.poll(Duration::ZERO);
                    }
                    if lock(&producer.context().refused).is_none() && !remaining(deadline).is_zero()
                    {
                        continue;
                    }
                    return Err(unreachable(endpoint, timeout, &error, producer.context()));
                }
            };
            let error = metadata
                .topics()
                .iter()
                .find(|t| t.name() == topic)
                .and_then(|t| t.error())
                .map(RDKafkaErrorCode::from);
            match error {
                // Known, or being created.
                None | Some(RDKafkaErrorCode::LeaderNotAvailable) => break,
                Some(RDKafkaErrorCode::UnknownTopicOrPartition) => {
                    if remaining(deadline) < TOPIC_RETRY {
                        return Err(BridgeError::client(
                            Broker::Kafka,
                            format!(
                                "topic `{topic}` does not exist and the broker did not create it \
                                 within {timeout:?}"
                            ),
                        ));
                    }
                    std::thread::sleep(TOPIC_RETRY);
                }
                Some(code) => {
                    return Err(BridgeError::client_caused(
                        Broker::Kafka,
                        format!("topic `{topic}`"),
                        code,
                    ));
                }
            }
        }
        // The idempotent producer needs an id from a broker it learned of from metadata, and
        // asks when a metadata answer arrives or, failing that, half a second later: a second
        // answer, once that broker is connected, saves the wait.
        let _ = producer
            .client()
            .fetch_metadata(Some(topic), wait(remaining(deadline)));
        Ok(Self {
            producer,
            topic: topic.into(),
            handover: Handover {
                spare: Vec::new(),
                purged_after: timeout,
            },
            unserved: 0,
        })
    }

    /// Hands the collected delivery reports to `acks`; returns how many there were.
    fn hand_over(&mut self, acks: &mut dyn FnMut(Ack)) -> usize {
        self.handover
            .run(self.producer.context(), &self.topic, acks)
    }

    /// Serves the events librdkafka has ready, without waiting.
    fn serve_ready(&mut self) {
        self.unserved = 0;
        // One poll serves at most one event (of many reports): poll while reports come.
        let reports = &self.producer.context().reports;
        loop {
            let before = lock(reports).len();
            self.producer.poll(Duration::ZERO);
            if lock(reports).len() == before {
                break;
            }
        }
    }
}

impl Producer for KafkaProducer {
    /// Queues `record`: a `None` value is a null value (a tombstone), properties become
    /// headers, the timestamp the record's (librdkafka takes 0, like none, as "now"). An `Err`
    /// means the record was not queued and no [`Ack`] will come for it.
    fn send(
        &mut self,
        seq: u64,
        record: OutRecord,
        acks: &mut dyn FnMut(Ack),
    ) -> Result<(), BridgeError> {
        let mut base =
            BaseRecord::<[u8], [u8], Box<u64>>::with_opaque_to(&self.topic, Box::new(seq));
        if let Some(key) = &record.key {
            base = base.key(key.as_slice());
        }
        if let Some(value) = &record.value {
            base = base.payload(value.as_slice());
        }
        if let Some(timestamp) = record.timestamp {
            base = base.timestamp(timestamp);
        }
        if !record.properties.is_empty() {
            let headers = record.properties.iter().fold(
                OwnedHeaders::new_with_capacity(record.properties.len()),
                |headers, (key, value)| {
                    headers.insert(Header {
                        key,
                        value: Some(value.as_bytes()),
                    })
                },
            );
            base = base.headers(headers);
        }
        loop {
            match self.producer.send(base) {
                Ok(()) => {
                    self.unserved = self.unserved.saturating_add(1);
                    return Ok(());
                }
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), returned)) => {
                    base = returned;
                    self.producer.poll(QUEUE_FULL_WAIT);
                    self.handover
                        .run(self.producer.context(), &self.topic, acks);
                }
                Err((error, _)) => {
                    return Err(BridgeError::client_caused(
                        Broker::Kafka,
                        format!("cannot queue a record for `{}`", self.topic),
                        error,
                    ));
                }
            }
        }
    }

    /// Hands over the acknowledgements that arrived. While records stream in, a poll that
    /// does not wait serves librdkafka's events once per 64 records sent: serving costs several
    /// clock reads, which are system calls on some virtual machines.
    fn poll(&mut self, timeout: Duration, acks: &mut dyn FnMut(Ack)) {
        if timeout.is_zero() && (1..SERVE_EVERY).contains(&self.unserved) {
            self.hand_over(acks);
            return;
        }
        self.serve_ready();
        if self.hand_over(acks) > 0 || timeout.is_zero() {
            return;
        }
        let deadline = deadline_in(timeout);
        loop {
            let left = remaining(deadline);
            if left.is_zero() {
                return;
            }
            self.producer.poll(left.min(POLL_SLICE));
            self.serve_ready();
            if self.hand_over(acks) > 0 {
                return;
            }
        }
    }

    /// Waits for every queued record's acknowledgement. At the timeout, the records still
    /// queued or in flight are purged and reported as failed with [`BridgeError::Timeout`]
    /// (they may still reach the topic), and the flush returns that error too.
    fn flush(&mut self, timeout: Duration, acks: &mut dyn FnMut(Ack)) -> Result<(), BridgeError> {
        let deadline = deadline_in(timeout);
        loop {
            self.serve_ready();
            self.hand_over(acks);
            if self.producer.in_flight_count() == 0 {
                return Ok(());
            }
            let left = remaining(deadline);
            if left.is_zero() {
                break;
            }
            self.producer.poll(left.min(POLL_SLICE));
        }
        self.handover.purged_after = timeout;
        self.producer
            .purge(PurgeConfig::default().queue().inflight());
        let grace = deadline_in(PURGE_GRACE);
        while self.producer.in_flight_count() > 0 && !remaining(grace).is_zero() {
            self.producer.poll(POLL_SLICE);
            self.hand_over(acks);
        }
        self.hand_over(acks);
        Err(BridgeError::Timeout(timeout))
    }

    fn topic(&self) -> &str {
        &self.topic
    }
}

/// One assigned partition.
#[derive(Debug)]
struct Part {
    /// The partition number.
    partition: i32,
    /// The high watermark when the consumer started: where a consumer that does not follow
    /// stops.
    high: i64,
    /// The offset after the last record read, once one was.
    next: Option<i64>,
    /// The offset last committed by [`Consumer::commit`].
    committed: Option<i64>,
    /// Every record up to `high` was read (only when not following).
    done: bool,
}

/// What a consumer has read of its partitions.
#[derive(Debug)]
struct Progress {
    /// The topics, without duplicates.
    topics: Vec<String>,
    /// Per topic, its partitions ordered by number.
    parts: Vec<Vec<Part>>,
    /// Whether to keep waiting at the end rather than stop at the snapshot.
    follow: bool,
    /// How many partitions are not `done`.
    pending: usize,
}

impl Progress {
    /// Where partition `partition` of topic number `t` is in `parts`.
    fn find(&self, t: usize, partition: i32) -> Option<usize> {
        self.parts[t]
            .binary_search_by_key(&partition, |p| p.partition)
            .ok()
    }

    /// Marks a partition as read up to its snapshot and stops fetching it.
    fn finish(&mut self, consumer: &BaseConsumer<Hooks>, t: usize, i: usize) {
        let part = &mut self.parts[t][i];
        if part.done {
            return;
        }
        part.done = true;
        self.pending -= 1;
        let mut list = TopicPartitionList::new();
        let paused = list
            .add_partition_offset(&self.topics[t], part.partition, Offset::Invalid)
            .and_then(|()| consumer.pause(&list));
        if let Err(error) = paused {
            tracing::debug!(target: LOG_TARGET, %error, "pausing a finished partition");
        }
    }

    /// The end of a partition numbered `partition` was reached. librdkafka does not say of
    /// which topic: with one topic that is clear, else the partitions so numbered whose
    /// position is at or past their snapshot are finished.
    fn end_of_partition(&mut self, consumer: &BaseConsumer<Hooks>, partition: i32) {
        if self.topics.len() == 1 {
            if let Some(i) = self.find(0, partition) {
                self.finish(consumer, 0, i);
            }
            return;
        }
        let Ok(positions) = consumer.position() else {
            return;
        };
        for element in positions.elements() {
            let Offset::Offset(position) = element.offset() else {
                continue;
            };
            if element.partition() != partition {
                continue;
            }
            let Some(t) = self.topics.iter().position(|t| t == element.topic()) else {
                continue;
            };
            if let Some(i) = self.find(t, partition)
                && position >= self.parts[t][i].high
            {
                self.finish(consumer, t, i);
            }
        }
    }

    /// The record for `message`, or `None` when it lies past the snapshot of a consumer that
    /// does not follow.
    fn accept(
        &mut self,
        consumer: &BaseConsumer<Hooks>,
        message: &BorrowedMessage<'_>,
    ) -> Option<InRecord> {
        let t = self.topics.iter().position(|t| t == message.topic())?;
        let partition = message.partition();
        let i = self.find(t, partition)?;
        let offset = message.offset();
        let high = self.parts[t][i].high;
        if !self.follow && offset >= high {
            self.finish(consumer, t, i);
            return None;
        }
        self.parts[t][i].next = Some(offset + 1);
        if !self.follow && offset + 1 >= high {
            self.finish(consumer, t, i);
        }
        Some(InRecord {
            topic: self.topics[t].clone(),
            key: message.key().map(<[u8]>::to_vec),
            value: message.payload().map(<[u8]>::to_vec),
            properties: properties(message),
            timestamp: message.timestamp().to_millis(),
            position: Position::Kafka { partition, offset },
            schema_version: None,
        })
    }
}

/// A Kafka consumer of every partition of its topics.
pub struct KafkaConsumer {
    consumer: BaseConsumer<Hooks>,
    progress: Progress,
    /// Whether a group was given, so that [`Consumer::commit`] commits.
    commits: bool,
}

/// A private consumer group id: librdkafka assigns partitions only with one; nothing is ever
/// committed under it.
fn private_group() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("flinkit-private-{}-{nanos}", std::process::id())
}

/// The consumer configuration for `options`.
fn consumer_config(
    endpoint: &Endpoint,
    options: &ConsumeOptions,
) -> Result<ClientConfig, BridgeError> {
    let group = options.group.clone().unwrap_or_else(private_group);
    let mut defaults = CONSUMER_DEFAULTS.to_vec();
    defaults.push(("group.id", &group));
    // The end of a partition is how a consumer that does not follow sees it read everything,
    // also when compaction or transaction markers leave gaps before the high watermark.
    defaults.push((
        "enable.partition.eof",
        if options.follow { "false" } else { "true" },
    ));
    defaults.push((
        "auto.offset.reset",
        if options.start == StartAt::Latest {
            "latest"
        } else {
            "earliest"
        },
    ));
    client_config(endpoint, &defaults)
}

/// A partition list of `topic`'s `parts`, each at `offset`.
fn partition_list(
    topic: &str,
    parts: &[Part],
    offset: Offset,
) -> Result<TopicPartitionList, BridgeError> {
    let mut list = TopicPartitionList::with_capacity(parts.len());
    for part in parts {
        list.add_partition_offset(topic, part.partition, offset)
            .map_err(|e| BridgeError::client_caused(Broker::Kafka, "listing partitions", e))?;
    }
    Ok(list)
}

/// The error for a topic that does not exist.
fn missing(topic: &str) -> BridgeError {
    BridgeError::client(Broker::Kafka, format!("topic `{topic}` does not exist"))
}

/// Whether a consumer error passes by itself (librdkafka reconnects and retries).
fn transient(error: &KafkaError) -> bool {
    matches!(
        error,
        KafkaError::MessageConsumption(
            RDKafkaErrorCode::BrokerTransportFailure
                | RDKafkaErrorCode::AllBrokersDown
                | RDKafkaErrorCode::Resolve
                | RDKafkaErrorCode::OperationTimedOut
                | RDKafkaErrorCode::RequestTimedOut
                | RDKafkaErrorCode::NotLeaderForPartition
                | RDKafkaErrorCode::LeaderNotAvailable
        )
    )
}

impl KafkaConsumer {
    /// Connects to `endpoint` and assigns every partition of `topics`, all within `timeout`:
    /// the broker must answer and every topic must exist. Without following, the partitions'
    /// high watermarks now are where [`Consumer::next`] ends.
    pub fn new(
        endpoint: &Endpoint,
        topics: &[String],
        options: &ConsumeOptions,
        timeout: Duration,
    ) -> Result<Self, BridgeError> {
        let deadline = deadline_in(timeout);
        let mut seen = HashSet::new();
        let topics: Vec<String> = topics
            .iter()
            .filter(|topic| seen.insert(topic.as_str()))
            .cloned()
            .collect();
        if topics.is_empty() {
            return Err(BridgeError::client(Broker::Kafka, "no topic to consume"));
        }
        let consumer: BaseConsumer<Hooks> = consumer_config(endpoint, options)?
            .create_with_context(Hooks::default())
            .map_err(creation_error)?;
        let mut this = Self {
            consumer,
            progress: Progress {
                topics,
                parts: Vec::new(),
                follow: options.follow,
                pending: 0,
            },
            commits: options.group.is_some(),
        };
        let mut assignment = TopicPartitionList::new();
        for t in 0..this.progress.topics.len() {
            let (mut parts, lows) = this.partitions(t, endpoint, timeout, deadline)?;
            let starts = this.starts(t, &parts, options, deadline)?;
            for ((part, low), start) in parts.iter_mut().zip(lows).zip(starts) {
                part.done = !options.follow
                    && match start {
                        Offset::Offset(offset) => offset >= part.high,
                        _ => low >= part.high,
                    };
                if !part.done {
                    this.progress.pending += 1;
                    assignment
                        .add_partition_offset(&this.progress.topics[t], part.partition, start)
                        .map_err(|e| {
                            BridgeError::client_caused(Broker::Kafka, "assigning partitions", e)
                        })?;
                }
            }
            this.progress.parts.push(parts);
        }
        this.consumer
            .assign(&assignment)
            .map_err(|e| BridgeError::client_caused(Broker::Kafka, "assigning partitions", e))?;
        Ok(this)
    }

    /// The partitions of topic number `t`, ordered by number, with their high watermarks, and
    /// their low watermarks; an error when the topic does not exist.
    fn partitions(
        &self,
        t: usize,
        endpoint: &Endpoint,
        timeout: Duration,
        deadline: Option<Instant>,
    ) -> Result<(Vec<Part>, Vec<i64>), BridgeError> {
        let topic = &self.progress.topics[t];
        let metadata = match self
            .consumer
            .fetch_metadata(Some(topic), wait(remaining(deadline)))
        {
            Ok(metadata) => metadata,
            Err(error) => {
                self.serve_errors();
                return Err(unreachable(
                    endpoint,
                    timeout,
                    &error,
                    self.consumer.context(),
                ));
            }
        };
        let Some(described) = metadata.topics().iter().find(|d| d.name() == topic) else {
            return Err(missing(topic));
        };
        match described.error().map(RDKafkaErrorCode::from) {
            None => {}
            Some(RDKafkaErrorCode::UnknownTopicOrPartition) => return Err(missing(topic)),
            Some(code) => {
                return Err(BridgeError::client_caused(
                    Broker::Kafka,
                    format!("topic `{topic}`"),
                    code,
                ));
            }
        }
        let mut numbers: Vec<i32> = described.partitions().iter().map(|p| p.id()).collect();
        if numbers.is_empty() {
            return Err(missing(topic));
        }
        numbers.sort_unstable();
        let mut parts = Vec::with_capacity(numbers.len());
        let mut lows = Vec::with_capacity(numbers.len());
        for partition in numbers {
            let (low, high) = self
                .consumer
                .fetch_watermarks(topic, partition, wait(remaining(deadline)))
                .map_err(|e| {
                    BridgeError::client_caused(
                        Broker::Kafka,
                        format!("watermarks of `{topic}` partition {partition}"),
                        e,
                    )
                })?;
            lows.push(low);
            parts.push(Part {
                partition,
                high,
                next: None,
                committed: None,
                done: false,
            });
        }
        Ok((parts, lows))
    }

    /// Where each of `parts` of topic number `t` starts: the group's committed offset, else
    /// `options.start`.
    fn starts(
        &self,
        t: usize,
        parts: &[Part],
        options: &ConsumeOptions,
        deadline: Option<Instant>,
    ) -> Result<Vec<Offset>, BridgeError> {
        let topic = &self.progress.topics[t];
        let mut starts: Vec<Option<Offset>> = vec![None; parts.len()];
        let mut take = |answer: TopicPartitionList, what: &str| {
            for element in answer.elements() {
                element.error().map_err(|e| {
                    BridgeError::client_caused(
                        Broker::Kafka,
                        format!("{what} of `{topic}` partition {}", element.partition()),
                        e,
                    )
                })?;
                let Ok(i) = parts.binary_search_by_key(&element.partition(), |p| p.partition)
                else {
                    continue;
                };
                starts[i] = starts[i].or(match element.offset() {
                    Offset::Offset(offset) => Some(Offset::Offset(offset)),
                    _ => None,
                });
            }
            Ok::<(), BridgeError>(())
        };
        if options.group.is_some() {
            let committed = self
                .consumer
                .committed_offsets(
                    partition_list(topic, parts, Offset::Invalid)?,
                    wait(remaining(deadline)),
                )
                .map_err(|e| BridgeError::client_caused(Broker::Kafka, "committed offsets", e))?;
            take(committed, "the committed offset")?;
        }
        if let StartAt::Timestamp(millis) = options.start {
            let found = self
                .consumer
                .offsets_for_times(
                    partition_list(topic, parts, Offset::Offset(millis))?,
                    wait(remaining(deadline)),
                )
                .map_err(|e| {
                    BridgeError::client_caused(Broker::Kafka, "offsets for a timestamp", e)
                })?;
            take(found, "the offset for a timestamp")?;
        }
        Ok(starts
            .into_iter()
            .zip(parts)
            .map(|(start, part)| {
                // Latest, or no record at or after the timestamp: the end now.
                start.unwrap_or(match options.start {
                    StartAt::Earliest => Offset::Beginning,
                    StartAt::Latest | StartAt::Timestamp(_) => Offset::Offset(part.high),
                })
            })
            .collect())
    }

    /// Serves queued events so that error events reach [`Hooks::error`].
    fn serve_errors(&self) {
        for _ in 0..SERVE_ERRORS {
            if lock(&self.consumer.context().first_error).is_some() {
                return;
            }
            // Only the error events matter here, and they reach the hooks while polling.
            let _ = self.consumer.poll(Duration::ZERO);
        }
    }
}

/// The headers of `message` as properties, values decoded as UTF-8 (lossily; a null value is
/// empty). They are read through librdkafka's C API because rdkafka's `Headers` panics on a
/// header name that is not UTF-8, and names are whatever the producer sent.
fn properties(message: &BorrowedMessage<'_>) -> Vec<(String, String)> {
    let mut headers: *mut rdsys::rd_kafka_headers_t = std::ptr::null_mut();
    // SAFETY: `message.ptr()` is a live message. librdkafka sets `headers` to a list owned by
    // the message, valid as long as it is, or leaves it null.
    let error = unsafe { rdsys::rd_kafka_message_headers(message.ptr(), &mut headers) };
    if error != rdsys::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR || headers.is_null() {
        return Vec::new();
    }
    // SAFETY: `headers` is the message's valid header list.
    let count = unsafe { rdsys::rd_kafka_header_cnt(headers) };
    let mut properties = Vec::with_capacity(count);
    for index in 0..count {
        let mut name: *const c_char = std::ptr::null();
        let mut value: *const c_void = std::ptr::null();
        let mut size = 0;
        // SAFETY: `index < count`; librdkafka points `name` at a NUL-terminated string and
        // `value` at `size` bytes (or null), both owned by `headers`.
        let error = unsafe {
            rdsys::rd_kafka_header_get_all(headers, index, &mut name, &mut value, &mut size)
        };
        if error != rdsys::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR || name.is_null() {
            continue;
        }
        // SAFETY: `name` is a NUL-terminated string owned by `headers`, copied here.
        let name = unsafe { CStr::from_ptr(name) }
            .to_string_lossy()
            .into_owned();
        let value = if value.is_null() {
            String::new()
        } else {
            // SAFETY: `value` points at `size` bytes owned by `headers`, copied here.
            let bytes = unsafe { std::slice::from_raw_parts(value.cast::<u8>(), size) };
            String::from_utf8_lossy(bytes).into_owned()
        };
        properties.push((name, value));
    }
    properties
}

impl Consumer for KafkaConsumer {
    fn next(&mut self, timeout: Duration) -> Result<Next, BridgeError> {
        // Records that are ready are taken without a wait, so that the clock is read only once
        // none is: while records flow, taking the time for each costs as much as reading it.
        // `Some(deadline)` once waiting (`deadline` is `None` when there is none).
        let mut waiting: Option<Option<Instant>> = None;
        loop {
            if !self.progress.follow && self.progress.pending == 0 {
                return Ok(Next::End);
            }
            let left = waiting.map_or(Duration::ZERO, remaining);
            match self.consumer.poll(wait(left)) {
                Some(Ok(message)) => {
                    if let Some(record) = self.progress.accept(&self.consumer, &message) {
                        return Ok(Next::Record(Box::new(record)));
                    }
                }
                Some(Err(KafkaError::PartitionEOF(partition))) => {
                    self.progress.end_of_partition(&self.consumer, partition);
                }
                Some(Err(error)) if transient(&error) => {
                    tracing::debug!(target: LOG_TARGET, %error, "consuming");
                }
                Some(Err(error)) => {
                    return Err(BridgeError::client_caused(
                        Broker::Kafka,
                        format!("consuming {}", self.progress.topics.join(", ")),
                        error,
                    ));
                }
                None => match waiting {
                    None => waiting = Some(deadline_in(timeout)),
                    Some(deadline) if left.is_zero() || remaining(deadline).is_zero() => {
                        return Ok(Next::Idle);
                    }
                    Some(_) => {}
                },
            }
        }
    }

    /// Commits, synchronously, the offset after the last record read of every partition read
    /// since the last commit; a no-op without a group.
    fn commit(&mut self) -> Result<(), BridgeError> {
        if !self.commits {
            return Ok(());
        }
        let mut list = TopicPartitionList::new();
        for (topic, parts) in self.progress.topics.iter().zip(&self.progress.parts) {
            for part in parts {
                if let Some(next) = part.next.filter(|&next| part.committed != Some(next)) {
                    list.add_partition_offset(topic, part.partition, Offset::Offset(next))
                        .map_err(|e| {
                            BridgeError::client_caused(Broker::Kafka, "committing offsets", e)
                        })?;
                }
            }
        }
        if list.count() == 0 {
            return Ok(());
        }
        self.consumer
            .commit(&list, CommitMode::Sync)
            .map_err(|e| BridgeError::client_caused(Broker::Kafka, "committing offsets", e))?;
        for part in self.progress.parts.iter_mut().flatten() {
            part.committed = part.next.or(part.committed);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacting_removes_the_value_from_librdkafkas_messages() {
        assert_eq!(
            redact(
                r#"Invalid value "s3cret" for configuration property "sasl.mechanism""#,
                "s3cret"
            ),
            r#"Invalid value for configuration property "sasl.mechanism""#
        );
        assert_eq!(
            redact(
                "Configuration property \"linger.ms\" value 999999 is outside allowed range \
                 0..900000\n",
                "999999"
            ),
            r#"Configuration property "linger.ms" value is outside allowed range 0..900000"#
        );
        assert_eq!(
            redact(r#"No such configuration property: "nope""#, "x"),
            r#"No such configuration property: "nope""#
        );
        assert_eq!(
            redact("bad: s3cret, s3cret", "s3cret"),
            "librdkafka rejects the value"
        );
        assert_eq!(redact("bad", ""), "bad");
    }

    #[test]
    fn a_rejected_setting_names_its_key_but_not_its_value() {
        let secret = "hunter2-secret";
        let bad = Endpoint::local_kafka().with_setting("linger.ms", secret);
        let Err(error) = KafkaProducer::new(&bad, "t", Duration::from_secs(1)) else {
            panic!("accepted linger.ms={secret}");
        };
        assert!(!format!("{error} {error:?}").contains(secret), "{error:?}");
        assert!(error.is_invalid_input());
        assert!(
            matches!(&error, BridgeError::Setting { key, message } if key == "linger.ms"
                && message == r#"Invalid value for configuration property "queue.buffering.max.ms""#),
            "{error:?}"
        );

        let bad = Endpoint::local_kafka().with_setting("compression.type", secret);
        let Err(error) = KafkaConsumer::new(
            &bad,
            &["t".to_string()],
            &ConsumeOptions::default(),
            Duration::from_secs(1),
        ) else {
            panic!("accepted compression.type={secret}");
        };
        assert!(!format!("{error} {error:?}").contains(secret), "{error:?}");
        assert!(
            matches!(&error, BridgeError::Setting { key, .. } if key == "compression.type"),
            "{error:?}"
        );

        let unknown = Endpoint::local_kafka().with_setting("no.such.setting", "1");
        let Err(error) = KafkaProducer::new(&unknown, "t", Duration::from_secs(1)) else {
            panic!("accepted no.such.setting");
        };
        assert_eq!(
            error.to_string(),
            r#"setting `no.such.setting`: No such configuration property: "no.such.setting""#
        );
    }

    #[test]
    fn settings_override_the_defaults_and_the_last_one_wins() {
        let endpoint = Endpoint::local_kafka()
            .with_setting("linger.ms", "50")
            .with_setting("linger.ms", "7")
            .with_setting("bootstrap.servers", "elsewhere:9092");
        let config = producer_config(&endpoint).unwrap();
        assert_eq!(config.get("linger.ms"), Some("7"));
        assert_eq!(config.get("bootstrap.servers"), Some("elsewhere:9092"));
        assert_eq!(config.get("acks"), Some("all"));
        assert_eq!(config.get("enable.idempotence"), Some("true"));
        assert_eq!(config.get("message.max.bytes"), Some("10485760"));
    }

    #[test]
    fn lowering_acks_drops_the_default_idempotence_only() {
        let idempotence = |endpoint: Endpoint| {
            producer_config(&endpoint)
                .unwrap()
                .get("enable.idempotence")
                .map(str::to_string)
        };
        let local = Endpoint::local_kafka;
        assert_eq!(
            idempotence(local().with_setting("acks", "1")).as_deref(),
            Some("false")
        );
        assert_eq!(
            idempotence(local().with_setting("acks", "-1")).as_deref(),
            Some("true")
        );
        assert_eq!(
            idempotence(local().with_setting("acks", "all")).as_deref(),
            Some("true")
        );
        assert_eq!(
            idempotence(
                local()
                    .with_setting("enable.idempotence", "true")
                    .with_setting("acks", "0")
            )
            .as_deref(),
            Some("true")
        );
    }

    #[test]
    fn the_consumer_configuration_follows_the_options() {
        let plain = consumer_config(&Endpoint::local_kafka(), &ConsumeOptions::default()).unwrap();
        assert!(
            plain
                .get("group.id")
                .is_some_and(|g| g.starts_with("flinkit-private-"))
        );
        assert_eq!(plain.get("enable.auto.commit"), Some("false"));
        assert_eq!(plain.get("enable.partition.eof"), Some("true"));
        assert_eq!(plain.get("auto.offset.reset"), Some("earliest"));
        assert_eq!(plain.get("allow.auto.create.topics"), Some("false"));

        let options = ConsumeOptions {
            start: StartAt::Latest,
            follow: true,
            group: Some("readers".into()),
        };
        let endpoint = Endpoint::local_kafka().with_setting("enable.auto.commit", "true");
        let grouped = consumer_config(&endpoint, &options).unwrap();
        assert_eq!(grouped.get("group.id"), Some("readers"));
        assert_eq!(grouped.get("enable.partition.eof"), Some("false"));
        assert_eq!(grouped.get("auto.offset.reset"), Some("latest"));
        assert_eq!(grouped.get("enable.auto.commit"), Some("true"));
    }

    #[test]
    fn delivery_reports_become_acks_purged_ones_timeouts() {
        let hooks = Hooks::default();
        lock(&hooks.reports).extend([
            (7, None),
            (
                8,
                Some(KafkaError::MessageProduction(
                    RDKafkaErrorCode::PurgeInflight,
                )),
            ),
            (
                9,
                Some(KafkaError::MessageProduction(
                    RDKafkaErrorCode::MessageSizeTooLarge,
                )),
            ),
        ]);
        let mut handover = Handover {
            spare: Vec::new(),
            purged_after: Duration::from_secs(3),
        };
        let mut acks = Vec::new();
        assert_eq!(handover.run(&hooks, "orders", &mut |ack| acks.push(ack)), 3);
        assert_eq!(acks.iter().map(|a| a.seq).collect::<Vec<_>>(), [7, 8, 9]);
        assert!(acks[0].result.is_ok());
        assert!(matches!(
            acks[1].result,
            Err(BridgeError::Timeout(t)) if t == Duration::from_secs(3)
        ));
        let Err(error) = &acks[2].result else {
            panic!("a failure became a success");
        };
        assert!(
            error
                .with_causes()
                .starts_with("kafka: delivery to `orders` failed: "),
            "{error}"
        );
        assert_eq!(
            error.kafka_error_code(),
            Some(RDKafkaErrorCode::MessageSizeTooLarge)
        );
        assert_eq!(handover.run(&hooks, "orders", &mut |ack| acks.push(ack)), 0);
    }

    #[test]
    fn the_first_error_is_kept_and_partition_ends_are_not_errors() {
        let hooks = Hooks::default();
        hooks.error(
            KafkaError::Global(RDKafkaErrorCode::PartitionEOF),
            "reached end of partition",
        );
        assert_eq!(*lock(&hooks.first_error), None);
        hooks.error(
            KafkaError::Global(RDKafkaErrorCode::BrokerTransportFailure),
            "Connect failed",
        );
        hooks.error(
            KafkaError::Global(RDKafkaErrorCode::AllBrokersDown),
            "1/1 brokers are down",
        );
        assert_eq!(lock(&hooks.first_error).as_deref(), Some("Connect failed"));
    }

    #[test]
    fn long_waits_become_librdkafkas_never() {
        assert_eq!(
            wait(Duration::from_secs(2)),
            Timeout::After(Duration::from_secs(2))
        );
        assert_eq!(wait(Duration::MAX), Timeout::Never);
        assert_eq!(wait(Duration::from_secs(30 * 24 * 3600)), Timeout::Never);
        assert_eq!(remaining(deadline_in(Duration::MAX)), Duration::MAX);
    }

    #[test]
    fn only_connection_troubles_pass_by_themselves() {
        assert!(transient(&KafkaError::MessageConsumption(
            RDKafkaErrorCode::BrokerTransportFailure
        )));
        assert!(!transient(&KafkaError::MessageConsumption(
            RDKafkaErrorCode::UnknownTopicOrPartition
        )));
        assert!(!transient(&KafkaError::MessageConsumptionFatal(
            RDKafkaErrorCode::BrokerTransportFailure
        )));
    }

    #[test]
    fn consuming_no_topic_is_refused_before_connecting() {
        let nowhere = Endpoint {
            address: "localhost:1".into(),
            ..Endpoint::local_kafka()
        };
        let Err(error) = KafkaConsumer::new(
            &nowhere,
            &[],
            &ConsumeOptions::default(),
            Duration::from_secs(60),
        ) else {
            panic!("consumed no topic");
        };
        assert_eq!(error.to_string(), "kafka: no topic to consume");
    }
}
