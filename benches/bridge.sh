#!/usr/bin/env bash
# The bridge against peer tools, in one run, same records, same delivery guarantee:
#   - Kafka produce: flinkit vs kcat -P (acks=all, idempotence on, both)
#   - Kafka consume: flinkit vs kcat -C -J (JSON per record, both)
#   - Pulsar produce: flinkit vs Apache Pulsar's Java perf client (pulsar-perf, batching on, both),
#     10x the records (PULSAR_REPEAT), compared by throughput while sending
#   - flinkit's peak RSS producing a 1 GB file
# Runs against the local stack (`flinkit stack up`); each run writes a fresh topic.
# Run by hand, not by CI:  benches/bridge.sh [RECORDS] [RUNS]
# Prints medians of wall time and the ratios flinkit/peer (≤ 1.0 means flinkit is faster).
set -euo pipefail
cd "$(dirname "$0")/.."

records=${1:-300000}
runs=${2:-5}
big_mb=${BIG_MB:-1024}
kafka=${FLINKIT_KAFKA_URL:-localhost:9092}
pulsar=${FLINKIT_PULSAR_URL:-pulsar://localhost:6650}
pulsar_admin=${FLINKIT_PULSAR_ADMIN_URL:-http://localhost:8080}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

command -v kcat >/dev/null || { apt-get update -qq && apt-get install -y -qq kcat >/dev/null; }
[ -x /usr/bin/time ] || { apt-get update -qq && apt-get install -y -qq time >/dev/null; }
cargo build --release -q
flinkit=target/release/flinkit
echo "flinkit $($flinkit --version | cut -d' ' -f2), $(kcat -V | head -1)"

mvn -q -B -ntp -f jars/stack/pulsar-perf/pom.xml dependency:build-classpath \
  -Dmdep.outputFile="$work/perf.cp" >/dev/null
perf_cp=$(cat "$work/perf.cp")
: > "$work/client.conf"  # pulsar-perf reads its settings from a client.conf; flags suffice

# The records: JSON objects of about 150 bytes, all different.
awk -v n="$records" 'BEGIN { srand(7); for (i = 1; i <= n; i++)
  printf "{\"uid\":\"%d-%d\",\"accountId\":\"%d\",\"id\":%d,\"fullName\":\"User %d of account %d\",\"email\":\"user%d@example.com\",\"score\":%.3f}\n",
    i % 1000, i, i % 1000, i, i, i % 1000, i, rand() * 1000 }' > "$work/records.jsonl"
echo "records: $records lines, $(du -h "$work/records.jsonl" | cut -f1)"
pulsar_records=$((records * ${PULSAR_REPEAT:-10}))
for _ in $(seq "${PULSAR_REPEAT:-10}"); do cat "$work/records.jsonl"; done > "$work/pulsar.jsonl"

seconds() { # seconds CMD...: wall time of one run
  local start end
  start=$(date +%s.%N)
  "$@" >/dev/null
  end=$(date +%s.%N)
  echo "$end - $start" | bc
}
median() { sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
topic() { echo "bench-$1-$(date +%s%N)"; }

declare -A times
add() { times[$1]+="$2"$'\n'; }

for run in $(seq "$runs"); do
  # Kafka produce, interleaved.
  t1=$(topic kf); t2=$(topic kk)
  add kafka_produce_flinkit "$(seconds "$flinkit" produce kafka "$t1" --endpoint "$kafka" --file "$work/records.jsonl")"
  add kafka_produce_kcat "$(seconds kcat -P -b "$kafka" -t "$t2" -X acks=all -X enable.idempotence=true -l "$work/records.jsonl")"
  # Kafka consume of the same topic, both printing one JSON object per record.
  add kafka_consume_flinkit "$(seconds "$flinkit" consume kafka "$t1" --endpoint "$kafka" --count "$records" --format json)"
  add kafka_consume_kcat "$(seconds kcat -C -b "$kafka" -t "$t1" -o beginning -e -c "$records" -J -q)"
  # Pulsar produce (batching on for both), pulsar_records records: both rates are taken while
  # sending (flinkit's from its send time, pulsar-perf's own aggregate), wall times beside.
  t3=$(topic pf); t4=$(topic pj)
  start=$(date +%s.%N)
  "$flinkit" produce pulsar "$t3" --endpoint "$pulsar" --file "$work/pulsar.jsonl" --format json > "$work/pf.json"
  add pulsar_wall_flinkit "$(echo "$(date +%s.%N) - $start" | bc)"
  add pulsar_rate_flinkit "$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["sent"] / (d["elapsed_ms"] / 1000))' "$work/pf.json")"
  start=$(date +%s.%N)
  java -Xmx2g -cp "$perf_cp" org.apache.pulsar.testclient.PulsarPerfTestTool \
    "$work/client.conf" produce -u "$pulsar" -au "$pulsar_admin" -r 10000000 -m "$pulsar_records" \
    -f "$work/records.jsonl" "persistent://public/default/$t4" > "$work/pj.log" 2>&1
  add pulsar_wall_java "$(echo "$(date +%s.%N) - $start" | bc)"
  # pulsar-perf's own figure: "Aggregated throughput stats --- N records sent --- R msg/s".
  add pulsar_rate_java "$(sed -nE 's/.*Aggregated throughput stats --- [0-9]+ records sent --- ([0-9.]+) msg\/s.*/\1/p' "$work/pj.log" | tail -1)"
  echo "run $run/$runs done"
done

report() { # report NAME PEER
  local a b
  a=$(printf '%s' "${times[$1]}" | median)
  b=$(printf '%s' "${times[$2]}" | median)
  printf '%-24s %8.3fs   %-22s %8.3fs   ratio %.3f   flinkit %s rec/s\n' \
    "$1" "$a" "$2" "$b" "$(echo "$a / $b" | bc -l)" "$(echo "$records / $a" | bc)"
}
echo
echo "medians of $runs runs, $records records:"
report kafka_produce_flinkit kafka_produce_kcat
report kafka_consume_flinkit kafka_consume_kcat
a=$(printf '%s' "${times[pulsar_rate_flinkit]}" | median)
b=$(printf '%s' "${times[pulsar_rate_java]}" | median)
printf 'pulsar produce, %s records: flinkit %.0f rec/s (wall %.2fs)   pulsar-perf %.0f msg/s (wall %.2fs)   throughput ratio %.3f (goal >= 0.8)\n' \
  "$pulsar_records" "$a" "$(printf '%s' "${times[pulsar_wall_flinkit]}" | median)" \
  "$b" "$(printf '%s' "${times[pulsar_wall_java]}" | median)" "$(echo "$a / $b" | bc -l)"

# Peak memory for a large input: the file is streamed (checked, then sent), never held.
if [ "$big_mb" -gt 0 ]; then
  while [ "$(stat -c %s "$work/big.jsonl" 2>/dev/null || echo 0)" -lt $((big_mb * 1024 * 1024)) ]; do
    cat "$work/records.jsonl" >> "$work/big.jsonl"
  done
  lines=$(wc -l < "$work/big.jsonl")
  /usr/bin/time -f '%M %e' -o "$work/rss" "$flinkit" produce kafka "$(topic big)" --endpoint "$kafka" \
    --file "$work/big.jsonl" >/dev/null
  read -r rss secs < "$work/rss"
  echo "1 GB input ($(du -h "$work/big.jsonl" | cut -f1), $lines lines) to Kafka: peak RSS $((rss / 1024)) MB, ${secs}s"
fi
