#!/usr/bin/env bash
# Cold local runs, interleaved, in one run: the quickstart job (`sql/quickstart/user-count-local.sql`,
# a five-row batch job) through `flinkit launch` against the same runner started by hand as a plain
# JVM, as before issue 21 (`java -Xmx1g -XX:+UseSerialGC <Flink's JDK 17 flags> -cp runner.jar:<Flink
# runtime> dev.flinkit.runner.SqlRunner --statements-file …`, no class-data archive, tiered JIT);
# then `flinkit validate --deep` of the same script, warm (the archive built). Each run is a fresh
# JVM; both must print the job's two result rows. Prints every run, then per tool the median,
# min–max, peak RSS, and the ratio flinkit / plain JVM (of the medians, and per round).
# Usage: `benches/local.sh` (RUNS=5 by default; FLINKIT_BIN to pick the binary).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-5}
flinkit=${FLINKIT_BIN:-target/release/flinkit}
sql=sql/quickstart/user-count-local.sql

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
trap 'rm -rf "$work"' EXIT
"$flinkit" split --format json -f "$sql" |
  python3 -c "import json,sys; print(json.dumps([s['text'] for s in json.load(sys.stdin)['statements']]))" \
  > "$work/statements.json"
echo "archive: $archive"

run() { # tool → one timed run; prints "tool seconds rss_kb"
  local tool=$1 out=$work/$1.out
  case $tool in
    plain-jvm) # shellcheck disable=SC2086
      /usr/bin/time -f "%e %M" -o "$work/time" java -Xmx1g -XX:+UseSerialGC $opts -cp "$cp" \
        dev.flinkit.runner.SqlRunner --statements-file "$work/statements.json" --job-name bench > "$out" 2> /dev/null ;;
    flinkit-launch)
      /usr/bin/time -f "%e %M" -o "$work/time" "$flinkit" launch -f "$sql" --job-name bench > "$out" 2> /dev/null ;;
    validate-deep)
      /usr/bin/time -f "%e %M" -o "$work/time" "$flinkit" validate --deep -f "$sql" > "$out" 2> /dev/null ;;
  esac
  if [ "$tool" != validate-deep ] && [ "$(grep -c 'user_count_by_account>' "$out")" != 2 ]; then
    echo "$tool: expected two result rows, got:" >&2; cat "$out" >&2; exit 1
  fi
  echo "$tool $(cat "$work/time")"
}

for i in $(seq "$runs"); do
  for tool in plain-jvm flinkit-launch validate-deep; do
    run "$tool" | tee -a "$work/all"
  done
done
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
    print(f"{tool:15} median {med[tool]:.2f} s  min–max {min(secs):.2f}–{max(secs):.2f} s  "
          f"peak RSS {max(r for _, r in rs) / 1024:.0f} MB  ({len(rs)} runs)")
ratios = [f / p for (f, _), (p, _) in zip(runs["flinkit-launch"], runs["plain-jvm"])]
print(f"flinkit launch / plain JVM: {med['flinkit-launch'] / med['plain-jvm']:.2f}x of the medians; "
      f"per round {min(ratios):.2f}–{max(ratios):.2f}x, median {statistics.median(ratios):.2f}x")
PY
