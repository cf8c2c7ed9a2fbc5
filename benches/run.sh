#!/usr/bin/env bash
# The cost of watching: the job's throughput during `flinkit run` with its monitoring (the job
# sampled every second: ~10 REST calls per sample, a live line) against the same run with
# --no-watch (sampled only once the feed ends), interleaved, RUNS runs each (default 3). The
# sources are fed as fast as the broker takes them (--rate unlimited) so the job, not the feed,
# sets the pace; the job's throughput is the records its source operator emitted by the end of
# the feed per second of the feed (`throughput.in_per_s`). Prints each run, then the median, min
# and max of each and the ratio of the medians.
#
# Run by hand against a stack: `flinkit stack up --services kafka,flink`, then `benches/run.sh`
# (FLINKIT_FLINK_URL / FLINKIT_KAFKA_URL to point elsewhere, FLINKIT_BIN for the binary, default
# target/release/flinkit; DURATION per run, default 20s; SQL, default the user-count tutorial).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-3}
duration=${DURATION:-20s}
sql=${SQL:-sql/user-count/kafka.sql}
flinkit=${FLINKIT_BIN:-target/release/flinkit}
export FLINKIT_FLINK_URL=${FLINKIT_FLINK_URL:-http://localhost:8081}
export FLINKIT_KAFKA_URL=${FLINKIT_KAFKA_URL:-localhost:9092}
results=$(mktemp)
trap 'rm -f "$results"' EXIT

one() { # MODE FLAGS…: one run, its figures appended to $results
  local mode=$1
  shift
  "$flinkit" run -f "$sql" --target rest --duration "$duration" --rate unlimited --format json "$@" \
    2>/dev/null | python3 -c '
import json, sys
d = json.load(sys.stdin)
t = d["throughput"]
print(sys.argv[1], round(t["in_per_s"]), sum(d["produced"].values()), t["source_records"], len(d["samples"]))
' "$mode" | tee -a "$results"
}

echo "mode job-records/s produced read-by-feed-end samples"
for i in $(seq "$runs"); do
  one watched
  one unwatched --no-watch
done
python3 - "$results" <<'PY'
import statistics, sys
rows = [line.split() for line in open(sys.argv[1])]
by = {}
for mode, rate, *_ in rows:
    by.setdefault(mode, []).append(float(rate))
for mode, rates in by.items():
    print(f"{mode:10} median {statistics.median(rates):8.0f}/s  min {min(rates):8.0f}  max {max(rates):8.0f}  ({len(rates)} runs)")
w, u = statistics.median(by["watched"]), statistics.median(by["unwatched"])
print(f"watched / unwatched = {w / u:.3f}")
PY
