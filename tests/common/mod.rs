//! Helpers every test binary needs, once: running the `flinkit` binary, reading its JSON,
//! unique names for topics and jobs, the stack's addresses, and a runtime for the async library.
//! Each test binary uses some of them.
#![allow(dead_code)]

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

/// The repository's root (where the tests run the binary from).
pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The `flinkit` binary under test, run from the repository's root.
pub fn flinkit_command() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_flinkit"));
    command.current_dir(root());
    command
}

/// Runs `flinkit ARGS` and returns what it printed.
pub fn flinkit(args: &[&str]) -> Output {
    flinkit_command().args(args).output().unwrap()
}

/// Runs `flinkit ARGS` with `stdin` on its standard input (closed at once when `None`).
pub fn flinkit_stdin(args: &[&str], stdin: Option<&str>) -> Output {
    let mut command = flinkit_command();
    command.args(args);
    output_with_stdin(command, stdin)
}

/// Runs `command` with `stdin` on its standard input (closed at once when `None`) and returns
/// what it printed.
pub fn output_with_stdin(mut command: Command, stdin: Option<&str>) -> Output {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut pipe = child.stdin.take().unwrap();
    if let Some(text) = stdin {
        pipe.write_all(text.as_bytes()).unwrap();
    }
    drop(pipe);
    child.wait_with_output().unwrap()
}

/// Fails the test, showing the run's stderr and stdout (where a `--format json` run puts its
/// error), unless the run exited 0.
pub fn assert_success(out: &Output) {
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
}

/// The stdout of a run as JSON, or a panic showing both streams.
pub fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// `name` with the clock's nanoseconds and the process id: a topic or job name no other test
/// (or test binary) uses.
pub fn unique(name: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{name}-{nanos:x}-{:x}", std::process::id())
}

/// The stack's Flink REST address (`FLINKIT_FLINK_URL`, else the default).
pub fn flink_url() -> String {
    std::env::var("FLINKIT_FLINK_URL").unwrap_or_else(|_| "http://localhost:8081".into())
}

/// The stack's SQL Gateway address (`FLINKIT_GATEWAY_URL`, else the default).
pub fn gateway_url() -> String {
    std::env::var("FLINKIT_GATEWAY_URL").unwrap_or_else(|_| "http://localhost:8083".into())
}

/// The stack's Kafka bootstrap servers (`FLINKIT_KAFKA_URL`, else `FLINKIT_KAFKA`, else the
/// default).
pub fn kafka_url() -> String {
    std::env::var("FLINKIT_KAFKA_URL")
        .or_else(|_| std::env::var("FLINKIT_KAFKA"))
        .unwrap_or_else(|_| "localhost:9092".into())
}

/// Runs a future of the async library to completion (for tests that are not async).
pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(future)
}

/// `java` for a program on the stack's Pulsar jars, which log through log4j: warnings and
/// errors to stderr (log4j's default is stdout), so stdout carries only what the program
/// prints. The configuration is written into `dir`.
pub fn pulsar_java(dir: &Path) -> Command {
    let config = dir.join("log4j2-stderr.properties");
    std::fs::write(
        &config,
        "appender.err.type = Console\n\
         appender.err.name = err\n\
         appender.err.target = SYSTEM_ERR\n\
         appender.err.layout.type = PatternLayout\n\
         appender.err.layout.pattern = %d %p %c{1} - %m%n\n\
         rootLogger.level = warn\n\
         rootLogger.appenderRef.err.ref = err\n",
    )
    .unwrap();
    let mut command = Command::new("java");
    command.arg(format!("-Dlog4j2.configurationFile={}", config.display()));
    command
}
