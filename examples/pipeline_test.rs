//! Test your own Flink SQL pipeline from Rust: feed fixture rows into its sources, launch the
//! script, wait (with a deadline) until its sink's upsert table is exactly the expected rows,
//! and cancel the job — the shape of an integration test in a project that embeds flinkit.
//!
//! The pipeline counts users per account (an upsert-kafka source keyed by `uid`, an
//! upsert-kafka sink keyed by `accountId`). Its topics are new for each run, so runs never see
//! each other's records. The target is the first argument (`rest` by default, `gateway` or
//! `local`); the broker is `FLINKIT_KAFKA` (default `localhost:9092`). Against the local stack
//! (`flinkit stack up --services kafka,flink,gateway`):
//!
//! ```sh
//! cargo run --example pipeline_test            # through the REST API
//! cargo run --example pipeline_test -- local   # on an embedded MiniCluster
//! ```
//!
//! It prints the sink's table once it matches, then the job's final state:
//!
//! ```text
//! accountId | userCount
//! ----------+----------
//! 300       |         1
//! 301       |         2
//! (2 rows)
//! job … CANCELED
//! ```

use std::process::ExitCode;
use std::time::{Duration, Instant};

use flinkit::bridge::client::TableProducer;
use flinkit::bridge::table::TableSpec;
use flinkit::bridge::upsert::{Row, UpsertView};
use flinkit::launch::{Options, launch};
use flinkit::sql::Script;
use flinkit::vars::{Vars, substitute};
use serde_json::json;

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

/// The pipeline under test, on topics that end in `run`.
fn pipeline(servers: &str, run: &str) -> String {
    let kafka = |topic: &str| {
        format!(
            "'connector' = 'upsert-kafka', 'topic' = '{topic}-{run}', \
             'properties.bootstrap.servers' = '{servers}', \
             'key.format' = 'raw', 'value.format' = 'json'"
        )
    };
    format!(
        "CREATE TABLE users (uid STRING, accountId STRING, fullName STRING, \
           PRIMARY KEY (uid) NOT ENFORCED) WITH ({});
         CREATE TABLE user_count (accountId STRING, userCount BIGINT, \
           PRIMARY KEY (accountId) NOT ENFORCED) WITH ({});
         INSERT INTO user_count SELECT accountId, COUNT(*) FROM users GROUP BY accountId;",
        kafka("pipeline-test.users"),
        kafka("pipeline-test.user_count")
    )
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let target = std::env::args().nth(1).unwrap_or_else(|| "rest".into());
    let servers = std::env::var("FLINKIT_KAFKA").unwrap_or_else(|_| "localhost:9092".into());
    let run = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_millis()
        .to_string();
    let script = Script::parse_str(&pipeline(&servers, &run))?;
    let values = substitute(&script, &Vars::none());
    let users = TableSpec::from_script(&script, &values, "users")?;
    let sink = TableSpec::from_script(&script, &values, "user_count")?;

    // 1. Fixture rows into the source; each send resolves once Kafka acknowledged it.
    let producer = TableProducer::open(&users, Duration::from_secs(10)).await?;
    for row in [
        json!({"uid": "300-1", "accountId": "300", "fullName": "Ada Lovelace"}),
        json!({"uid": "301-1", "accountId": "301", "fullName": "Grace Hopper"}),
        json!({"uid": "301-2", "accountId": "301", "fullName": "Alan Turing"}),
    ] {
        producer.send_row(row).await?;
    }

    // 2. Launch the script; the handle cancels the job if this program fails before step 4.
    let env = |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.into());
    let flink_url = env("FLINKIT_FLINK_URL", "http://localhost:8081");
    let options = match target.as_str() {
        "local" => Options::local(),
        "gateway" => Options::gateway(env("FLINKIT_GATEWAY_URL", "http://localhost:8083"))
            .flink_url(flink_url),
        _ => Options::rest(flink_url),
    }
    .name(format!("pipeline test {run}"));
    let job = launch(&script, &options).await?.cancel_on_drop(true);
    job.wait_running(Duration::from_secs(120)).await?;

    // 3. The sink's table, awaited until it is exactly the expected rows (or the deadline).
    let expected: Vec<Row> = [
        json!({"accountId": "300", "userCount": 1}),
        json!({"accountId": "301", "userCount": 2}),
    ]
    .into_iter()
    .filter_map(|row| row.as_object().cloned())
    .collect();
    let deadline = Instant::now() + Duration::from_secs(90);
    let table = UpsertView::await_rows(&sink, &expected, deadline).await?;
    print!("{}", table.to_text());

    // 4. Done: cancel the job.
    let id = job.id().to_string();
    println!("job {id} {}", job.cancel().await?);
    Ok(())
}
