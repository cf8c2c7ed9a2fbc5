//! End-to-end latency of a run: from the time flinkit sent a source record to the time the
//! job's sink wrote the record it led to.
//!
//! A sink record is traced back to the source records by its *match columns*: the sink's key
//! columns (or, for a sink without a key, its columns) that a source table also has, by name.
//! The source record taken is the latest one sent before the sink record with the same values
//! in those columns; the latency is the sink record's time minus that send time. On Kafka the
//! time is the record's timestamp — when Flink's producer wrote it, unless the sink table sets
//! it; on Pulsar it is the message's event time when the sink table sets one, else its publish
//! time — when Flink's producer sent it. With an aggregate (`GROUP BY accountId` into a sink
//! keyed by `accountId`) that is the latest input of the group, so when several inputs of a group are in flight at once the figure is a lower
//! bound of the oldest one's. Both clocks are the machine's when Flink runs beside flinkit; a
//! remote cluster's clock skew adds to every figure. A sink without such columns has no figure.

use std::collections::{HashMap, VecDeque};

use serde::Serialize;
use serde_json::{Map, Value};

/// How many send times are kept per match value (older ones are dropped).
const PER_VALUE: usize = 256;

/// Latency percentiles in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct Percentiles {
    /// The median.
    pub p50: f64,
    /// The 95th percentile.
    pub p95: f64,
    /// The 99th percentile.
    pub p99: f64,
}

impl Percentiles {
    /// The nearest-rank percentiles of `values` (sorted here); `None` when there are none.
    pub fn of(values: &mut [f64]) -> Option<Self> {
        if values.is_empty() {
            return None;
        }
        values.sort_by(f64::total_cmp);
        let rank =
            |p: f64| values[((p * values.len() as f64).ceil() as usize).clamp(1, values.len()) - 1];
        Some(Self {
            p50: rank(0.50),
            p95: rank(0.95),
            p99: rank(0.99),
        })
    }
}

/// The send times of source records by the values of one set of match columns.
#[derive(Debug, Default)]
pub struct Tracker {
    /// Match columns per sink table.
    columns: HashMap<String, Vec<String>>,
    /// (sink table, values as JSON text) → send times, oldest first.
    sent: HashMap<(String, String), VecDeque<i64>>,
    /// (sink table, at ms since the run began, latency ms).
    samples: Vec<(String, u64, f64)>,
}

impl Tracker {
    /// A tracker for sinks whose match columns are given (sink table → columns); sinks with no
    /// columns are left out.
    pub fn new(columns: HashMap<String, Vec<String>>) -> Self {
        Self {
            columns: columns.into_iter().filter(|(_, c)| !c.is_empty()).collect(),
            ..Self::default()
        }
    }

    /// The match columns of each sink measured.
    pub fn columns(&self) -> &HashMap<String, Vec<String>> {
        &self.columns
    }

    /// A source row was sent at `sent_ms` (ms since the epoch).
    pub fn sent(&mut self, row: &Map<String, Value>, sent_ms: i64) {
        for (sink, columns) in &self.columns {
            let Some(values) = values(row, columns) else {
                continue;
            };
            let times = self.sent.entry((sink.clone(), values)).or_default();
            if times.len() == PER_VALUE {
                times.pop_front();
            }
            times.push_back(sent_ms);
        }
    }

    /// A sink row written at `written_ms` (ms since the epoch), `at_ms` into the run: its
    /// latency, when a source record sent before it has the same match values.
    pub fn arrived(
        &mut self,
        sink: &str,
        row: &Map<String, Value>,
        written_ms: i64,
        at_ms: u64,
    ) -> Option<f64> {
        let values = values(row, self.columns.get(sink)?)?;
        let times = self.sent.get(&(sink.to_string(), values))?;
        let sent = times.iter().rev().find(|t| **t <= written_ms)?;
        let latency = (written_ms - sent) as f64;
        self.samples.push((sink.to_string(), at_ms, latency));
        Some(latency)
    }

    /// How many sink records were measured.
    pub fn len(&self) -> usize {
        self.samples.len()
    }

    /// Whether no sink record was measured.
    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// Percentiles over every measured record.
    pub fn overall(&self) -> Option<Percentiles> {
        let mut all: Vec<f64> = self.samples.iter().map(|s| s.2).collect();
        Percentiles::of(&mut all)
    }

    /// Percentiles per `bucket_ms` of the run, by when the sink record arrived: (bucket start
    /// in ms, percentiles, records).
    pub fn over_time(&self, bucket_ms: u64) -> Vec<(u64, Percentiles, usize)> {
        let mut buckets: std::collections::BTreeMap<u64, Vec<f64>> = Default::default();
        for (_, at, latency) in &self.samples {
            buckets
                .entry(at / bucket_ms.max(1) * bucket_ms.max(1))
                .or_default()
                .push(*latency);
        }
        buckets
            .into_iter()
            .filter_map(|(at, mut v)| Percentiles::of(&mut v).map(|p| (at, p, v.len())))
            .collect()
    }
}

/// The values of `columns` in `row` as one JSON text; `None` when one is missing or null.
fn values(row: &Map<String, Value>, columns: &[String]) -> Option<String> {
    let mut picked = Vec::with_capacity(columns.len());
    for column in columns {
        match row.get(column) {
            None | Some(Value::Null) => return None,
            Some(value) => picked.push(value),
        }
    }
    serde_json::to_string(&picked).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn row(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn a_sink_record_is_traced_to_the_latest_source_record_sent_before_it() {
        let mut tracker = Tracker::new(HashMap::from([
            ("counts".to_string(), vec!["accountId".to_string()]),
            ("nothing".to_string(), vec![]),
        ]));
        tracker.sent(&row(json!({"accountId": "a", "uid": "1"})), 1_000);
        tracker.sent(&row(json!({"accountId": "b", "uid": "2"})), 1_100);
        tracker.sent(&row(json!({"accountId": "a", "uid": "3"})), 1_200);
        tracker.sent(&row(json!({"accountId": "a", "uid": "4"})), 2_000);
        let sink = row(json!({"accountId": "a", "userCount": 2}));
        assert_eq!(tracker.arrived("counts", &sink, 1_250, 250), Some(50.0));
        assert_eq!(tracker.arrived("counts", &sink, 999, 300), None);
        assert_eq!(
            tracker.arrived("counts", &row(json!({"accountId": "c"})), 5_000, 300),
            None
        );
        assert_eq!(tracker.arrived("nothing", &sink, 5_000, 300), None);
        assert_eq!(
            tracker.arrived("counts", &row(json!({"accountId": "b"})), 1_400, 1_400),
            Some(300.0)
        );
        assert_eq!(tracker.len(), 2);
        let overall = tracker.overall().unwrap();
        assert_eq!((overall.p50, overall.p99), (50.0, 300.0));
        let buckets = tracker.over_time(1000);
        assert_eq!(buckets.len(), 2);
        assert_eq!((buckets[0].0, buckets[0].2), (0, 1));
        assert_eq!((buckets[1].0, buckets[1].1.p50), (1000, 300.0));
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let mut values: Vec<f64> = (1..=100).rev().map(f64::from).collect();
        let p = Percentiles::of(&mut values).unwrap();
        assert_eq!((p.p50, p.p95, p.p99), (50.0, 95.0, 99.0));
        assert_eq!(Percentiles::of(&mut []), None);
    }
}
