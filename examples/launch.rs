//! Launch a Flink SQL script from your own program, on any target, and drive the job's life:
//! wait until every task runs, read its operators' record counts, stop it with a savepoint,
//! start it again from that savepoint, and cancel it.
//!
//! The target is the first argument (`local`, `rest` or `gateway`; default `local`), the script
//! the second (default: a generator job that needs no broker). Against the local stack
//! (`flinkit stack up --services flink,gateway` for `rest` and `gateway`):
//!
//! ```sh
//! cargo run --example launch                       # an embedded MiniCluster, no stack needed
//! cargo run --example launch -- rest               # FLINKIT_FLINK_URL, default localhost:8081
//! cargo run --example launch -- gateway job.sql    # FLINKIT_GATEWAY_URL, default localhost:8083
//! ```
//!
//! It prints the job's id once it runs, its operators with records in and out, the savepoint's
//! path, and the final state (`CANCELED`).

use std::process::ExitCode;
use std::time::Duration;

use flinkit::launch::{Event, Options, launch};
use flinkit::sql::{Input, Script};

/// Ten rows a second from Flink's `datagen` connector into `blackhole`: a job for any cluster.
const GENERATOR: &str =
    "CREATE TABLE ticks (n BIGINT) WITH ('connector' = 'datagen', 'rows-per-second' = '10');
CREATE TABLE sink (n BIGINT) WITH ('connector' = 'blackhole');
INSERT INTO sink SELECT n FROM ticks;";

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

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let target = std::env::args().nth(1).unwrap_or_else(|| "local".into());
    let script = match std::env::args().nth(2) {
        Some(path) => Script::from_inputs(&[Input::Path(path.into())])?,
        None => Script::parse_str(GENERATOR)?,
    };
    let env = |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.into());
    let flink_url = env("FLINKIT_FLINK_URL", "http://localhost:8081");
    let options = match target.as_str() {
        "local" => Options::local(),
        "rest" => Options::rest(flink_url),
        "gateway" => Options::gateway(env("FLINKIT_GATEWAY_URL", "http://localhost:8083"))
            .flink_url(flink_url),
        other => return Err(format!("unknown target {other:?}: local, rest or gateway").into()),
    }
    .name(format!("example: launch on {target}"))
    .on_event(|event| {
        if let Event::Submitting { url, .. } = event {
            println!("submitting to {url} …");
        }
    });

    // Launch, and cancel the job if this program stops early (an error below, a panic).
    let job = launch(&script, &options).await?.cancel_on_drop(true);
    let state = job.wait_running(Duration::from_secs(120)).await?;
    println!("job {:?} ({}) is {state}", job.name(), job.id());
    tokio::time::sleep(Duration::from_secs(3)).await;
    for vertex in job.metrics().await? {
        println!(
            "  {:<10} in {:>6}  out {:>6}  {}",
            vertex.status, vertex.records_in, vertex.records_out, vertex.name
        );
    }

    // Stop with a savepoint, then start the same script from it.
    let savepoints = std::env::temp_dir().join("flinkit-example-savepoints");
    let savepoint = job
        .stop_with_savepoint(&format!("file://{}", savepoints.display()))
        .await?;
    println!("stopped with a savepoint: {savepoint}");
    let resumed = launch(&script, &options.clone().from_savepoint(savepoint))
        .await?
        .cancel_on_drop(true);
    let state = resumed.wait_running(Duration::from_secs(120)).await?;
    println!("resumed from the savepoint as {} ({state})", resumed.id());
    println!("cancelled: {}", resumed.cancel().await?);
    Ok(())
}
