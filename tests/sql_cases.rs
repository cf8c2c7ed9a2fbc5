//! Fixture-driven tests: one test per `.sql` file, run through the real `flinkit` binary.
//!
//! - `../shared/sql-cases/*.sql` and `tests/fixtures/split/*.sql`: `flinkit split --format json`
//!   must match `NAME.expected.json` (same statement count; every listed field equal; an
//!   expected `error` means exit 2 with that line, column and message fragment).
//! - `tests/fixtures/graph/*.sql`: `flinkit graph --format json` must match
//!   `NAME.expected.json` the same way (nodes, edges, order; or an `error` with exit 2).
//! - `tests/fixtures/validate/*.sql`: `flinkit validate --format json` must match
//!   `NAME.expected.json` (`ok`, and the diagnostics in order); exit 2 when `ok` is false.
//!
//! New files are picked up without code changes.

use std::path::{Path, PathBuf};
use std::process::Command;

use libtest_mimic::{Arguments, Failed, Trial};
use serde_json::Value;

fn main() {
    let args = Arguments::from_args();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut trials = Vec::new();
    let shared = root.join("../shared/sql-cases");
    for (dir, command, prefix) in [
        (shared, "split", "shared"),
        (root.join("tests/fixtures/split"), "split", "split"),
        (root.join("tests/fixtures/graph"), "graph", "graph"),
        (root.join("tests/fixtures/validate"), "validate", "validate"),
    ] {
        let cases = match sql_files(&dir) {
            Ok(cases) if !cases.is_empty() => cases,
            Ok(_) => {
                trials.push(missing(
                    prefix,
                    format!("no .sql cases in {}", dir.display()),
                ));
                continue;
            }
            Err(err) => {
                trials.push(missing(prefix, format!("{}: {err}", dir.display())));
                continue;
            }
        };
        for sql in cases {
            let name = format!(
                "{prefix}::{}",
                sql.file_stem().unwrap_or_default().to_string_lossy()
            );
            trials.push(Trial::test(name, move || check(command, &sql)));
        }
    }
    libtest_mimic::run(&args, trials).exit();
}

fn missing(prefix: &str, message: String) -> Trial {
    Trial::test(format!("{prefix}::cases_present"), move || {
        Err(message.into())
    })
}

fn sql_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "sql"))
        .collect();
    files.sort();
    Ok(files)
}

fn check(command: &str, sql: &Path) -> Result<(), Failed> {
    let expected_path = sql.with_extension("expected.json");
    let expected: Value = serde_json::from_str(
        &std::fs::read_to_string(&expected_path)
            .map_err(|e| format!("{}: {e}", expected_path.display()))?,
    )
    .map_err(|e| format!("{}: {e}", expected_path.display()))?;
    let out = Command::new(env!("CARGO_BIN_EXE_flinkit"))
        .args([command, "--format", "json", "-f"])
        .arg(sql)
        .output()
        .map_err(|e| format!("cannot run flinkit: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let actual: Value = serde_json::from_str(&stdout).map_err(|e| {
        format!(
            "stdout is not one JSON document ({e}):\n{stdout}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    })?;
    let code = out.status.code();
    if let Some(want) = expected.get("error") {
        if code != Some(2) {
            return Err(format!("expected exit 2, got {code:?}; output {actual}").into());
        }
        let got = actual
            .get("error")
            .ok_or_else(|| format!("no error object in {actual}"))?;
        for key in ["line", "column"] {
            if want.get(key).is_some() && want.get(key) != got.get(key) {
                return Err(format!("error {key}: want {}, got {got}", want[key]).into());
            }
        }
        if let Some(fragment) = want.get("message_contains").and_then(Value::as_str) {
            let message = got
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or_default();
            if !message.to_lowercase().contains(&fragment.to_lowercase()) {
                return Err(format!("message {message:?} lacks {fragment:?}").into());
            }
        }
        return Ok(());
    }
    let want_code = if expected.get("ok") == Some(&Value::Bool(false)) {
        2
    } else {
        0
    };
    if code != Some(want_code) {
        return Err(format!("exit {code:?}, want {want_code}: {actual}").into());
    }
    subset(&expected, &actual, "$")
}

/// Every field the expected object lists must equal the actual one; arrays must have the same
/// length and match element by element.
fn subset(want: &Value, got: &Value, path: &str) -> Result<(), Failed> {
    match (want, got) {
        (Value::Object(w), Value::Object(g)) => {
            for (key, value) in w {
                let got = g
                    .get(key)
                    .ok_or_else(|| format!("{path}.{key}: missing in {got}"))?;
                subset(value, got, &format!("{path}.{key}"))?;
            }
            Ok(())
        }
        (Value::Array(w), Value::Array(g)) => {
            if w.len() != g.len() {
                return Err(
                    format!("{path}: want {} elements, got {}: {got}", w.len(), g.len()).into(),
                );
            }
            for (i, (w, g)) in w.iter().zip(g).enumerate() {
                subset(w, g, &format!("{path}[{i}]"))?;
            }
            Ok(())
        }
        _ if want == got => Ok(()),
        _ => Err(format!("{path}: want {want}, got {got}").into()),
    }
}
