//! Pulsar through the `pulsar` crate (tokio): a batching, pipelined producer and a consumer that
//! reads from earliest, latest or a publish time, with or without a durable subscription.
//!
//! The [`Producer`] and [`Consumer`] traits are synchronous: each [`PulsarProducer`] and
//! [`PulsarConsumer`] owns a small multi-threaded tokio runtime that keeps the client's
//! connections, batching and acknowledgements going between calls, and every call blocks on it
//! for a bounded time. Do not call them from inside an async runtime.
//!
//! Records map to messages as the Apache Flink Pulsar connector (`pulsar` / `upsert-pulsar`)
//! reads them:
//!
//! - the key is the message key: UTF-8 keys as they are, other bytes Base64-encoded with the
//!   message's "key is Base64" flag, which the Java client's `getKeyBytes()` decodes (the
//!   connector's sink always writes keys that way, and [`PulsarConsumer`] decodes them);
//! - a tombstone (no value) is a message with its key and an empty payload, which
//!   `upsert-pulsar` reads as a DELETE of that key, and an empty payload is read back as a
//!   tombstone (the bundled connector, 4.1.0-1.18, fails the job with a NullPointerException on
//!   a tombstone when the table has columns outside its primary key);
//! - properties are message properties, the timestamp is the event time; read back, a record's
//!   timestamp is its event time, else its publish time.
//!
//! Topics may be given short (`users`, `tenant/namespace/users`) or full
//! (`persistent://public/default/users`); records name their topic in full, without the
//! partition suffix of a partitioned topic (the partition is in the message id). A producer
//! sends the records of a key to one partition, the one Java's client and Flink's sink pick
//! ([`key_partition`]), in order.
//!
//! [`create_topics`] and [`delete_topics`] manage topics through the broker's admin REST API
//! (`/admin/v2/persistent/{tenant}/{namespace}/{topic}`).

use std::collections::{HashMap, HashSet, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use base64::Engine as _;
use futures::stream::FuturesUnordered;
use futures::{FutureExt as _, StreamExt as _};
use pulsar::compression::{
    Compression, CompressionLz4, CompressionSnappy, CompressionZlib, CompressionZstd,
};
use pulsar::consumer::InitialPosition;
use pulsar::error::{ConnectionError, ConsumerError, ProducerError, ServiceDiscoveryError};
use pulsar::message::proto::MessageIdData;
use pulsar::producer::{self, SendFuture};
use pulsar::routing_policy::{CustomRoutingPolicy, RoutingPolicy};
use pulsar::{
    Authentication, ConnectionRetryOptions, ConsumerOptions, OperationRetryOptions,
    ProducerOptions, Pulsar, SubType, TokioExecutor,
};
use tokio::runtime::Runtime;

use super::{
    Ack, BridgeError, Broker, ConsumeOptions, Consumer, Endpoint, InRecord, Next, OutRecord,
    Position, Producer, StartAt,
};

/// The client settings a Pulsar endpoint takes (`-X key=value`):
///
/// | key | meaning | default |
/// |---|---|---|
/// | `batch.size` | messages per batch; `1` turns batching off | `1000` |
/// | `batch.bytes` | a batch is sent once its payloads reach this many bytes | `131072` |
/// | `batch.delay.ms` | a batch is sent at the latest this long after its first message | `1` |
/// | `compression` | `none`, `lz4`, `zlib`, `zstd` or `snappy` | `none` |
/// | `max.pending` | records sent but not yet acknowledged, at most | `10000` |
/// | `max.message.bytes` | larger records (value, key and properties) fail at once: the broker's `maxMessageSize` | `5242880` |
/// | `send.timeout.ms` | how long a record may wait for its receipt, resends after a lost connection included (librdkafka's `message.timeout.ms`), and a send for room among `max.pending` | `300000` |
/// | `auth.token` | a JWT for token authentication | none |
/// | `pulsar.client.authPluginClassName` | from a table: only token authentication (`org.apache.pulsar.client.impl.auth.AuthenticationToken`) | none |
/// | `pulsar.client.authParams` | from a table: `token:…`, `file:///path`, `{"token":"…"}` or the bare token | none |
/// | `pulsar.client.tlsTrustCertsFilePath` | the CA certificates (PEM) a `pulsar+ssl://` broker's certificate is checked against, besides the system's | none |
/// | `admin-url` | from a table: ignored, the bridge needs no admin API | |
///
/// The batching keys, `compression`, `max.pending` and `max.message.bytes` only matter to
/// producers.
pub const SETTINGS: &[&str] = &[
    "batch.size",
    "batch.bytes",
    "batch.delay.ms",
    "compression",
    "max.pending",
    "max.message.bytes",
    "send.timeout.ms",
    "auth.token",
    "pulsar.client.authPluginClassName",
    "pulsar.client.authParams",
    TRUST_CERTS,
    "admin-url",
];

/// The setting naming the CA file a TLS broker is checked against (the Java client's key).
const TRUST_CERTS: &str = "pulsar.client.tlsTrustCertsFilePath";

/// The Java client's token authentication plugin, the only one the bridge can stand in for.
const TOKEN_PLUGIN: &str = "org.apache.pulsar.client.impl.auth.AuthenticationToken";

/// How long a lookup or subscription may wait for its answer.
const OPERATION_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a `commit` may block before giving up.
const BLOCK_LIMIT: Duration = Duration::from_secs(60);

/// How long a record may wait for its receipt by default (`send.timeout.ms`): a broker
/// restarted in the middle of a produce (which takes a minute and more on a loaded machine)
/// fails no record, as librdkafka's default `message.timeout.ms` gives a Kafka broker.
const SEND_TIMEOUT: Duration = Duration::from_secs(300);

/// How long dropping a consumer waits for its subscription to be closed on the broker.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

/// Messages a consumer holds for reading.
const RECEIVER_QUEUE: u32 = 2000;

/// Flow permits: at most this many messages (plus the rest of one batch) reach a consumer's
/// engine beyond its queue, so that an emptied queue has room for all that can come before a
/// request (see [`backlog`]).
const PERMITS: u32 = RECEIVER_QUEUE / 4;

/// The parsed [`SETTINGS`] of an endpoint.
#[derive(Clone)]
struct Settings {
    batch_size: u32,
    batch_bytes: usize,
    batch_delay: Duration,
    compression: Compression,
    max_pending: usize,
    max_message_bytes: usize,
    send_timeout: Duration,
    token: Option<String>,
    /// The PEM certificates of [`TRUST_CERTS`].
    trust_certs: Option<Vec<u8>>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            batch_size: 1000,
            batch_bytes: 128 * 1024,
            batch_delay: Duration::from_millis(1),
            compression: Compression::None,
            max_pending: 10_000,
            max_message_bytes: 5 * 1024 * 1024,
            send_timeout: SEND_TIMEOUT,
            token: None,
            trust_certs: None,
        }
    }
}

impl std::fmt::Debug for Settings {
    /// Everything but the token.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("batch_size", &self.batch_size)
            .field("batch_bytes", &self.batch_bytes)
            .field("batch_delay", &self.batch_delay)
            .field("compression", &self.compression)
            .field("max_pending", &self.max_pending)
            .field("max_message_bytes", &self.max_message_bytes)
            .field("send_timeout", &self.send_timeout)
            .field("token", &self.token.as_ref().map(|_| "…"))
            .finish()
    }
}

impl Settings {
    /// Parses `-X` settings and table options; later ones win. Never echoes a value.
    fn parse(settings: &[(String, String)]) -> Result<Self, BridgeError> {
        let mut parsed = Self::default();
        let mut plugin: Option<&str> = None;
        let mut params: Option<&str> = None;
        for (key, value) in settings {
            let value = value.as_str();
            match key.as_str() {
                "batch.size" => parsed.batch_size = positive(key, value)?,
                "batch.bytes" => parsed.batch_bytes = positive(key, value)?,
                "batch.delay.ms" => {
                    let ms: u64 = value.trim().parse().map_err(|_| {
                        setting(key, "expected a whole number of milliseconds (0 or more)")
                    })?;
                    parsed.batch_delay = Duration::from_millis(ms);
                }
                "compression" => parsed.compression = compression(key, value)?,
                "max.pending" => parsed.max_pending = positive(key, value)?,
                "max.message.bytes" => parsed.max_message_bytes = positive(key, value)?,
                "send.timeout.ms" => {
                    parsed.send_timeout = Duration::from_millis(positive(key, value)?);
                }
                "auth.token" => {
                    if value.trim().is_empty() {
                        return Err(setting(key, "the token is empty"));
                    }
                    parsed.token = Some(value.trim().to_string());
                }
                "pulsar.client.authPluginClassName" => plugin = Some(value.trim()),
                "pulsar.client.authParams" => params = Some(value),
                TRUST_CERTS => {
                    let path = value.trim();
                    let pem = std::fs::read(path).map_err(|e| {
                        setting(key, format!("cannot read the certificates in {path}: {e}"))
                    })?;
                    parsed.trust_certs = Some(pem);
                }
                "admin-url" => {}
                _ => return Err(unknown_setting(key)),
            }
        }
        match (plugin, params) {
            (None, None) => {}
            (Some(TOKEN_PLUGIN), Some(params)) => parsed.token = Some(token_from_params(params)?),
            (Some(TOKEN_PLUGIN), None) => {
                return Err(setting(
                    "pulsar.client.authParams",
                    "token authentication needs the token in `pulsar.client.authParams`",
                ));
            }
            (Some(_), _) => {
                return Err(setting(
                    "pulsar.client.authPluginClassName",
                    format!(
                        "flinkit can only authenticate with a token ({TOKEN_PLUGIN}); use \
                         `auth.token` or that plugin"
                    ),
                ));
            }
            (None, Some(_)) => {
                return Err(setting(
                    "pulsar.client.authParams",
                    "needs `pulsar.client.authPluginClassName` to say what the parameters are for",
                ));
            }
        }
        Ok(parsed)
    }

    /// The crate's producer options: batching unless `batch.size` is 1, waiting (rather than
    /// failing) when the connection's queue is full, a key's records all in one partition.
    fn producer_options(&self) -> ProducerOptions {
        let batching = self.batch_size > 1;
        ProducerOptions {
            batch_size: batching.then_some(self.batch_size),
            batch_byte_size: batching.then_some(self.batch_bytes),
            batch_timeout: batching.then_some(self.batch_delay),
            compression: Some(self.compression.clone()),
            block_queue_if_full: true,
            // Keyed messages go to the partition of their key's hash, the others round robin.
            routing_policy: Some(RoutingPolicy::Custom(std::sync::Arc::new(
                KeyHash::default(),
            ))),
            ..Default::default()
        }
    }
}

/// The partition of a key among `partitions`, as Java's client routes it with its Murmur3
/// hashing scheme and as Flink's Pulsar sink does by default (`MessageKeyHash.MURMUR3_32_HASH`):
/// `signSafeMod(Murmur3Hash32.makeHash(key), partitions)`, where `makeHash` is the 32-bit x86
/// Murmur3 of the key's UTF-8 bytes, seed 0, with its sign bit cleared. The key is the message
/// key as sent (the Base64 text of a key that is not UTF-8). The `pulsar` crate's own
/// routing keeps the sign bit, so half the keys went to another partition than Flink's and
/// Java's whenever the count is not a power of two.
pub fn key_partition(key: &str, partitions: usize) -> usize {
    // Reading from a slice cannot fail.
    let hash = murmur3::murmur3_32(&mut key.as_bytes(), 0).unwrap_or(0) & 0x7fff_ffff;
    hash as usize % partitions.max(1)
}

/// Keyed messages to [`key_partition`], the others round robin.
#[derive(Default)]
struct KeyHash {
    next: std::sync::atomic::AtomicUsize,
}

impl CustomRoutingPolicy for KeyHash {
    fn route(&self, message: &producer::Message, partitions: usize) -> usize {
        match &message.partition_key {
            Some(key) => key_partition(key, partitions),
            None => {
                let next = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                next % partitions.max(1)
            }
        }
    }
}

fn setting(key: &str, message: impl Into<String>) -> BridgeError {
    BridgeError::Setting {
        key: key.to_string(),
        message: message.into(),
    }
}

fn unknown_setting(key: &str) -> BridgeError {
    let closest = SETTINGS
        .iter()
        .map(|valid| (strsim::jaro_winkler(key, valid), *valid))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, valid)| format!(" (did you mean `{valid}`?)"))
        .unwrap_or_default();
    setting(
        key,
        format!(
            "unknown Pulsar setting{closest}; valid keys: {}",
            SETTINGS.join(", ")
        ),
    )
}

fn positive<T: std::str::FromStr + PartialOrd + Default>(
    key: &str,
    value: &str,
) -> Result<T, BridgeError> {
    match value.trim().parse::<T>() {
        Ok(n) if n > T::default() => Ok(n),
        _ => Err(setting(key, "expected a positive whole number")),
    }
}

fn compression(key: &str, value: &str) -> Result<Compression, BridgeError> {
    Ok(match value.trim().to_ascii_lowercase().as_str() {
        "none" => Compression::None,
        "lz4" => Compression::Lz4(CompressionLz4::default()),
        "zlib" => Compression::Zlib(CompressionZlib::default()),
        "zstd" => Compression::Zstd(CompressionZstd::default()),
        "snappy" => Compression::Snappy(CompressionSnappy::default()),
        _ => {
            return Err(setting(
                key,
                "expected one of none, lz4, zlib, zstd, snappy",
            ));
        }
    })
}

/// The token in `AuthenticationToken` parameters, read as the Java plugin reads them.
fn token_from_params(params: &str) -> Result<String, BridgeError> {
    const KEY: &str = "pulsar.client.authParams";
    let params = params.trim();
    let token = if let Some(token) = params.strip_prefix("token:") {
        token.trim().to_string()
    } else if let Some(path) = params.strip_prefix("file://") {
        std::fs::read_to_string(path)
            .map_err(|e| setting(KEY, format!("cannot read the token file: {e}")))?
            .trim()
            .to_string()
    } else if params.starts_with('{') {
        let json: serde_json::Value = serde_json::from_str(params)
            .map_err(|_| setting(KEY, "expected JSON like {\"token\":\"…\"}"))?;
        json.get("token")
            .and_then(serde_json::Value::as_str)
            .ok_or_else(|| setting(KEY, "the JSON has no string \"token\""))?
            .trim()
            .to_string()
    } else {
        params.to_string()
    };
    if token.is_empty() {
        return Err(setting(KEY, "the token is empty"));
    }
    Ok(token)
}

/// `pulsar://host:port` for a bare `host:port`, else the address as given.
fn service_url(address: &str) -> String {
    let address = address.trim();
    if address.contains("://") {
        address.to_string()
    } else {
        format!("pulsar://{address}")
    }
}

/// The full name of a topic: `persistent://public/default/users` for `users`,
/// `persistent://t/ns/users` for `t/ns/users`.
pub(crate) fn full_topic(topic: &str) -> String {
    let topic = topic.trim();
    if topic.contains("://") {
        topic.to_string()
    } else if topic.matches('/').count() == 2 {
        format!("persistent://{topic}")
    } else {
        format!("persistent://public/default/{topic}")
    }
}

/// A topic's path in the admin REST API: `persistent/public/default/users` for `users`.
pub(crate) fn admin_path(topic: &str) -> String {
    let full = full_topic(topic);
    match full.split_once("://") {
        Some((domain, rest)) => format!("{domain}/{rest}"),
        None => full,
    }
}

/// Creates `topics` (not partitioned) through Pulsar's admin REST API at `admin`
/// (`http://localhost:8080`), signing in and trusting certificates with the endpoint's
/// `settings` as its producers and consumers do ([`SETTINGS`]: `auth.token` or
/// `pulsar.client.authParams`, `pulsar.client.tlsTrustCertsFilePath`); a topic that exists
/// already is not an error.
pub async fn create_topics(
    admin: &str,
    topics: &[String],
    settings: &[(String, String)],
    timeout: Duration,
) -> Result<(), BridgeError> {
    let client = admin_client(timeout, settings)?;
    for topic in topics {
        let url = format!(
            "{}/admin/v2/{}",
            admin.trim_end_matches('/'),
            admin_path(topic)
        );
        let sent = client.put(url).send().await;
        admin_answer(
            admin,
            timeout,
            "creating",
            topic,
            sent,
            reqwest::StatusCode::CONFLICT,
        )
        .await?;
    }
    Ok(())
}

/// Deletes `topics` through Pulsar's admin REST API at `admin`, with `force=true` (their
/// producers and subscriptions closed) and every partition of a partitioned topic, signing in
/// with `settings` as [`create_topics`] does; a topic that does not exist is not an error.
pub async fn delete_topics(
    admin: &str,
    topics: &[String],
    settings: &[(String, String)],
    timeout: Duration,
) -> Result<(), BridgeError> {
    #[derive(serde::Deserialize)]
    struct Metadata {
        partitions: u32,
    }
    let client = admin_client(timeout, settings)?;
    for topic in topics {
        let base = format!(
            "{}/admin/v2/{}",
            admin.trim_end_matches('/'),
            admin_path(topic)
        );
        let metadata = client.get(format!("{base}/partitions")).send().await;
        let partitioned = match metadata {
            Ok(answer) if answer.status().is_success() => answer
                .json::<Metadata>()
                .await
                .is_ok_and(|m| m.partitions > 0),
            Ok(_) => false,
            Err(err) => return Err(admin_unreachable(admin, timeout, err)),
        };
        let url = if partitioned {
            format!("{base}/partitions?force=true")
        } else {
            format!("{base}?force=true")
        };
        let sent = client.delete(url).send().await;
        admin_answer(
            admin,
            timeout,
            "deleting",
            topic,
            sent,
            reqwest::StatusCode::NOT_FOUND,
        )
        .await?;
    }
    Ok(())
}

/// An admin API client that signs in and trusts certificates as the broker client does with
/// the same `settings` (a token from `auth.token` or `pulsar.client.authParams`, the CA of
/// `pulsar.client.tlsTrustCertsFilePath`).
pub(crate) fn admin_client(
    timeout: Duration,
    settings: &[(String, String)],
) -> Result<reqwest::Client, BridgeError> {
    let parsed = Settings::parse(settings)?;
    let failed = |e| BridgeError::client_caused(Broker::Pulsar, "creating an admin client", e);
    let mut builder = reqwest::Client::builder().timeout(timeout);
    if let Some(pem) = &parsed.trust_certs {
        for certificate in reqwest::Certificate::from_pem_bundle(pem).map_err(failed)? {
            builder = builder.add_root_certificate(certificate);
        }
    }
    if let Some(token) = &parsed.token {
        let mut value = reqwest::header::HeaderValue::from_str(&format!("Bearer {token}"))
            .map_err(|_| {
                setting(
                    "pulsar.client.authParams",
                    "the token is not valid in an HTTP header",
                )
            })?;
        value.set_sensitive(true);
        builder = builder.default_headers(reqwest::header::HeaderMap::from_iter([(
            reqwest::header::AUTHORIZATION,
            value,
        )]));
    }
    builder.build().map_err(failed)
}

/// Why an admin call got no answer: a refused TLS handshake (the broker's certificate not
/// trusted) is [`BridgeError::Refused`], anything else [`BridgeError::Unreachable`].
pub(crate) fn admin_unreachable(
    admin: &str,
    timeout: Duration,
    err: reqwest::Error,
) -> BridgeError {
    let mut cause: Option<&dyn std::error::Error> = Some(&err);
    while let Some(error) = cause {
        if error.to_string().contains("certificate") {
            return BridgeError::Refused {
                broker: Broker::Pulsar,
                endpoint: admin.to_string(),
                detail: format!(
                    "the TLS handshake failed ({error}): trust the broker's CA with \
                     `pulsar.client.tlsTrustCertsFilePath`"
                ),
            };
        }
        cause = error.source();
    }
    BridgeError::Unreachable {
        broker: Broker::Pulsar,
        endpoint: admin.to_string(),
        timeout,
        detail: err.to_string(),
    }
}

/// An admin call's outcome (`doing`: "creating", "deleting"): a success or `ignored` (the topic
/// is already as asked) is fine, any other answer an error with the broker's message.
async fn admin_answer(
    admin: &str,
    timeout: Duration,
    doing: &str,
    topic: &str,
    sent: Result<reqwest::Response, reqwest::Error>,
    ignored: reqwest::StatusCode,
) -> Result<(), BridgeError> {
    let answer = sent.map_err(|e| admin_unreachable(admin, timeout, e))?;
    let status = answer.status();
    if status.is_success() || status == ignored {
        return Ok(());
    }
    let body = answer.text().await.unwrap_or_default();
    Err(BridgeError::client(
        Broker::Pulsar,
        format!("{doing} topic {topic} through the admin API at {admin}: HTTP {status} {body}"),
    ))
}

/// The runtime that drives one producer or consumer.
fn runtime() -> Result<Runtime, BridgeError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("flinkit-pulsar")
        .enable_all()
        .build()
        .map_err(|source| BridgeError::Io {
            context: "starting the Pulsar client's runtime".into(),
            source,
        })
}

/// A connected client, or why not within `timeout`, whose operations — a record's receipt
/// among them — may take `operations`.
async fn connect(
    url: &str,
    settings: &Settings,
    timeout: Duration,
    operations: Duration,
) -> Result<Pulsar<TokioExecutor>, pulsar::Error> {
    let mut builder = Pulsar::builder(url, TokioExecutor)
        .with_connection_retry_options(ConnectionRetryOptions {
            min_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_secs(5),
            max_retries: 10,
            connection_timeout: timeout.clamp(Duration::from_millis(100), Duration::from_secs(10)),
            keep_alive: Duration::from_secs(30),
            ..Default::default()
        })
        .with_operation_retry_options(OperationRetryOptions {
            operation_timeout: operations,
            retry_delay: Duration::from_millis(500),
            max_retries: Some(20),
        });
    if let Some(pem) = &settings.trust_certs {
        builder = builder.with_certificate_chain(pem.clone());
    }
    if let Some(token) = &settings.token {
        builder = builder.with_auth(Authentication {
            name: "token".into(),
            data: token.clone().into_bytes(),
        });
    }
    builder.build().await
}

/// Whether the client could not reach the broker (rather than the broker refusing something).
fn is_unreachable(error: &pulsar::Error) -> bool {
    fn connection(error: &ConnectionError) -> bool {
        matches!(
            error,
            ConnectionError::Io(_)
                | ConnectionError::Disconnected
                | ConnectionError::SocketAddr(_)
                | ConnectionError::NotFound
                | ConnectionError::Canceled
                | ConnectionError::Shutdown
        )
    }
    match error {
        pulsar::Error::Connection(e)
        | pulsar::Error::Producer(ProducerError::Connection(e))
        | pulsar::Error::Consumer(ConsumerError::Connection(e))
        | pulsar::Error::ServiceDiscovery(ServiceDiscoveryError::Connection(e)) => connection(e),
        pulsar::Error::ServiceDiscovery(
            ServiceDiscoveryError::DnsLookupError
            | ServiceDiscoveryError::Canceled
            | ServiceDiscoveryError::Shutdown,
        ) => true,
        _ => false,
    }
}

/// Whether the broker answered but refused the connection: the crate gives up at once, with
/// this one message, on a connection error it will not retry — a failed TLS handshake (an
/// untrusted certificate) or a refused authentication (a wrong or expired token); what the
/// broker said is only logged (`-vv`).
fn is_refused(error: &pulsar::Error) -> bool {
    match error {
        pulsar::Error::Connection(ConnectionError::Io(e))
        | pulsar::Error::Producer(ProducerError::Connection(ConnectionError::Io(e)))
        | pulsar::Error::Consumer(ConsumerError::Connection(ConnectionError::Io(e)))
        | pulsar::Error::ServiceDiscovery(ServiceDiscoveryError::Connection(
            ConnectionError::Io(e),
        )) => {
            e.kind() == std::io::ErrorKind::Other
                && e.to_string() == "fatal error when connecting to the Pulsar server"
        }
        _ => false,
    }
}

/// Runs `setup` (connecting and opening producers or consumers) within `timeout`, turning a
/// broker that does not answer into [`BridgeError::Unreachable`] and one that refuses the
/// connection into [`BridgeError::Refused`].
fn open<T>(
    rt: &Runtime,
    url: &str,
    timeout: Duration,
    setup: impl Future<Output = Result<T, pulsar::Error>>,
) -> Result<T, BridgeError> {
    let unreachable = |detail: String| BridgeError::Unreachable {
        broker: Broker::Pulsar,
        endpoint: url.to_string(),
        timeout,
        detail,
    };
    match rt.block_on(async { tokio::time::timeout(timeout, setup).await }) {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) if is_refused(&e) => Err(BridgeError::Refused {
            broker: Broker::Pulsar,
            endpoint: url.to_string(),
            detail: "authentication failed (a wrong or expired token) or the TLS handshake did \
                     (a certificate not signed by a CA in `pulsar.client.tlsTrustCertsFilePath`); \
                     -vv shows the broker's answer"
                .into(),
        }),
        Ok(Err(e)) if is_unreachable(&e) => Err(unreachable(e.to_string())),
        Ok(Err(e)) => Err(BridgeError::client_caused(Broker::Pulsar, "connecting", e)),
        Err(_) => Err(unreachable("timed out".into())),
    }
}

/// The message for a record, or why the record cannot be sent.
///
/// A message larger than the broker takes would not fail: the broker drops the connection, the
/// crate sends it again until the operation timeout, and the other records wait meanwhile.
fn message(record: OutRecord, max_bytes: usize) -> Result<producer::Message, String> {
    let size = record.value.as_ref().map_or(0, Vec::len)
        + record.key.as_ref().map_or(0, Vec::len)
        + record
            .properties
            .iter()
            .map(|(k, v)| k.len() + v.len())
            .sum::<usize>();
    if size > max_bytes {
        return Err(format!(
            "the record has {size} bytes, more than the broker takes ({max_bytes} bytes, \
             `max.message.bytes`)"
        ));
    }
    let (partition_key, partition_key_b64_encoded) = match record.key {
        None => (None, None),
        Some(key) => match String::from_utf8(key) {
            Ok(key) => (Some(key), None),
            Err(e) => (
                Some(base64::engine::general_purpose::STANDARD.encode(e.as_bytes())),
                Some(true),
            ),
        },
    };
    let event_time = match record.timestamp {
        None => None,
        Some(ms) => Some(
            u64::try_from(ms)
                .map_err(|_| format!("the timestamp {ms} is before 1970: not an event time"))?,
        ),
    };
    Ok(producer::Message {
        payload: record.value.unwrap_or_default(),
        properties: record.properties.into_iter().collect::<HashMap<_, _>>(),
        partition_key,
        partition_key_b64_encoded,
        event_time,
        ..Default::default()
    })
}

/// A record sent and waiting for its receipt.
struct InFlight {
    seq: u64,
    receipt: SendFuture,
}

impl Future for InFlight {
    type Output = Ack;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Ack> {
        let seq = self.seq;
        self.receipt.poll_unpin(cx).map(|result| Ack {
            seq,
            result: result
                .map(drop)
                .map_err(|e| BridgeError::client_caused(Broker::Pulsar, "sending", e)),
        })
    }
}

/// What the producer asks of its pump.
// Nearly every command is a `Send`: boxing its message would cost an allocation per record and
// save nothing.
#[allow(clippy::large_enum_variant)]
enum Command {
    /// Send a message; `alone` first sends what is batched so far.
    Send {
        seq: u64,
        message: producer::Message,
        alone: bool,
    },
    /// Send what is batched so far.
    Flush,
}

/// Sends the messages it is given, in order, and reports each receipt through `acks`. It owns
/// the client and producer, so that they live, and are dropped, inside the runtime.
async fn pump(
    client: Pulsar<TokioExecutor>,
    mut producer: pulsar::Producer<TokioExecutor>,
    batching: bool,
    mut commands: tokio::sync::mpsc::UnboundedReceiver<Command>,
    acks: std::sync::mpsc::Sender<Ack>,
) {
    let mut in_flight = FuturesUnordered::new();
    loop {
        tokio::select! {
            command = commands.recv() => match command {
                Some(Command::Send { seq, message, alone }) => {
                    if alone {
                        // A failed batch fails its records' receipts.
                        let _ = producer.send_batch().await;
                    }
                    match producer.send_non_blocking(message).await {
                        Ok(receipt) => in_flight.push(InFlight { seq, receipt }),
                        Err(e) => {
                            let result = Err(BridgeError::client_caused(Broker::Pulsar, "sending", e));
                            let _ = acks.send(Ack { seq, result });
                        }
                    }
                }
                Some(Command::Flush) if batching => {
                    let _ = producer.send_batch().await;
                }
                Some(Command::Flush) => {}
                None => break,
            },
            Some(ack) = in_flight.next(), if !in_flight.is_empty() => {
                let _ = acks.send(ack);
            }
        }
    }
    drop(producer);
    drop(client);
}

/// A Pulsar producer for one topic: batching (unless `batch.size=1`), up to `max.pending`
/// records in flight, each acknowledgement reported once through the callbacks.
///
/// A task of its runtime does the sending, so that the caller's thread only hands records over.
/// Records are sent, and stored, in the order given, each to the partition of
/// [`key_partition`] on a partitioned topic; the producer sends a batch while those before it
/// await their receipts (the vendored `pulsar` crate, `vendor/pulsar/FLINKIT.md`).
/// Acknowledgements come back in the order they arrive.
pub struct PulsarProducer {
    topic: String,
    settings: Settings,
    commands: tokio::sync::mpsc::UnboundedSender<Command>,
    acks: std::sync::mpsc::Receiver<Ack>,
    /// Records sent and not reported yet; a receipt for a record not in here (reported as
    /// failed by a flush that timed out) is dropped, so that each record is reported once.
    outstanding: HashSet<u64>,
    pump: tokio::task::JoinHandle<()>,
    rt: Runtime,
}

impl PulsarProducer {
    /// Connects to `endpoint` and opens a producer on `topic`, failing with
    /// [`BridgeError::Unreachable`] when the broker does not answer within `timeout`.
    pub fn new(endpoint: &Endpoint, topic: &str, timeout: Duration) -> Result<Self, BridgeError> {
        Self::with_schema(endpoint, topic, timeout, None)
    }

    /// [`PulsarProducer::new`], announcing `schema` to the broker: a topic with a registered
    /// schema takes a producer that announces it (see [`super::format::pulsar_schema`]).
    pub fn with_schema(
        endpoint: &Endpoint,
        topic: &str,
        timeout: Duration,
        schema: Option<pulsar::proto::Schema>,
    ) -> Result<Self, BridgeError> {
        let settings = Settings::parse(&endpoint.settings)?;
        let url = service_url(&endpoint.address);
        let topic = full_topic(topic);
        let rt = runtime()?;
        let (client, producer) = open(&rt, &url, timeout, async {
            let client = connect(&url, &settings, timeout, settings.send_timeout).await?;
            let producer = client
                .producer()
                .with_topic(&topic)
                .with_options(ProducerOptions {
                    schema,
                    ..settings.producer_options()
                })
                .build()
                .await?;
            Ok((client, producer))
        })?;
        let (commands, commands_rx) = tokio::sync::mpsc::unbounded_channel();
        let (acks_tx, acks) = std::sync::mpsc::channel();
        let batching = settings.batch_size > 1;
        let pump = rt.spawn(pump(client, producer, batching, commands_rx, acks_tx));
        Ok(Self {
            topic,
            settings,
            commands,
            acks,
            outstanding: HashSet::new(),
            pump,
            rt,
        })
    }

    /// Hands `ack` over unless its record was already reported.
    fn deliver(&mut self, ack: Ack, acks: &mut dyn FnMut(Ack)) {
        if self.outstanding.remove(&ack.seq) {
            acks(ack);
        }
    }

    /// Hands over the acknowledgements that are ready, without waiting.
    fn drain(&mut self, acks: &mut dyn FnMut(Ack)) {
        while let Ok(ack) = self.acks.try_recv() {
            self.deliver(ack, acks);
        }
    }

    /// Waits at most `timeout` for one acknowledgement, then hands over all that are ready.
    /// Whether one arrived.
    fn wait(&mut self, timeout: Duration, acks: &mut dyn FnMut(Ack)) -> bool {
        match self.acks.recv_timeout(timeout) {
            Ok(ack) => {
                self.deliver(ack, acks);
                self.drain(acks);
                true
            }
            Err(_) => false,
        }
    }
}

impl Producer for PulsarProducer {
    fn send(
        &mut self,
        seq: u64,
        record: OutRecord,
        acks: &mut dyn FnMut(Ack),
    ) -> Result<(), BridgeError> {
        let message = match message(record, self.settings.max_message_bytes) {
            Ok(message) => message,
            Err(reason) => {
                acks(Ack {
                    seq,
                    result: Err(BridgeError::client(Broker::Pulsar, reason)),
                });
                return Ok(());
            }
        };
        self.drain(acks);
        while self.outstanding.len() >= self.settings.max_pending {
            // Room comes at the latest when the oldest record's receipt times out.
            if !self.wait(self.settings.send_timeout, acks) {
                return Err(BridgeError::Timeout(self.settings.send_timeout));
            }
        }
        // A message as large as a batch goes alone: what is batched so far leaves first, so
        // that no batch grows past the broker's message size limit.
        let alone =
            self.settings.batch_size > 1 && message.payload.len() >= self.settings.batch_bytes;
        let command = Command::Send {
            seq,
            message,
            alone,
        };
        if self.commands.send(command).is_err() {
            return Err(BridgeError::client(Broker::Pulsar, "the producer stopped"));
        }
        self.outstanding.insert(seq);
        Ok(())
    }

    fn poll(&mut self, timeout: Duration, acks: &mut dyn FnMut(Ack)) {
        let before = self.outstanding.len();
        self.drain(acks);
        if self.outstanding.len() == before && !self.outstanding.is_empty() {
            self.wait(timeout, acks);
        }
    }

    fn flush(&mut self, timeout: Duration, acks: &mut dyn FnMut(Ack)) -> Result<(), BridgeError> {
        let deadline = Instant::now() + timeout;
        // Without the pump, nothing more will come: what is left fails below.
        let _ = self.commands.send(Command::Flush);
        while !self.outstanding.is_empty() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || !self.wait(left, acks) {
                break;
            }
        }
        if self.outstanding.is_empty() {
            return Ok(());
        }
        let mut left: Vec<u64> = self.outstanding.drain().collect();
        left.sort_unstable();
        for seq in left {
            acks(Ack {
                seq,
                result: Err(BridgeError::Timeout(timeout)),
            });
        }
        Err(BridgeError::Timeout(timeout))
    }

    fn topic(&self) -> &str {
        &self.topic
    }
}

impl Drop for PulsarProducer {
    fn drop(&mut self) {
        // Without commands the pump stops and drops the producer and client inside the runtime.
        let (closed, _) = tokio::sync::mpsc::unbounded_channel();
        drop(std::mem::replace(&mut self.commands, closed));
        let pump = &mut self.pump;
        let _ = self
            .rt
            .block_on(async { tokio::time::timeout(CLOSE_TIMEOUT, pump).await });
    }
}

/// What a consumer's stream yields: a message, an error, or its end (`None`).
type Delivery = Option<Result<pulsar::consumer::Message<Vec<u8>>, pulsar::Error>>;

/// One topic partition being read.
struct Part {
    /// The topic as reported in records (full name, no partition suffix).
    topic: String,
    /// The partition's own topic name (the topic itself when not partitioned).
    name: String,
    /// The partition index, -1 when not partitioned.
    partition: i32,
    consumer: pulsar::Consumer<Vec<u8>, TokioExecutor>,
    /// What the consumer delivered while a request was made, read before anything newer.
    buffer: VecDeque<Delivery>,
    /// Records published before this time (ms) are skipped, until one is not.
    since: Option<u64>,
    /// Not following: the last message that existed at the start, until it is read.
    end: Option<MessageIdData>,
    /// Not following: everything that existed at the start was read.
    done: bool,
    /// The last message that completed its entry, to acknowledge on commit.
    read: Option<MessageIdData>,
    /// What was acknowledged last.
    committed: Option<MessageIdData>,
}

/// A Pulsar consumer of one or more topics (every partition of partitioned ones).
///
/// Without a group it reads through a non-durable exclusive subscription with a random name,
/// which the broker forgets when the consumer closes; a start time skips the records published
/// before it (the broker drops a non-durable subscription that seeks). With a group it reads
/// through the durable failover subscription of that name, like a Kafka group: one consumer of
/// the group reads a partition, the others stand by. Earliest and latest only apply when the
/// subscription is new, a start time seeks it (back or forth), and [`Consumer::commit`]
/// acknowledges cumulatively what was read. Pulsar acknowledges whole batches: after a commit in
/// the middle of a batch, a resumed subscription reads that batch's already read records again.
pub struct PulsarConsumer {
    parts: Vec<Part>,
    follow: bool,
    group: bool,
    /// The part polled first next time, so that no part starves the others.
    turn: usize,
    rt: Runtime,
}

impl PulsarConsumer {
    /// Connects to `endpoint` and subscribes to every partition of `topics`, failing with
    /// [`BridgeError::Unreachable`] when the broker does not answer within `timeout`. Not
    /// following, it also finds where each partition ends now.
    pub fn new(
        endpoint: &Endpoint,
        topics: &[String],
        options: &ConsumeOptions,
        timeout: Duration,
    ) -> Result<Self, BridgeError> {
        let settings = Settings::parse(&endpoint.settings)?;
        let url = service_url(&endpoint.address);
        let mut full: Vec<String> = Vec::new();
        for topic in topics.iter().map(|t| full_topic(t)) {
            if !full.contains(&topic) {
                full.push(topic);
            }
        }
        if full.is_empty() {
            return Err(BridgeError::client(Broker::Pulsar, "no topic to read"));
        }
        let rt = runtime()?;
        // The consumers keep the client (and its connections) for as long as they live.
        let parts = open(&rt, &url, timeout, async {
            let client = connect(&url, &settings, timeout, OPERATION_TIMEOUT).await?;
            let mut parts = Vec::new();
            for topic in &full {
                for (name, _) in client.lookup_partitioned_topic(topic.as_str()).await? {
                    let part = subscribe(&client, topic, name, options).await?;
                    parts.push(part);
                }
            }
            Ok(parts)
        })?;
        Ok(Self {
            parts,
            follow: options.follow,
            group: options.group.is_some(),
            turn: 0,
            rt,
        })
    }

    /// The next delivery of any part still read, waiting at most `timeout`; parts take turns.
    fn poll(&mut self, timeout: Duration) -> Option<(usize, Delivery)> {
        let follow = self.follow;
        let start = self.turn;
        let Self { parts, rt, .. } = self;
        let count = parts.len();
        let reading = |part: &Part| follow || !part.done;
        let buffered = (0..count)
            .map(|k| (start + k) % count)
            .find(|i| reading(&parts[*i]) && !parts[*i].buffer.is_empty());
        let (i, delivery) = match buffered.and_then(|i| Some((i, parts[i].buffer.pop_front()?))) {
            Some(found) => found,
            None => {
                let any = futures::future::poll_fn(|cx| {
                    for k in 0..count {
                        let i = (start + k) % count;
                        let part = &mut parts[i];
                        if !reading(part) {
                            continue;
                        }
                        if let Poll::Ready(delivery) = part.consumer.poll_next_unpin(cx) {
                            return Poll::Ready((i, delivery));
                        }
                    }
                    Poll::Pending
                });
                rt.block_on(async { tokio::time::timeout(timeout, any).await })
                    .ok()?
            }
        };
        self.turn = (i + 1) % count;
        Some((i, delivery))
    }
}

/// Subscribes to one partition, positions it, and (not following) finds its end.
async fn subscribe(
    client: &Pulsar<TokioExecutor>,
    topic: &str,
    name: String,
    options: &ConsumeOptions,
) -> Result<Part, pulsar::Error> {
    // A group's consumers fail over like a Kafka group's (one active consumer per partition),
    // which also lets the crate's seek replace its consumer while the old one reconnects.
    let (subscription, durable, sub_type) = match &options.group {
        Some(group) => (group.clone(), true, SubType::Failover),
        None => (
            format!("flinkit-{:016x}", rand::random::<u64>()),
            false,
            SubType::Exclusive,
        ),
    };
    let initial_position = match options.start {
        StartAt::Latest => InitialPosition::Latest,
        StartAt::Earliest | StartAt::Timestamp(_) => InitialPosition::Earliest,
    };
    let mut consumer: pulsar::Consumer<Vec<u8>, TokioExecutor> = client
        .consumer()
        .with_topic(&name)
        .with_subscription(subscription)
        .with_subscription_type(sub_type)
        .with_batch_size(PERMITS)
        .with_options(ConsumerOptions {
            durable: Some(durable),
            initial_position,
            receiver_queue_size: Some(RECEIVER_QUEUE),
            ..Default::default()
        })
        .build()
        .await?;
    let mut buffer = VecDeque::new();
    let mut since = None;
    if let StartAt::Timestamp(ms) = options.start {
        let ms = u64::try_from(ms).unwrap_or(0);
        if durable {
            drain(&mut consumer, &mut buffer);
            consumer.seek(None, None, Some(ms), client.clone()).await?;
            // Delivered before the seek: the new consumer delivers from the new position.
            buffer.clear();
        } else {
            // The broker drops a non-durable subscription when a seek disconnects its
            // consumer, so the records before the time are skipped here instead.
            since = Some(ms);
        }
    }
    let mut end = None;
    if !options.follow {
        // The backlog first: anything it counts is at or before the last message found next.
        let backlog = backlog(&mut consumer, &mut buffer).await?;
        let last = last_message_id(client, &name).await?;
        end = last.filter(|last| backlog != Some(0) && !is_empty_position(last));
    }
    let partition = partition_of(&name);
    Ok(Part {
        topic: topic.to_string(),
        name,
        partition,
        consumer,
        buffer,
        since,
        done: !options.follow && end.is_none(),
        end,
        read: None,
        committed: None,
    })
}

/// The crate's consumer of one partition.
type PartConsumer = pulsar::Consumer<Vec<u8>, TokioExecutor>;

/// Moves what `consumer` has queued into `buffer`.
fn drain(consumer: &mut PartConsumer, buffer: &mut VecDeque<Delivery>) {
    while let Some(delivery) = consumer.next().now_or_never() {
        let end = delivery.is_none();
        buffer.push_back(delivery);
        if end {
            break;
        }
    }
}

/// The backlog (entries not yet acknowledged) of a consumer's subscription, if the broker says.
///
/// The crate routes a consumer's requests and acknowledgements through the engine that feeds
/// its queue, and that engine stops while the queue is full: so the queue is emptied first, and
/// its room takes what the broker may still send ahead of the request (see [`PERMITS`]).
async fn backlog(
    consumer: &mut PartConsumer,
    buffer: &mut VecDeque<Delivery>,
) -> Result<Option<u64>, pulsar::Error> {
    drain(consumer, buffer);
    let stats = consumer.get_stats().await?;
    Ok(stats.first().and_then(|stats| stats.msg_backlog))
}

/// The last message id of a topic partition, asked through a consumer of its own that starts
/// at the end, and so never has a queue full of messages in front of the request.
async fn last_message_id(
    client: &Pulsar<TokioExecutor>,
    name: &str,
) -> Result<Option<MessageIdData>, pulsar::Error> {
    let mut probe: PartConsumer = client
        .consumer()
        .with_topic(name)
        .with_subscription(format!("flinkit-probe-{:016x}", rand::random::<u64>()))
        .with_subscription_type(SubType::Exclusive)
        .with_options(ConsumerOptions {
            durable: Some(false),
            initial_position: InitialPosition::Latest,
            ..Default::default()
        })
        .build()
        .await?;
    let last = probe.get_last_message_id().await?;
    let _ = probe.close().await;
    Ok(last.into_iter().next())
}

/// The broker's last message id of a topic without messages.
fn is_empty_position(id: &MessageIdData) -> bool {
    id.ledger_id == u64::MAX || id.entry_id == u64::MAX
}

/// The partition index in a `…-partition-N` topic name, else -1.
fn partition_of(name: &str) -> i32 {
    name.rsplit_once("-partition-")
        .and_then(|(_, n)| n.parse().ok())
        .unwrap_or(-1)
}

/// Whether the message is the last of its entry (its batch, or alone).
fn completes_entry(id: &MessageIdData, batch_size: Option<i32>) -> bool {
    match (id.batch_index, batch_size) {
        (Some(index), Some(size)) if index >= 0 => index + 1 >= size,
        _ => true,
    }
}

/// Whether the message is at or past `end`.
fn reaches(id: &MessageIdData, batch_size: Option<i32>, end: &MessageIdData) -> bool {
    match (id.ledger_id, id.entry_id).cmp(&(end.ledger_id, end.entry_id)) {
        std::cmp::Ordering::Less => false,
        std::cmp::Ordering::Greater => true,
        std::cmp::Ordering::Equal => {
            completes_entry(id, batch_size)
                || matches!((id.batch_index, end.batch_index), (Some(i), Some(e)) if e >= 0 && i >= e)
        }
    }
}

impl Part {
    /// The record of a message (`None` when skipped as too old), noting how far the part was
    /// read.
    fn record(
        &mut self,
        message: pulsar::consumer::Message<Vec<u8>>,
    ) -> Result<Option<InRecord>, BridgeError> {
        let id = message.message_id().clone();
        let metadata = message.metadata();
        let batch_size = metadata.num_messages_in_batch;
        if let Some(end) = &self.end
            && reaches(&id, batch_size, end)
        {
            self.end = None;
            self.done = true;
        }
        if completes_entry(&id, batch_size) {
            self.read = Some(MessageIdData {
                batch_index: None,
                batch_size: None,
                ack_set: Vec::new(),
                ..id.clone()
            });
        }
        match self.since {
            Some(since) if metadata.publish_time < since => return Ok(None),
            Some(_) => self.since = None,
            None => {}
        }
        let key = message.key_bytes().map_err(|e| {
            BridgeError::client_caused(
                Broker::Pulsar,
                format!("{} on {}", message_id(&id, self.partition), self.topic),
                e,
            )
        })?;
        let mut properties: Vec<(String, String)> = metadata
            .properties
            .iter()
            .map(|kv| (kv.key.clone(), kv.value.clone()))
            .collect();
        properties.sort_by(|a, b| a.0.cmp(&b.0));
        let time = metadata.event_time.unwrap_or(metadata.publish_time);
        let timestamp = i64::try_from(time).ok();
        let position = Position::Pulsar {
            message_id: message_id(&id, self.partition),
        };
        // The schema storage Pulsar ships with numbers versions as 8-byte big-endian longs.
        let schema_version = metadata
            .schema_version
            .as_deref()
            .and_then(|v| <[u8; 8]>::try_from(v).ok())
            .map(i64::from_be_bytes);
        let data = message.payload.data;
        Ok(Some(InRecord {
            topic: self.topic.clone(),
            key,
            value: (!data.is_empty()).then_some(data),
            properties,
            timestamp,
            position,
            schema_version,
        }))
    }
}

/// `ledger:entry:partition:batch_index`, -1 for no partition or batch.
fn message_id(id: &MessageIdData, partition: i32) -> String {
    let partition = id.partition.filter(|p| *p >= 0).unwrap_or(partition);
    format!(
        "{}:{}:{}:{}",
        id.ledger_id,
        id.entry_id,
        partition,
        id.batch_index.unwrap_or(-1)
    )
}

impl Consumer for PulsarConsumer {
    fn next(&mut self, timeout: Duration) -> Result<Next, BridgeError> {
        let deadline = Instant::now() + timeout;
        loop {
            if !self.follow && self.parts.iter().all(|p| p.done) {
                return Ok(Next::End);
            }
            let Some((i, delivery)) = self.poll(deadline.saturating_duration_since(Instant::now()))
            else {
                return Ok(Next::Idle);
            };
            let part = &mut self.parts[i];
            match delivery {
                Some(Ok(message)) => {
                    if let Some(record) = part.record(message)? {
                        return Ok(Next::Record(Box::new(record)));
                    }
                }
                Some(Err(e)) => {
                    return Err(BridgeError::client_caused(
                        Broker::Pulsar,
                        format!("reading {}", part.name),
                        e,
                    ));
                }
                None => {
                    part.done = true;
                    return Err(BridgeError::client(
                        Broker::Pulsar,
                        format!(
                            "the consumer of {} stopped (topic terminated or connection lost)",
                            part.name
                        ),
                    ));
                }
            }
        }
    }

    fn commit(&mut self) -> Result<(), BridgeError> {
        if !self.group {
            return Ok(());
        }
        let Self { parts, rt, .. } = self;
        let acknowledge = async {
            for part in parts.iter_mut() {
                let Some(read) = part.read.clone() else {
                    continue;
                };
                if part.committed.as_ref() == Some(&read) {
                    continue;
                }
                drain(&mut part.consumer, &mut part.buffer);
                part.consumer
                    .cumulative_ack_with_id(&part.name, read.clone())
                    .await
                    .map_err(pulsar::Error::Consumer)?;
                // The engine passes requests on after the acknowledgements before them: once the
                // broker answers this one, it has the acknowledgement.
                backlog(&mut part.consumer, &mut part.buffer).await?;
                part.committed = Some(read);
            }
            Ok::<(), pulsar::Error>(())
        };
        let committed = rt.block_on(async { tokio::time::timeout(BLOCK_LIMIT, acknowledge).await });
        match committed {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(BridgeError::client_caused(Broker::Pulsar, "commit", e)),
            Err(_) => Err(BridgeError::Timeout(BLOCK_LIMIT)),
        }
    }
}

impl Drop for PulsarConsumer {
    fn drop(&mut self) {
        let _inside = self.rt.enter();
        let mut parts = std::mem::take(&mut self.parts);
        // Closing hands a group's partitions to its next consumer at once.
        let close = async {
            for part in &mut parts {
                drain(&mut part.consumer, &mut part.buffer);
                let _ = part.consumer.close().await;
            }
        };
        let _ = self
            .rt
            .block_on(async { tokio::time::timeout(CLOSE_TIMEOUT, close).await });
        drop(parts);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(settings: &[(&str, &str)]) -> Result<Settings, BridgeError> {
        let owned: Vec<(String, String)> = settings
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::parse(&owned)
    }

    fn setting_error(result: Result<Settings, BridgeError>) -> (String, String) {
        match result {
            Err(BridgeError::Setting { key, message }) => (key, message),
            other => panic!("expected a setting error, got {other:?}"),
        }
    }

    #[test]
    fn settings_defaults_and_values() {
        let s = parse(&[]).unwrap();
        assert_eq!(
            (s.batch_size, s.batch_bytes, s.max_pending),
            (1000, 131072, 10_000)
        );
        assert!(matches!(s.compression, Compression::None));
        let s = parse(&[
            ("batch.size", "10"),
            ("batch.bytes", "2048"),
            ("batch.delay.ms", "0"),
            ("compression", "ZSTD"),
            ("max.pending", "5"),
            ("admin-url", "http://localhost:8080"),
        ])
        .unwrap();
        assert_eq!((s.batch_size, s.batch_bytes, s.max_pending), (10, 2048, 5));
        assert_eq!(s.batch_delay, Duration::ZERO);
        assert!(matches!(s.compression, Compression::Zstd(_)));
        assert!(
            parse(&[("batch.size", "1")])
                .unwrap()
                .producer_options()
                .batch_size
                .is_none()
        );
    }

    #[test]
    fn bad_settings_name_the_key_never_the_value() {
        let (key, message) = setting_error(parse(&[("batch.sise", "secret-ish")]));
        assert_eq!(key, "batch.sise");
        assert!(message.contains("did you mean `batch.size`"), "{message}");
        assert!(message.contains("max.pending"), "{message}");
        assert!(!message.contains("secret-ish"));
        let (key, message) = setting_error(parse(&[("max.pending", "0")]));
        assert_eq!(
            (key.as_str(), message.as_str()),
            ("max.pending", "expected a positive whole number")
        );
        let (key, message) = setting_error(parse(&[("compression", "brotli")]));
        assert_eq!(key, "compression");
        assert!(!message.contains("brotli"));
    }

    #[test]
    fn token_authentication_from_table_options() {
        for params in ["token:abc", "abc", "{\"token\": \"abc\"}", " token: abc "] {
            let s = parse(&[
                ("pulsar.client.authPluginClassName", TOKEN_PLUGIN),
                ("pulsar.client.authParams", params),
            ])
            .unwrap();
            assert_eq!(s.token.as_deref(), Some("abc"), "{params}");
        }
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("token");
        std::fs::write(&file, "from-file\n").unwrap();
        let s = parse(&[
            ("pulsar.client.authPluginClassName", TOKEN_PLUGIN),
            (
                "pulsar.client.authParams",
                &format!("file://{}", file.display()),
            ),
        ])
        .unwrap();
        assert_eq!(s.token.as_deref(), Some("from-file"));
        let (key, message) = setting_error(parse(&[
            (
                "pulsar.client.authPluginClassName",
                "org.apache.pulsar.client.impl.auth.AuthenticationTls",
            ),
            ("pulsar.client.authParams", "tlsCertFile:/x"),
        ]));
        assert_eq!(key, "pulsar.client.authPluginClassName");
        assert!(!message.contains("tlsCertFile"));
        let (key, _) = setting_error(parse(&[("pulsar.client.authParams", "token:abc")]));
        assert_eq!(key, "pulsar.client.authParams");
    }

    #[test]
    fn names_and_ids() {
        assert_eq!(full_topic("users"), "persistent://public/default/users");
        assert_eq!(full_topic("t/ns/users"), "persistent://t/ns/users");
        assert_eq!(
            full_topic("non-persistent://public/default/u"),
            "non-persistent://public/default/u"
        );
        assert_eq!(service_url("localhost:6650"), "pulsar://localhost:6650");
        assert_eq!(admin_path("users"), "persistent/public/default/users");
        assert_eq!(admin_path("non-persistent://t/n/u"), "non-persistent/t/n/u");
        assert_eq!(partition_of("persistent://public/default/u-partition-3"), 3);
        assert_eq!(partition_of("persistent://public/default/u"), -1);
        let id = MessageIdData {
            ledger_id: 7,
            entry_id: 9,
            batch_index: Some(2),
            ..Default::default()
        };
        assert_eq!(message_id(&id, 1), "7:9:1:2");
        assert!(!completes_entry(&id, Some(4)));
        assert!(completes_entry(&id, Some(3)));
        let end = MessageIdData {
            ledger_id: 7,
            entry_id: 9,
            batch_index: Some(3),
            ..Default::default()
        };
        assert!(!reaches(&id, Some(4), &end));
        assert!(reaches(&id, Some(3), &end));
    }

    #[test]
    fn messages_from_records() {
        let max = Settings::default().max_message_bytes;
        let m = message(
            OutRecord {
                key: Some(vec![0xff, 0x00]),
                value: None,
                properties: vec![("a".into(), "1".into())],
                timestamp: Some(5),
            },
            max,
        )
        .unwrap();
        assert_eq!(m.partition_key.as_deref(), Some("/wA="));
        assert_eq!(m.partition_key_b64_encoded, Some(true));
        assert!(m.payload.is_empty());
        assert_eq!(m.event_time, Some(5));
        let m = message(
            OutRecord {
                key: Some("ключ".as_bytes().to_vec()),
                ..Default::default()
            },
            max,
        )
        .unwrap();
        assert_eq!(m.partition_key.as_deref(), Some("ключ"));
        assert_eq!(m.partition_key_b64_encoded, None);
        let negative = OutRecord {
            timestamp: Some(-1),
            ..Default::default()
        };
        assert!(message(negative, max).unwrap_err().contains("before 1970"));
        let large = OutRecord {
            key: Some(b"k".to_vec()),
            value: Some(vec![0; 10]),
            properties: vec![("p".into(), "v".into())],
            ..Default::default()
        };
        assert!(message(large.clone(), 13).is_ok());
        assert!(message(large, 12).unwrap_err().contains("13 bytes"));
    }
}
