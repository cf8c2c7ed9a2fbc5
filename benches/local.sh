#!/usr/bin/env bash
# Local runs, interleaved, in one run: the quickstart job (`sql/quickstart/user-count-local.sql`, a
# five-row batch job) through `flinkit launch` cold (a JVM of its own, with the class-data archive)
# and warm (in the session `flinkit local up` keeps), against the same runner started by hand as a
# plain JVM, as before issue 21 (`java -Xmx1g -XX:+UseSerialGC <Flink's JDK 17 flags> -cp
# runner.jar:<Flink runtime> dev.flinkit.runner.SqlRunner --statements-file …`, no class-data
# archive, tiered JIT); then `flinkit validate --deep` of a tutorial script, cold and warm. Every
# launch must print the job's two result rows. Prints every run, then per tool the median,
# min–max and peak RSS (of the process and the JVMs it waited for; the session JVM's own peak is
# printed at the end), and the ratios to the plain JVM (of the medians, and per round).
# Usage: `benches/local.sh` (RUNS=5 by default; FLINKIT_BIN to pick the binary).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-5}
flinkit=$(realpath "${FLINKIT_BIN:-target/release/flinkit}")
sql=sql/quickstart/user-count-local.sql
tutorial=sql/user-count/kafka.sql

"$flinkit" setup --format json > /tmp/flinkit-bench-local-setup.json # builds the archive once
eval "$(python3 - /tmp/flinkit-bench-local-setup.json <<'PY'
import json, shlex, sys
s = json.load(open(sys.argv[1]))
print("jar=" + shlex.quote(s["runner_jar"]))
print("archive=" + shlex.quote(str(s.get("class_archive"))))
PY
)"
lib=$(ls -d "${FLINKIT_CACHE_DIR:-$HOME/.cache/flinkit}"/flink-*/lib | head -1)
cp="$jar:$(ls "$lib"/*.jar | sort | paste -sd:)"
opts=$(sed -n 's:.*<flink.jvm.options>\(.*\)</flink.jvm.options>.*:\1:p' jars/pom.xml)
work=$(mktemp -d)
cold_state=$work/cold-state   # no session here: local runs start a JVM
warm_state=$work/warm-state   # the session's
trap 'FLINKIT_STATE_DIR=$warm_state "$flinkit" local down > /dev/null 2>&1 || true; rm -rf "$work"' EXIT
"$flinkit" split --format json -f "$sql" |
  python3 -c "import json,sys; print(json.dumps([s['text'] for s in json.load(sys.stdin)['statements']]))" \
  > "$work/statements.json"
echo "archive: $archive"
FLINKIT_STATE_DIR=$warm_state "$flinkit" local up --exit-with $$ --format json > "$work/session.json"
session_pid=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['pid'])" "$work/session.json")
echo "session: pid $session_pid"

run() { # tool → one timed run; prints "tool seconds rss_kb"
  local tool=$1 out=$work/$1.out
  case $tool in
    plain-jvm) # shellcheck disable=SC2086
      /usr/bin/time -f "%e %M" -o "$work/time" java -Xmx1g -XX:+UseSerialGC $opts -cp "$cp" \
        dev.flinkit.runner.SqlRunner --statements-file "$work/statements.json" --job-name bench > "$out" 2> /dev/null ;;
    launch-cold)
      FLINKIT_STATE_DIR=$cold_state /usr/bin/time -f "%e %M" -o "$work/time" \
        "$flinkit" launch -f "$sql" --job-name bench > "$out" 2> /dev/null ;;
    launch-warm)
      FLINKIT_STATE_DIR=$warm_state /usr/bin/time -f "%e %M" -o "$work/time" \
        "$flinkit" launch -f "$sql" --job-name bench > "$out" 2> "$work/warm.err"
      grep -q "running in the local session" "$work/warm.err" || { echo "launch-warm did not use the session" >&2; exit 1; } ;;
    deep-cold)
      FLINKIT_STATE_DIR=$cold_state /usr/bin/time -f "%e %M" -o "$work/time" \
        "$flinkit" validate --deep -f "$tutorial" > "$out" 2> /dev/null ;;
    deep-warm)
      FLINKIT_STATE_DIR=$warm_state /usr/bin/time -f "%e %M" -o "$work/time" \
        "$flinkit" validate --deep -f "$tutorial" > "$out" 2> /dev/null ;;
  esac
  case $tool in
    plain-jvm|launch-*)
      if [ "$(grep -c 'user_count_by_account>' "$out")" != 2 ]; then
        echo "$tool: expected two result rows, got:" >&2; cat "$out" >&2; exit 1
      fi ;;
  esac
  echo "$tool $(cat "$work/time")"
}

for i in $(seq "$runs"); do
  for tool in plain-jvm launch-cold launch-warm deep-cold deep-warm; do
    run "$tool" | tee -a "$work/all"
  done
done
echo "session JVM peak RSS (VmHWM) after all runs: $(awk '/VmHWM/ {printf "%.0f MB", $2 / 1024}' "/proc/$session_pid/status")"
python3 - "$work/all" <<'PY'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    tool, secs, rss = line.split()
    runs.setdefault(tool, []).append((float(secs), int(rss)))
med = {}
for tool, rs in runs.items():
    secs = [s for s, _ in rs]
    med[tool] = statistics.median(secs)
    print(f"{tool:12} median {med[tool]:.2f} s  min–max {min(secs):.2f}–{max(secs):.2f} s  "
          f"peak RSS {max(r for _, r in rs) / 1024:.0f} MB  ({len(rs)} runs)")
for tool in ("launch-cold", "launch-warm"):
    ratios = [f / p for (f, _), (p, _) in zip(runs[tool], runs["plain-jvm"])]
    print(f"{tool} / plain JVM: {med[tool] / med['plain-jvm']:.2f}x of the medians; "
          f"per round {min(ratios):.2f}–{max(ratios):.2f}x, median {statistics.median(ratios):.2f}x")
print(f"validate --deep warm / cold: {med['deep-warm'] / med['deep-cold']:.2f}x of the medians")
PY
