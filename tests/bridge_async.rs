//! The async bridge (`flinkit::bridge::client` and the upsert view) against real brokers, each
//! test once on Kafka and once on Pulsar: sends that resolve on delivery (the record is
//! readable, at the next offset, once its send resolved) with many in flight, a consumer
//! stream that ends at the end of the topic or follows it, a group's commit, table rows checked
//! and encoded, tombstones, a record that is not a row, the upsert view awaited until it holds
//! the expected rows or failing with the difference, librdkafka's error kept as the source, and
//! an unreachable broker.
//!
//! The brokers are the local stack's — Kafka at `localhost:9092` (`FLINKIT_KAFKA` overrides
//! it), Pulsar at `pulsar://localhost:6650` (`FLINKIT_PULSAR_URL`). Every test writes its own
//! topic. Outside CI, without a broker, the tests say so and stop.

use std::time::{Duration, Instant};

use flinkit::bridge::client::{AsyncProducer, RecordStream, RowStream, TableProducer};
use flinkit::bridge::table::TableSpec;
use flinkit::bridge::upsert::{Row, UpsertView};
use flinkit::bridge::{
    BridgeError, Broker, ConsumeOptions, Endpoint, InRecord, OutRecord, Position, StartAt,
};
use flinkit::sql::Script;
use flinkit::vars::{Vars, substitute};
use futures::{StreamExt as _, TryStreamExt as _};
use rdkafka::error::RDKafkaErrorCode;
use serde_json::{Value, json};

const TIMEOUT: Duration = Duration::from_secs(20);

fn endpoint(broker: Broker) -> Endpoint {
    match broker {
        Broker::Kafka => Endpoint {
            address: std::env::var("FLINKIT_KAFKA").unwrap_or_else(|_| "localhost:9092".into()),
            ..Endpoint::local_kafka()
        },
        Broker::Pulsar => Endpoint {
            address: std::env::var("FLINKIT_PULSAR_URL")
                .unwrap_or_else(|_| "pulsar://localhost:6650".into()),
            ..Endpoint::local_pulsar()
        },
        Broker::Jdbc => unreachable!("these tests run on topics"),
    }
}

fn unique(broker: Broker, name: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("bridge-async-{broker}-{name}-{nanos}")
}

/// Whether the broker answers; in CI it must.
async fn up(broker: Broker) -> bool {
    let probe = unique(broker, "probe");
    match AsyncProducer::open(&endpoint(broker), &probe, Duration::from_secs(5)).await {
        Ok(_) => true,
        Err(error) => {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI runs these against the stack: {error}"
            );
            eprintln!("no {broker} ({error}); run `flinkit stack up` to run these");
            false
        }
    }
}

fn record(key: &str, value: &str) -> OutRecord {
    OutRecord {
        key: Some(key.as_bytes().to_vec()),
        value: Some(value.as_bytes().to_vec()),
        ..OutRecord::default()
    }
}

fn earliest(follow: bool) -> ConsumeOptions {
    ConsumeOptions {
        start: StartAt::Earliest,
        follow,
        group: None,
    }
}

/// Every record of `topic`, to its end.
async fn read_all(broker: Broker, topic: &str) -> Vec<InRecord> {
    RecordStream::open(
        &endpoint(broker),
        &[topic.to_string()],
        &earliest(false),
        TIMEOUT,
    )
    .await
    .unwrap()
    .try_collect()
    .await
    .unwrap()
}

fn values(records: &[InRecord]) -> Vec<String> {
    records
        .iter()
        .map(|r| String::from_utf8_lossy(r.value.as_deref().unwrap_or_default()).into_owned())
        .collect()
}

fn row(value: Value) -> Row {
    value.as_object().cloned().unwrap()
}

async fn a_send_resolves_once_the_record_is_readable(broker: Broker) {
    if !up(broker).await {
        return;
    }
    let topic = unique(broker, "delivery");
    let producer = AsyncProducer::open(&endpoint(broker), &topic, TIMEOUT)
        .await
        .unwrap();
    assert_eq!(producer.topic(), topic);
    for (i, value) in ["a", "b", "c"].into_iter().enumerate() {
        producer.send(record("k", value)).await.unwrap();
        // Delivered means readable: a reader opened now ends after exactly these records.
        let records = read_all(broker, &topic).await;
        assert_eq!(values(&records).len(), i + 1, "after sending {value}");
        assert_eq!(values(&records).last().map(String::as_str), Some(value));
        if let Position::Kafka { offset, .. } = records[i].position {
            assert_eq!(offset, i as i64);
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn kafka_a_send_resolves_once_the_record_is_readable() {
    a_send_resolves_once_the_record_is_readable(Broker::Kafka).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn pulsar_a_send_resolves_once_the_record_is_readable() {
    a_send_resolves_once_the_record_is_readable(Broker::Pulsar).await;
}

async fn many_sends_in_flight_each_resolve_once_in_order_per_key(broker: Broker) {
    if !up(broker).await {
        return;
    }
    let topic = unique(broker, "in-flight");
    let producer = AsyncProducer::open(&endpoint(broker), &topic, TIMEOUT)
        .await
        .unwrap();
    let started = Instant::now();
    // Queued in order from this task, then awaited together.
    let mut deliveries = Vec::new();
    for i in 0..2000 {
        deliveries.push(producer.queue(record("k", &i.to_string())).await.unwrap());
    }
    // And sends from other tasks, through clones, at the same time.
    let tasks: Vec<_> = (0..4)
        .map(|task| {
            let producer = producer.clone();
            tokio::spawn(async move {
                for i in 0..50 {
                    producer
                        .send(record(&format!("task-{task}"), &i.to_string()))
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    for result in futures::future::join_all(deliveries).await {
        result.unwrap();
    }
    for task in tasks {
        task.await.unwrap();
    }
    producer.flush(TIMEOUT).await.unwrap();
    eprintln!(
        "{broker}: 2200 records delivered in {:?}",
        started.elapsed()
    );
    let records = read_all(broker, &topic).await;
    assert_eq!(records.len(), 2200);
    let of_key = |key: &str| -> Vec<String> {
        values(
            &records
                .iter()
                .filter(|r| r.key.as_deref() == Some(key.as_bytes()))
                .cloned()
                .collect::<Vec<_>>(),
        )
    };
    let numbers = |n: usize| (0..n).map(|i| i.to_string()).collect::<Vec<_>>();
    assert_eq!(of_key("k"), numbers(2000));
    for task in 0..4 {
        assert_eq!(of_key(&format!("task-{task}")), numbers(50));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn kafka_many_sends_in_flight_each_resolve_once_in_order_per_key() {
    many_sends_in_flight_each_resolve_once_in_order_per_key(Broker::Kafka).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn pulsar_many_sends_in_flight_each_resolve_once_in_order_per_key() {
    many_sends_in_flight_each_resolve_once_in_order_per_key(Broker::Pulsar).await;
}

async fn a_stream_ends_at_the_end_unless_following_and_a_group_resumes(broker: Broker) {
    if !up(broker).await {
        return;
    }
    let topic = unique(broker, "stream");
    let topics = [topic.clone()];
    let producer = AsyncProducer::open(&endpoint(broker), &topic, TIMEOUT)
        .await
        .unwrap();
    // Two batches (Pulsar acknowledges whole batches): the commit below falls on the first
    // one's end.
    for batch in [["1", "2"], ["3", "4"]] {
        let sent = producer
            .send_all(batch.map(|value| record("k", value)))
            .await
            .unwrap();
        assert_eq!(sent, 2);
    }
    assert_eq!(
        values(&read_all(broker, &topic).await),
        ["1", "2", "3", "4"]
    );

    // Following: records sent after the start come too, and the stream does not end.
    let mut following = RecordStream::open(&endpoint(broker), &topics, &earliest(true), TIMEOUT)
        .await
        .unwrap();
    let first: Vec<_> = (&mut following).take(4).try_collect().await.unwrap();
    assert_eq!(values(&first), ["1", "2", "3", "4"]);
    producer.send(record("k", "5")).await.unwrap();
    let fifth = tokio::time::timeout(TIMEOUT, following.next())
        .await
        .expect("the fifth record")
        .unwrap()
        .unwrap();
    assert_eq!(values(&[fifth]), ["5"]);
    let idle = tokio::time::timeout(Duration::from_millis(500), following.next()).await;
    assert!(idle.is_err(), "a following stream waits: {idle:?}");

    // A group commits what was yielded: the next reader of the group starts after it.
    let group = ConsumeOptions {
        group: Some(unique(broker, "group")),
        ..earliest(false)
    };
    let mut reader = RecordStream::open(&endpoint(broker), &topics, &group, TIMEOUT)
        .await
        .unwrap();
    let two: Vec<_> = (&mut reader).take(2).try_collect().await.unwrap();
    assert_eq!(values(&two), ["1", "2"]);
    reader.commit().await.unwrap();
    drop(reader);
    let rest: Vec<_> = RecordStream::open(&endpoint(broker), &topics, &group, TIMEOUT)
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(values(&rest), ["3", "4", "5"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn kafka_a_stream_ends_at_the_end_unless_following_and_a_group_resumes() {
    a_stream_ends_at_the_end_unless_following_and_a_group_resumes(Broker::Kafka).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn pulsar_a_stream_ends_at_the_end_unless_following_and_a_group_resumes() {
    a_stream_ends_at_the_end_unless_following_and_a_group_resumes(Broker::Pulsar).await;
}

/// An upsert table of users on its own topic.
fn users(broker: Broker) -> TableSpec {
    let topic = unique(broker, "users");
    let address = endpoint(broker).address;
    let connection = match broker {
        Broker::Kafka => format!(
            "'connector' = 'upsert-kafka', 'topic' = '{topic}', \
             'properties.bootstrap.servers' = '{address}'"
        ),
        Broker::Pulsar => format!(
            "'connector' = 'upsert-pulsar', 'topics' = 'persistent://public/default/{topic}', \
             'service-url' = '{address}'"
        ),
        Broker::Jdbc => unreachable!("these tests run on topics"),
    };
    let sql = format!(
        "CREATE TABLE users (uid STRING, accountId STRING, id INT, \
         PRIMARY KEY (uid) NOT ENFORCED) WITH ({connection}, \
         'key.format' = 'raw', 'value.format' = 'json')"
    );
    let script = Script::parse_str(&sql).unwrap();
    TableSpec::from_script(&script, &substitute(&script, &Vars::none()), "users").unwrap()
}

async fn rows_tombstones_and_the_upsert_view(broker: Broker) {
    if !up(broker).await {
        return;
    }
    let table = users(broker);
    let producer = TableProducer::open(&table, TIMEOUT).await.unwrap();

    // A bad row is refused before anything is sent, naming the field.
    let error = producer
        .send_row(json!({"uid": "1", "accountId": "100", "id": "one"}))
        .await
        .unwrap_err();
    assert!(error.is_invalid_input(), "{error:?}");
    assert_eq!(error.input_line(), Some(1));
    assert!(
        error.to_string().contains("field `id`: expected INT"),
        "{error}"
    );
    // JSON lines are all checked before any is sent; an error names its line.
    let bad = "{\"uid\": \"9\", \"id\": 9}\n\n{\"uid\": \"9\", \"acountId\": \"1\"}\n";
    let error = producer.encode_lines(bad, false).unwrap_err();
    assert_eq!(error.input_line(), Some(3), "{error}");
    assert!(
        error.to_string().contains("did you mean `accountId`"),
        "{error}"
    );

    let lines = "{\"uid\": \"1\", \"accountId\": \"100\", \"id\": 1}\n\
                 {\"uid\": \"2\", \"accountId\": \"100\", \"id\": 2}\n";
    let records = producer.encode_lines(lines, false).unwrap();
    assert_eq!(producer.producer().send_all(records).await.unwrap(), 2);
    producer
        .send_envelope(json!({"key": "3", "value": {"accountId": "101", "id": 3}}))
        .await
        .unwrap();
    producer
        .send_row(json!({"uid": "1", "accountId": "102", "id": 1}))
        .await
        .unwrap();
    producer.send_tombstone(json!("2")).await.unwrap();

    let expected = [
        row(json!({"uid": "1", "accountId": "102", "id": 1})),
        row(json!({"uid": "3", "accountId": "101", "id": 3})),
    ];
    let deadline = Instant::now() + TIMEOUT;
    let view = UpsertView::await_rows(&table, &expected, deadline)
        .await
        .unwrap();
    assert_eq!(view.len(), 2);
    assert_eq!(view.row(&json!("1")).unwrap()["accountId"], "102");
    assert_eq!(view.row(&json!({"uid": "3"})).unwrap()["id"], 3);
    assert!(view.row(&json!("2")).is_none());

    // Read once to the end, the view is the same.
    let read = UpsertView::read(&table, TIMEOUT).await.unwrap();
    assert_eq!(read.applied(), 5);
    assert!(read.diff(&expected).is_empty(), "{}", read.diff(&expected));

    // The same records as decoded rows; the tombstone has its key and no row.
    let records: Vec<_> = RowStream::open(&table, &earliest(false), TIMEOUT)
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(records.len(), 5);
    assert_eq!(
        records[2].row,
        Some(row(json!({"uid": "3", "accountId": "101", "id": 3})))
    );
    assert_eq!(records[4].key, Some(row(json!({"uid": "2"}))));
    assert_eq!(records[4].row, None);
}

#[tokio::test(flavor = "multi_thread")]
async fn kafka_rows_tombstones_and_the_upsert_view() {
    rows_tombstones_and_the_upsert_view(Broker::Kafka).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn pulsar_rows_tombstones_and_the_upsert_view() {
    rows_tombstones_and_the_upsert_view(Broker::Pulsar).await;
}

async fn a_view_that_never_holds_the_rows_fails_with_the_difference(broker: Broker) {
    if !up(broker).await {
        return;
    }
    let table = users(broker);
    let producer = TableProducer::open(&table, TIMEOUT).await.unwrap();
    producer
        .send_row(json!({"uid": "1", "accountId": "100", "id": 1}))
        .await
        .unwrap();
    let expected = [row(json!({"uid": "1", "accountId": "100", "id": 2}))];
    let started = Instant::now();
    let error = UpsertView::await_rows(&table, &expected, started + Duration::from_secs(3))
        .await
        .unwrap_err();
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_secs(3) && waited < Duration::from_secs(10),
        "{waited:?}"
    );
    let diff = error.diff().unwrap_or_else(|| panic!("{error:?}"));
    assert_eq!(diff.missing, expected);
    assert_eq!(
        diff.unexpected,
        [row(json!({"uid": "1", "accountId": "100", "id": 1}))]
    );
    assert!(
        matches!(error, BridgeError::Mismatch { waited, .. } if waited >= Duration::from_secs(3)),
        "{error:?}"
    );
    assert!(
        error
            .to_string()
            .starts_with("`users` is not the expected table after "),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn kafka_a_view_that_never_holds_the_rows_fails_with_the_difference() {
    a_view_that_never_holds_the_rows_fails_with_the_difference(Broker::Kafka).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn pulsar_a_view_that_never_holds_the_rows_fails_with_the_difference() {
    a_view_that_never_holds_the_rows_fails_with_the_difference(Broker::Pulsar).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_broker_fails_the_open_in_time_naming_it() {
    for endpoint in [
        Endpoint {
            address: "127.0.0.1:1".into(),
            ..Endpoint::local_kafka()
        },
        Endpoint {
            address: "pulsar://127.0.0.1:1".into(),
            ..Endpoint::local_pulsar()
        },
    ] {
        let started = Instant::now();
        let error = AsyncProducer::open(&endpoint, "t", Duration::from_secs(2))
            .await
            .unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(10));
        assert!(error.is_timeout() && !error.is_invalid_input(), "{error:?}");
        assert!(
            matches!(&error, BridgeError::Unreachable { .. }),
            "{error:?}"
        );
        assert!(error.to_string().contains("127.0.0.1:1"), "{error}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_kafka_refusal_keeps_librdkafka_s_error_as_the_source() {
    if !up(Broker::Kafka).await {
        return;
    }
    let error = AsyncProducer::open(&endpoint(Broker::Kafka), "no spaces allowed!", TIMEOUT)
        .await
        .unwrap_err();
    assert_eq!(
        error.kafka_error_code(),
        Some(RDKafkaErrorCode::InvalidTopic),
        "{error:?}"
    );
    assert!(std::error::Error::source(&error).is_some());
    assert_eq!(error.to_string(), "kafka: topic `no spaces allowed!`");
    assert!(!error.is_invalid_input() && !error.is_timeout());
}

async fn a_record_that_is_not_a_row_is_an_error_and_the_stream_goes_on(broker: Broker) {
    if !up(broker).await {
        return;
    }
    let table = users(broker);
    let producer = TableProducer::open(&table, TIMEOUT).await.unwrap();
    producer
        .producer()
        .send(record("1", "not json"))
        .await
        .unwrap();
    producer
        .send_row(json!({"uid": "2", "accountId": "100", "id": 2}))
        .await
        .unwrap();
    let items: Vec<_> = RowStream::open(&table, &earliest(false), TIMEOUT)
        .await
        .unwrap()
        .collect()
        .await;
    assert_eq!(items.len(), 2, "{items:?}");
    let error = items[0].as_ref().unwrap_err();
    assert!(matches!(error, BridgeError::Decode(_)), "{error:?}");
    assert!(error.to_string().contains("not a JSON object"), "{error}");
    assert_eq!(items[1].as_ref().unwrap().row.as_ref().unwrap()["uid"], "2");
    // The view cannot hold it either, and says where it is.
    let error = UpsertView::read(&table, TIMEOUT).await.unwrap_err();
    assert!(matches!(error, BridgeError::Decode(_)), "{error:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn kafka_a_record_that_is_not_a_row_is_an_error_and_the_stream_goes_on() {
    a_record_that_is_not_a_row_is_an_error_and_the_stream_goes_on(Broker::Kafka).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn pulsar_a_record_that_is_not_a_row_is_an_error_and_the_stream_goes_on() {
    a_record_that_is_not_a_row_is_an_error_and_the_stream_goes_on(Broker::Pulsar).await;
}
