//! The Kafka transport against a real broker — the local stack's Kafka at `localhost:9092`
//! (`FLINKIT_KAFKA` overrides it): round trips of keys, values, empty values, tombstones,
//! headers and timestamps, a 1 MB value, starting at latest and at a timestamp, the end of the
//! records that existed at the start, a group's commits, acknowledgements of 10k records, a
//! flush that times out, missing topics and an unreachable broker. Every test writes its own
//! topic. Outside CI, without a broker, the tests say so and stop.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use flinkit::bridge::kafka::{KafkaConsumer, KafkaProducer};
use flinkit::bridge::{
    Ack, BridgeError, ConsumeOptions, Consumer, Endpoint, InRecord, Next, OutRecord, Position,
    Producer, StartAt,
};
use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer as _};

const TIMEOUT: Duration = Duration::from_secs(20);

fn endpoint() -> Endpoint {
    let mut endpoint = Endpoint::local_kafka();
    if let Ok(address) = std::env::var("FLINKIT_KAFKA") {
        endpoint.address = address;
    }
    endpoint
}

/// Whether Kafka answers; in CI it must.
fn kafka_up() -> bool {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &endpoint().address)
        .set("log_level", "0")
        .create()
        .unwrap();
    match consumer.fetch_metadata(None, Duration::from_secs(5)) {
        Ok(_) => true,
        Err(error) => {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI runs these against the stack: {error}"
            );
            eprintln!(
                "no Kafka at {}; run `flinkit stack up` to run these",
                endpoint().address
            );
            false
        }
    }
}

fn unique(name: &str) -> String {
    common::unique(&format!("bridge-kafka-{name}"))
}

/// Creates `topic` with `partitions` partitions and waits until it can be read.
fn create_topic(topic: &str, partitions: i32) {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", &endpoint().address)
        .create()
        .unwrap();
    let new = NewTopic::new(topic, partitions, TopicReplication::Fixed(1));
    let options = AdminOptions::new().operation_timeout(Some(TIMEOUT));
    let results = futures::executor::block_on(admin.create_topics([&new], &options)).unwrap();
    for result in results {
        result.unwrap();
    }
    // The topic is readable once its metadata lists every partition with a leader.
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let readable = KafkaConsumer::new(
            &endpoint(),
            &[topic.to_string()],
            &ConsumeOptions::default(),
            TIMEOUT,
        )
        .is_ok();
        if readable {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "topic {topic} never became readable"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn record(key: &str, value: &str) -> OutRecord {
    OutRecord {
        key: Some(key.as_bytes().to_vec()),
        value: Some(value.as_bytes().to_vec()),
        ..OutRecord::default()
    }
}

/// Sends `records` numbered from 0 and waits for them; returns the acknowledgements.
fn produce_acks(producer: &mut KafkaProducer, records: Vec<OutRecord>) -> Vec<Ack> {
    let mut acks = Vec::new();
    for (seq, record) in records.into_iter().enumerate() {
        producer
            .send(seq as u64, record, &mut |ack| acks.push(ack))
            .unwrap();
        producer.poll(Duration::ZERO, &mut |ack| acks.push(ack));
    }
    producer.flush(TIMEOUT, &mut |ack| acks.push(ack)).unwrap();
    acks
}

/// Sends `records` to `topic` and checks that every one was acknowledged.
fn produce(topic: &str, records: Vec<OutRecord>) {
    let count = records.len();
    let mut producer = KafkaProducer::new(&endpoint(), topic, TIMEOUT).unwrap();
    let acks = produce_acks(&mut producer, records);
    assert_eq!(acks.len(), count);
    for ack in acks {
        assert!(ack.result.is_ok(), "record {}: {:?}", ack.seq, ack.result);
    }
}

fn consumer(topic: &str, options: &ConsumeOptions) -> KafkaConsumer {
    KafkaConsumer::new(&endpoint(), &[topic.to_string()], options, TIMEOUT).unwrap()
}

/// Reads up to `limit` records, or to the end; fails on a consumer that idles.
fn read(consumer: &mut KafkaConsumer, limit: usize) -> (Vec<InRecord>, bool) {
    let mut records = Vec::new();
    while records.len() < limit {
        match consumer.next(TIMEOUT).unwrap() {
            Next::Record(record) => records.push(*record),
            Next::End => return (records, true),
            Next::Idle => panic!("idle after {} records", records.len()),
        }
    }
    (records, false)
}

/// Every record of `topic` that exists now.
fn read_all(topic: &str) -> Vec<InRecord> {
    let (records, end) = read(&mut consumer(topic, &ConsumeOptions::default()), usize::MAX);
    assert!(end);
    records
}

fn values(records: &[InRecord]) -> Vec<String> {
    records
        .iter()
        .map(|r| String::from_utf8(r.value.clone().unwrap_or_default()).unwrap())
        .collect()
}

fn offset(record: &InRecord) -> i64 {
    match &record.position {
        Position::Kafka { offset, .. } => *offset,
        other => panic!("a Kafka record at {other:?}"),
    }
}

#[test]
fn round_trip_keeps_unicode_empty_values_tombstones_headers_and_timestamps() {
    if !kafka_up() {
        return;
    }
    let topic = unique("round-trip");
    create_topic(&topic, 1);
    let sent = vec![
        OutRecord {
            key: Some("ключ-🔑".as_bytes().to_vec()),
            value: Some(r#"{"name":"Zoë 🍕","city":"東京"}"#.as_bytes().to_vec()),
            properties: vec![
                ("trace-id".into(), "αβγ-1".into()),
                ("empty".into(), String::new()),
                ("trace-id".into(), "second".into()),
            ],
            timestamp: Some(1_700_000_000_123),
        },
        OutRecord {
            key: Some(b"empty".to_vec()),
            value: Some(Vec::new()),
            properties: Vec::new(),
            timestamp: Some(1_700_000_000_124),
        },
        OutRecord {
            key: Some("ключ-🔑".as_bytes().to_vec()),
            value: None,
            properties: Vec::new(),
            timestamp: Some(1_700_000_000_125),
        },
        OutRecord {
            key: None,
            value: Some(b"no key".to_vec()),
            properties: Vec::new(),
            timestamp: Some(1_700_000_000_126),
        },
        OutRecord {
            key: Some(Vec::new()),
            value: Some(b"empty key".to_vec()),
            properties: vec![("\u{1F511}".into(), "\u{1F5DD}".into())],
            timestamp: Some(1_700_000_000_127),
        },
    ];
    produce(&topic, sent.clone());
    let received = read_all(&topic);
    let expected: Vec<InRecord> = sent
        .into_iter()
        .enumerate()
        .map(|(offset, record)| InRecord {
            topic: topic.clone(),
            key: record.key,
            value: record.value,
            properties: record.properties,
            timestamp: record.timestamp,
            position: Position::Kafka {
                partition: 0,
                offset: offset as i64,
            },
            schema_version: None,
        })
        .collect();
    assert_eq!(received, expected);
}

#[test]
fn a_one_megabyte_value_goes_through() {
    if !kafka_up() {
        return;
    }
    let topic = unique("one-mb");
    create_topic(&topic, 1);
    let value: Vec<u8> = (0..1024 * 1024).map(|i| b'a' + (i % 26) as u8).collect();
    produce(
        &topic,
        vec![OutRecord {
            key: Some(b"big".to_vec()),
            value: Some(value.clone()),
            ..OutRecord::default()
        }],
    );
    let received = read_all(&topic);
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].key.as_deref(), Some(&b"big"[..]));
    assert!(
        received[0].value.as_ref() == Some(&value),
        "the value changed"
    );
}

#[test]
fn a_record_timestamp_defaults_to_the_send_time() {
    if !kafka_up() {
        return;
    }
    let topic = unique("now");
    create_topic(&topic, 1);
    let before = now_millis();
    produce(&topic, vec![record("k", "v")]);
    let after = now_millis();
    let received = read_all(&topic);
    let timestamp = received[0].timestamp.unwrap();
    assert!(
        (before..=after).contains(&timestamp),
        "{timestamp} not in {before}..={after}"
    );
}

fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

#[test]
fn latest_reads_only_records_written_after_the_start() {
    if !kafka_up() {
        return;
    }
    let topic = unique("latest");
    create_topic(&topic, 2);
    produce(&topic, vec![record("a", "old-1"), record("b", "old-2")]);

    let latest = ConsumeOptions {
        start: StartAt::Latest,
        ..ConsumeOptions::default()
    };
    let mut at_end = consumer(&topic, &latest);
    assert!(matches!(at_end.next(TIMEOUT).unwrap(), Next::End));

    let mut following = consumer(
        &topic,
        &ConsumeOptions {
            follow: true,
            ..latest
        },
    );
    produce(
        &topic,
        vec![
            record("a", "new-1"),
            record("b", "new-2"),
            record("a", "new-3"),
        ],
    );
    let (records, end) = read(&mut following, 3);
    assert!(!end);
    let mut got = values(&records);
    got.sort();
    assert_eq!(got, ["new-1", "new-2", "new-3"]);
    assert!(matches!(
        following.next(Duration::from_millis(500)).unwrap(),
        Next::Idle
    ));
}

#[test]
fn a_timestamp_starts_at_the_first_record_at_or_after_it() {
    if !kafka_up() {
        return;
    }
    let topic = unique("timestamp");
    create_topic(&topic, 1);
    let base = 1_600_000_000_000;
    produce(
        &topic,
        (0..10)
            .map(|i| OutRecord {
                timestamp: Some(base + i * 1000),
                ..record(&format!("k{i}"), &format!("v{i}"))
            })
            .collect(),
    );
    let at = |millis| ConsumeOptions {
        start: StartAt::Timestamp(millis),
        ..ConsumeOptions::default()
    };
    let (records, end) = read(&mut consumer(&topic, &at(base + 5000)), usize::MAX);
    assert!(end);
    assert_eq!(values(&records), ["v5", "v6", "v7", "v8", "v9"]);
    assert_eq!(offset(&records[0]), 5);

    let (records, end) = read(&mut consumer(&topic, &at(base + 4500)), usize::MAX);
    assert!(end);
    assert_eq!(values(&records), ["v5", "v6", "v7", "v8", "v9"]);

    let (records, end) = read(&mut consumer(&topic, &at(base + 60_000)), usize::MAX);
    assert!(end);
    assert!(records.is_empty());
}

#[test]
fn an_empty_topic_ends_at_once() {
    if !kafka_up() {
        return;
    }
    let topic = unique("empty");
    create_topic(&topic, 3);
    let started = Instant::now();
    let mut empty = consumer(&topic, &ConsumeOptions::default());
    assert!(matches!(empty.next(TIMEOUT).unwrap(), Next::End));
    assert!(matches!(empty.next(TIMEOUT).unwrap(), Next::End));
    assert!(started.elapsed() < TIMEOUT);
}

#[test]
fn the_end_is_the_records_that_existed_at_the_start() {
    if !kafka_up() {
        return;
    }
    let topic = unique("end");
    create_topic(&topic, 3);
    produce(
        &topic,
        (0..30)
            .map(|i| record(&format!("k{i:02}"), &format!("v{i:02}")))
            .collect(),
    );
    let mut reader = consumer(&topic, &ConsumeOptions::default());
    // Written after the start: not read.
    produce(&topic, vec![record("k99", "late")]);
    let (records, end) = read(&mut reader, usize::MAX);
    assert!(end);
    let mut got = values(&records);
    got.sort();
    let expected: Vec<String> = (0..30).map(|i| format!("v{i:02}")).collect();
    assert_eq!(got, expected);
    // Every partition got some (keys spread), and in order within each.
    let mut by_partition: BTreeMap<i32, Vec<i64>> = BTreeMap::new();
    for record in &records {
        if let Position::Kafka { partition, offset } = record.position {
            by_partition.entry(partition).or_default().push(offset);
        }
    }
    for offsets in by_partition.values() {
        let expected: Vec<i64> = (0..offsets.len() as i64).collect();
        assert_eq!(offsets, &expected);
    }
    assert!(matches!(reader.next(TIMEOUT).unwrap(), Next::End));
}

#[test]
fn two_topics_are_read_to_their_ends_together() {
    if !kafka_up() {
        return;
    }
    let (one, two) = (unique("two-a"), unique("two-b"));
    create_topic(&one, 2);
    create_topic(&two, 1);
    produce(
        &one,
        (0..5)
            .map(|i| record(&format!("k{i}"), &format!("a{i}")))
            .collect(),
    );
    produce(
        &two,
        (0..3)
            .map(|i| record(&format!("k{i}"), &format!("b{i}")))
            .collect(),
    );
    let mut both = KafkaConsumer::new(
        &endpoint(),
        &[one.clone(), two.clone(), one.clone()],
        &ConsumeOptions::default(),
        TIMEOUT,
    )
    .unwrap();
    let (records, end) = read(&mut both, usize::MAX);
    assert!(end);
    let mut got: Vec<(String, String)> = records
        .iter()
        .map(|r| (r.topic.clone(), values(std::slice::from_ref(r)).remove(0)))
        .collect();
    got.sort();
    let mut expected: Vec<(String, String)> = (0..5)
        .map(|i| (one.clone(), format!("a{i}")))
        .chain((0..3).map(|i| (two.clone(), format!("b{i}"))))
        .collect();
    expected.sort();
    assert_eq!(got, expected);
}

#[test]
fn a_group_resumes_from_its_committed_offset() {
    if !kafka_up() {
        return;
    }
    let topic = unique("group");
    create_topic(&topic, 1);
    produce(
        &topic,
        (0..10)
            .map(|i| record(&format!("k{i}"), &format!("v{i}")))
            .collect(),
    );
    let group = ConsumeOptions {
        group: Some(unique("group")),
        ..ConsumeOptions::default()
    };
    let mut first = consumer(&topic, &group);
    let (records, _) = read(&mut first, 4);
    assert_eq!(values(&records), ["v0", "v1", "v2", "v3"]);
    first.commit().unwrap();
    // Read but not committed: read again by the next member.
    let (records, _) = read(&mut first, 1);
    assert_eq!(values(&records), ["v4"]);
    drop(first);

    let mut second = consumer(&topic, &group);
    let (records, end) = read(&mut second, usize::MAX);
    assert!(end);
    assert_eq!(values(&records), ["v4", "v5", "v6", "v7", "v8", "v9"]);
    assert_eq!(offset(&records[0]), 4);
    second.commit().unwrap();
    // Nothing new read: nothing to commit.
    second.commit().unwrap();
    drop(second);

    let mut third = consumer(&topic, &group);
    assert!(matches!(third.next(TIMEOUT).unwrap(), Next::End));

    // Without a group nothing is committed: a plain consumer reads everything.
    assert_eq!(read_all(&topic).len(), 10);
}

#[test]
fn ten_thousand_records_are_each_acknowledged_once() {
    if !kafka_up() {
        return;
    }
    let topic = unique("acks");
    create_topic(&topic, 3);
    let count = 10_000;
    let records: Vec<OutRecord> = (0..count)
        .map(|i| {
            record(
                &format!("k{i}"),
                &format!(r#"{{"id":{i},"name":"record {i}"}}"#),
            )
        })
        .collect();
    let mut producer = KafkaProducer::new(&endpoint(), &topic, TIMEOUT).unwrap();
    let acks = produce_acks(&mut producer, records);
    assert_eq!(acks.len(), count);
    let mut seqs: Vec<u64> = acks
        .iter()
        .map(|ack| {
            assert!(ack.result.is_ok(), "record {}: {:?}", ack.seq, ack.result);
            ack.seq
        })
        .collect();
    seqs.sort_unstable();
    assert_eq!(seqs, (0..count as u64).collect::<Vec<_>>());
    // Nothing more comes.
    let mut late = 0;
    producer.poll(Duration::from_millis(100), &mut |_| late += 1);
    assert_eq!(late, 0);

    let received = read_all(&topic);
    assert_eq!(received.len(), count);
    let mut ids: Vec<String> = received
        .iter()
        .map(|r| String::from_utf8(r.key.clone().unwrap()).unwrap())
        .collect();
    ids.sort();
    let mut expected: Vec<String> = (0..count).map(|i| format!("k{i}")).collect();
    expected.sort();
    assert_eq!(ids, expected);
}

#[test]
fn a_flush_that_times_out_reports_every_outstanding_record_as_failed() {
    if !kafka_up() {
        return;
    }
    let topic = unique("flush-timeout");
    create_topic(&topic, 1);
    // A long linger keeps the records queued past the flush's timeout.
    let endpoint = endpoint().with_setting("linger.ms", "5000");
    let mut producer = KafkaProducer::new(&endpoint, &topic, TIMEOUT).unwrap();
    let mut acks = Vec::new();
    for seq in 0..100 {
        producer
            .send(seq, record("k", "v"), &mut |ack| acks.push(ack))
            .unwrap();
    }
    let flushed = producer.flush(Duration::from_millis(200), &mut |ack| acks.push(ack));
    assert!(
        matches!(flushed, Err(BridgeError::Timeout(t)) if t == Duration::from_millis(200)),
        "{flushed:?}"
    );
    let mut seqs: Vec<u64> = acks.iter().map(|ack| ack.seq).collect();
    seqs.sort_unstable();
    assert_eq!(seqs, (0..100).collect::<Vec<_>>());
    for ack in &acks {
        assert!(
            matches!(ack.result, Err(BridgeError::Timeout(t)) if t == Duration::from_millis(200)),
            "{:?}",
            ack.result
        );
    }
    // The producer stays usable.
    let acks = produce_acks(&mut producer, vec![record("k", "after")]);
    assert!(acks[0].result.is_ok());
}

#[test]
fn a_settings_value_overrides_a_default() {
    if !kafka_up() {
        return;
    }
    let topic = unique("acks-1");
    // acks=1 alone would clash with the default idempotence, which therefore gives way.
    let endpoint = endpoint().with_setting("acks", "1");
    let mut producer = KafkaProducer::new(&endpoint, &topic, TIMEOUT).unwrap();
    let acks = produce_acks(&mut producer, vec![record("k", "v")]);
    assert!(acks[0].result.is_ok(), "{:?}", acks[0].result);

    let clash = self::endpoint()
        .with_setting("acks", "1")
        .with_setting("enable.idempotence", "true");
    let error = KafkaProducer::new(&clash, &topic, TIMEOUT).err().unwrap();
    assert!(error.to_string().contains("acks"), "{error}");
}

#[test]
fn a_missing_topic_is_named_and_not_created_by_consuming() {
    if !kafka_up() {
        return;
    }
    let topic = unique("missing");
    for _ in 0..2 {
        let error = KafkaConsumer::new(
            &endpoint(),
            std::slice::from_ref(&topic),
            &ConsumeOptions::default(),
            TIMEOUT,
        )
        .err()
        .unwrap();
        assert!(matches!(error, BridgeError::Client { .. }), "{error:?}");
        assert_eq!(
            error.to_string(),
            format!("kafka: topic `{topic}` does not exist")
        );
    }
}

#[test]
fn producing_creates_a_topic() {
    if !kafka_up() {
        return;
    }
    let topic = unique("created");
    produce(&topic, vec![record("k", "v")]);
    assert_eq!(values(&read_all(&topic)), ["v"]);
}

#[test]
fn an_unreachable_broker_fails_within_the_timeout() {
    let nowhere = Endpoint {
        address: "localhost:1".into(),
        ..Endpoint::local_kafka()
    };
    let timeout = Duration::from_secs(2);
    let started = Instant::now();
    let error = KafkaProducer::new(&nowhere, "t", timeout).err().unwrap();
    assert!(started.elapsed() < Duration::from_secs(30));
    assert!(
        matches!(&error, BridgeError::Unreachable { endpoint, timeout: t, .. } if endpoint == "localhost:1" && *t == timeout),
        "{error:?}"
    );
    assert!(error.to_string().contains("localhost:1"), "{error}");

    let started = Instant::now();
    for group in [None, Some("g".to_string())] {
        let options = ConsumeOptions {
            group,
            ..ConsumeOptions::default()
        };
        let error = KafkaConsumer::new(&nowhere, &["t".to_string()], &options, timeout)
            .err()
            .unwrap();
        assert!(
            matches!(&error, BridgeError::Unreachable { endpoint, .. } if endpoint == "localhost:1"),
            "{error:?}"
        );
    }
    assert!(started.elapsed() < Duration::from_secs(60));
}
