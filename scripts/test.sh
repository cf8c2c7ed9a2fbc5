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

step "cargo test"
cargo test --locked
