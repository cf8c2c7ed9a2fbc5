#!/usr/bin/env bash
# The Docker stack's tests (tests/docker.rs) against a real Docker engine: .ci/run calls this
# after scripts/test.sh. When no engine answers, one is started here as Debian's docker.io
# runs on this kind of machine (vfs storage, no iptables, no bridge: containers use the host's
# network) and stopped at the end; its image store (/var/lib/docker) stays, so the stack's
# images are built once per machine. The stack runs on ports 30000–30999 with state under
# target/docker-test/, and whatever the tests leave is taken down by the trap.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

engine=
dir="$PWD/target/docker-test"
bin="$PWD/target/debug/flinkit"
cleanup() {
  for state in "$dir"/*/state; do
    [ -d "$state" ] || continue
    (cd "$(dirname "$state")" && FLINKIT_STATE_DIR="$state" \
      "$bin" stack down --runtime docker --purge >/dev/null 2>&1 || true)
  done
  if [ -n "$engine" ]; then
    step "stopping the Docker engine this script started"
    kill "$engine" && wait "$engine" || true
  fi
}
trap cleanup EXIT

if ! docker info >/dev/null 2>&1; then
  step "dockerd --storage-driver=vfs --iptables=false --bridge=none"
  mkdir -p target
  dockerd --storage-driver=vfs --iptables=false --bridge=none >target/dockerd.log 2>&1 &
  engine=$!
  for _ in $(seq 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  docker info >/dev/null 2>&1 || { echo "docker-test: dockerd did not answer (target/dockerd.log)" >&2; exit 1; }
fi

step "cargo test --test docker (the Docker stack: images built on the first run, then reused)"
mkdir -p "$dir"
FLINKIT_DOCKER_TEST_DIR="$dir" cargo test --locked --test docker -- --ignored --test-threads=1 --nocapture
docker images --filter reference='flinkit/*' --format '{{.Repository}}:{{.Tag}} {{.Size}}'
