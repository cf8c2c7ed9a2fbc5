#!/usr/bin/env bash
# The bridge against peer tools, in one run, same records, same delivery guarantee, interleaved:
#   - Kafka produce: flinkit vs kcat -P (acks=all, idempotence on, both)
#   - Kafka keyed, table-aware produce: `produce --table` (every row checked against the
#     table, the key taken from its PRIMARY KEY) vs kcat -P -K with the keys split beforehand
#   - Kafka consume: flinkit vs kcat -C -J (JSON per record, both)
#   - Kafka consume --upsert (the latest row per key) vs kcat -C -J -K piped into a Python
#     script that keeps the latest value per key and prints the rows
#   - Pulsar produce: flinkit vs Apache Pulsar's Java perf client (pulsar-perf, batching on,
#     both), PULSAR_REPEAT times the records, compared by throughput while sending; flinkit
#     with its defaults (one producer, its batches pipelined, the input's order kept; PULSAR_X
#     adds flinkit settings, e.g. PULSAR_X="-X batch.size=5000"), pulsar-perf with its own
#     (one producer, its batches pipelined)
#   - flinkit's peak RSS producing a BIG_MB file, keyless and keyed
# Runs against the local stack (`flinkit stack up`); each run writes a fresh topic. PULSAR=0
# leaves the Pulsar pair out (a stack of Kafka alone; pulsar-perf is then not needed), KAFKA=0
# the Kafka pairs and the peak RSS (a stack of Pulsar alone; kcat is then not needed).
# Run by hand, not by CI:  benches/bridge.sh [RECORDS] [RUNS]
# Prints every run, then per pair the median and spread (min–max) and the ratio of the medians
# flinkit/peer for times (≤ 1.0: flinkit is faster) and rates (≥ 1.0: flinkit is faster).
set -euo pipefail
cd "$(dirname "$0")/.."

records=${1:-300000}
runs=${2:-5}
big_mb=${BIG_MB:-400}
kafka=${FLINKIT_KAFKA_URL:-localhost:9092}
pulsar=${FLINKIT_PULSAR_URL:-pulsar://localhost:6650}
pulsar_admin=${FLINKIT_PULSAR_ADMIN_URL:-http://localhost:8080}
with_pulsar=${PULSAR:-1}
with_kafka=${KAFKA:-1}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

missing() { echo "benches/bridge.sh: $1 is missing: $2" >&2; exit 1; }
[ "$with_kafka" = 1 ] && { command -v kcat >/dev/null || missing kcat "apt-get install kcat"; }
command -v python3 >/dev/null || missing python3 "apt-get install python3"
if [ "$with_pulsar" = 1 ]; then
  command -v java >/dev/null || missing java "apt-get install openjdk-17-jre-headless"
  command -v mvn >/dev/null || missing mvn "apt-get install maven"
fi
[ -x /usr/bin/time ] || missing /usr/bin/time "apt-get install time"
flinkit=${FLINKIT_BIN:-target/release/flinkit}
[ -n "${FLINKIT_BIN:-}" ] || cargo build --release -q
echo "flinkit $($flinkit --version | cut -d' ' -f2)$([ "$with_kafka" = 1 ] && echo ", $(kcat -V | head -1)")"
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ { print $2 }') GB, load average $(cut -d' ' -f1-3 /proc/loadavg)"

if [ "$with_pulsar" = 1 ]; then
  mvn -q -B -ntp -f jars/stack/pulsar-perf/pom.xml dependency:build-classpath \
    -Dmdep.outputFile="$work/perf.cp" >/dev/null || missing pulsar-perf "Maven could not resolve jars/stack/pulsar-perf/pom.xml"
  perf_cp=$(cat "$work/perf.cp")
  : > "$work/client.conf"  # pulsar-perf reads its settings from a client.conf; flags suffice
fi

# The records: JSON objects of about 140 bytes, all different; `uid` is the key.
awk -v n="$records" 'BEGIN { srand(7); for (i = 1; i <= n; i++)
  printf "{\"uid\":\"%d-%d\",\"accountId\":\"%d\",\"id\":%d,\"fullName\":\"User %d of account %d\",\"email\":\"user%d@example.com\",\"score\":%.3f}\n",
    i % 1000, i, i % 1000, i, i, i % 1000, i, rand() * 1000 }' > "$work/records.jsonl"
# kcat's input for the keyed produce: the key, a tab, the value.
sed -E 's/^(\{"uid":"([^"]*)".*)$/\2\t\1/' "$work/records.jsonl" > "$work/keyed.txt"
echo "records: $records lines, $(du -h "$work/records.jsonl" | cut -f1)"
pulsar_records=$((records * ${PULSAR_REPEAT:-10}))
if [ "$with_pulsar" = 1 ]; then
  for _ in $(seq "${PULSAR_REPEAT:-10}"); do cat "$work/records.jsonl"; done > "$work/pulsar.jsonl"
fi

# The table of the keyed produce and the upsert consume: an upsert-kafka table keyed by uid.
table() { # table TOPIC: the DDL file
  cat > "$work/users.sql" <<EOF
CREATE TABLE users (
  uid STRING, accountId STRING, id INT, fullName STRING, email STRING, score DOUBLE,
  PRIMARY KEY (uid) NOT ENFORCED
) WITH (
  'connector' = 'upsert-kafka', 'topic' = '$1', 'properties.bootstrap.servers' = '$kafka',
  'key.format' = 'raw', 'value.format' = 'json'
);
EOF
  echo "$work/users.sql"
}

# What a user would otherwise run for --upsert: the latest value per key, tombstones deleting.
cat > "$work/upsert.py" <<'EOF'
import json, sys
rows = {}
for line in sys.stdin:
    record = json.loads(line)
    if record["payload"] is None:
        rows.pop(record["key"], None)
    else:
        rows[record["key"]] = json.loads(record["payload"])
json.dump({"rows": [rows[k] for k in sorted(rows)]}, sys.stdout)
print()
EOF

seconds() { # seconds CMD...: wall time of one run
  local start end
  start=$(date +%s.%N)
  "$@" >/dev/null
  end=$(date +%s.%N)
  echo "$end - $start" | bc
}
median() { sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
spread() { sort -g | awk 'NR == 1 { min = $1 } { max = $1 } END { printf "%.3f–%.3f", min, max }'; }
topic() { echo "bench-$1-$(date +%s%N)"; }

declare -A times
add() { times[$1]+="$2"$'\n'; printf '  %-26s %s\n' "$1" "$2"; }

upsert_kcat() { kcat -C -b "$kafka" -t "$1" -o beginning -e -J -q | python3 "$work/upsert.py"; }

for run in $(seq "$runs"); do
  echo "run $run/$runs (load average $(cut -d' ' -f1 /proc/loadavg))"
  if [ "$with_kafka" = 1 ]; then
  # Kafka produce, interleaved.
  t1=$(topic kf); t2=$(topic kk)
  add kafka_produce_flinkit "$(seconds "$flinkit" produce kafka "$t1" --endpoint "$kafka" --file "$work/records.jsonl")"
  add kafka_produce_kcat "$(seconds kcat -P -b "$kafka" -t "$t2" -X acks=all -X enable.idempotence=true -l "$work/records.jsonl")"
  # Keyed, table-aware produce against kcat with the keys split beforehand.
  t5=$(topic ktf); t6=$(topic ktk)
  add keyed_produce_flinkit "$(seconds "$flinkit" produce --table users -f "$(table "$t5")" --file "$work/records.jsonl")"
  add keyed_produce_kcat "$(seconds kcat -P -b "$kafka" -t "$t6" -X acks=all -X enable.idempotence=true -K $'\t' -l "$work/keyed.txt")"
  # Kafka consume of the same topic, both printing one JSON object per record.
  add kafka_consume_flinkit "$(seconds "$flinkit" consume kafka "$t1" --endpoint "$kafka" --count "$records" --format json)"
  add kafka_consume_kcat "$(seconds kcat -C -b "$kafka" -t "$t1" -o beginning -e -c "$records" -J -q)"
  # The keyed topic as a table: flinkit's --upsert against kcat and the script.
  add upsert_consume_flinkit "$(seconds "$flinkit" consume --table users -f "$(table "$t5")" --upsert --format json)"
  add upsert_consume_kcat_py "$(seconds upsert_kcat "$t5")"
  fi
  # Pulsar produce (batching on for both), pulsar_records records: both rates are taken while
  # sending (flinkit's from its send time, pulsar-perf's own aggregate), wall times beside.
  [ "$with_pulsar" = 1 ] || continue
  t3=$(topic pf); t4=$(topic pj)
  start=$(date +%s.%N)
  # shellcheck disable=SC2086 # PULSAR_X is split into flinkit's arguments
  "$flinkit" produce pulsar "$t3" --endpoint "$pulsar" --file "$work/pulsar.jsonl" --format json ${PULSAR_X:-} > "$work/pf.json"
  add pulsar_wall_flinkit "$(echo "$(date +%s.%N) - $start" | bc)"
  add pulsar_rate_flinkit "$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["sent"] / (d["elapsed_ms"] / 1000))' "$work/pf.json")"
  start=$(date +%s.%N)
  java -Xmx2g -cp "$perf_cp" org.apache.pulsar.testclient.PulsarPerfTestTool \
    "$work/client.conf" produce -u "$pulsar" -au "$pulsar_admin" -r 10000000 -m "$pulsar_records" \
    -f "$work/records.jsonl" "persistent://public/default/$t4" > "$work/pj.log" 2>&1
  add pulsar_wall_java "$(echo "$(date +%s.%N) - $start" | bc)"
  # pulsar-perf's own figure: "Aggregated throughput stats --- N records sent --- R msg/s".
  rate=$(sed -nE 's/.*Aggregated throughput stats --- [0-9]+ records sent --- ([0-9.]+) msg\/s.*/\1/p' "$work/pj.log" | tail -1)
  [ -n "$rate" ] || { tail -20 "$work/pj.log" >&2; missing "pulsar-perf's rate" "it did not print its aggregate (log above)"; }
  add pulsar_rate_java "$rate"
done

# What the last run read, counted: a tool that read less than the whole topic would look fast.
count_check() { # count_check WHAT EXPECTED ACTUAL
  [ "$2" = "$3" ] || { echo "benches/bridge.sh: $1 read $3 records, not $2" >&2; exit 1; }
}
if [ "$with_kafka" = 1 ]; then
  count_check "flinkit consume" "$records" "$("$flinkit" consume kafka "$t1" --endpoint "$kafka" --count "$records" --format json | wc -l)"
  count_check "kcat -C" "$records" "$(kcat -C -b "$kafka" -t "$t1" -o beginning -e -c "$records" -J -q | wc -l)"
  count_check "flinkit consume --upsert" "$records" "$("$flinkit" consume --table users -f "$(table "$t5")" --upsert --format json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["rows"]))')"
  count_check "kcat | python3" "$records" "$(upsert_kcat "$t5" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["rows"]))')"
  echo "counted: both consumers read $records records; both upsert views hold $records rows"
fi

report() { # report NAME PEER UNIT
  local a b
  a=$(printf '%s' "${times[$1]}" | median)
  b=$(printf '%s' "${times[$2]}" | median)
  printf '%-24s %10.3f%s (%s)   %-24s %10.3f%s (%s)   ratio %.3f\n' \
    "$1" "$a" "$3" "$(printf '%s' "${times[$1]}" | spread)" \
    "$2" "$b" "$3" "$(printf '%s' "${times[$2]}" | spread)" "$(echo "$a / $b" | bc -l)"
}
echo
echo "medians (min–max) of $runs runs, $records records; machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
if [ "$with_kafka" = 1 ]; then
  report kafka_produce_flinkit kafka_produce_kcat s
  report keyed_produce_flinkit keyed_produce_kcat s
  report kafka_consume_flinkit kafka_consume_kcat s
  report upsert_consume_flinkit upsert_consume_kcat_py s
fi
if [ "$with_pulsar" = 1 ]; then
  echo "pulsar produce, $pulsar_records records (rates in msg/s; wall times beside):"
  report pulsar_rate_flinkit pulsar_rate_java ""
  report pulsar_wall_flinkit pulsar_wall_java s
fi

# Peak memory for a large input: the file is streamed (checked, then sent), never held.
if [ "$with_kafka" = 1 ] && [ "$big_mb" -gt 0 ]; then
  while [ "$(stat -c %s "$work/big.jsonl" 2>/dev/null || echo 0)" -lt $((big_mb * 1024 * 1024)) ]; do
    cat "$work/records.jsonl" >> "$work/big.jsonl"
  done
  lines=$(wc -l < "$work/big.jsonl")
  /usr/bin/time -f '%M %e' -o "$work/rss" "$flinkit" produce kafka "$(topic big)" --endpoint "$kafka" \
    --file "$work/big.jsonl" >/dev/null
  read -r rss secs < "$work/rss"
  echo "$(du -h "$work/big.jsonl" | cut -f1) input ($lines lines) to Kafka: peak RSS $((rss / 1024)) MB, ${secs}s"
  /usr/bin/time -f '%M %e' -o "$work/rss" "$flinkit" produce --table users -f "$(table "$(topic bigk)")" \
    --file "$work/big.jsonl" >/dev/null
  read -r rss secs < "$work/rss"
  echo "the same, keyed through the table: peak RSS $((rss / 1024)) MB, ${secs}s"
fi
