#!/usr/bin/env bash
# Linear cost on hostile sizes (issue 13): instruction counts (valgrind --tool=callgrind, which
# do not depend on caches or on other load) of the release binary on generated inputs of N, 2N
# and 4N units, RUNS times each (default 2). Prints one line per run: case, size, instructions,
# and the ratio to the smallest size of the same run. Linear cost shows as ratios near 1, 2, 4.
#   - line:    N statements on one line, `split --format json`
#   - from:    one INSERT reading N tables in one FROM list, `split --format json`
#   - chain:   a chain of N INSERTs (t1 ← t0, t2 ← t1, …), `graph` (text tree)
#   - dry-run: N INSERTs from one declared table, `launch --dry-run`
# Usage: benches/scaling.sh [N]   (N defaults to 25000; FLINKIT_BIN to use another binary)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-25000}
runs=${RUNS:-2}
flinkit=${FLINKIT_BIN:-target/release/flinkit}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

generate() { # case size file
    python3 - "$1" "$2" "$3" <<'PY'
import sys
case, n, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
with open(path, "w") as f:
    if case == "line":
        f.write("".join(f"INSERT INTO t{i} SELECT a FROM s{i};" for i in range(n)) + "\n")
    elif case == "from":
        f.write("INSERT INTO o SELECT 1 FROM " + ", ".join(f"s{i}" for i in range(n)) + ";\n")
    elif case == "chain":
        f.write("".join(f"INSERT INTO t{i + 1} SELECT * FROM t{i};\n" for i in range(n)))
    else:
        f.write("CREATE TABLE s (a INT) WITH ('connector' = 'datagen');\n")
        f.write("".join(f"INSERT INTO t{i} SELECT a FROM s;\n" for i in range(n)))
PY
}

instructions() { # args...
    valgrind --tool=callgrind --callgrind-out-file=/dev/null "$@" 2>&1 >/dev/null \
        | sed -n 's/.*Collected : \([0-9]*\).*/\1/p' || true
}

for case in line from chain dry-run; do
    for size in "$n" $((2 * n)) $((4 * n)); do
        generate "$case" "$size" "$dir/$case-$size.sql"
    done
    for run in $(seq "$runs"); do
        base=
        for size in "$n" $((2 * n)) $((4 * n)); do
            file="$dir/$case-$size.sql"
            case $case in
                line | from) count=$(instructions "$flinkit" split --format json -f "$file") ;;
                chain) count=$(instructions "$flinkit" graph -f "$file") ;;
                dry-run) count=$(instructions "$flinkit" launch --dry-run -f "$file") ;;
            esac
            base=${base:-$count}
            printf '%-8s run %s  %8s units  %15s instructions  %5.2fx\n' \
                "$case" "$run" "$size" "$count" "$(echo "$count / $base" | bc -l)"
        done
    done
done
