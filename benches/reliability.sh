#!/usr/bin/env bash
# Faults, measured on the stack's own services (ports from ./flinkit.toml; FLINKIT_KAFKA_URL when
# not localhost:9092, FLINKIT_PULSAR_URL and FLINKIT_PULSAR_ADMIN_URL when not
# pulsar://localhost:6650 and http://localhost:8080, FLINKIT_FLINK_URL
# when not http://localhost:8081). FAULTS picks them:
# - kafka, pulsar: the broker killed (kill -9) in the middle of a produce of N records
#   `{"id":i}` (record i on input line i) — KILL_AFTER seconds after the first records reached
#   the broker — and brought back by `flinkit stack up`; every record
#   read back and counted by id: lost, duplicated, whether produce exited 0, and whether it named
#   every record that did not arrive.
# - taskmanager: a job writes ids 1..N (datagen, RATE rows/s) to Kafka through the exactly-once
#   sink, checkpointing every second; the TaskManager is killed (kill -9) after the second
#   completed checkpoint and brought back by `flinkit stack up`; once the job finished, a
#   read_committed read counts every id.
#   N=1000000 RUNS=3 FAULTS="kafka pulsar taskmanager" benches/reliability.sh
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-1000000}
RUNS=${RUNS:-3}
KILL_AFTER=${KILL_AFTER:-1}
FAULTS=${FAULTS:-kafka pulsar taskmanager}
RATE=${RATE:-20000}
bin=${FLINKIT_BIN:-target/debug/flinkit}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
seq 1 "$N" | awk '{print "{\"id\":" $1 "}"}' >"$work/records.jsonl"
# comm(1) compares lines as text.
export LC_ALL=C
kafka=${FLINKIT_KAFKA_URL:-localhost:9092}
flink=${FLINKIT_FLINK_URL:-http://localhost:8081}
pulsar_admin=${FLINKIT_PULSAR_ADMIN_URL:-http://localhost:8080}

# Brings the killed service back, saying so when it does not come back.
up() {
  "$bin" stack up --runtime process --services "$1" --timeout 300s >"$work/up.out" 2>&1 ||
    echo "stack up --services $1 failed: $(tail -1 "$work/up.out")"
}

# Whether records of the run reached the broker.
arrived() {
  case $broker in
    kafka) [ -n "$("$bin" consume kafka "$topic" --endpoint "$endpoint" --count 1 --timeout 1s 2>/dev/null)" ] ;;
    pulsar) [ "$(curl -sf "$pulsar_admin/admin/v2/persistent/public/default/$topic/stats" | jq '.msgInCounter // 0')" -gt 0 ] 2>/dev/null ;;
  esac
}

# A job that must not lose or repeat a record when its TaskManager dies.
taskmanager() {
  "$bin" stack up --runtime process --services kafka,flink --timeout 300s >/dev/null
  for run in $(seq 1 "$RUNS"); do
    topic="reliability-eo-$run-$$"
    cat >"$work/job.sql" <<SQL
SET 'execution.checkpointing.interval' = '1s';
SET 'restart-strategy.type' = 'fixed-delay';
SET 'restart-strategy.fixed-delay.attempts' = '1000';
SET 'restart-strategy.fixed-delay.delay' = '1s';
CREATE TABLE ids (id BIGINT) WITH ('connector' = 'datagen', 'fields.id.kind' = 'sequence',
  'fields.id.start' = '1', 'fields.id.end' = '$N', 'rows-per-second' = '$RATE');
CREATE TABLE committed (id BIGINT) WITH ('connector' = 'kafka', 'topic' = '$topic',
  'properties.bootstrap.servers' = '$kafka', 'format' = 'json',
  'sink.delivery-guarantee' = 'exactly-once', 'sink.transactional-id-prefix' = '$topic',
  'properties.transaction.timeout.ms' = '600000');
INSERT INTO committed SELECT id FROM ids;
SQL
    start=$(date +%s.%N)
    job=$(FLINKIT_FLINK_URL=$flink "$bin" --format json launch -f "$work/job.sql" --target rest --detach | jq -r .job_id)
    until [ "$(curl -sf "$flink/jobs/$job/checkpoints" | jq ".counts.completed // 0")" -ge 2 ] 2>/dev/null; do sleep 0.2; done
    pid=""
    for candidate in $("$bin" --format json stack status --services flink | jq -r '.services[0].pids[]'); do
      if ps -o args= -p "$candidate" | grep -q TaskManagerRunner; then pid=$candidate; fi
    done
    kill -9 "$pid"
    killed=$(date +%s.%N)
    up flink
    back=$(date +%s.%N)
    until state=$(curl -sf "$flink/jobs/$job" | jq -r .state) && [[ $state =~ ^(FINISHED|FAILED|CANCELED)$ ]]; do sleep 1; done
    end=$(date +%s.%N)
    restarts=$(curl -sf "$flink/jobs/$job/exceptions" | jq '.exceptionHistory.entries | length')
    "$bin" consume kafka "$topic" --endpoint "$kafka" -X isolation.level=read_committed --timeout 60s |
      jq -r '.value.id' >"$work/ids"
    read=$(wc -l <"$work/ids")
    unique=$(sort -u "$work/ids" | wc -l)
    printf 'taskmanager run %s: job %s in %.1fs, %s failure(s) (stack up %.1fs); read_committed read %s, unique %s, lost %s, duplicated %s\n' \
      "$run" "$state" "$(echo "$end - $start" | bc)" "$restarts" "$(echo "$back - $killed" | bc)" \
      "$read" "$unique" "$((N - unique))" "$((read - unique))"
  done
}

for broker in $FAULTS; do
  case $broker in
    kafka) endpoint=$kafka ;;
    pulsar) endpoint=${FLINKIT_PULSAR_URL:-pulsar://localhost:6650} ;;
    taskmanager) taskmanager; continue ;;
    *) echo "FAULTS: kafka, pulsar or taskmanager, not $broker" >&2; exit 2 ;;
  esac
  "$bin" stack up --runtime process --services "$broker" --timeout 300s >/dev/null
  for run in $(seq 1 "$RUNS"); do
    topic="reliability-$run-$$"
    start=$(date +%s.%N)
    "$bin" --format json produce "$broker" "$topic" --endpoint "$endpoint" --file "$work/records.jsonl" \
      --timeout 300s >"$work/produce.json" 2>"$work/produce.err" &
    producer=$!
    until arrived; do
      kill -0 "$producer" 2>/dev/null || break
      sleep 0.1
    done
    sleep "$KILL_AFTER"
    pid=$("$bin" --format json stack status --services "$broker" | jq -r '.services[0].pids[0]')
    kill -9 "$pid"
    killed=$(date +%s.%N)
    up "$broker"
    back=$(date +%s.%N)
    code=0
    wait "$producer" || code=$?
    end=$(date +%s.%N)
    "$bin" consume "$broker" "$topic" --endpoint "$endpoint" --timeout 60s | jq -r '.value.id' >"$work/ids"
    read=$(wc -l <"$work/ids")
    sort -u "$work/ids" >"$work/unique"
    unique=$(wc -l <"$work/unique")
    # The records produce named as not acknowledged, and those missing that it did not name.
    jq -r '(.failed_lines // [])[] | "\(.[0]) \(.[1])"' "$work/produce.json" |
      while read -r from to; do seq "$from" "$to"; done | sort -u >"$work/named"
    seq 1 "$N" | sort | comm -23 - "$work/unique" | comm -23 - "$work/named" >"$work/unnamed"
    printf '%s run %s: produce exit %s in %.1fs (broker down %.1fs); read %s, unique %s, lost %s (unnamed %s), duplicated %s, named failed %s; %s\n' \
      "$broker" "$run" "$code" "$(echo "$end - $start" | bc)" "$(echo "$back - $killed" | bc)" "$read" "$unique" \
      "$((N - unique))" "$(wc -l <"$work/unnamed")" "$((read - unique))" "$(wc -l <"$work/named")" \
      "$(jq -c '{sent, failed, error: .error.message}' "$work/produce.json" 2>/dev/null || tail -1 "$work/produce.err")"
  done
done
