//! Time to RUNNING (every task running) on the REST target: the library's `launch` +
//! `Job::wait_running` against the floor, a bare `POST /jars/:id/run` of the same uploaded
//! runner jar with the same arguments followed by the same live `/jobs/overview` poll. Runs are
//! interleaved, each job cancelled and the slot given time to free before the next. Prints every
//! run, the medians, the spread and the ratio. Against a running cluster:
//! `flinkit stack up --services flink`, then `cargo bench --bench launch` (`RUNS`, default 7;
//! `FLINKIT_FLINK_URL`).

use std::time::{Duration, Instant};

use base64::Engine as _;
use flinkit::flink::JobState;
use flinkit::flink::rest::RestClient;
use flinkit::launch::{Options, Prepared};
use flinkit::provision::Cache;
use flinkit::sql::Script;
use serde_json::json;

const JOB: &str =
    "CREATE TABLE gen (id BIGINT) WITH ('connector' = 'datagen', 'rows-per-second' = '10');
CREATE TABLE sink (id BIGINT) WITH ('connector' = 'blackhole');
INSERT INTO sink SELECT id FROM gen;";

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("FLINKIT_FLINK_URL").unwrap_or_else(|_| "http://localhost:8081".into());
    let runs: usize = std::env::var("RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(7);
    let rest = RestClient::new(&url, Duration::from_secs(30));
    if let Err(err) = rest.version().await {
        eprintln!("no cluster at {url} ({err}); `flinkit stack up --services flink` first");
        return Ok(());
    }
    let script = Script::parse_str(JOB)?;
    let cache = Cache::from_env()?;
    let jar = cache.runner_jar(false, &mut |_| {})?;
    let sha = cache.runner_jar_sha256(&jar)?;
    let jar_id = rest.ensure_jar(&jar, &sha).await?;
    let http = reqwest::Client::new();

    let (mut library, mut bare) = (Vec::new(), Vec::new());
    for run in 0..=runs {
        // Library: everything an embedder calls, from a parsed script to RUNNING.
        let name = format!("bench-library-{run}");
        let options = Options::rest(&url).name(&name);
        let started = Instant::now();
        let job = Prepared::new(&script, &options).submit(&options).await?;
        let state = job.wait_running(Duration::from_secs(60)).await?;
        let took = started.elapsed().as_secs_f64();
        assert_eq!(state, JobState::Running);
        job.cancel().await?;
        tokio::time::sleep(Duration::from_secs(6)).await;

        // Floor: the same run request, by hand, and the same live poll.
        let spec = Prepared::new(
            &script,
            &Options::rest(&url).name(format!("bench-bare-{run}")),
        )
        .spec()?
        .clone();
        let encoded = base64::engine::general_purpose::STANDARD
            .encode(serde_json::Value::from(spec.statements).to_string());
        let started = Instant::now();
        let answer: serde_json::Value = http
            .post(format!("{url}/jars/{jar_id}/run"))
            .json(&json!({
                "entryClass": "dev.flinkit.runner.SqlRunner",
                "programArgsList": ["--statements-b64", encoded, "--job-name", spec.name],
            }))
            .send()
            .await?
            .json()
            .await?;
        let id = answer["jobid"].as_str().unwrap_or_default().to_string();
        let state = rest.wait_running(&id, Duration::from_secs(60)).await?;
        let floor = started.elapsed().as_secs_f64();
        assert_eq!(state, JobState::Running);
        rest.cancel(&id).await?;
        rest.wait_ended(&id, Duration::from_secs(30)).await?;
        tokio::time::sleep(Duration::from_secs(6)).await;

        if run == 0 {
            println!("warm-up: library {took:.3}s, bare {floor:.3}s");
            continue;
        }
        println!("run {run}: library {took:.3}s, bare {floor:.3}s");
        library.push(took);
        bare.push(floor);
    }
    let spread = |v: &[f64]| {
        let min = v.iter().copied().fold(f64::INFINITY, f64::min);
        let max = v.iter().copied().fold(0.0, f64::max);
        format!("{min:.3}–{max:.3}s")
    };
    let (sl, sb) = (spread(&library), spread(&bare));
    let (ml, mb) = (median(&mut library), median(&mut bare));
    println!(
        "library median {ml:.3}s ({sl}), bare median {mb:.3}s ({sb}), ratio {:.2}",
        ml / mb
    );
    Ok(())
}
