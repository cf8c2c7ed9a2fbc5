//! Produce records into a table's topic and read the table back, from an async (tokio)
//! program that embeds flinkit.
//!
//! Declares a `users` upsert table (Kafka, or Pulsar with `pulsar` as the first argument) on
//! a topic of its own, sends three users — each checked against the table's columns and
//! key, all in flight at once, each send resolving when the broker acknowledged it — and a
//! tombstone, reads the topic back as decoded rows, then waits until the upsert table Flink
//! would see holds the expected rows: the latest row per key, the deleted user gone.
//! Against the local stack (`flinkit stack up --services kafka` or `pulsar`; `FLINKIT_KAFKA`
//! or `FLINKIT_PULSAR_URL` point it at other brokers):
//!
//! ```sh
//! cargo run --example produce_consume
//! cargo run --example produce_consume -- pulsar
//! ```
//!
//! It prints each record read, then the table:
//!
//! ```text
//! uid   | accountId | fullName
//! ------+-----------+-------------
//! 200-1 | 200       | Ada Lovelace
//! 201-1 | 201       | Grace Hopper
//! (2 rows)
//! ```

use std::process::ExitCode;
use std::time::{Duration, Instant};

use flinkit::bridge::client::{RowStream, TableProducer};
use flinkit::bridge::table::TableSpec;
use flinkit::bridge::upsert::{Row, UpsertView};
use flinkit::bridge::{ConsumeOptions, StartAt};
use flinkit::sql::Script;
use flinkit::vars::{Vars, substitute};
use futures::TryStreamExt as _;
use serde_json::{Value, json};

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}

/// The `CREATE TABLE` of the users table on `topic`, for Kafka or Pulsar.
fn users_sql(pulsar: bool, topic: &str) -> String {
    let connection = if pulsar {
        let url = std::env::var("FLINKIT_PULSAR_URL")
            .unwrap_or_else(|_| "pulsar://localhost:6650".into());
        format!(
            "'connector' = 'upsert-pulsar', 'topics' = 'persistent://public/default/{topic}', \
             'service-url' = '{url}'"
        )
    } else {
        let servers = std::env::var("FLINKIT_KAFKA").unwrap_or_else(|_| "localhost:9092".into());
        format!(
            "'connector' = 'upsert-kafka', 'topic' = '{topic}', \
             'properties.bootstrap.servers' = '{servers}'"
        )
    };
    format!(
        "CREATE TABLE users (uid STRING, accountId STRING, fullName STRING, \
         PRIMARY KEY (uid) NOT ENFORCED) \
         WITH ({connection}, 'key.format' = 'raw', 'value.format' = 'json')"
    )
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let pulsar = std::env::args().nth(1).as_deref() == Some("pulsar");
    let millis = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?;
    let topic = format!("example-users-{}", millis.as_millis());
    let script = Script::parse_str(&users_sql(pulsar, &topic))?;
    let users = TableSpec::from_script(&script, &substitute(&script, &Vars::none()), "users")?;
    println!(
        "table users: {} topic {} at {}, key {}",
        users.endpoint.broker,
        users.topics[0],
        users.endpoint.address,
        users.key_fields.join(", ")
    );

    let timeout = Duration::from_secs(10);
    let producer = TableProducer::open(&users, timeout).await?;
    // Three sends in flight at once; each resolves when the broker acknowledged its record.
    let rows = [
        json!({"uid": "200-1", "accountId": "200", "fullName": "Ada Lovelace"}),
        json!({"uid": "200-2", "accountId": "200", "fullName": "Alan Turing"}),
        json!({"uid": "201-1", "accountId": "201", "fullName": "Grace Hopper"}),
    ];
    futures::future::try_join_all(rows.into_iter().map(|row| producer.send_row(row))).await?;
    println!("sent 3 users");
    producer.send_tombstone(json!("200-2")).await?;
    println!("sent a tombstone (200-2)");

    // Every record to the end of the topic, decoded into the table's columns.
    let options = ConsumeOptions {
        start: StartAt::Earliest,
        ..ConsumeOptions::default()
    };
    let mut records = RowStream::open(&users, &options, timeout).await?;
    while let Some(record) = records.try_next().await? {
        match record.row {
            Some(row) => println!("upsert {}", Value::Object(row)),
            None => println!("delete {}", Value::Object(record.key.unwrap_or_default())),
        }
    }

    // The table Flink reads, awaited until it holds what was sent.
    let expected: Vec<Row> = [
        json!({"uid": "200-1", "accountId": "200", "fullName": "Ada Lovelace"}),
        json!({"uid": "201-1", "accountId": "201", "fullName": "Grace Hopper"}),
    ]
    .into_iter()
    .filter_map(|row| row.as_object().cloned())
    .collect();
    let view = UpsertView::await_rows(&users, &expected, Instant::now() + timeout).await?;
    println!("{} records read; the table now:", view.applied());
    print!("{}", view.to_text());
    Ok(())
}
