//! The checked-in option catalog (`src/connectors/catalog.json`) is exactly what the runner's
//! factories describe today, and `validate --deep` gets the real planner's verdict. Both need
//! Java: where it is missing (never in CI) they say so and stop.

use std::process::Command;

use flinkit::connectors::catalog::{SNAPSHOT, SNAPSHOT_2};
use flinkit::flink::line::FlinkLine;
use flinkit::flink::local::runner_command;
use flinkit::provision::{Cache, ProvisionError};

fn provisioned() -> Option<flinkit::provision::Provisioned> {
    provisioned_for(FlinkLine::default())
}

/// The runner and runtime of `line` (without a class-data archive: describing needs none).
fn provisioned_for(line: FlinkLine) -> Option<flinkit::provision::Provisioned> {
    let provisioned = Cache::from_env().and_then(|c| {
        let cache = c.for_line(line);
        Ok(flinkit::provision::Provisioned {
            java: flinkit::provision::find_java()?,
            runner_jar: cache.runner_jar(false, &mut |_| {})?,
            classpath: cache.local_classpath(false, &mut |_| {})?,
            class_archive: None,
            extra_jars: Vec::new(),
        })
    });
    match provisioned {
        Ok(p) => Some(p),
        Err(err @ (ProvisionError::JavaMissing { .. } | ProvisionError::JavaTooOld { .. }))
            if std::env::var_os("CI").is_none() =>
        {
            eprintln!("no Java here ({err}); the live catalog comparison runs in CI");
            None
        }
        Err(err) => panic!("cannot provision the runner: {err}"),
    }
}

#[test]
fn the_snapshot_is_the_runners_live_catalog() {
    live_catalog_is(FlinkLine::V1_20, SNAPSHOT, "catalog.json");
}

#[test]
fn the_2x_snapshot_is_the_2x_runners_live_catalog() {
    live_catalog_is(FlinkLine::V2, SNAPSHOT_2, "catalog-2.json");
}

/// `line`'s runner describes exactly the checked-in `snapshot` (`src/connectors/<file>`).
fn live_catalog_is(line: FlinkLine, snapshot: &str, file: &str) {
    let Some(provisioned) = provisioned_for(line) else {
        return;
    };
    let out = runner_command(&provisioned, "512m", &["-XX:TieredStopAtLevel=1"])
        .arg("--describe-connectors")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let live: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let snapshot: serde_json::Value = serde_json::from_str(snapshot).unwrap();
    if live != snapshot {
        let path = format!("{}/target/{file}.live", env!("CARGO_MANIFEST_DIR"));
        std::fs::write(&path, &out.stdout).unwrap();
        panic!("the connectors changed: review and run `cp {path} src/connectors/{file}`");
    }
}

#[test]
fn deep_validation_reports_the_planners_error_at_the_statement() {
    if provisioned().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("deep.sql");
    std::fs::write(
        &file,
        "CREATE TABLE s (a INT) WITH ('connector' = 'datagen');\n\
         CREATE TABLE t (a INT, b STRING) WITH ('connector' = 'blackhole');\n\
         INSERT INTO t SELECT a, UPPER(a) FROM s;\n",
    )
    .unwrap();
    let shallow = Command::new(env!("CARGO_BIN_EXE_flinkit"))
        .args(["validate", "--format", "json", "-f"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(shallow.status.success(), "offline checks cannot see types");
    let deep = Command::new(env!("CARGO_BIN_EXE_flinkit"))
        .args(["validate", "--deep", "--format", "json", "-f"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(deep.status.code(), Some(2));
    let v: serde_json::Value = serde_json::from_slice(&deep.stdout).unwrap();
    assert_eq!(v["ok"], false);
    let d = &v["diagnostics"][0];
    assert_eq!(d["code"], "planner");
    assert_eq!(d["statement"], 2);
    assert_eq!(d["line"], 3);
    assert!(
        d["message"].as_str().unwrap().contains("UPPER"),
        "Flink's message: {d}"
    );
}
