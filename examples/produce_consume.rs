//! Produce records into a table's topic and read the table back, with flinkit embedded in your
//! own program.
//!
//! Takes the `users` table of the user-count tutorial (Kafka, or Pulsar with `pulsar` as the
//! first argument), points it at a topic of its own (so nothing else is changed), sends three
//! users and a tombstone — each checked against the table's columns and key first — then reads
//! the topic back as the upsert table Flink would see: the latest row per key, the deleted user
//! gone. Against the local stack (`flinkit stack up --services kafka` or `pulsar`):
//!
//! ```sh
//! cargo run --example produce_consume
//! cargo run --example produce_consume -- pulsar
//! ```

use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use flinkit::bridge::Broker;
use flinkit::demo::{self, Rewrite, Tutorial};
use flinkit::sql::Script;

const USERS: &str = r#"{"uid":"200-1","accountId":"200","id":1,"fullName":"Ada Lovelace"}
{"uid":"200-2","accountId":"200","id":2,"fullName":"Alan Turing"}
{"uid":"201-1","accountId":"201","id":1,"fullName":"Grace Hopper"}
"#;

const DELETE: &str = r#"{"key":"200-2","value":null}
"#;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let broker = match std::env::args().nth(1).as_deref() {
        Some("pulsar") => Broker::Pulsar,
        _ => Broker::Kafka,
    };
    let tutorial = Tutorial::named("user-count")?;
    let sql = demo::rewrite(
        tutorial.sql(broker),
        &Rewrite {
            topic_suffix: format!("-example-{}", demo::run_id()),
            ..Rewrite::default()
        },
    )?;
    let users = demo::table(&Script::parse_str(&sql)?, "users")?;
    println!(
        "table users: {} topic {} at {}, key {}",
        users.endpoint.broker,
        users.topics[0],
        users.endpoint.address,
        users.key_fields.join(", ")
    );

    let never = AtomicBool::new(false);
    let timeout = Duration::from_secs(10);
    let sent = demo::produce(&users, USERS, false, &never, timeout)?;
    println!("sent {} users", sent.sent);
    let sent = demo::produce(&users, DELETE, true, &never, timeout)?;
    println!("sent {} tombstone (200-2)", sent.sent);

    let view = demo::materialize(&users, timeout)?;
    println!("{} records read; the table now:", view.applied());
    print!("{}", view.to_text());
    Ok(())
}
