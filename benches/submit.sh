#!/usr/bin/env bash
# Time from command start to RUNNING (every task running) on a warm cluster with the runner jar
# already uploaded, in one run: flinkit --target rest, flinkit --target gateway, Flink's own
# `flink run -d` (CliFrontend from Maven Central, from the stack's Flink classpath) with the same
# runner jar and arguments, and the bare REST call (`curl POST /jars/:id/run`) — the floor, so
# flinkit's own share is rest minus raw. Run by hand against a stack: `flinkit stack up --services flink,gateway`
# then `benches/submit.sh` (RUNS=5 by default; FLINKIT_FLINK_URL / FLINKIT_GATEWAY_URL to point
# elsewhere). Prints each run and the medians and ratios. Runs are PAUSE seconds apart (default 6):
# right after a cancel, Flink needs ~3 s to offer the freed slot again, for every tool alike.
# FLINK_LINE=2 measures a Flink 2.x cluster (`flinkit stack up --flink-version 2`): the 2.x
# runner jar, and 2.x's own CliFrontend from the 2.x stack's classpath (default FLINK_LINE=1.20).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-5}
flink_url=${FLINKIT_FLINK_URL:-http://localhost:8081}
gateway_url=${FLINKIT_GATEWAY_URL:-http://localhost:8083}
flinkit=${FLINKIT_BIN:-target/release/flinkit}
line=${FLINK_LINE:-1.20}
export FLINKIT_FLINK_URL=$flink_url FLINKIT_GATEWAY_URL=$gateway_url

"$flinkit" setup --flink-version "$line" --format json > /tmp/flinkit-bench-setup.json
cache=${FLINKIT_CACHE_DIR:-$HOME/.cache/flinkit}
case $(python3 -c "import json; print(json.load(open('/tmp/flinkit-bench-setup.json'))['versions']['flink'])") in
  1.20.*) lib=$(ls -d "$cache"/stack-flink-*/lib | grep -E 'stack-flink-[0-9a-f]{12}/lib$' | head -1) ;;
  *) lib=$(ls -d "$cache"/stack-flink-*-"$line"*/lib 2>/dev/null | head -1) ;;
esac
[ -n "$lib" ] || { echo "no stack classpath for Flink $line in $cache: run flinkit stack up --flink-version $line first" >&2; exit 1; }
jar=$(python3 -c "import json; print(json.load(open('/tmp/flinkit-bench-setup.json'))['runner_jar'])")
opts=$(sed -n 's:.*<flink.jvm.options>\(.*\)</flink.jvm.options>.*:\1:p' jars/pom.xml)
conf=$(mktemp -d)
hostport=${flink_url#http://}
printf 'rest.address: %s\nrest.port: %s\n' "${hostport%:*}" "${hostport#*:}" > "$conf/config.yaml"
work=$(mktemp -d)
trap 'rm -rf "$conf" "$work"' EXIT
cat > "$work/job.sql" <<'SQL'
CREATE TABLE gen (id BIGINT) WITH ('connector' = 'datagen', 'rows-per-second' = '10');
CREATE TABLE sink (id BIGINT) WITH ('connector' = 'blackhole');
INSERT INTO sink SELECT id FROM gen;
SQL
b64=$(python3 - "$flinkit" "$work/job.sql" <<'PY'
import base64, json, subprocess, sys
out = subprocess.run([sys.argv[1], "split", "--format", "json", "-f", sys.argv[2]], capture_output=True, text=True).stdout
print(base64.b64encode(json.dumps([s["text"] for s in json.loads(out)["statements"]]).encode()).decode())
PY
)

now() { date +%s.%N; }
running() { # job id → waits until the job and all its tasks run
  python3 - "$flink_url" "$1" <<'PY'
import json, sys, time, urllib.request
url, job = sys.argv[1], sys.argv[2]
while True:  # /jobs/overview is live; /jobs/:id is cached for web.refresh-interval (3 s)
    jobs = json.load(urllib.request.urlopen(f"{url}/jobs/overview"))["jobs"]
    d = next((j for j in jobs if j["jid"] == job), None)
    if d and d["state"] == "RUNNING" and d["tasks"]["running"] + d["tasks"]["finished"] == d["tasks"]["total"] > 0:
        break
    time.sleep(0.05)
PY
}
cancel() { "$flinkit" jobs cancel "$1" > /dev/null; }

"$flinkit" launch --target rest --detach --format json -f "$work/job.sql" --job-name bench-warmup > "$work/w.json"
cancel "$(python3 -c "import json; print(json.load(open('$work/w.json'))['job_id'])")"

declare -A times
jar_id=$(curl -s "$flink_url/jars" | python3 -c "import json,sys; print([f['id'] for f in json.load(sys.stdin)['files'] if f['name'].startswith('flinkit-runner')][0])")
for i in $(seq "$runs"); do
  for tool in rest gateway flink-run raw-rest; do
    start=$(now)
    case $tool in
      rest|gateway)
        "$flinkit" launch --target "$tool" --format json -f "$work/job.sql" --job-name "bench-$tool-$i" > "$work/out.json" 2>/dev/null
        id=$(python3 -c "import json; print(json.load(open('$work/out.json'))['job_id'])")
        running "$id" ;;
      flink-run)
        # shellcheck disable=SC2086
        id=$(FLINK_CONF_DIR=$conf java -Xmx512m $opts -cp "$lib/*" org.apache.flink.client.cli.CliFrontend \
              run -d -c dev.flinkit.runner.SqlRunner "$jar" --statements-b64 "$b64" --job-name "bench-flink-run-$i" 2>/dev/null \
              | sed -n 's/.*JobID \([0-9a-f]\{32\}\).*/\1/p')
        running "$id" ;;
      raw-rest)
        id=$(curl -s -X POST -H 'Content-Type: application/json' \
              -d "{\"entryClass\":\"dev.flinkit.runner.SqlRunner\",\"programArgsList\":[\"--statements-b64\",\"$b64\",\"--job-name\",\"bench-raw-$i\"]}" \
              "$flink_url/jars/$jar_id/run" | python3 -c "import json,sys; print(json.load(sys.stdin)['jobid'])")
        running "$id" ;;
    esac
    took=$(echo "$(now) - $start" | bc)
    times[$tool]+="$took "
    printf '%-10s run %d: %.2f s\n' "$tool" "$i" "$took"
    cancel "$id"
    sleep "${PAUSE:-6}"   # let Flink hand the freed slot back, so every run starts on an idle cluster
  done
done

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
rest=$(echo "${times[rest]}" | median); gateway=$(echo "${times[gateway]}" | median)
cli=$(echo "${times[flink-run]}" | median); raw=$(echo "${times[raw-rest]}" | median)
printf '\nmedian to RUNNING over %d runs: flinkit rest %.2f s, flinkit gateway %.2f s, flink run -d %.2f s, raw REST %.2f s\n' "$runs" "$rest" "$gateway" "$cli" "$raw"
printf 'ratios: rest / flink run = %.3f, gateway / flink run = %.3f, raw REST / flink run = %.3f; flinkit rest - raw REST = %.2f s\n' \
  "$(echo "$rest / $cli" | bc -l)" "$(echo "$gateway / $cli" | bc -l)" "$(echo "$raw / $cli" | bc -l)" "$(echo "$rest - $raw" | bc -l)"
