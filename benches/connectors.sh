#!/usr/bin/env bash
# Connectors on demand, measured in one run against a stack (`flinkit stack up --services
# flink,postgres`; FLINKIT_FLINK_URL to point elsewhere, the PostgreSQL endpoint from
# `flinkit stack status`). RUNS (default 5) runs of each, interleaved; prints every run and the
# median (min–max) of each, and the ratios:
#
# 1. first `validate` of a jdbc script — resolve, fetch with Maven, describe with the runner —
#    in a cache that has the runner and Flink but no connector jars, and a Maven repository of
#    its own (everything downloaded), against the peer: `mvn dependency:copy-dependencies` of
#    the same artifacts into an empty repository (what fetching them by hand costs, with no
#    checking at all);
# 2. the warm `validate` of that script against `validate` of the same script with a bundled
#    sink (blackhole): what the added connector costs once cached;
# 3. an unused connector: `validate` of the bundled script with a cache folder that does not
#    exist — it stays absent (no fetch, no describe, no file);
# 4. time to RUNNING over REST (`launch --target rest`, which returns on RUNNING) with a jdbc
#    sink (the combined job jar, uploaded once by hash before the runs) and with a blackhole
#    sink (the runner jar alone). PAUSE (default 6) seconds between runs for the freed slot.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-5}
pause=${PAUSE:-6}
flinkit=${FLINKIT_BIN:-$PWD/target/release/flinkit}
cache=${FLINKIT_CACHE_DIR:-$HOME/.cache/flinkit}
postgres=$("$flinkit" stack status --services postgres --format json |
  python3 -c "import json,sys; print(json.load(sys.stdin)['services'][0]['endpoint'])")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
psql_url=${postgres#jdbc:postgresql://}
psql -X -q -h "${psql_url%%:*}" -p "$(echo "$psql_url" | sed 's/.*:\([0-9]*\)\/.*/\1/')" -U flinkit -d flinkit \
  -c "CREATE TABLE IF NOT EXISTS bench_counts (id BIGINT PRIMARY KEY, n BIGINT)"

source_table="CREATE TABLE gen (id BIGINT, n BIGINT) WITH ('connector' = 'datagen', 'rows-per-second' = '10', 'fields.id.min' = '1', 'fields.id.max' = '1000');"
cat > "$work/jdbc.sql" <<SQL
$source_table
CREATE TABLE sink (id BIGINT, n BIGINT, PRIMARY KEY (id) NOT ENFORCED) WITH ('connector' = 'jdbc',
  'url' = '$postgres', 'table-name' = 'bench_counts', 'username' = 'flinkit', 'password' = 'not-checked');
INSERT INTO sink SELECT id, n FROM gen;
SQL
cat > "$work/bundled.sql" <<SQL
$source_table
CREATE TABLE sink (id BIGINT, n BIGINT) WITH ('connector' = 'blackhole');
INSERT INTO sink SELECT id, n FROM gen;
SQL
"$flinkit" setup > /dev/null
artifacts=$(cargo run --quiet --example connector_artifacts jdbc 2>/dev/null)

now() { date +%s.%N; }
declare -A times
add() { times[$1]="${times[$1]:-} $2"; printf '  %-16s run %s: %6.3f s\n' "$1" "$i" "$2"; }

# A cache with the runner and Flink's runtime (links) and nothing else.
bare_cache() {
  local dir=$1
  mkdir -p "$dir"
  for entry in "$cache"/runner "$cache"/src "$cache"/flink-*; do ln -s "$entry" "$dir/"; done
}

for i in $(seq "$runs"); do
  run=$work/run-$i
  bare_cache "$run/cache"
  t0=$(now)
  MAVEN_OPTS="-Dmaven.repo.local=$run/m2" FLINKIT_CACHE_DIR=$run/cache \
    "$flinkit" validate -f "$work/jdbc.sql" > /dev/null 2>&1
  add cold-validate "$(echo "$(now) - $t0" | bc)"

  mkdir -p "$run/peer"
  python3 - "$artifacts" > "$run/peer/pom.xml" <<'PY'
import sys
deps = "".join(
    f"<dependency><groupId>{g}</groupId><artifactId>{a}</artifactId><version>{v}</version></dependency>"
    for g, a, v in (c.split(":") for c in sys.argv[1].split())
)
print(f'<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>'
      f'<groupId>bench</groupId><artifactId>peer</artifactId><version>1</version>'
      f'<dependencies>{deps}</dependencies></project>')
PY
  t0=$(now)
  mvn -B -q -f "$run/peer/pom.xml" -Dmaven.repo.local="$run/peer/m2" dependency:copy-dependencies \
    -DoutputDirectory="$run/peer/lib" -DincludeScope=runtime > /dev/null
  add peer-mvn-copy "$(echo "$(now) - $t0" | bc)"

  t0=$(now)
  "$flinkit" validate -f "$work/jdbc.sql" > /dev/null 2>&1
  add warm-jdbc "$(echo "$(now) - $t0" | bc)"
  t0=$(now)
  "$flinkit" validate -f "$work/bundled.sql" > /dev/null 2>&1
  add warm-bundled "$(echo "$(now) - $t0" | bc)"
  FLINKIT_CACHE_DIR=$run/absent "$flinkit" validate -f "$work/bundled.sql" > /dev/null 2>&1
  [ ! -e "$run/absent" ] || { echo "an unused connector cost a cache folder" >&2; exit 1; }
  rm -rf "$run"
done
echo "  unused connector: no cache folder created in $runs runs"

"$flinkit" launch --target rest --format json -f "$work/jdbc.sql" --job-name bench-warmup > "$work/w.json"
"$flinkit" jobs cancel "$(python3 -c "import json; print(json.load(open('$work/w.json'))['job_id'])")" > /dev/null
sleep "$pause"
for i in $(seq "$runs"); do
  for kind in jdbc bundled; do
    t0=$(now)
    "$flinkit" launch --target rest --format json -f "$work/$kind.sql" --job-name "bench-$kind" > "$work/l.json"
    add "rest-$kind" "$(echo "$(now) - $t0" | bc)"
    "$flinkit" jobs cancel "$(python3 -c "import json; print(json.load(open('$work/l.json'))['job_id'])")" > /dev/null
    sleep "$pause"
  done
done

python3 - <<PY
import statistics
times = {$(for k in "${!times[@]}"; do printf '"%s": [%s],' "$k" "$(echo ${times[$k]} | tr ' ' ',')"; done)}
med = {k: statistics.median(v) for k, v in times.items()}
for k in sorted(times):
    print(f"{k:16} median {med[k]:6.3f} s  ({min(times[k]):.3f}–{max(times[k]):.3f}, n={len(times[k])})")
print(f"cold validate / mvn copy      {med['cold-validate'] / med['peer-mvn-copy']:.2f}")
print(f"warm jdbc / warm bundled      {med['warm-jdbc'] / med['warm-bundled']:.2f}")
print(f"REST jdbc / REST bundled      {med['rest-jdbc'] / med['rest-bundled']:.2f}")
PY
