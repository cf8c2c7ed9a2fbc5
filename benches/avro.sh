#!/usr/bin/env bash
# avro-confluent keyed produce against kcat, in one run, same rows, same delivery guarantee:
#   - flinkit produce --table (upsert-kafka, key and value avro-confluent: every row checked,
#     the key from the PRIMARY KEY, Avro encoded, schemas registered once in the stack's registry)
#   - kcat -P -K with the same rows as pre-split `key<TAB>json` lines (no encoding at all)
# both with acks=all and idempotence on; then flinkit's peak RSS on 1x and 4x the rows (memory
# must stay flat, the file is streamed).
# Runs against the local stack (`flinkit stack up`: Kafka and the Schema Registry); each run
# writes fresh topics. Run by hand, not by CI:  benches/avro.sh [ROWS] [RUNS]
# Prints medians (min–max) of wall time and the ratio flinkit/kcat (≤ 1.0: flinkit is faster).
set -euo pipefail
cd "$(dirname "$0")/.."

rows=${1:-300000}
runs=${2:-5}
kafka=${FLINKIT_KAFKA_URL:-localhost:9092}
registry=${FLINKIT_SCHEMA_REGISTRY_URL:-http://localhost:8085/apis/ccompat/v7}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

command -v kcat >/dev/null || { apt-get update -qq && apt-get install -y -qq kcat >/dev/null; }
[ -x /usr/bin/time ] || { apt-get update -qq && apt-get install -y -qq time >/dev/null; }
# FLINKIT_BIN=PATH measures that binary instead of a fresh release build.
[ -n "${FLINKIT_BIN:-}" ] || cargo build --release -q
flinkit=${FLINKIT_BIN:-target/release/flinkit}
echo "flinkit $($flinkit --version | cut -d' ' -f2), $(kcat -V | head -1)"

awk -v n="$rows" 'BEGIN { srand(7); for (i = 1; i <= n; i++)
  printf "{\"uid\":\"%d-%d\",\"accountId\":\"%d\",\"id\":%d,\"fullName\":\"User %d of account %d\",\"email\":\"user%d@example.com\",\"score\":%.3f}\n",
    i % 1000, i, i % 1000, i, i, i % 1000, i, rand() * 1000 }' > "$work/rows.jsonl"
sed -E 's/^\{"uid":"([^"]*)".*/\1/' "$work/rows.jsonl" | paste - "$work/rows.jsonl" > "$work/keyed.tsv"
for _ in 1 2 3 4; do cat "$work/rows.jsonl"; done > "$work/rows4.jsonl"
echo "rows: $rows lines, $(du -h "$work/rows.jsonl" | cut -f1)"

table() { # table TOPIC: the users table on TOPIC in avro-confluent
  cat > "$work/$1.sql" <<SQL
CREATE TABLE users (uid STRING, accountId STRING, id INT, fullName STRING, email STRING,
  score DOUBLE, PRIMARY KEY (uid) NOT ENFORCED) WITH (
  'connector' = 'upsert-kafka', 'topic' = '$1', 'properties.bootstrap.servers' = '$kafka',
  'key.format' = 'avro-confluent', 'key.avro-confluent.url' = '$registry',
  'value.format' = 'avro-confluent', 'value.avro-confluent.url' = '$registry');
SQL
  echo "$work/$1.sql"
}
seconds() { local start end; start=$(date +%s.%N); "$@" >/dev/null; end=$(date +%s.%N); echo "$end - $start" | bc; }
median() { sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
spread() { sort -g | awk 'NR == 1 { min = $1 } { max = $1 } END { printf "%s–%s", min, max }'; }
topic() { echo "bench-avro-$1-$(date +%s%N)"; }

flinkit_times=""; kcat_times=""
for run in $(seq "$runs"); do
  t=$(topic f); sql=$(table "$t")
  flinkit_times+="$(seconds "$flinkit" produce --table users -f "$sql" --file "$work/rows.jsonl")"$'\n'
  t=$(topic k)
  kcat_times+="$(seconds kcat -P -b "$kafka" -t "$t" -K $'\t' -X acks=all -X enable.idempotence=true -l "$work/keyed.tsv")"$'\n'
  echo "run $run: flinkit $(echo -n "$flinkit_times" | tail -1)s, kcat $(echo -n "$kcat_times" | tail -1)s"
done
f=$(echo -n "$flinkit_times" | median); k=$(echo -n "$kcat_times" | median)
echo "avro-confluent keyed produce, $rows rows, median of $runs:"
echo "  flinkit $f s ($(echo -n "$flinkit_times" | spread)), kcat -P -K $k s ($(echo -n "$kcat_times" | spread)), ratio $(echo "scale=2; $f / $k" | bc)"
for file in rows.jsonl rows4.jsonl; do
  t=$(topic m); sql=$(table "$t")
  rss=$(/usr/bin/time -f %M "$flinkit" produce --table users -f "$sql" --file "$work/$file" 2>&1 >/dev/null | tail -1)
  echo "  peak RSS producing $(wc -l < "$work/$file") rows: $((rss / 1024)) MB"
done
