//! Watching a running job: a [`Sampler`] reads the job's vertices, records, back pressure,
//! busy time, checkpoints and restarts from the Flink REST API, and turns counter deltas between
//! two samples into rates. `flinkit run` samples its job with it, and `flinkit jobs watch` any
//! job.

use std::collections::HashMap;
use std::time::Instant;

use serde::Serialize;

use crate::flink::JobState;
use crate::flink::rest::{Checkpoints, RestClient, RestError};

/// One operator chain at one sample.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VertexSample {
    /// The vertex id.
    pub id: String,
    /// The operator chain's name.
    pub name: String,
    /// Records in so far, summed over subtasks.
    pub records_in: u64,
    /// Records out so far, summed over subtasks.
    pub records_out: u64,
    /// Records in per second (see [`Sampler::sample`]).
    pub in_per_s: f64,
    /// Records out per second (see [`Sampler::sample`]).
    pub out_per_s: f64,
    /// The busiest subtask's busy time, milliseconds per second (0–1000).
    pub busy_ms_per_s: f64,
    /// The most back-pressured subtask's time blocked on its outputs, ms per second (0–1000).
    pub backpressured_ms_per_s: f64,
}

/// A job at one moment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sample {
    /// Milliseconds since the sampler started.
    pub at_ms: u64,
    /// The job's state.
    pub state: JobState,
    /// Records its sources emitted so far (see [`crate::flink::rest::JobIo`]).
    pub source_records: u64,
    /// Records its sinks received so far.
    pub sink_records: u64,
    /// Source records per second (see [`Sampler::sample`]).
    pub in_per_s: f64,
    /// Sink records per second (see [`Sampler::sample`]).
    pub out_per_s: f64,
    /// Each operator chain.
    pub vertices: Vec<VertexSample>,
    /// Its checkpoints.
    pub checkpoints: Checkpoints,
    /// How many times it restarted.
    pub restarts: u64,
}

/// Samples one job (see the [module documentation](self)).
#[derive(Debug)]
pub struct Sampler {
    rest: RestClient,
    job_id: String,
    started: Instant,
    /// The counters' last changes, by vertex id and `in`/`out` (the job's own under `""`).
    counters: HashMap<(String, &'static str), Counter>,
}

/// A counter's value when it last changed, and the rate over the span before that.
#[derive(Debug, Clone, Copy)]
struct Counter {
    value: u64,
    changed_ms: u64,
    rate: f64,
}

/// How long a counter that stopped changing keeps its last rate: Flink's REST API serves
/// metrics fetched every `metrics.fetcher.update-interval` (10 s by default), so between two
/// fetches a counter stands still while the job keeps working.
const STALE_MS: u64 = 15_000;

impl Sampler {
    /// A sampler of job `job_id` on the cluster `rest` talks to; times count from now.
    pub fn new(rest: RestClient, job_id: impl Into<String>) -> Self {
        Self {
            rest,
            job_id: job_id.into(),
            started: Instant::now(),
            counters: HashMap::new(),
        }
    }

    /// The job id.
    pub fn job_id(&self) -> &str {
        &self.job_id
    }

    /// Reads the job now. A rate is a counter's increase over the time between its last two
    /// changes: Flink's REST API refreshes metrics every `metrics.fetcher.update-interval`
    /// (10 s by default), so rates move in steps of that interval; a counter standing still
    /// longer than 15 s has rate 0.
    pub async fn sample(&mut self) -> Result<Sample, RestError> {
        let id = self.job_id.as_str();
        let (details, io, checkpoints, restarts) = tokio::try_join!(
            self.rest.job(id),
            self.rest.io(id),
            self.rest.checkpoints(id),
            self.rest.restarts(id)
        )?;
        let at_ms = self.started.elapsed().as_millis() as u64;
        let counters = &mut self.counters;
        // The rate over the span between the counter's last two changes, kept until it is
        // stale (see `STALE_MS`).
        let mut rate = |key: (String, &'static str), now: u64| -> f64 {
            match counters.get_mut(&key) {
                None => {
                    counters.insert(
                        key,
                        Counter {
                            value: now,
                            changed_ms: at_ms,
                            rate: 0.0,
                        },
                    );
                    0.0
                }
                Some(c) if now != c.value => {
                    let span = at_ms.saturating_sub(c.changed_ms).max(1) as f64 / 1000.0;
                    c.rate = now.saturating_sub(c.value) as f64 / span;
                    c.value = now;
                    c.changed_ms = at_ms;
                    c.rate
                }
                Some(c) if at_ms.saturating_sub(c.changed_ms) > STALE_MS => 0.0,
                Some(c) => c.rate,
            }
        };
        let mut vertices = Vec::with_capacity(details.vertices.len());
        for vertex in details.vertices {
            let load = self.rest.vertex_load(id, &vertex.id).await?;
            vertices.push(VertexSample {
                in_per_s: rate((vertex.id.clone(), "in"), load.records_in),
                out_per_s: rate((vertex.id.clone(), "out"), load.records_out),
                id: vertex.id,
                name: vertex.name,
                records_in: load.records_in,
                records_out: load.records_out,
                busy_ms_per_s: load.busy_ms_per_s,
                backpressured_ms_per_s: load.backpressured_ms_per_s,
            });
        }
        let sample = Sample {
            at_ms,
            state: details.summary.state,
            in_per_s: rate((String::new(), "in"), io.records_in),
            out_per_s: rate((String::new(), "out"), io.records_out),
            source_records: io.records_in,
            sink_records: io.records_out,
            vertices,
            checkpoints,
            restarts,
        };
        Ok(sample)
    }
}

impl Sample {
    /// One line for a live view: state, records in and out with their rates, the busiest and
    /// most back-pressured operators, checkpoints and restarts.
    pub fn line(&self) -> String {
        let busiest = self
            .vertices
            .iter()
            .max_by(|a, b| a.busy_ms_per_s.total_cmp(&b.busy_ms_per_s))
            .map_or(0.0, |v| v.busy_ms_per_s / 10.0);
        let pressured = self
            .vertices
            .iter()
            .max_by(|a, b| {
                a.backpressured_ms_per_s
                    .total_cmp(&b.backpressured_ms_per_s)
            })
            .map_or(0.0, |v| v.backpressured_ms_per_s / 10.0);
        format!(
            "{:>5.0}s {} in {} ({:.0}/s) out {} ({:.0}/s) busy {busiest:.0}% backpressure \
             {pressured:.0}% checkpoints {} (failed {}) restarts {}",
            self.at_ms as f64 / 1000.0,
            self.state,
            self.source_records,
            self.in_per_s,
            self.sink_records,
            self.out_per_s,
            self.checkpoints.completed,
            self.checkpoints.failed,
            self.restarts
        )
    }
}
