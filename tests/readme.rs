//! The README's promises, checked: its first command is the demo and prints exactly the table
//! the README shows, the embedded quickstart prints its rows, the versions table is the pinned
//! versions, and the error example is what flinkit renders.

mod common;

use std::process::Command;

fn readme() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap()
}

/// The first fenced block after the line containing `marker`.
fn block_after(text: &str, marker: &str) -> String {
    let from = text
        .find(marker)
        .unwrap_or_else(|| panic!("README lacks {marker:?}"));
    let rest = &text[from..];
    let open = rest.find("```").unwrap();
    let body = &rest[open..];
    let body = &body[body.find('\n').unwrap() + 1..];
    body[..body.find("```").unwrap()].to_string()
}

use common::flinkit;

/// The arguments of the README line starting with `cargo run --release -- ` inside the first
/// block after `marker`.
fn command_after(readme: &str, marker: &str) -> Vec<String> {
    let block = block_after(readme, marker);
    let line = block
        .lines()
        .find(|l| l.starts_with("cargo run --release -- "))
        .unwrap_or_else(|| panic!("no `cargo run --release --` line after {marker:?}"));
    line["cargo run --release -- ".len()..]
        .split(' ')
        .map(str::to_string)
        .collect()
}

/// Whether Flink and Kafka answer on the stack's ports; in CI they must.
fn stack_up() -> bool {
    let out = flinkit(&["stack", "status", "--services", "flink,kafka"]);
    if out.status.success() {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI runs the demo against the stack: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("no local stack; run `flinkit stack up` to run the demo test");
    false
}

#[test]
fn the_first_command_is_the_demo_and_prints_what_the_readme_shows() {
    let readme = readme();
    let args = command_after(&readme, "## Set-up (two commands)");
    assert_eq!(args, ["demo"], "the README's first command is the demo");
    if !stack_up() {
        return;
    }
    let out = flinkit(&["demo"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        block_after(&readme, "prints it on stdout and cancels the job")
    );
    assert!(
        stderr.contains("CANCELED"),
        "the demo cancels its job: {stderr}"
    );
}

#[test]
fn the_embedded_quickstart_prints_what_the_readme_shows() {
    let readme = readme();
    let args = command_after(&readme, "Without any stack");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = flinkit(&args);
    common::assert_success(&out);
    let sorted = |text: &str| {
        let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
        lines.sort();
        lines
    };
    assert_eq!(
        sorted(&String::from_utf8_lossy(&out.stdout)),
        sorted(&block_after(&readme, "It prints the job's rows")),
        "the rows, in any order"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("FINISHED"), "{stderr}");
}

#[test]
fn the_versions_table_is_the_pinned_versions() {
    let readme = readme();
    let table = block_after_heading(&readme, "## Versions");
    for (component, property) in [
        ("| Apache Flink |", "flink.version"),
        ("| Flink Kafka connector", "flink.kafka.connector.version"),
        (
            "| Apache Flink Pulsar connector",
            "flink.pulsar.connector.version",
        ),
        ("| Flink formats avro", "flink.sql.avro.version"),
        ("| Apache Kafka,", "kafka.version"),
        ("| Apache Pulsar,", "pulsar.version"),
        ("| Apicurio Registry", "apicurio.registry.version"),
        ("| Java |", "java.release"),
    ] {
        let row = table
            .lines()
            .find(|l| l.starts_with(component))
            .unwrap_or_else(|| panic!("no row {component}"));
        let value = flinkit::versions::property(property).expect(property);
        assert!(
            row.split('|')
                .nth(2)
                .is_some_and(|v| v.trim().starts_with(value)),
            "{row} should say {value}"
        );
    }
}

/// The text from `heading` to the next `## ` heading.
fn block_after_heading(text: &str, heading: &str) -> String {
    let from = text.find(heading).unwrap() + heading.len();
    let rest = &text[from..];
    rest[..rest.find("\n## ").unwrap_or(rest.len())].to_string()
}

#[test]
fn the_error_example_is_what_flinkit_renders() {
    let dir = tempfile::tempdir().unwrap();
    let job = dir.path().join("job.sql");
    std::fs::copy(
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/sql-cases/10-unterminated-string.sql"
        ),
        &job,
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_flinkit"))
        .args(["split", "--color", "never", "-f", "job.sql"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim_end(),
        block_after(&readme(), "is reported where it opened:").trim_end()
    );
}
