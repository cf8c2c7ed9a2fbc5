#!/usr/bin/env bash
# The Kafka broker killed (kill -9) and started again in the middle of a produce: how many
# records are lost or duplicated, and whether produce exits 0. The stack's own Kafka (ports from
# ./flinkit.toml; FLINKIT_KAFKA_URL when not 9092), N records `{"id":i}` from a file, the broker killed KILL_AFTER seconds in and
# brought back by `flinkit stack up`, then every record read back and counted by id.
#   N=1000000 RUNS=3 benches/reliability.sh
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-1000000}
RUNS=${RUNS:-3}
KILL_AFTER=${KILL_AFTER:-2}
bin=${FLINKIT_BIN:-target/debug/flinkit}
kafka=${FLINKIT_KAFKA_URL:-localhost:9092}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
seq 1 "$N" | awk '{print "{\"id\":" $1 "}"}' >"$work/records.jsonl"
"$bin" stack up --runtime process --services kafka >/dev/null
for run in $(seq 1 "$RUNS"); do
  topic="reliability-$run-$$"
  start=$(date +%s.%N)
  "$bin" produce kafka "$topic" --endpoint "$kafka" --file "$work/records.jsonl" --timeout 300s >"$work/produce.out" 2>&1 &
  producer=$!
  sleep "$KILL_AFTER"
  pid=$("$bin" --format json stack status --services kafka | jq -r '.services[0].pids[0]')
  kill -9 "$pid"
  killed=$(date +%s.%N)
  "$bin" stack up --runtime process --services kafka >/dev/null 2>&1
  back=$(date +%s.%N)
  code=0
  wait "$producer" || code=$?
  end=$(date +%s.%N)
  "$bin" consume kafka "$topic" --endpoint "$kafka" --timeout 60s | jq -r '.value.id' >"$work/ids"
  read=$(wc -l <"$work/ids")
  unique=$(sort -u "$work/ids" | wc -l)
  printf 'run %s: produce exit %s in %.1fs (broker down %.1fs); read %s, unique %s, lost %s, duplicated %s; %s\n' \
    "$run" "$code" "$(echo "$end - $start" | bc)" "$(echo "$back - $killed" | bc)" "$read" "$unique" \
    "$((N - unique))" "$((read - unique))" "$(tail -1 "$work/produce.out")"
done
