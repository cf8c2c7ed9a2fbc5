//! The README's promises, checked: the demo command prints exactly what the README shows, and
//! the error example is what flinkit renders.

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

fn flinkit(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_flinkit"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap()
}

#[test]
fn the_demo_prints_what_the_readme_shows() {
    let readme = readme();
    let commands = block_after(&readme, "## Set-up (two commands)");
    let demo = commands
        .lines()
        .find(|l| l.starts_with("cargo run --release -- "))
        .expect("the demo command");
    let args: Vec<&str> = demo["cargo run --release -- ".len()..].split(' ').collect();
    let out = flinkit(&args);
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        block_after(&readme, "The demo prints:")
    );
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
