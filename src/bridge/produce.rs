//! Driving a [`Producer`] over a stream of records: pacing, interruption, flushing, and an
//! account of what was delivered — including the longest prefix of input lines that is fully
//! acknowledged, so an interrupted run can resume with `--skip N`.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::{Ack, BridgeError, OutRecord, Producer};

/// How many steps pass between two looks at the clock for progress reports.
const PROGRESS_EVERY: u64 = 256;

/// One step of a producing run.
#[derive(Debug)]
pub enum Step {
    /// Send this record; the number is its input line (or its position when generated).
    Record(u64, OutRecord),
    /// Wait this long before the next step (pacing), serving acknowledgements meanwhile.
    Wait(Duration),
    /// Input line `n` was read and needs no sending (skipped as invalid).
    Skip(u64),
}

/// What a run delivered.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Delivery {
    /// Records the broker acknowledged.
    pub sent: u64,
    /// Records that failed or were not acknowledged in time.
    pub failed: u64,
    /// Input lines 1..=n are all delivered (or skipped): the `--skip` to resume with.
    pub delivered_lines: u64,
    /// The input lines of the records that failed or were not acknowledged in time, as
    /// inclusive ranges in ascending order (`[(3, 5), (9, 9)]`: lines 3, 4, 5 and 9).
    pub failed_lines: Vec<(u64, u64)>,
    /// The producer gave up sending at this input line (it failed too): the lines after it
    /// were not sent.
    pub unsent_after: Option<u64>,
    /// The first failure's message, if any.
    pub first_error: Option<String>,
    /// Whether the run stopped early because it was interrupted.
    pub interrupted: bool,
    /// Wall time of the run.
    pub elapsed: Duration,
}

/// Tracks sent records by line number.
#[derive(Debug, Default)]
struct Tracker {
    in_flight: BTreeSet<u64>,
    read_through: u64,
    failed: BTreeSet<u64>,
    delivery: Delivery,
}

impl Tracker {
    fn ack(&mut self, ack: Ack) {
        self.in_flight.remove(&ack.seq);
        match ack.result {
            Ok(()) => self.delivery.sent += 1,
            Err(err) => self.failed(ack.seq, err.with_causes()),
        }
    }

    fn failed(&mut self, seq: u64, message: String) {
        self.delivery.failed += 1;
        self.failed.insert(seq);
        if self.delivery.first_error.is_none() {
            self.delivery.first_error = Some(message);
        }
    }

    fn delivered_lines(&self) -> u64 {
        let mut through = self.read_through;
        if let Some(first) = self.in_flight.first() {
            through = through.min(first - 1);
        }
        if let Some(failed) = self.failed.first() {
            through = through.min(failed - 1);
        }
        through
    }

    /// [`Delivery::failed_lines`]: the failed lines, consecutive ones joined.
    fn failed_lines(&self) -> Vec<(u64, u64)> {
        let mut ranges: Vec<(u64, u64)> = Vec::new();
        for &line in &self.failed {
            match ranges.last_mut() {
                Some((_, end)) if *end + 1 == line => *end = line,
                _ => ranges.push((line, line)),
            }
        }
        ranges
    }
}

/// Progress of a run, for progress bars.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Records queued so far.
    pub queued: u64,
    /// Records acknowledged so far.
    pub sent: u64,
    /// Records failed so far.
    pub failed: u64,
}

/// Sends every record of `steps` through `producer`, then flushes (at most `flush_timeout`).
/// Stops reading early when `stop` becomes true (Ctrl-C), still flushing what is in flight.
/// `progress` is called about five times a second. An `Err` step (a bad record, a read
/// error, a refused send) stops the run after flushing and is returned. A producer that gives
/// up waiting — a send that finds no room in time, a flush that times out — is not an error of
/// its own: the records it gave up on are failures of the [`Delivery`], by line, and after such
/// a send the rest is unsent ([`Delivery::unsent_after`]).
pub fn send_all(
    producer: &mut dyn Producer,
    steps: impl Iterator<Item = Result<Step, BridgeError>>,
    stop: &AtomicBool,
    flush_timeout: Duration,
    progress: &mut dyn FnMut(Progress),
) -> Result<Delivery, BridgeError> {
    let started = Instant::now();
    let mut tracker = Tracker::default();
    let mut queued = 0u64;
    let mut looked = 0u64;
    let mut last_progress = Instant::now();
    let mut failure = None;
    for step in steps {
        if stop.load(Ordering::Relaxed) {
            tracker.delivery.interrupted = true;
            break;
        }
        let waited = matches!(step, Ok(Step::Wait(_)));
        match step {
            Ok(Step::Record(seq, record)) => {
                tracker.in_flight.insert(seq);
                tracker.read_through = tracker.read_through.max(seq);
                queued += 1;
                if let Err(err) = producer.send(seq, record, &mut |ack| tracker.ack(ack)) {
                    tracker.in_flight.remove(&seq);
                    tracker.failed(seq, err.with_causes());
                    if matches!(err, BridgeError::Timeout(_)) {
                        tracker.delivery.unsent_after = Some(seq);
                    } else {
                        failure = Some(err);
                    }
                    break;
                }
            }
            Ok(Step::Wait(wait)) => producer.poll(wait, &mut |ack| tracker.ack(ack)),
            Ok(Step::Skip(line)) => tracker.read_through = tracker.read_through.max(line),
            Err(err) => {
                failure = Some(err);
                break;
            }
        }
        // The clock is read after a wait and every `PROGRESS_EVERY` steps, not at each step:
        // reading it costs as much as queueing a record.
        looked += 1;
        if (waited || looked.is_multiple_of(PROGRESS_EVERY))
            && last_progress.elapsed() >= Duration::from_millis(200)
        {
            last_progress = Instant::now();
            producer.poll(Duration::ZERO, &mut |ack| tracker.ack(ack));
            progress(Progress {
                queued,
                sent: tracker.delivery.sent,
                failed: tracker.delivery.failed,
            });
        }
    }
    let flushed = producer.flush(flush_timeout, &mut |ack| tracker.ack(ack));
    progress(Progress {
        queued,
        sent: tracker.delivery.sent,
        failed: tracker.delivery.failed,
    });
    if let Some(err) = failure {
        return Err(err);
    }
    match flushed {
        Ok(()) => {}
        Err(err @ BridgeError::Timeout(_)) => {
            // The producer reports what it gave up on; anything it did not report failed too.
            let left: Vec<u64> = std::mem::take(&mut tracker.in_flight).into_iter().collect();
            let message = err.with_causes();
            for seq in left {
                tracker.failed(seq, message.clone());
            }
        }
        // A refusal at the end (a database that rolls the file back) is the run's error.
        Err(err) => return Err(err),
    }
    tracker.delivery.failed_lines = tracker.failed_lines();
    tracker.delivery.delivered_lines = tracker.delivered_lines();
    tracker.delivery.elapsed = started.elapsed();
    Ok(tracker.delivery)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A producer that acknowledges out of order and fails chosen sequence numbers.
    struct Scripted {
        pending: Vec<u64>,
        fail: Vec<u64>,
    }

    impl Producer for Scripted {
        fn send(
            &mut self,
            seq: u64,
            _record: OutRecord,
            acks: &mut dyn FnMut(Ack),
        ) -> Result<(), BridgeError> {
            self.pending.push(seq);
            if self.pending.len() == 3 {
                self.poll(Duration::ZERO, acks);
            }
            Ok(())
        }

        fn poll(&mut self, _timeout: Duration, acks: &mut dyn FnMut(Ack)) {
            for seq in self.pending.drain(..).rev() {
                let result = if self.fail.contains(&seq) {
                    Err(BridgeError::Timeout(Duration::ZERO))
                } else {
                    Ok(())
                };
                acks(Ack { seq, result });
            }
        }

        fn flush(
            &mut self,
            timeout: Duration,
            acks: &mut dyn FnMut(Ack),
        ) -> Result<(), BridgeError> {
            self.poll(timeout, acks);
            Ok(())
        }

        fn topic(&self) -> &str {
            "t"
        }
    }

    fn steps(lines: &[u64]) -> impl Iterator<Item = Result<Step, BridgeError>> + '_ {
        lines
            .iter()
            .map(|&l| Ok(Step::Record(l, OutRecord::default())))
    }

    #[test]
    fn every_record_is_accounted_for() {
        let mut p = Scripted {
            pending: vec![],
            fail: vec![],
        };
        let stop = AtomicBool::new(false);
        let d = send_all(
            &mut p,
            steps(&[1, 2, 4, 5, 6, 9]),
            &stop,
            Duration::ZERO,
            &mut |_| {},
        )
        .unwrap();
        assert_eq!((d.sent, d.failed, d.delivered_lines), (6, 0, 9));
    }

    #[test]
    fn the_resume_point_stops_before_the_first_failure() {
        let mut p = Scripted {
            pending: vec![],
            fail: vec![5],
        };
        let stop = AtomicBool::new(false);
        let d = send_all(
            &mut p,
            steps(&[1, 2, 3, 4, 5, 6, 7]),
            &stop,
            Duration::ZERO,
            &mut |_| {},
        )
        .unwrap();
        assert_eq!((d.sent, d.failed, d.delivered_lines), (6, 1, 4));
        assert!(d.first_error.is_some());
    }

    #[test]
    fn failed_lines_are_named_as_ranges() {
        let mut p = Scripted {
            pending: vec![],
            fail: vec![2, 3, 4, 7, 9, 10],
        };
        let stop = AtomicBool::new(false);
        let d = send_all(
            &mut p,
            steps(&[1, 2, 3, 4, 5, 7, 8, 9, 10]),
            &stop,
            Duration::ZERO,
            &mut |_| {},
        )
        .unwrap();
        assert_eq!(d.failed, 6);
        assert_eq!(d.failed_lines, vec![(2, 4), (7, 7), (9, 10)]);
    }

    /// Takes every record, then refuses them all at the flush (as a database rolling a file
    /// back does).
    struct RefusedAtFlush;

    impl Producer for RefusedAtFlush {
        fn send(
            &mut self,
            _: u64,
            _: OutRecord,
            _: &mut dyn FnMut(Ack),
        ) -> Result<(), BridgeError> {
            Ok(())
        }

        fn poll(&mut self, _: Duration, _: &mut dyn FnMut(Ack)) {}

        fn flush(&mut self, _: Duration, _: &mut dyn FnMut(Ack)) -> Result<(), BridgeError> {
            Err(BridgeError::client(
                super::super::Broker::Jdbc,
                "rolled back: line 2 was refused".to_string(),
            ))
        }

        fn topic(&self) -> &str {
            "t"
        }
    }

    #[test]
    fn a_refusal_at_the_flush_is_the_runs_error_not_a_timeout() {
        let stop = AtomicBool::new(false);
        let err = send_all(
            &mut RefusedAtFlush,
            steps(&[1, 2]),
            &stop,
            Duration::ZERO,
            &mut |_| {},
        )
        .unwrap_err();
        assert!(err.to_string().contains("rolled back"), "{err}");
    }

    /// Acknowledges nothing; its flush times out without reporting anything, and a send after
    /// `room` sends finds no room.
    struct Silent {
        room: usize,
    }

    impl Producer for Silent {
        fn send(
            &mut self,
            _: u64,
            _: OutRecord,
            _: &mut dyn FnMut(Ack),
        ) -> Result<(), BridgeError> {
            if self.room == 0 {
                return Err(BridgeError::Timeout(Duration::from_secs(60)));
            }
            self.room -= 1;
            Ok(())
        }

        fn poll(&mut self, _: Duration, _: &mut dyn FnMut(Ack)) {}

        fn flush(&mut self, timeout: Duration, _: &mut dyn FnMut(Ack)) -> Result<(), BridgeError> {
            Err(BridgeError::Timeout(timeout))
        }

        fn topic(&self) -> &str {
            "t"
        }
    }

    #[test]
    fn a_flush_that_times_out_fails_what_is_still_in_flight_by_line() {
        let stop = AtomicBool::new(false);
        let d = send_all(
            &mut Silent { room: 9 },
            steps(&[1, 2, 3, 5]),
            &stop,
            Duration::from_secs(1),
            &mut |_| {},
        )
        .unwrap();
        assert_eq!((d.sent, d.failed, d.delivered_lines), (0, 4, 0));
        assert_eq!(d.failed_lines, vec![(1, 3), (5, 5)]);
        assert_eq!(d.unsent_after, None);
        assert!(d.first_error.unwrap().contains("1s"));
    }

    #[test]
    fn a_producer_without_room_stops_the_run_naming_what_was_not_sent() {
        let stop = AtomicBool::new(false);
        let d = send_all(
            &mut Silent { room: 2 },
            steps(&[1, 2, 3, 4, 5]),
            &stop,
            Duration::from_secs(1),
            &mut |_| {},
        )
        .unwrap();
        assert_eq!((d.sent, d.failed, d.delivered_lines), (0, 3, 0));
        assert_eq!(d.failed_lines, vec![(1, 3)]);
        assert_eq!(d.unsent_after, Some(3));
        assert!(d.first_error.unwrap().contains("60s"));
    }

    #[test]
    fn an_interrupted_run_reports_what_it_delivered() {
        let mut p = Scripted {
            pending: vec![],
            fail: vec![],
        };
        let stop = AtomicBool::new(false);
        let mut n = 0;
        let iter = (1..=100).map(|l| {
            n += 1;
            if n == 10 {
                stop.store(true, Ordering::Relaxed);
            }
            Ok(Step::Record(l, OutRecord::default()))
        });
        let d = send_all(&mut p, iter, &stop, Duration::ZERO, &mut |_| {}).unwrap();
        assert!(d.interrupted);
        assert_eq!((d.sent, d.delivered_lines), (9, 9));
    }

    #[test]
    fn skipped_lines_count_as_delivered() {
        let mut p = Scripted {
            pending: vec![],
            fail: vec![],
        };
        let stop = AtomicBool::new(false);
        let iter = vec![
            Ok(Step::Record(1, OutRecord::default())),
            Ok(Step::Skip(2)),
            Ok(Step::Wait(Duration::ZERO)),
            Ok(Step::Record(3, OutRecord::default())),
            Ok(Step::Skip(4)),
        ];
        let d = send_all(&mut p, iter.into_iter(), &stop, Duration::ZERO, &mut |_| {}).unwrap();
        assert_eq!((d.sent, d.delivered_lines), (2, 4));
    }
}
