//! The Pulsar transport against a real broker — the local stack's Pulsar standalone
//! (`FLINKIT_PULSAR_URL`, default `pulsar://localhost:6650`; admin `FLINKIT_PULSAR_ADMIN_URL`,
//! default `http://localhost:8080`) — through the library API: records round trip exactly
//! (Unicode, binary keys, 1 MB values, properties, event time, tombstones), partitioned topics,
//! topics created and deleted through the admin API, start positions, the end of what existed at
//! the start, group commits, acknowledgements, too large records, and an unreachable endpoint. One more test runs an `upsert-pulsar` job on the
//! stack's Flink through its SQL Gateway (`FLINKIT_FLINK_URL`, `FLINKIT_GATEWAY_URL`, defaults
//! `http://localhost:8081` and `:8083`) to show that Flink reads a tombstone as a DELETE, and
//! always cancels it. A random topic per test. Outside CI, without a broker (or Flink), the
//! tests say so and stop. `FLINKIT_TEST_LOG=pulsar=debug` shows the client's logs.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use flinkit::bridge::pulsar::{PulsarConsumer, PulsarProducer};
use flinkit::bridge::{
    Ack, BridgeError, Broker, ConsumeOptions, Consumer, Endpoint, InRecord, Next, OutRecord,
    Position, Producer, StartAt,
};

const TIMEOUT: Duration = Duration::from_secs(10);

fn url() -> String {
    std::env::var("FLINKIT_PULSAR_URL").unwrap_or_else(|_| "pulsar://localhost:6650".into())
}

fn endpoint() -> Endpoint {
    Endpoint {
        address: url(),
        ..Endpoint::local_pulsar()
    }
}

/// Whether the broker answers; in CI it must. `FLINKIT_TEST_LOG` (an env filter such as
/// `pulsar=debug`) turns on the client's logs.
fn pulsar_up() -> bool {
    if let Ok(filter) = std::env::var("FLINKIT_TEST_LOG") {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .try_init();
    }
    match PulsarProducer::new(&endpoint(), &unique("probe"), TIMEOUT) {
        Ok(_) => true,
        Err(e) => {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI runs these against the stack: {e}"
            );
            eprintln!(
                "no Pulsar at {}: {e}; run `flinkit stack up` to run these",
                url()
            );
            false
        }
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn unique(name: &str) -> String {
    common::unique(&format!("flinkit-test-{name}"))
}

fn record(key: &str, value: &str) -> OutRecord {
    OutRecord {
        key: Some(key.as_bytes().to_vec()),
        value: Some(value.as_bytes().to_vec()),
        ..Default::default()
    }
}

/// Sends `records` with sequence numbers 0.. and flushes; every one must be acknowledged once.
fn produce_with(endpoint: &Endpoint, topic: &str, records: Vec<OutRecord>) {
    let mut producer = PulsarProducer::new(endpoint, topic, TIMEOUT).unwrap();
    let count = records.len();
    let mut acked = vec![0u32; count];
    let mut on_ack = |ack: Ack| {
        ack.result.unwrap();
        acked[ack.seq as usize] += 1;
    };
    for (seq, record) in records.into_iter().enumerate() {
        producer.send(seq as u64, record, &mut on_ack).unwrap();
    }
    producer
        .flush(Duration::from_secs(30), &mut on_ack)
        .unwrap();
    assert!(acked.iter().all(|n| *n == 1), "acks: {acked:?}");
}

fn produce(topic: &str, records: Vec<OutRecord>) {
    produce_with(&endpoint(), topic, records);
}

fn consumer(topics: &[&str], options: ConsumeOptions) -> PulsarConsumer {
    let topics: Vec<String> = topics.iter().map(|t| t.to_string()).collect();
    PulsarConsumer::new(&endpoint(), &topics, &options, TIMEOUT).unwrap()
}

/// Reads until the end; fails if that takes more than a minute.
fn read_to_end(consumer: &mut PulsarConsumer) -> Vec<InRecord> {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut records = Vec::new();
    loop {
        assert!(
            Instant::now() < deadline,
            "no end after {} records",
            records.len()
        );
        match consumer.next(Duration::from_secs(1)).unwrap() {
            Next::Record(record) => records.push(*record),
            Next::Idle => {}
            Next::End => return records,
        }
    }
}

/// Reads exactly `count` records, failing if one takes more than 20 seconds.
fn read_n(consumer: &mut PulsarConsumer, count: usize) -> Vec<InRecord> {
    let mut records = Vec::new();
    let mut idle_since = Instant::now();
    while records.len() < count {
        match consumer.next(Duration::from_millis(500)).unwrap() {
            Next::Record(record) => {
                records.push(*record);
                idle_since = Instant::now();
            }
            Next::Idle => assert!(
                idle_since.elapsed() < Duration::from_secs(20),
                "only {} of {count} records",
                records.len()
            ),
            Next::End => panic!("end after {} of {count} records", records.len()),
        }
    }
    records
}

fn earliest() -> ConsumeOptions {
    ConsumeOptions::default()
}

type Kv = (Option<Vec<u8>>, Option<Vec<u8>>);

fn key_values(records: &[InRecord]) -> Vec<Kv> {
    records
        .iter()
        .map(|r| (r.key.clone(), r.value.clone()))
        .collect()
}

fn kv(key: &str, value: &str) -> Kv {
    (
        Some(key.as_bytes().to_vec()),
        Some(value.as_bytes().to_vec()),
    )
}

fn full(topic: &str) -> String {
    format!("persistent://public/default/{topic}")
}

#[test]
fn unicode_and_binary_keys_and_values_round_trip() {
    if !pulsar_up() {
        return;
    }
    let topic = unique("unicode");
    let binary_key = vec![0xff, 0x00, 0xfe, b'k'];
    let records = vec![
        record("ключ", "{\"name\":\"Zoë 🚀\",\"city\":\"東京\"}"),
        record("", "empty key"),
        record("emoji 😀", "значение"),
        OutRecord {
            key: None,
            value: Some("no key, ünïcödé".as_bytes().to_vec()),
            ..Default::default()
        },
        OutRecord {
            key: Some(binary_key.clone()),
            value: Some(vec![0, 159, 146, 150, 255]),
            ..Default::default()
        },
    ];
    produce(&topic, records);

    let mut consumer = consumer(&[&topic], earliest());
    let read = read_to_end(&mut consumer);
    assert_eq!(
        key_values(&read),
        vec![
            kv("ключ", "{\"name\":\"Zoë 🚀\",\"city\":\"東京\"}"),
            kv("", "empty key"),
            kv("emoji 😀", "значение"),
            (None, Some("no key, ünïcödé".as_bytes().to_vec())),
            (Some(binary_key), Some(vec![0, 159, 146, 150, 255])),
        ]
    );
    for r in &read {
        assert_eq!(r.topic, full(&topic));
        assert!(r.properties.is_empty());
        let Position::Pulsar { message_id } = &r.position else {
            panic!("not a Pulsar position: {:?}", r.position);
        };
        let parts: Vec<i64> = message_id.split(':').map(|p| p.parse().unwrap()).collect();
        assert_eq!(parts.len(), 4, "{message_id}");
        assert_eq!(parts[2], -1, "not partitioned: {message_id}");
    }
}

#[test]
fn a_one_megabyte_value_round_trips_between_small_ones() {
    if !pulsar_up() {
        return;
    }
    let topic = unique("large");
    let big: Vec<u8> = (0..1024 * 1024).map(|i| b'a' + (i % 26) as u8).collect();
    produce(
        &topic,
        vec![
            record("before", "small"),
            OutRecord {
                key: Some(b"big".to_vec()),
                value: Some(big.clone()),
                ..Default::default()
            },
            record("after", "small"),
        ],
    );
    let read = read_to_end(&mut consumer(&[&topic], earliest()));
    assert_eq!(
        key_values(&read),
        vec![
            kv("before", "small"),
            (Some(b"big".to_vec()), Some(big)),
            kv("after", "small"),
        ]
    );
}

#[test]
fn a_record_larger_than_the_broker_takes_fails_alone_and_at_once() {
    if !pulsar_up() {
        return;
    }
    let topic = unique("too-large");
    let mut producer = PulsarProducer::new(&endpoint(), &topic, TIMEOUT).unwrap();
    let mut results = BTreeMap::new();
    let mut on_ack = |ack: Ack| {
        results.insert(ack.seq, ack.result.map_err(|e| e.to_string()));
    };
    let started = Instant::now();
    let too_large = OutRecord {
        key: Some(b"big".to_vec()),
        value: Some(vec![b'x'; 6 * 1024 * 1024]),
        ..Default::default()
    };
    producer.send(0, record("a", "small"), &mut on_ack).unwrap();
    producer.send(1, too_large, &mut on_ack).unwrap();
    producer.send(2, record("b", "small"), &mut on_ack).unwrap();
    producer.flush(TIMEOUT, &mut on_ack).unwrap();
    assert!(started.elapsed() < TIMEOUT, "{:?}", started.elapsed());
    assert_eq!(results[&0], Ok(()));
    assert_eq!(results[&2], Ok(()));
    let error = results[&1].clone().unwrap_err();
    assert!(error.contains("max.message.bytes"), "{error}");
    let read = read_to_end(&mut consumer(&[&topic], earliest()));
    assert_eq!(key_values(&read), vec![kv("a", "small"), kv("b", "small")]);
}

#[test]
fn properties_are_sorted_and_the_timestamp_is_event_else_publish_time() {
    if !pulsar_up() {
        return;
    }
    let topic = unique("props");
    let before = now_ms();
    produce(
        &topic,
        vec![
            OutRecord {
                key: Some(b"k1".to_vec()),
                value: Some(b"v1".to_vec()),
                properties: vec![
                    ("zeta".into(), "last".into()),
                    ("alpha".into(), "first ✓".into()),
                    ("mid".into(), "".into()),
                ],
                timestamp: Some(1_600_000_000_123),
            },
            record("k2", "v2"),
        ],
    );
    let after = now_ms();
    let read = read_to_end(&mut consumer(&[&topic], earliest()));
    assert_eq!(read.len(), 2);
    assert_eq!(
        read[0].properties,
        vec![
            ("alpha".to_string(), "first ✓".to_string()),
            ("mid".to_string(), String::new()),
            ("zeta".to_string(), "last".to_string()),
        ]
    );
    assert_eq!(read[0].timestamp, Some(1_600_000_000_123));
    assert!(read[1].properties.is_empty());
    let published = read[1].timestamp.unwrap();
    assert!(
        (before - 1000..=after + 1000).contains(&published),
        "publish time {published} not within [{before}, {after}]"
    );
}

#[test]
fn a_tombstone_is_the_key_with_an_empty_payload() {
    if !pulsar_up() {
        return;
    }
    let topic = unique("tombstone");
    produce(
        &topic,
        vec![
            record("u1", "{\"v\":1}"),
            OutRecord {
                key: Some(b"u1".to_vec()),
                value: None,
                ..Default::default()
            },
            OutRecord {
                key: Some(b"u2".to_vec()),
                value: Some(Vec::new()),
                ..Default::default()
            },
        ],
    );
    let read = read_to_end(&mut consumer(&[&topic], earliest()));
    assert_eq!(
        key_values(&read),
        vec![
            kv("u1", "{\"v\":1}"),
            (Some(b"u1".to_vec()), None),
            (Some(b"u2".to_vec()), None),
        ]
    );
}

#[test]
fn start_latest_reads_only_what_comes_after() {
    if !pulsar_up() {
        return;
    }
    let topic = unique("latest");
    produce(&topic, vec![record("old", "1"), record("old", "2")]);
    let mut not_following = consumer(
        &[&topic],
        ConsumeOptions {
            start: StartAt::Latest,
            ..Default::default()
        },
    );
    assert!(matches!(not_following.next(TIMEOUT).unwrap(), Next::End));
    let mut following = consumer(
        &[&topic],
        ConsumeOptions {
            start: StartAt::Latest,
            follow: true,
            ..Default::default()
        },
    );
    assert!(matches!(
        following.next(Duration::from_millis(300)).unwrap(),
        Next::Idle
    ));
    produce(&topic, vec![record("new", "3"), record("new", "4")]);
    let read = read_n(&mut following, 2);
    assert_eq!(key_values(&read), vec![kv("new", "3"), kv("new", "4")]);
    assert!(matches!(
        following.next(Duration::from_millis(300)).unwrap(),
        Next::Idle
    ));
}

#[test]
fn start_at_a_time_seeks_by_publish_time() {
    if !pulsar_up() {
        return;
    }
    let topic = unique("seek");
    produce(&topic, vec![record("a", "1"), record("a", "2")]);
    std::thread::sleep(Duration::from_millis(50));
    let middle = now_ms();
    std::thread::sleep(Duration::from_millis(50));
    produce(&topic, vec![record("b", "3"), record("b", "4")]);
    let at = |ms| {
        read_to_end(&mut consumer(
            &[&topic],
            ConsumeOptions {
                start: StartAt::Timestamp(ms),
                ..Default::default()
            },
        ))
    };
    assert_eq!(key_values(&at(middle)), vec![kv("b", "3"), kv("b", "4")]);
    assert_eq!(at(0).len(), 4);
    assert!(at(now_ms() + 60_000).is_empty());
}

#[test]
fn an_empty_topic_ends_at_once() {
    if !pulsar_up() {
        return;
    }
    let topic = unique("empty");
    let started = Instant::now();
    let mut consumer = consumer(&[&topic], earliest());
    assert!(matches!(consumer.next(TIMEOUT).unwrap(), Next::End));
    assert!(started.elapsed() < TIMEOUT, "{:?}", started.elapsed());
}

#[test]
fn the_end_comes_after_the_records_that_existed_at_the_start() {
    if !pulsar_up() {
        return;
    }
    let topic = unique("end");
    let other = unique("end-other");
    let n = 2500;
    produce(
        &topic,
        (0..n)
            .map(|i| record(&format!("k{i}"), &format!("{{\"i\":{i}}}")))
            .collect(),
    );
    produce(&other, vec![record("x", "1")]);
    // Short and full names, and a topic given twice, read once.
    let mut consumer = consumer(&[&topic, &full(&other), &other], earliest());
    // Records sent after the start are not waited for.
    produce(&topic, vec![record("later", "1")]);
    let read = read_to_end(&mut consumer);
    let mut mine: Vec<Kv> = Vec::new();
    let mut others: Vec<Kv> = Vec::new();
    for r in &read {
        if r.topic == full(&topic) {
            mine.push((r.key.clone(), r.value.clone()));
        } else {
            assert_eq!(r.topic, full(&other));
            others.push((r.key.clone(), r.value.clone()));
        }
    }
    let expected: Vec<Kv> = (0..n)
        .map(|i| kv(&format!("k{i}"), &format!("{{\"i\":{i}}}")))
        .collect();
    assert_eq!(mine, expected);
    assert_eq!(others, vec![kv("x", "1")]);
    assert!(matches!(
        consumer.next(Duration::from_millis(100)).unwrap(),
        Next::End
    ));
}

#[test]
fn a_group_commits_and_resumes_after_what_it_committed() {
    if !pulsar_up() {
        return;
    }
    let topic = unique("group");
    let group = unique("group");
    // Two batches: the commit falls on the first one's end.
    produce(
        &topic,
        (0..5).map(|i| record("k", &i.to_string())).collect(),
    );
    produce(
        &topic,
        (5..10).map(|i| record("k", &i.to_string())).collect(),
    );
    let options = ConsumeOptions {
        group: Some(group.clone()),
        ..Default::default()
    };
    let values = |records: &[InRecord]| -> Vec<String> {
        records
            .iter()
            .map(|r| String::from_utf8(r.value.clone().unwrap()).unwrap())
            .collect()
    };
    {
        let mut first = consumer(&[&topic], options.clone());
        let read = read_n(&mut first, 5);
        assert_eq!(values(&read), ["0", "1", "2", "3", "4"]);
        first.commit().unwrap();
        // Read further without committing: the next consumer reads these again.
        assert_eq!(values(&read_n(&mut first, 2)), ["5", "6"]);
    }
    let mut second = consumer(&[&topic], options.clone());
    assert_eq!(values(&read_to_end(&mut second)), ["5", "6", "7", "8", "9"]);
    second.commit().unwrap();
    drop(second);
    // Everything committed: a resumed group ends at once, even starting "earliest".
    let mut third = consumer(&[&topic], options);
    assert!(matches!(third.next(TIMEOUT).unwrap(), Next::End));
    // Without a group nothing was committed: everything is there.
    assert_eq!(read_to_end(&mut consumer(&[&topic], earliest())).len(), 10);
}

#[test]
fn a_group_commits_with_a_full_queue_and_seeks_by_time() {
    if !pulsar_up() {
        return;
    }
    let topic = unique("group-full");
    let group = unique("group-full");
    // Unbatched, so that every record is its own entry and a commit lands exactly after it;
    // more records than a consumer queues, so that its queue is full when it commits.
    let unbatched = endpoint().with_setting("batch.size", "1");
    produce_with(
        &unbatched,
        &topic,
        (0..5000).map(|i| record("k", &i.to_string())).collect(),
    );
    let options = ConsumeOptions {
        group: Some(group.clone()),
        ..Default::default()
    };
    let first_value = |consumer: &mut PulsarConsumer| -> String {
        let records = read_n(consumer, 1);
        String::from_utf8(records[0].value.clone().unwrap()).unwrap()
    };
    {
        let mut first = consumer(&[&topic], options.clone());
        assert_eq!(read_n(&mut first, 10).len(), 10);
        std::thread::sleep(Duration::from_millis(500));
        first.commit().unwrap();
    }
    let mut second = consumer(&[&topic], options.clone());
    assert_eq!(first_value(&mut second), "10");
    drop(second);

    // A time moves the group's position, back as well as forward.
    std::thread::sleep(Duration::from_millis(50));
    let middle = now_ms();
    std::thread::sleep(Duration::from_millis(50));
    produce_with(&unbatched, &topic, vec![record("k", "new")]);
    let at = |ms| ConsumeOptions {
        start: StartAt::Timestamp(ms),
        ..options.clone()
    };
    let mut rewound = consumer(&[&topic], at(0));
    assert_eq!(first_value(&mut rewound), "0");
    drop(rewound);
    let mut forward = consumer(&[&topic], at(middle));
    assert_eq!(key_values(&read_to_end(&mut forward)), vec![kv("k", "new")]);
}

#[test]
fn ten_thousand_acknowledgements_each_reported_once() {
    if !pulsar_up() {
        return;
    }
    let topic = unique("acks");
    let n = 10_000u64;
    // A small in-flight bound so that `send` also has to wait for acknowledgements.
    let endpoint = endpoint().with_setting("max.pending", "500");
    let mut producer = PulsarProducer::new(&endpoint, &topic, TIMEOUT).unwrap();
    assert_eq!(producer.topic(), full(&topic));
    let mut seen: BTreeMap<u64, u32> = BTreeMap::new();
    let mut failed = Vec::new();
    let mut on_ack = |ack: Ack| {
        *seen.entry(ack.seq).or_default() += 1;
        if let Err(e) = ack.result {
            failed.push((ack.seq, e.to_string()));
        }
    };
    for seq in 0..n {
        let value = format!("{{\"seq\":{seq}}}");
        producer
            .send(
                1_000_000 + seq,
                record(&format!("k{}", seq % 100), &value),
                &mut on_ack,
            )
            .unwrap();
        if seq % 1000 == 0 {
            producer.poll(Duration::ZERO, &mut on_ack);
        }
    }
    producer
        .flush(Duration::from_secs(60), &mut on_ack)
        .unwrap();
    // Nothing is left to report.
    producer.poll(Duration::from_millis(100), &mut on_ack);
    producer.flush(Duration::from_secs(1), &mut on_ack).unwrap();
    assert!(failed.is_empty(), "{failed:?}");
    assert_eq!(seen.len() as u64, n);
    assert_eq!(seen.keys().next(), Some(&1_000_000));
    assert_eq!(seen.keys().last(), Some(&(1_000_000 + n - 1)));
    assert!(seen.values().all(|count| *count == 1));
    assert_eq!(
        read_to_end(&mut consumer(&[&topic], earliest())).len() as u64,
        n
    );
}

#[test]
fn every_partition_of_a_partitioned_topic_is_read_and_a_key_keeps_its_order() {
    if !pulsar_up() {
        return;
    }
    let admin = std::env::var("FLINKIT_PULSAR_ADMIN_URL")
        .unwrap_or_else(|_| "http://localhost:8080".into());
    let topic = unique("partitioned");
    reqwest::blocking::Client::new()
        .put(format!(
            "{admin}/admin/v2/persistent/public/default/{topic}/partitions"
        ))
        .header("Content-Type", "application/json")
        .body("3")
        .send()
        .unwrap()
        .error_for_status()
        .unwrap();
    let records: Vec<OutRecord> = (0..3)
        .flat_map(|version| {
            (0..20).map(move |k| record(&format!("key-{k}"), &format!("v{version}")))
        })
        .collect();
    produce(&topic, records);
    let read = read_to_end(&mut consumer(&[&topic], earliest()));
    assert_eq!(read.len(), 60);
    let mut versions: BTreeMap<Vec<u8>, Vec<Vec<u8>>> = BTreeMap::new();
    let mut partitions: BTreeMap<i64, usize> = BTreeMap::new();
    let mut partition_of_key: BTreeMap<Vec<u8>, i64> = BTreeMap::new();
    for r in &read {
        assert_eq!(r.topic, full(&topic));
        let Position::Pulsar { message_id } = &r.position else {
            panic!("{:?}", r.position);
        };
        let partition: i64 = message_id.split(':').nth(2).unwrap().parse().unwrap();
        *partitions.entry(partition).or_default() += 1;
        let key = r.key.clone().unwrap();
        assert_eq!(
            *partition_of_key.entry(key.clone()).or_insert(partition),
            partition
        );
        versions
            .entry(key)
            .or_default()
            .push(r.value.clone().unwrap());
    }
    assert_eq!(
        partitions.keys().copied().collect::<Vec<_>>(),
        [0, 1, 2],
        "{partitions:?}"
    );
    assert_eq!(versions.len(), 20);
    for values in versions.values() {
        assert_eq!(values, &[b"v0".to_vec(), b"v1".to_vec(), b"v2".to_vec()]);
    }
}

#[test]
fn without_batching_records_round_trip_too() {
    if !pulsar_up() {
        return;
    }
    let topic = unique("unbatched");
    let endpoint = endpoint()
        .with_setting("batch.size", "1")
        .with_setting("compression", "lz4");
    produce_with(
        &endpoint,
        &topic,
        (0..50).map(|i| record(&format!("k{i}"), "v")).collect(),
    );
    let read = read_to_end(&mut consumer(&[&topic], earliest()));
    assert_eq!(read.len(), 50);
    for (i, r) in read.iter().enumerate() {
        assert_eq!(r.key.as_deref(), Some(format!("k{i}").as_bytes()));
        let Position::Pulsar { message_id } = &r.position else {
            panic!("{:?}", r.position);
        };
        assert!(message_id.ends_with(":-1:-1"), "{message_id}");
    }
}

#[test]
fn an_unreachable_endpoint_fails_within_the_timeout_naming_it() {
    let endpoint = Endpoint {
        broker: Broker::Pulsar,
        address: "pulsar://localhost:1".into(),
        settings: Vec::new(),
    };
    let timeout = Duration::from_secs(3);
    let started = Instant::now();
    let producer = PulsarProducer::new(&endpoint, "t", timeout);
    let consumer = PulsarConsumer::new(&endpoint, &["t".into()], &earliest(), timeout);
    assert!(
        started.elapsed() < 2 * timeout + Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    for error in [producer.err(), consumer.err()] {
        let error = error.expect("no broker listens on port 1");
        match &error {
            BridgeError::Unreachable {
                broker: Broker::Pulsar,
                endpoint,
                timeout: t,
                ..
            } => {
                assert_eq!(endpoint, "pulsar://localhost:1");
                assert_eq!(*t, timeout);
            }
            other => panic!("not Unreachable: {other:?}"),
        }
        assert!(
            error.to_string().contains("pulsar://localhost:1"),
            "{error}"
        );
        assert!(!error.is_invalid_input());
    }
}

#[test]
fn bad_settings_fail_before_connecting() {
    let endpoint = Endpoint::local_pulsar().with_setting("batch.sise", "10");
    match PulsarProducer::new(&endpoint, "t", TIMEOUT) {
        Err(BridgeError::Setting { key, message }) => {
            assert_eq!(key, "batch.sise");
            assert!(message.contains("batch.size"), "{message}");
        }
        other => panic!("expected a setting error: {:?}", other.err()),
    }
}

/// Cancels a Flink job when dropped, also when the test fails.
struct CancelOnDrop(String);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        let out = flinkit(&["jobs", "cancel", &self.0, "--format", "json"]);
        if !out.status.success() {
            eprintln!(
                "could not cancel job {}: {}",
                self.0,
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

use common::{flink_url, flinkit};

/// Whether a Flink cluster answers; in CI it must.
fn flink_up() -> bool {
    let out = flinkit(&["jobs", "list", "--format", "json"]);
    if out.status.success() {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI runs this against the stack: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!(
        "no Flink cluster at {}; run `flinkit stack up` to run this",
        flink_url()
    );
    false
}

/// Reads `consumer` until the latest value of `key` is `expected`; returns every value seen.
fn wait_for_value(
    consumer: &mut PulsarConsumer,
    key: &str,
    expected: &serde_json::Value,
    within: Duration,
) -> Vec<Option<serde_json::Value>> {
    let deadline = Instant::now() + within;
    let mut seen = Vec::new();
    while Instant::now() < deadline {
        if let Next::Record(r) = consumer.next(Duration::from_millis(500)).unwrap() {
            if r.key.as_deref() != Some(key.as_bytes()) {
                continue;
            }
            let value = r
                .value
                .as_deref()
                .map(|v| serde_json::from_slice::<serde_json::Value>(v).unwrap());
            let done = value.as_ref() == Some(expected);
            seen.push(value);
            if done {
                return seen;
            }
        }
    }
    panic!("{key} never became {expected} within {within:?}; saw {seen:?}");
}

/// Flink's `upsert-pulsar` source (connector 4.1.0-1.18) reads a message with a key and an empty
/// payload as a DELETE of that key: the users of an account, counted into an `upsert-pulsar`
/// sink, go from 2 to 1 when one user's tombstone arrives.
///
/// Every column of `users` is in its key: the connector dereferences the missing value row for
/// each value column of a tombstone (`PulsarRowDataConverter.emitRow`), so a tombstone for a
/// table with value columns fails the job with a NullPointerException.
#[test]
fn flink_upsert_pulsar_reads_a_tombstone_as_a_delete() {
    if !pulsar_up() || !flink_up() {
        return;
    }
    let users = unique("users");
    let counts = unique("counts");
    let service_url = url();
    let sql = format!(
        "CREATE TABLE users (
           uid STRING, accountId STRING,
           PRIMARY KEY (uid, accountId) NOT ENFORCED
         ) WITH (
           'connector' = 'upsert-pulsar',
           'topics' = '{users_full}',
           'service-url' = '{service_url}',
           'key.format' = 'json',
           'value.format' = 'json'
         );
         CREATE TABLE user_count_by_account (
           accountId STRING, userCount BIGINT,
           PRIMARY KEY (accountId) NOT ENFORCED
         ) WITH (
           'connector' = 'upsert-pulsar',
           'topics' = '{counts_full}',
           'service-url' = '{service_url}',
           'key.format' = 'raw',
           'value.format' = 'json'
         );
         INSERT INTO user_count_by_account
         SELECT accountId, COUNT(1) AS userCount FROM users GROUP BY accountId;",
        users_full = full(&users),
        counts_full = full(&counts),
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("user-count.sql");
    std::fs::write(&file, sql).unwrap();

    // Read the sink topic from its start (it is created now, before the job writes to it).
    let mut sink = consumer(
        &[&counts],
        ConsumeOptions {
            follow: true,
            ..Default::default()
        },
    );
    // Through the SQL Gateway: `--target rest` uploads the runner jar, whose Pulsar client
    // classes clash with the same jar on the stack cluster's classpath (the job fails to
    // deserialize its SourceConfiguration's SubscriptionMode).
    let out = flinkit(&[
        "launch",
        "--target",
        "gateway",
        "-f",
        file.to_str().unwrap(),
        "--detach",
        "--format",
        "json",
        "--job-name",
        &format!("flinkit test {users}"),
    ]);
    assert!(
        out.status.success(),
        "launch failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let launched: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let job_id = launched["job_id"].as_str().unwrap().to_string();
    let _cancel = CancelOnDrop(job_id);

    let key = |uid: &str| {
        serde_json::json!({"uid": uid, "accountId": "acct-1"})
            .to_string()
            .into_bytes()
    };
    let user = |uid: &str| OutRecord {
        key: Some(key(uid)),
        value: Some(b"{}".to_vec()),
        ..Default::default()
    };
    produce(&users, vec![user("u1"), user("u2")]);
    // The sink's value holds the columns outside the key (the key is the message key).
    let two = serde_json::json!({"userCount": 2});
    let before = wait_for_value(&mut sink, "acct-1", &two, Duration::from_secs(60));
    eprintln!("sink values for acct-1 after two users: {before:?}");

    produce(
        &users,
        vec![OutRecord {
            key: Some(key("u2")),
            value: None,
            ..Default::default()
        }],
    );
    let one = serde_json::json!({"userCount": 1});
    let after = wait_for_value(&mut sink, "acct-1", &one, Duration::from_secs(30));
    eprintln!("sink values for acct-1 after the tombstone of u2: {after:?}");
}

/// Produce and consume throughput of 100-byte JSON values, in release mode:
/// `cargo test --release --test bridge_pulsar -- --ignored --nocapture throughput`, with
/// `FLINKIT_BENCH_RECORDS` (default 300000) and `FLINKIT_BENCH_SETTINGS` (`k=v,k=v`).
#[test]
#[ignore = "a measurement, not a check"]
fn throughput() {
    if !pulsar_up() {
        return;
    }
    let n: usize = std::env::var("FLINKIT_BENCH_RECORDS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(300_000);
    let topic = unique("throughput");
    let mut settings = endpoint();
    if let Ok(extra) = std::env::var("FLINKIT_BENCH_SETTINGS") {
        for kv in extra.split(',').filter(|kv| !kv.is_empty()) {
            let (k, v) = kv.split_once('=').unwrap();
            settings = settings.with_setting(k, v);
        }
    }
    let values: Vec<Vec<u8>> = (0..n)
        .map(|i| {
            format!(
                "{{\"id\":{i:>8},\"name\":\"user-{:06}\",\"score\":{:>6},\"active\":true,\"pad\":\"xxxxxxxxxxxxxxxxxxxxxxxxxx\"}}",
                i % 100_000,
                i % 7919
            )
            .into_bytes()
        })
        .collect();
    let bytes: usize = values.iter().map(Vec::len).sum();
    let mut producer = PulsarProducer::new(&settings, &topic, TIMEOUT).unwrap();
    let mut ok = 0usize;
    let mut on_ack = |ack: Ack| {
        ack.result.unwrap();
        ok += 1;
    };
    let started = Instant::now();
    for (seq, value) in values.into_iter().enumerate() {
        let record = OutRecord {
            key: Some(format!("user-{:06}", seq % 100_000).into_bytes()),
            value: Some(value),
            ..Default::default()
        };
        producer.send(seq as u64, record, &mut on_ack).unwrap();
    }
    producer
        .flush(Duration::from_secs(120), &mut on_ack)
        .unwrap();
    let elapsed = started.elapsed().as_secs_f64();
    assert_eq!(ok, n);
    println!(
        "produce: {n} records, {:.1} MB of values in {elapsed:.2}s: {:.0} records/s, {:.1} MB/s",
        bytes as f64 / 1e6,
        n as f64 / elapsed,
        bytes as f64 / 1e6 / elapsed
    );
    drop(producer);

    let started = Instant::now();
    let mut consumer = consumer(&[&topic], earliest());
    let mut count = 0usize;
    let mut read_bytes = 0usize;
    loop {
        match consumer.next(Duration::from_secs(5)).unwrap() {
            Next::Record(r) => {
                count += 1;
                read_bytes += r.value.map_or(0, |v| v.len());
            }
            Next::Idle => panic!("idle after {count} records"),
            Next::End => break,
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    assert_eq!(count, n);
    println!(
        "consume: {count} records, {:.1} MB in {elapsed:.2}s: {:.0} records/s, {:.1} MB/s",
        read_bytes as f64 / 1e6,
        count as f64 / elapsed,
        read_bytes as f64 / 1e6 / elapsed
    );
}

#[test]
fn the_admin_api_creates_and_deletes_topics_partitioned_or_not() {
    if !pulsar_up() {
        return;
    }
    let admin = std::env::var("FLINKIT_PULSAR_ADMIN_URL")
        .unwrap_or_else(|_| "http://localhost:8080".into());
    let listed = |path: &str| -> Vec<String> {
        reqwest::blocking::get(format!("{admin}/admin/v2/persistent/public/default{path}"))
            .unwrap()
            .error_for_status()
            .unwrap()
            .json()
            .unwrap()
    };
    let plain = unique("admin-plain");
    let partitioned = unique("admin-partitioned");
    reqwest::blocking::Client::new()
        .put(format!(
            "{admin}/admin/v2/persistent/public/default/{partitioned}/partitions"
        ))
        .header("Content-Type", "application/json")
        .body("2")
        .send()
        .unwrap()
        .error_for_status()
        .unwrap();
    let topics = [plain.clone(), full(&partitioned)];
    common::block_on(flinkit::bridge::pulsar::create_topics(
        &admin,
        &topics[..1],
        &[],
        TIMEOUT,
    ))
    .unwrap();
    assert!(listed("").contains(&full(&plain)));
    assert!(listed("/partitioned").contains(&full(&partitioned)));
    // A consumer keeps the plain topic busy: `force=true` deletes it anyway.
    let _consumer = consumer(&[&plain], earliest());
    common::block_on(flinkit::bridge::pulsar::delete_topics(
        &admin,
        &topics,
        &[],
        TIMEOUT,
    ))
    .unwrap();
    let left = listed("");
    assert!(
        !left.iter().any(|t| t.starts_with(&full(&plain))),
        "{left:?}"
    );
    assert!(
        !left.iter().any(|t| t.starts_with(&full(&partitioned))),
        "{left:?}"
    );
    assert!(!listed("/partitioned").contains(&full(&partitioned)));
    common::block_on(flinkit::bridge::pulsar::delete_topics(
        &admin,
        &topics,
        &[],
        TIMEOUT,
    ))
    .expect("deleting topics that are gone is not an error");
}

/// One producer with many batches in flight (the vendored `pulsar` crate sends a batch while
/// those before it await their receipts): every record is acknowledged once and stored once, in
/// the order sent, keyed and keyless alike.
#[test]
fn many_batches_in_flight_keep_the_whole_input_in_order() {
    if !pulsar_up() {
        return;
    }
    let topic = unique("in-flight");
    // 100 keys with 100 versions each, sent version by version, and 10 keyless records after
    // each version; the value is the record's place in the input.
    let (keys, versions, keyless) = (100u32, 100u32, 10u32);
    let mut records = Vec::new();
    for _ in 0..versions {
        for k in 0..keys {
            let place = records.len().to_string();
            records.push(record(&format!("key-{k}"), &place));
        }
        for _ in 0..keyless {
            records.push(OutRecord {
                value: Some(records.len().to_string().into_bytes()),
                ..Default::default()
            });
        }
    }
    let count = records.len();
    // Batches of 50: 11,000 records are 220 batches, far more than are ever in flight.
    produce_with(
        &endpoint().with_setting("batch.size", "50"),
        &topic,
        records,
    );

    let read = read_to_end(&mut consumer(&[&topic], earliest()));
    let places: Vec<usize> = read
        .iter()
        .map(|r| {
            String::from_utf8_lossy(r.value.as_deref().unwrap())
                .parse()
                .unwrap()
        })
        .collect();
    assert_eq!(places, (0..count).collect::<Vec<_>>());
}
