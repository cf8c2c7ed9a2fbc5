#!/usr/bin/env bash
# `flinkit stack up` of the whole stack (Flink, SQL Gateway, Kafka, Pulsar, PostgreSQL) on the
# Docker runtime next to the process runtime, interleaved in one run on the same ports
# (30000–30999) and a fresh state folder each time, so every run starts from no data: warm for
# both (the process runtime's jars and the Docker images already made; `down --purge` between
# runs). With COLD=1, first the Docker stack from nothing: the flinkit/* images removed from
# the engine, so `up` builds them (debootstrap, apt-get, the jars copied in) before starting.
# Prints every run, then per runtime the median and min–max, and the ratio of the medians.
# Usage: `benches/docker.sh` (RUNS=3 by default, 0 for the cold run alone; FLINKIT_BIN to pick the binary; a Docker
# engine must answer: scripts/docker-test.sh shows how this machine starts one).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-3}
flinkit=$(realpath "${FLINKIT_BIN:-target/release/flinkit}")
work=$(mktemp -d)
cat > "$work/flinkit.toml" <<'TOML'
[stack]
flink_port = 30081
flink_rpc_port = 30123
gateway_port = 30083
kafka_port = 30092
kafka_controller_port = 30093
pulsar_port = 30650
pulsar_http_port = 30080
postgres_port = 30432
TOML
down() { (cd "$work" && FLINKIT_STATE_DIR=$work/state "$flinkit" stack down --runtime "$1" --purge > /dev/null 2>&1 || true); }
trap 'down process; down docker; rm -rf "$work"' EXIT

# Seconds `stack up --runtime $1` takes, from a fresh state folder.
up() {
  local started ended
  rm -rf "$work/state"
  started=$(date +%s.%N)
  (cd "$work" && FLINKIT_STATE_DIR=$work/state "$flinkit" stack up --runtime "$1" > /dev/null 2> "$work/up.log") ||
    { cat "$work/up.log" >&2; exit 1; }
  ended=$(date +%s.%N)
  down "$1"
  python3 -c "print(f'{$ended - $started:.1f}')"
}

if [ "${COLD:-0}" = 1 ]; then
  # The service images first, then the bases they are built on.
  for image in $(docker images --filter reference='flinkit/*' --format '{{.Repository}}:{{.Tag}}' |
    grep -v -e '^flinkit/jre:' -e '^flinkit/debian:') flinkit/jre:17 flinkit/debian:bookworm; do
    docker rmi "$image" > /dev/null 2>&1 || true
  done
  echo "docker from nothing (images built): $(up docker)s"
fi
process=(); docker=()
for i in $(seq "$runs"); do
  process+=("$(up process)")
  docker+=("$(up docker)")
  echo "round $i: process ${process[-1]}s, docker ${docker[-1]}s"
done
[ "$runs" -gt 0 ] || exit 0
python3 - "${process[*]}" "${docker[*]}" <<'PY'
import statistics, sys
process, docker = ([float(x) for x in arg.split()] for arg in sys.argv[1:3])
for name, xs in (("process", process), ("docker", docker)):
    print(f"{name:8} median {statistics.median(xs):.1f}s ({min(xs):.1f}–{max(xs):.1f}) over {len(xs)} runs")
print(f"docker / process (medians): {statistics.median(docker) / statistics.median(process):.2f}")
PY
