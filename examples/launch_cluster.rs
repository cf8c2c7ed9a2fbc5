//! Launch a Flink SQL script on a running cluster with flinkit embedded in your own program.
//!
//! Builds (or reuses) the generic runner jar, uploads it to the JobManager once, submits a
//! script (the file given as the first argument, else a small generator job that needs no
//! broker) through the REST API, waits until all its tasks are RUNNING, prints its operators
//! and cancels it. The job is also cancelled if anything fails on the way: a
//! [`flinkit::demo::Job`] cancels its job when dropped. Against the local stack
//! (`flinkit stack up --services flink`):
//!
//! ```sh
//! cargo run --example launch_cluster
//! FLINKIT_FLINK_URL=http://flink.example.com:8081 cargo run --example launch_cluster -- job.sql
//! ```

use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use flinkit::demo::Job;
use flinkit::flink::rest::RestClient;
use flinkit::provision::{Cache, Progress};

/// Ten rows a second from Flink's `datagen` connector into `blackhole`: a job for any cluster.
const GENERATOR: &str =
    "CREATE TABLE ticks (n BIGINT) WITH ('connector' = 'datagen', 'rows-per-second' = '10');
CREATE TABLE sink (n BIGINT) WITH ('connector' = 'blackhole');
INSERT INTO sink SELECT n FROM ticks;";

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
    let (name, sql) = match std::env::args().nth(1) {
        Some(path) => (path.clone(), std::fs::read_to_string(&path)?),
        None => ("generator".to_string(), GENERATOR.to_string()),
    };
    let url = std::env::var("FLINKIT_FLINK_URL").unwrap_or_else(|_| "http://localhost:8081".into());
    let client = RestClient::new(&url, Duration::from_secs(30));
    println!("Flink {} at {url}", client.version()?);

    let cache = Cache::from_env()?;
    let mut progress = |p: Progress| {
        if let Progress::Started(step) = p {
            println!("{step} …");
        }
    };
    let never = AtomicBool::new(false);
    let job = Job::launch(
        &client,
        &cache,
        &sql,
        &format!("example: {name}"),
        Duration::from_secs(120),
        &never,
        &mut progress,
    )?;
    println!("job {:?} ({}) is RUNNING", job.name(), job.id());
    for vertex in client.job(job.id())?.vertices {
        println!("  {:<10} {}", vertex.status, vertex.name);
    }
    let state = job.cancel()?;
    println!("job cancelled: {state}");
    Ok(())
}
