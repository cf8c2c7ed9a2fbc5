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

step "cargo test"
cargo test --locked

if [ -f jars/pom.xml ]; then
  step "mvn verify (jars/)"
  mvn -B -q -f jars/pom.xml verify
fi
