//! The bridge for async (tokio) programs: a producer whose `send` resolves when the broker
//! acknowledged the record, a consumer that is a [`Stream`], and their table-aware forms that
//! take and give rows of a `CREATE TABLE`.
//!
//! They are layered over the synchronous transports ([`kafka`](super::kafka),
//! [`pulsar`](super::pulsar)) — the same clients, settings and encodings as `flinkit produce`
//! and `flinkit consume` — each one driven by a thread of its own, so a program's async tasks
//! never block and the Pulsar transport's own runtime never runs inside the caller's.
//!
//! | type | what |
//! |---|---|
//! | [`AsyncProducer`] | bytes in: [`OutRecord`]s to one topic; `send(record).await` is the delivery |
//! | [`TableProducer`] | rows in: JSON rows, `{"key","value"}` envelopes and tombstones, checked against the table and encoded as `flinkit produce --table` does |
//! | [`RecordStream`] | bytes out: a `Stream` of [`InRecord`]s that ends at the end of the topics unless following |
//! | [`RowStream`] | rows out: each record decoded into the table's columns ([`TableRecord`]) |
//! | [`UpsertView`](super::upsert::UpsertView) | the table Flink sees: fed from a stream, queried by key, awaited until it holds the expected rows |
//!
//! A test of a pipeline's sink, with the users table of the user-count tutorial:
//!
//! ```no_run
//! use std::time::{Duration, Instant};
//!
//! use flinkit::bridge::client::{RecordStream, TableProducer};
//! use flinkit::bridge::table::TableSpec;
//! use flinkit::bridge::upsert::UpsertView;
//! use flinkit::bridge::{ConsumeOptions, StartAt};
//! use flinkit::sql::Script;
//! use flinkit::vars::{Vars, substitute};
//! use serde_json::json;
//!
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! let script = Script::parse_str(
//!     "CREATE TABLE users (uid STRING, accountId STRING, PRIMARY KEY (uid) NOT ENFORCED) \
//!      WITH ('connector' = 'upsert-kafka', 'topic' = 'users', \
//!      'properties.bootstrap.servers' = 'localhost:9092', \
//!      'key.format' = 'raw', 'value.format' = 'json')",
//! )?;
//! let users = TableSpec::from_script(&script, &substitute(&script, &Vars::none()), "users")?;
//!
//! // Each send resolves once the broker acknowledged the record (or with why it was not).
//! let producer = TableProducer::open(&users, Duration::from_secs(10)).await?;
//! producer.send_row(json!({"uid": "100-1", "accountId": "100"})).await?;
//! producer.send_row(json!({"uid": "100-2", "accountId": "100"})).await?;
//! producer.send_tombstone(json!("100-1")).await?;
//!
//! // The upsert view reads the topic until it holds these rows, or fails with what differs.
//! let view = UpsertView::await_rows(
//!     &users,
//!     &[json!({"uid": "100-2", "accountId": "100"}).as_object().unwrap().clone()],
//!     Instant::now() + Duration::from_secs(30),
//! )
//! .await?;
//! assert_eq!(view.row(&json!("100-2")).unwrap()["accountId"], "100");
//!
//! // Or every record, as a stream that ends at the end of the topic.
//! use futures::TryStreamExt as _;
//! let options = ConsumeOptions { start: StartAt::Earliest, ..ConsumeOptions::default() };
//! let records: Vec<_> =
//!     RecordStream::open(&users.endpoint, &users.topics, &options, Duration::from_secs(10))
//!         .await?
//!         .try_collect()
//!         .await?;
//! assert_eq!(records.len(), 3);
//! # Ok(())
//! # }
//! ```
//!
//! Many sends can be in flight at once: [`AsyncProducer`] and [`TableProducer`] are cheap to
//! clone and every method takes `&self`; [`AsyncProducer::queue`] queues a record in order and
//! returns the future of its delivery, for pipelining from one task, and
//! [`AsyncProducer::send_all`] sends a batch. To send fixture rows all or nothing, as
//! `flinkit produce` does, encode them all first:
//!
//! ```no_run
//! # use flinkit::bridge::client::TableProducer;
//! # async fn example(producer: TableProducer, rows: Vec<serde_json::Value>)
//! # -> Result<(), flinkit::bridge::BridgeError> {
//! let records = rows
//!     .into_iter()
//!     .map(|row| producer.encode_row(row))
//!     .collect::<Result<Vec<_>, _>>()?; // a bad row: nothing is sent
//! producer.producer().send_all(records).await?;
//! // or from a JSON-lines file, errors naming the line:
//! let users = std::fs::read_to_string("users.jsonl").unwrap();
//! producer.producer().send_all(producer.encode_lines(&users, false)?).await?;
//! # Ok(())
//! # }
//! ```

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc as std_mpsc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::Stream;
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

use super::format::changelog::{Images, SharedImages};
use super::input::{Encoder, Lines, Shape};
use super::table::{TableError, TableSpec};
use super::upsert::{DecodeError, Row, UpsertView};
use super::{
    Ack, BridgeError, ConsumeOptions, Consumer, Endpoint, InRecord, Next, OutRecord, Producer,
};

/// How many records may wait for the producer's thread before `queue` waits for room.
const QUEUE: usize = 1024;

/// How long the producer's thread waits for acknowledgements before it looks for new records.
const ACK_POLL: Duration = Duration::from_millis(5);

/// How long the consumer's thread waits for a record before it looks for a commit to do.
const RECORD_POLL: Duration = Duration::from_millis(200);

type Reply = oneshot::Sender<Result<(), BridgeError>>;

enum ProducerCommand {
    Send(OutRecord, Reply),
    Flush(Duration, Reply),
}

/// A producer for one topic, for async programs: [`send`](Self::send) resolves when the broker
/// acknowledged the record. Clones share one client; every method takes `&self`, so many
/// records can be in flight at once, from one task or many.
///
/// One thread per producer drives the Kafka or Pulsar transport (the one `flinkit produce`
/// uses, with its settings and delivery guarantees: Kafka with `acks=all` and idempotence,
/// Pulsar batching).
///
/// **Dropping** the last clone closes the producer in the background: its thread flushes what
/// is queued, waiting at most the `timeout` given to [`open`](Self::open), then closes the
/// connection. Nothing reports the outcome then, and a program that exits at once may lose
/// those records: await the sends, or [`flush`](Self::flush), before dropping.
#[derive(Debug, Clone)]
pub struct AsyncProducer {
    commands: mpsc::Sender<ProducerCommand>,
    topic: Arc<str>,
}

impl AsyncProducer {
    /// Opens a producer for `topic` at `endpoint`, failing with
    /// [`BridgeError::Unreachable`] when the broker does not answer within `timeout` (which
    /// also bounds the flush when the producer is dropped).
    pub async fn open(
        endpoint: &Endpoint,
        topic: &str,
        timeout: Duration,
    ) -> Result<Self, BridgeError> {
        let (opened, is_open) = oneshot::channel();
        let (commands, receiver) = mpsc::channel(QUEUE);
        let endpoint = endpoint.clone();
        let name = topic.to_string();
        spawn("flinkit-producer", move || {
            match super::producer(&endpoint, &name, timeout) {
                Ok(producer) => {
                    if opened.send(Ok(())).is_ok() {
                        pump(producer, receiver, timeout);
                    }
                }
                Err(error) => {
                    let _ = opened.send(Err(error));
                }
            }
        })?;
        is_open.await.map_err(|_| stopped("producer"))??;
        Ok(Self {
            commands,
            topic: topic.into(),
        })
    }

    /// The topic written to.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// Sends one record and resolves when the broker acknowledged it, or with why it was not
    /// sent or not acknowledged (a [`BridgeError::Timeout`] when it was still unacknowledged
    /// at a flush's deadline). Concurrent sends are queued in the order they are first polled;
    /// for a guaranteed order from one task, [`queue`](Self::queue) one after the other.
    pub async fn send(&self, record: OutRecord) -> Result<(), BridgeError> {
        self.queue(record).await?.await
    }

    /// Queues one record, waiting only while the queue is full, and returns the future of its
    /// delivery. Records queued one after the other are sent in that order; the record is sent
    /// whether or not the returned future is awaited.
    pub async fn queue(&self, record: OutRecord) -> Result<DeliveryFuture, BridgeError> {
        let (reply, delivered) = oneshot::channel();
        self.commands
            .send(ProducerCommand::Send(record, reply))
            .await
            .map_err(|_| stopped("producer"))?;
        Ok(DeliveryFuture { delivered })
    }

    /// Queues `records` in order and waits for every delivery; `Ok` with how many were sent
    /// when the broker acknowledged them all, else the first record's failure (by order),
    /// once every one is settled.
    pub async fn send_all(
        &self,
        records: impl IntoIterator<Item = OutRecord>,
    ) -> Result<usize, BridgeError> {
        let mut deliveries = Vec::new();
        for record in records {
            deliveries.push(self.queue(record).await?);
        }
        let count = deliveries.len();
        futures::future::join_all(deliveries)
            .await
            .into_iter()
            .collect::<Result<Vec<()>, BridgeError>>()?;
        Ok(count)
    }

    /// Waits until every record queued before the call is acknowledged or failed, at most
    /// `timeout`; records still unacknowledged then fail with [`BridgeError::Timeout`], and
    /// so does the flush.
    pub async fn flush(&self, timeout: Duration) -> Result<(), BridgeError> {
        let (reply, flushed) = oneshot::channel();
        self.commands
            .send(ProducerCommand::Flush(timeout, reply))
            .await
            .map_err(|_| stopped("producer"))?;
        flushed.await.map_err(|_| stopped("producer"))?
    }
}

/// The delivery of one queued record: resolves with `Ok(())` once the broker acknowledged it.
#[derive(Debug)]
#[must_use = "the record is sent anyway; await this to know that it was delivered"]
pub struct DeliveryFuture {
    delivered: oneshot::Receiver<Result<(), BridgeError>>,
}

impl Future for DeliveryFuture {
    type Output = Result<(), BridgeError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.delivered)
            .poll(cx)
            .map(|reply| reply.unwrap_or_else(|_| Err(stopped("producer"))))
    }
}

/// The producer's thread: sends what is queued and hands each acknowledgement to its record's
/// future, until every handle is dropped; then flushes and closes.
fn pump(
    mut producer: Box<dyn Producer>,
    mut commands: mpsc::Receiver<ProducerCommand>,
    close_timeout: Duration,
) {
    let mut waiting: HashMap<u64, Reply> = HashMap::new();
    let mut seq = 0u64;
    loop {
        let command = if waiting.is_empty() {
            match commands.blocking_recv() {
                Some(command) => command,
                None => break,
            }
        } else {
            match commands.try_recv() {
                Ok(command) => command,
                Err(mpsc::error::TryRecvError::Empty) => {
                    producer.poll(ACK_POLL, &mut |ack| resolve(&mut waiting, ack));
                    continue;
                }
                Err(mpsc::error::TryRecvError::Disconnected) => break,
            }
        };
        match command {
            ProducerCommand::Send(record, reply) => {
                seq += 1;
                waiting.insert(seq, reply);
                let sent = producer.send(seq, record, &mut |ack| resolve(&mut waiting, ack));
                if let Err(error) = sent {
                    resolve(
                        &mut waiting,
                        Ack {
                            seq,
                            result: Err(error),
                        },
                    );
                }
                // Hand over what arrived meanwhile, so a steady stream of sends does not
                // hold acknowledgements back.
                if seq.is_multiple_of(64) {
                    producer.poll(Duration::ZERO, &mut |ack| resolve(&mut waiting, ack));
                }
            }
            ProducerCommand::Flush(timeout, reply) => {
                let flushed = producer.flush(timeout, &mut |ack| resolve(&mut waiting, ack));
                let _ = reply.send(flushed);
            }
        }
    }
    let _ = producer.flush(close_timeout, &mut |ack| resolve(&mut waiting, ack));
}

/// A producer for a table's topic that takes rows: JSON rows of the table's columns, whose key
/// is taken from the table, `{"key","value","properties","timestamp"}` envelopes, and
/// tombstones. Each is checked against the table's columns and encoded in its key and value
/// formats — by the encoder `flinkit produce --table` uses — before it is sent; a bad row
/// fails with [`BridgeError::Input`] (see [`BridgeError::is_invalid_input`]) and nothing is
/// sent. Clones share one producer.
#[derive(Debug, Clone)]
pub struct TableProducer {
    producer: AsyncProducer,
    rows: Arc<Encoder>,
    envelopes: Arc<Encoder>,
    encoded: Arc<AtomicU64>,
}

impl TableProducer {
    /// Opens a producer for the table's topic and endpoint (see [`AsyncProducer::open`]). A
    /// table that names several topics is refused: a producer writes one.
    pub async fn open(table: &TableSpec, timeout: Duration) -> Result<Self, BridgeError> {
        let [topic] = table.topics.as_slice() else {
            return Err(TableError::Unsupported {
                table: table.name.clone(),
                message: format!(
                    "a producer writes one topic, and the table names {} ({})",
                    table.topics.len(),
                    table.topics.join(", ")
                ),
            }
            .into());
        };
        let producer = AsyncProducer::open(&table.endpoint, topic, timeout).await?;
        // A changelog's before-images start from the rows its topic holds (the producer created
        // a missing topic).
        let images = SharedImages::new(
            if table.is_changelog() && !table.row_key_columns().is_empty() {
                Images::from_view(&UpsertView::read(table, timeout).await?)
            } else {
                Images::new()
            },
        );
        let encoder = |shape| Encoder {
            table: Some(table.clone()),
            shape,
            images: images.clone(),
            ..Encoder::default()
        };
        Ok(Self {
            producer,
            rows: Arc::new(encoder(Shape::Value)),
            envelopes: Arc::new(encoder(Shape::Envelope)),
            encoded: Arc::new(AtomicU64::new(0)),
        })
    }

    /// The producer underneath, to [`queue`](AsyncProducer::queue) encoded records or to
    /// [`flush`](AsyncProducer::flush).
    pub fn producer(&self) -> &AsyncProducer {
        &self.producer
    }

    /// A row object of the table's columns as a record, keyed by the table's key columns.
    /// An [`InputError`](super::input::InputError)'s `line` is the record's number among those
    /// this producer encoded, from 1.
    pub fn encode_row(&self, row: Value) -> Result<OutRecord, BridgeError> {
        Ok(self.rows.json(self.next_number(), row)?)
    }

    /// An envelope `{"key": …, "value": {…}|null, "properties": {…}, "timestamp": ms}` as a
    /// record; `"value": null` is a tombstone. The key is an object of key columns, or the
    /// value of a one-column key.
    pub fn encode_envelope(&self, envelope: Value) -> Result<OutRecord, BridgeError> {
        Ok(self.envelopes.json(self.next_number(), envelope)?)
    }

    /// The tombstone of a key — an object of key columns, or the value of a one-column key —
    /// which upsert tables read as a DELETE.
    pub fn encode_tombstone(&self, key: Value) -> Result<OutRecord, BridgeError> {
        self.encode_envelope(serde_json::json!({ "key": key, "value": null }))
    }

    /// JSON lines — rows, or envelopes with `envelopes` — as records, each checked as
    /// `flinkit produce --table --file` checks a file's lines (blank lines skipped, an error
    /// naming its 1-based line). Encoding them all before sending any, with
    /// [`AsyncProducer::send_all`], sends fixtures all or nothing.
    pub fn encode_lines(&self, text: &str, envelopes: bool) -> Result<Vec<OutRecord>, BridgeError> {
        let encoder = if envelopes {
            &self.envelopes
        } else {
            &self.rows
        };
        let mut lines = Lines::new(text.as_bytes());
        let mut records = Vec::new();
        while let Some((line, json)) = lines.next_line().map_err(|source| BridgeError::Io {
            context: "reading JSON lines".into(),
            source,
        })? {
            records.push(encoder.line(line, json)?);
        }
        Ok(records)
    }

    /// Sends a row (see [`encode_row`](Self::encode_row)); resolves on delivery.
    pub async fn send_row(&self, row: Value) -> Result<(), BridgeError> {
        self.producer.send(self.encode_row(row)?).await
    }

    /// Sends an envelope (see [`encode_envelope`](Self::encode_envelope)); resolves on delivery.
    pub async fn send_envelope(&self, envelope: Value) -> Result<(), BridgeError> {
        self.producer.send(self.encode_envelope(envelope)?).await
    }

    /// Sends a key's tombstone (see [`encode_tombstone`](Self::encode_tombstone)); resolves on
    /// delivery.
    pub async fn send_tombstone(&self, key: Value) -> Result<(), BridgeError> {
        self.producer.send(self.encode_tombstone(key)?).await
    }

    fn next_number(&self) -> u64 {
        self.encoded.fetch_add(1, Ordering::Relaxed) + 1
    }
}

enum ConsumerCommand {
    Next,
    Commit(Reply),
}

/// The records of one or more topics as a [`Stream`], for async programs. It reads from where
/// [`ConsumeOptions::start`] says and ends after the records that existed when it opened,
/// unless [`ConsumeOptions::follow`]; an error ends it too, after it is yielded.
///
/// One thread per stream drives the Kafka or Pulsar transport, reading one record ahead of the
/// program only when asked, so [`commit`](Self::commit) covers exactly the records yielded.
/// Dropping the stream stops its thread and closes the connection in the background.
#[derive(Debug)]
pub struct RecordStream {
    commands: std_mpsc::Sender<ConsumerCommand>,
    records: mpsc::UnboundedReceiver<Result<InRecord, BridgeError>>,
    asked: bool,
}

impl RecordStream {
    /// Opens a stream of `topics` at `endpoint`, failing with [`BridgeError::Unreachable`]
    /// when the broker does not answer within `timeout`, or with a client error naming a topic
    /// that does not exist (Kafka).
    pub async fn open(
        endpoint: &Endpoint,
        topics: &[String],
        options: &ConsumeOptions,
        timeout: Duration,
    ) -> Result<Self, BridgeError> {
        let (opened, is_open) = oneshot::channel();
        let (commands, receiver) = std_mpsc::channel();
        let (sender, records) = mpsc::unbounded_channel();
        let endpoint = endpoint.clone();
        let topics = topics.to_vec();
        let options = options.clone();
        spawn("flinkit-consumer", move || {
            match super::consumer(&endpoint, &topics, None, &options, timeout) {
                Ok(consumer) => {
                    if opened.send(Ok(())).is_ok() {
                        read(consumer, receiver, sender);
                    }
                }
                Err(error) => {
                    let _ = opened.send(Err(error));
                }
            }
        })?;
        is_open.await.map_err(|_| stopped("consumer"))??;
        Ok(Self {
            commands,
            records,
            asked: false,
        })
    }

    /// Commits the records yielded so far (with a [`ConsumeOptions::group`]; a no-op
    /// without one), so that the group's next reader starts after them — on Pulsar, after the
    /// batch they are in (see [`PulsarConsumer`](super::pulsar::PulsarConsumer)).
    pub async fn commit(&self) -> Result<(), BridgeError> {
        let (reply, committed) = oneshot::channel();
        self.commands
            .send(ConsumerCommand::Commit(reply))
            .map_err(|_| stopped("consumer"))?;
        committed.await.map_err(|_| stopped("consumer"))?
    }
}

impl Stream for RecordStream {
    type Item = Result<InRecord, BridgeError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        // The thread ends at the end of the records, dropping its sender: a failed ask is the
        // end, which the receiver reports below.
        if !this.asked && this.commands.send(ConsumerCommand::Next).is_ok() {
            this.asked = true;
        }
        let next = this.records.poll_recv(cx);
        if next.is_ready() {
            this.asked = false;
        }
        next
    }
}

/// The consumer's thread: reads one record per ask and commits when told, until the records
/// end, an error, or the stream is dropped.
fn read(
    mut consumer: Box<dyn Consumer>,
    commands: std_mpsc::Receiver<ConsumerCommand>,
    records: mpsc::UnboundedSender<Result<InRecord, BridgeError>>,
) {
    let commit = |consumer: &mut Box<dyn Consumer>, reply: Reply| {
        let _ = reply.send(consumer.commit());
    };
    while let Ok(command) = commands.recv() {
        if let ConsumerCommand::Commit(reply) = command {
            commit(&mut consumer, reply);
            continue;
        }
        let item = loop {
            match consumer.next(RECORD_POLL) {
                Ok(Next::Record(record)) => break Some(Ok(*record)),
                Ok(Next::End) => break None,
                Err(error) => break Some(Err(error)),
                Ok(Next::Idle) => match commands.try_recv() {
                    Ok(ConsumerCommand::Commit(reply)) => commit(&mut consumer, reply),
                    Ok(ConsumerCommand::Next) | Err(std_mpsc::TryRecvError::Empty) => {}
                    Err(std_mpsc::TryRecvError::Disconnected) => return,
                },
            }
        };
        match item {
            Some(Ok(record)) => {
                if records.send(Ok(record)).is_err() {
                    return;
                }
            }
            Some(Err(error)) => {
                let _ = records.send(Err(error));
                return;
            }
            None => return,
        }
    }
}

/// One record of a table, decoded into its columns.
#[derive(Debug, Clone, PartialEq)]
pub struct TableRecord {
    /// The key columns, when the table has a key and the record one.
    pub key: Option<Row>,
    /// Every physical column in table order; `None` for a tombstone (a DELETE of `key`).
    pub row: Option<Row>,
    /// The record as read.
    pub record: InRecord,
}

/// The records of a table's topics decoded into its columns, as a [`Stream`] (see
/// [`RecordStream`] for where it starts and ends). A record that is not one of the table's
/// rows is yielded as a [`BridgeError::Decode`] naming its position, and the stream goes on.
#[derive(Debug)]
pub struct RowStream {
    records: RecordStream,
    table: TableSpec,
}

impl RowStream {
    /// Opens a stream of the table's topics at its endpoint (see [`RecordStream::open`]).
    pub async fn open(
        table: &TableSpec,
        options: &ConsumeOptions,
        timeout: Duration,
    ) -> Result<Self, BridgeError> {
        Ok(Self {
            records: RecordStream::open(&table.endpoint, &table.topics, options, timeout).await?,
            table: table.clone(),
        })
    }

    /// Commits the records yielded so far (see [`RecordStream::commit`]).
    pub async fn commit(&self) -> Result<(), BridgeError> {
        self.records.commit().await
    }

    fn decode(&self, record: InRecord) -> Result<TableRecord, BridgeError> {
        let fail = |message: String| BridgeError::Decode(DecodeError::at(&record, message));
        let key = match &record.key {
            Some(bytes) if self.table.key_format.is_some() => {
                Some(self.table.decode_key(bytes).map_err(fail)?)
            }
            _ => None,
        };
        let row = match &record.value {
            Some(value) => Some(
                self.table
                    .decode_row(record.key.as_deref(), value)
                    .map_err(fail)?,
            ),
            None => None,
        };
        Ok(TableRecord { key, row, record })
    }
}

impl Stream for RowStream {
    type Item = Result<TableRecord, BridgeError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        Pin::new(&mut this.records)
            .poll_next(cx)
            .map(|next| next.map(|record| this.decode(record?)))
    }
}

/// Hands an acknowledgement to its record's future, if that is still awaited.
fn resolve(waiting: &mut HashMap<u64, Reply>, ack: Ack) {
    if let Some(reply) = waiting.remove(&ack.seq) {
        let _ = reply.send(ack.result);
    }
}

fn spawn(name: &str, work: impl FnOnce() + Send + 'static) -> Result<(), BridgeError> {
    std::thread::Builder::new()
        .name(name.into())
        .spawn(work)
        .map(drop)
        .map_err(|source| BridgeError::Io {
            context: format!("starting the {name} thread"),
            source,
        })
}

fn stopped(what: &'static str) -> BridgeError {
    BridgeError::Stopped { what }
}
