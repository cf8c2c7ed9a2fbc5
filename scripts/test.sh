#!/usr/bin/env bash
# The project's test command (the README's second set-up command; .ci/run calls it):
# formatting, lints, every Rust test, and the Java runner's Maven build with its JUnit tests.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (all targets, warnings are errors)"
cargo clippy --all-targets --locked -- -D warnings

step "mvn verify (jars/: the runner jar and its JUnit tests)"
mvn -B -ntp -f jars/pom.xml verify

step "flinkit setup (runner jar and Flink runtime for local runs; cached after the first run)"
cargo run --locked --quiet -- setup

step "flinkit stack up (Flink, SQL Gateway, Kafka, Pulsar, PostgreSQL, Schema Registry as processes; Maven fetches the JVMs and builds the registry the first time)"
# A stack of its own (state under target/), on the default ports, up while the tests run and
# stopped when this script ends, whether the tests pass or not. If a stack of yours already
# serves those ports, it is used as is and left running.
export FLINKIT_STATE_DIR="$PWD/target/test-stack-state"
# A Flink 2.x cluster and SQL Gateway beside it, on ports and a state folder of their own
# (Kafka is the stack's above): the Kafka tutorials and the REST and Gateway tests run on both.
flink2_conf="$PWD/target/flink2-stack.toml"
printf '[stack]\nflink_port = 17081\nflink_rpc_port = 17124\ngateway_port = 17083\n' > "$flink2_conf"
export FLINKIT_FLINK2_URL=http://localhost:17081 FLINKIT_GATEWAY2_URL=http://localhost:17083
flink2() { FLINKIT_STATE_DIR="$PWD/target/test-stack-2-state" cargo run --locked --quiet -- "$@" --config "$flink2_conf"; }
trap 'step "flinkit stack down"; flink2 stack down --runtime process --purge || true; cargo run --locked --quiet -- stack down --runtime process --purge || true' EXIT
cargo run --locked --quiet -- stack up --runtime process

step "flinkit stack up --flink-version 2 (Flink 2.x and its SQL Gateway on ports 17081/17083; tests/stack.rs uses 18081/18083)"
flink2 stack up --runtime process --flink-version 2 --services flink,gateway

step "cargo test (tests/stack.rs runs its own stack on other ports)"
cargo test --locked

step "on Flink 2.x: the Kafka tutorials through REST and the Gateway, and the REST and Gateway tests"
for target in rest gateway; do
  FLINKIT_FLINK_URL=$FLINKIT_FLINK2_URL FLINKIT_GATEWAY_URL=$FLINKIT_GATEWAY2_URL FLINKIT_E2E_TARGET=$target \
    cargo test --locked --test e2e kafka
done
FLINKIT_FLINK_URL=$FLINKIT_FLINK2_URL FLINKIT_GATEWAY_URL=$FLINKIT_GATEWAY2_URL cargo test --locked --test cluster

step "library examples (examples/*.rs) against the stack: launch on each target, the bridge, a pipeline test, a pipeline's lifecycle"
cargo build --locked --quiet --examples
for example in "split_validate sql/favorite-color-cheese/pulsar.sql" "launch local" "launch rest" \
  "launch gateway" "produce_consume" "produce_consume pulsar" "pipeline_test rest" "pipeline_test gateway" \
  "pipeline_deploy rest" "pipeline_deploy gateway"; do
  set -- $example
  printf -- '--- cargo run --example %s\n' "$*"
  "target/debug/examples/$1" "${@:2}"
done
