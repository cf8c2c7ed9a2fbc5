#!/usr/bin/env bash
# Deploying a 10-job pipeline (`flinkit pipeline deploy`, which waits for each job to run before
# the next) against the same 10 jobs launched one by one (`flinkit launch --target rest`, summed):
# with --detach (returns once Flink accepted the job) and without it (waits, as deploy does, until
# every task runs); then the no-op redeploy (every job `unchanged`). One run does all four,
# interleaved, on an idle cluster; RUNS runs (default 5); prints each run, then the median, min and
# max of each and the ratios of the medians.
#
# The pipeline: one datagen source read by ten tables (blackhole sinks), one job each. Ten jobs
# need ten task slots: the script starts a second TaskManager with 8 slots beside the stack's
# (its JVM flags and classpath copied from the stack's TaskManager) and stops it at the end.
# Run by hand against a stack: `flinkit stack up --services flink`, then `benches/pipeline.sh`
# (FLINKIT_FLINK_URL to point elsewhere, FLINKIT_BIN for the binary, default target/release/flinkit).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-5}
pause=${PAUSE:-6}
flink_url=${FLINKIT_FLINK_URL:-http://localhost:8081}
flinkit=${FLINKIT_BIN:-target/release/flinkit}
export FLINKIT_FLINK_URL=$flink_url
work=$(mktemp -d)
state=$(mktemp -d)
tm_pid=
cleanup() {
  [ -n "$tm_pid" ] && kill "$tm_pid" 2>/dev/null && wait "$tm_pid" 2>/dev/null
  rm -rf "$work" "$state"
}
trap cleanup EXIT

# A second TaskManager: the stack's one's command line, with 8 slots and its own folders.
tm=$("$flinkit" stack status --services flink --format json | python3 -c '
import json, sys
pids = [int(p) for s in json.load(sys.stdin)["services"] if s["name"] == "flink" for p in s.get("pids", [])]
for pid in pids:
    if b"TaskManagerRunner" in open(f"/proc/{pid}/cmdline", "rb").read():
        print(pid)')
[ -n "$tm" ] || { echo "no TaskManager of the stack found (flinkit stack status --services flink)" >&2; exit 1; }
mapfile -d '' cmd < "/proc/$tm/cmdline"
conf_dir=
for i in "${!cmd[@]}"; do [ "${cmd[$i]}" = --configDir ] && conf_dir=${cmd[$((i + 1))]}; done
mkdir -p "$work/tm/conf" "$work/tm/tmp"
sed -e 's/^taskmanager.numberOfTaskSlots: .*/taskmanager.numberOfTaskSlots: 8/' \
    -e "s|^io.tmp.dirs: .*|io.tmp.dirs: $work/tm/tmp|" "$conf_dir/config.yaml" > "$work/tm/conf/config.yaml"
cp "$conf_dir/log4j2.properties" "$work/tm/conf/"
args=()
for a in "${cmd[@]}"; do
  case $a in
    -Dlog.file=*) args+=("-Dlog.file=$work/tm/taskmanager.log") ;;
    "$conf_dir") args+=("$work/tm/conf") ;;
    *) args+=("$a") ;;
  esac
done
"${args[@]}" > "$work/tm/out.log" 2>&1 &
tm_pid=$!
slots() { curl -s "$flink_url/overview" | python3 -c 'import json,sys; print(json.load(sys.stdin)["slots-available"])'; }
for _ in $(seq 60); do [ "$(slots)" -ge 10 ] && break; sleep 1; done
[ "$(slots)" -ge 10 ] || { echo "fewer than 10 free task slots: $(slots)" >&2; exit 1; }

# The pipeline's folder, and each job as a script of its own for `launch`.
mkdir -p "$work/pipeline"
cat > "$work/pipeline/source.sql" <<'SQL'
CREATE TABLE gen (id BIGINT) WITH ('connector' = 'datagen', 'rows-per-second' = '10');
SQL
for t in $(seq -w 1 10); do
  printf "CREATE TABLE sink_%s (id BIGINT) WITH ('connector' = 'blackhole');\nINSERT INTO sink_%s SELECT id FROM gen;\n" \
    "$t" "$t" > "$work/pipeline/sink_$t.sql"
done

now() { date +%s.%N; }
cancel_named() { # cancels every live job whose name starts with $1
  curl -s "$flink_url/jobs/overview" | python3 -c '
import json, sys
for j in json.load(sys.stdin)["jobs"]:
    if j["name"].startswith(sys.argv[1]) and j["state"] not in ("FINISHED", "CANCELED", "FAILED"):
        print(j["jid"])' "$1" | while read -r id; do "$flinkit" jobs cancel "$id" > /dev/null; done
}
deploy() { "$flinkit" pipeline deploy -f "$work/pipeline" --target rest --env "$1" --format json > "$work/deploy.json"; }

declare -A times
for i in $(seq "$runs"); do
  env="bench$i-$$"
  start=$(now); FLINKIT_STATE_DIR=$state deploy "$env"; took=$(echo "$(now) - $start" | bc)
  python3 -c "import json,sys; d=json.load(open('$work/deploy.json')); assert [j['action'] for j in d['jobs']] == ['started']*10, d"
  times[deploy]+="$took "; printf 'run %d: deploy of 10 jobs        %6.2f s\n' "$i" "$took"
  start=$(now); FLINKIT_STATE_DIR=$state deploy "$env"; took=$(echo "$(now) - $start" | bc)
  python3 -c "import json,sys; d=json.load(open('$work/deploy.json')); assert [j['action'] for j in d['jobs']] == ['unchanged']*10, d"
  times[noop]+="$took "; printf 'run %d: no-op redeploy           %6.2f s\n' "$i" "$took"
  FLINKIT_STATE_DIR=$state "$flinkit" pipeline undeploy -f "$work/pipeline" --env "$env" --format json > /dev/null
  sleep "$pause"
  for mode in detach wait; do
    flag=(); [ "$mode" = detach ] && flag=(--detach)
    total=0
    for t in $(seq -w 1 10); do
      start=$(now)
      "$flinkit" launch --target rest "${flag[@]}" --format json --job-name "single$i-$$-$mode.$t" \
        -f "$work/pipeline/source.sql" -f "$work/pipeline/sink_$t.sql" > /dev/null 2>&1
      total=$(echo "$total + $(now) - $start" | bc)
    done
    times[$mode]+="$total "; printf 'run %d: 10 launches (%-6s)      %6.2f s\n' "$i" "$mode" "$total"
    cancel_named "single$i-$$-$mode."
    sleep "$pause"
  done
done

stats() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {m=(NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2); printf "%.2f %.2f %.2f", m, a[1], a[NR]}'; }
printf '\nover %d runs (median, min, max):\n' "$runs"
for k in deploy detach wait noop; do
  read -r med lo hi <<< "$(echo "${times[$k]}" | stats)"
  printf '  %-8s %6.2f s  (%.2f–%.2f)\n' "$k" "$med" "$lo" "$hi"
  declare "med_$k=$med"
done
printf 'ratios of medians: deploy / 10 detached launches = %.2f, deploy / 10 launches to RUNNING = %.2f, no-op redeploy / deploy = %.3f\n' \
  "$(echo "$med_deploy / $med_detach" | bc -l)" "$(echo "$med_deploy / $med_wait" | bc -l)" "$(echo "$med_noop / $med_deploy" | bc -l)"
