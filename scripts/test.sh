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
trap 'step "flinkit stack down"; cargo run --locked --quiet -- stack down --runtime process --purge || true' EXIT
cargo run --locked --quiet -- stack up --runtime process

step "cargo test (tests/stack.rs runs its own stack on other ports)"
cargo test --locked

step "library examples (examples/*.rs) against the stack: launch on each target, the bridge, a pipeline test, a pipeline's lifecycle"
cargo build --locked --quiet --examples
for example in "split_validate sql/favorite-color-cheese/pulsar.sql" "launch local" "launch rest" \
  "launch gateway" "produce_consume" "produce_consume pulsar" "pipeline_test rest" "pipeline_test gateway" \
  "pipeline_deploy rest" "pipeline_deploy gateway"; do
  set -- $example
  printf -- '--- cargo run --example %s\n' "$*"
  "target/debug/examples/$1" "${@:2}"
done
