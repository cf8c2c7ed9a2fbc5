//! `flinkit launch --target local` against a real embedded Flink, in a JVM of its own (cold)
//! and in the warm session (`flinkit local up`): a bounded job's rows land in files or on
//! stdout, bad SQL points at the user's statement without a Java stack trace — the same either
//! way — and Ctrl-C, `--timeout` and `--detach` never leave a JVM or a job behind. The session's
//! life: a crashed one is replaced, `local down` forgets it, an idle one stops by itself.
//!
//! This binary starts one warm session for its tests ([`warm`]), tied to its own process
//! (`--exit-with`), so it stops when the tests end. The runner jar and Flink runtime are
//! provisioned on first use (Maven); `scripts/test.sh` runs `flinkit setup` first so that cost is
//! paid once.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::{flinkit_command as flinkit, json, unique};

/// The state folder of this binary's warm session, started on first use.
fn session_state() -> &'static Path {
    static STATE: OnceLock<PathBuf> = OnceLock::new();
    STATE.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("launch_local-session-{}", std::process::id()));
        let out = flinkit()
            .env("FLINKIT_STATE_DIR", &dir)
            .args(["local", "up", "--format", "json", "--idle-timeout", "10m"])
            .args(["--exit-with", &std::process::id().to_string()])
            .output()
            .unwrap();
        common::assert_success(&out);
        assert_eq!(json(&out)["running"], true);
        dir
    })
}

/// `flinkit` with the warm session: local runs go to it.
fn warm() -> Command {
    let mut command = flinkit();
    command.env("FLINKIT_STATE_DIR", session_state());
    command
}

/// `flinkit` with a state folder of its own, without a session: local runs start a JVM.
fn cold(state: &Path) -> Command {
    let mut command = flinkit();
    command.env("FLINKIT_STATE_DIR", state);
    command
}

/// The warm session's description (`local status --format json`).
fn session_status(state: &Path) -> serde_json::Value {
    let out = flinkit()
        .env("FLINKIT_STATE_DIR", state)
        .args(["local", "status", "--format", "json"])
        .output()
        .unwrap();
    common::assert_success(&out);
    json(&out)
}

/// The state of each job named `name` in the session, through its REST API.
fn session_job_states(name: &str) -> Vec<String> {
    let web_ui = session_status(session_state())["web_ui"]
        .as_str()
        .expect("the session runs")
        .to_string();
    let overview: serde_json::Value = reqwest::blocking::get(format!("{web_ui}/jobs/overview"))
        .unwrap()
        .json()
        .unwrap();
    overview["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|j| j["name"] == name)
        .map(|j| j["state"].as_str().unwrap().to_string())
        .collect()
}

/// Waits until the session's job `name` is CANCELED.
fn assert_cancelled_in_session(name: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let states = session_job_states(name);
        if states == ["CANCELED"] {
            return;
        }
        assert!(Instant::now() < deadline, "job {name}: {states:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Processes whose command line mentions `needle` (the job name is on the JVM's).
fn processes_mentioning(needle: &str) -> Vec<u32> {
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        if pid == std::process::id() {
            continue;
        }
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        if String::from_utf8_lossy(&cmdline).contains(needle) {
            pids.push(pid);
        }
    }
    pids
}

fn assert_no_jvm_left(job_name: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left = processes_mentioning(job_name);
        if left.is_empty() {
            return;
        }
        assert!(Instant::now() < deadline, "JVMs left behind: {left:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn streaming_job(dir: &Path) -> std::path::PathBuf {
    let sql = dir.join("stream.sql");
    std::fs::write(
        &sql,
        "CREATE TABLE gen (id BIGINT) WITH ('connector' = 'datagen', 'rows-per-second' = '5');\n\
         CREATE TABLE sink (id BIGINT) WITH ('connector' = 'blackhole');\n\
         INSERT INTO sink SELECT id FROM gen;\n",
    )
    .unwrap();
    sql
}

/// Starts a streaming job with `command` and returns the child once the job is RUNNING.
fn start_streaming(mut command: Command, job_name: &str, dir: &Path) -> std::process::Child {
    let mut child = command
        .args(["launch", "--job-name", job_name, "-f"])
        .arg(streaming_job(dir))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(240);
    let mut seen = Vec::new();
    loop {
        let Ok(line) = rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("job never RUNNING; stderr so far: {seen:#?}");
        };
        if line.contains("RUNNING") {
            return child;
        }
        seen.push(line);
    }
}

#[test]
fn a_bounded_job_runs_to_finished_and_writes_its_rows() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("out");
    let sql = dir.path().join("job.sql");
    std::fs::write(
        &sql,
        format!(
            "SET 'execution.runtime-mode' = 'batch';\n\
             CREATE TABLE src (id BIGINT, name STRING) WITH (\n  'connector' = 'datagen',\n  \
             'number-of-rows' = '50',\n  'fields.id.kind' = 'sequence',\n  'fields.id.start' = '1',\n  \
             'fields.id.end' = '50',\n  'fields.name.length' = '4'\n);\n\
             CREATE TABLE dst (id BIGINT, name STRING) WITH (\n  'connector' = 'filesystem',\n  \
             'path' = 'file://{}',\n  'format' = 'csv'\n);\n\
             INSERT INTO dst SELECT id, name FROM src;\n",
            out_dir.display()
        ),
    )
    .unwrap();
    let out = warm()
        .args(["launch", "--format", "json", "-f"])
        .arg(&sql)
        .output()
        .unwrap();
    common::assert_success(&out);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("running in the local session"), "{err}");
    let report = json(&out);
    assert_eq!(report["state"], "FINISHED");
    assert_eq!(report["target"], "local");
    assert_eq!(report["web_ui"], session_status(session_state())["web_ui"]);
    assert_eq!(report["name"], "flinkit: dst");
    assert_eq!(report["job_id"].as_str().map(str::len), Some(32));
    let mut ids = Vec::new();
    for file in walk(&out_dir) {
        for line in std::fs::read_to_string(&file).unwrap().lines() {
            let (id, name) = line.split_once(',').expect("csv row");
            assert_eq!(name.len(), 4, "{line}");
            ids.push(id.parse::<u64>().unwrap());
        }
    }
    ids.sort_unstable();
    assert_eq!(ids, (1..=50).collect::<Vec<_>>());
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().to_string();
        if path.is_dir() {
            files.extend(walk(&path));
        } else if !name.starts_with('.') && !name.starts_with('_') {
            files.push(path);
        }
    }
    files
}

#[test]
fn bad_sql_names_the_statement_and_line_without_a_stack_trace_cold_and_warm() {
    let dir = tempfile::tempdir().unwrap();
    let sql = dir.path().join("bad.sql");
    std::fs::write(
        &sql,
        "CREATE TABLE src (id BIGINT) WITH ('connector' = 'datagen', 'number-of-rows' = '1');\n\
         CREATE TABLE dst (id BIGINT) WITH ('connector' = 'blackhole');\n\
         \n\
         INSERT INTO dst SELECT no_such_column FROM src;\n",
    )
    .unwrap();
    let error = |mut command: Command| {
        let out = command.args(["launch", "-f"]).arg(&sql).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr).to_string();
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains("statement 2"), "{err}");
        assert!(err.contains("bad.sql:4:1"), "{err}");
        assert!(err.contains("no_such_column"), "{err}");
        assert!(!err.contains("\tat org.apache"), "no stack trace: {err}");
        err.lines()
            .find(|l| l.starts_with("error:"))
            .unwrap_or_default()
            .to_string()
    };
    let cold_error = error(cold(&dir.path().join("state")));
    let warm_error = error(warm());
    assert_eq!(cold_error, warm_error, "the same error either way");
}

#[test]
fn ctrl_c_cancels_the_job_and_stops_the_jvm() {
    let dir = tempfile::tempdir().unwrap();
    let name = unique("flinkit-test-ctrl-c");
    let state = dir.path().join("state");
    let child = start_streaming(cold(&state), &name, dir.path());
    assert!(!processes_mentioning(&name).is_empty(), "the JVM runs");
    let tmp_files = || -> Vec<std::path::PathBuf> {
        walk(&state.join("runs"))
            .into_iter()
            .filter(|f| f.components().any(|c| c.as_os_str() == "tmp"))
            .collect()
    };
    assert!(
        tmp_files().iter().any(|f| f
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("flink-rpc"))),
        "Flink unpacks its RPC jar in the run's own tmp folder: {:?}",
        walk(&state.join("runs"))
    );
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130));
    assert_no_jvm_left(&name);
    for run in std::fs::read_dir(state.join("runs")).unwrap().flatten() {
        let tmp = run.path().join("tmp");
        assert!(!tmp.exists(), "{} is removed", tmp.display());
    }
}

#[test]
fn ctrl_c_cancels_the_job_in_the_session_which_runs_on() {
    let dir = tempfile::tempdir().unwrap();
    let name = unique("flinkit-test-ctrl-c-warm");
    let child = start_streaming(warm(), &name, dir.path());
    assert_eq!(session_job_states(&name), ["RUNNING"]);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130));
    assert_cancelled_in_session(&name);
    assert_eq!(session_status(session_state())["running"], true);
}

#[test]
fn a_timeout_cancels_a_streaming_job_in_the_session() {
    let dir = tempfile::tempdir().unwrap();
    let name = unique("flinkit-test-timeout");
    let out = warm()
        .args([
            "launch",
            "--format",
            "json",
            "--timeout",
            "15s",
            "--job-name",
            &name,
            "-f",
        ])
        .arg(streaming_job(dir.path()))
        .output()
        .unwrap();
    common::assert_success(&out);
    let report = json(&out);
    assert_eq!(report["state"], "CANCELED");
    assert_eq!(report["name"], name.as_str());
    assert_cancelled_in_session(&name);
}

#[test]
fn detach_leaves_the_job_running_in_a_jvm_of_its_own_and_says_how_to_find_it() {
    let dir = tempfile::tempdir().unwrap();
    let name = unique("flinkit-test-detach");
    let out = warm()
        .args([
            "launch",
            "--detach",
            "--format",
            "json",
            "--job-name",
            &name,
            "-f",
        ])
        .arg(streaming_job(dir.path()))
        .output()
        .unwrap();
    common::assert_success(&out);
    let report = json(&out);
    assert_eq!(report["state"], "RUNNING");
    let pid = report["pid"].as_u64().expect("pid") as i32;
    assert!(Path::new(report["log"].as_str().unwrap()).exists());
    assert!(processes_mentioning(&name).contains(&(pid as u32)));
    nix::sys::signal::killpg(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    assert_no_jvm_left(&name);
}

/// A cache of its own at `dir` that shares `real`'s runner jar and Flink runtime (symlinked),
/// but not its class-data archive.
fn cache_sharing_the_runtime(real: &Path, dir: &Path) {
    for entry in std::fs::read_dir(real).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        if name == "runner" {
            for build in std::fs::read_dir(entry.path()).unwrap().flatten() {
                let to = dir.join("runner").join(build.file_name());
                std::fs::create_dir_all(&to).unwrap();
                for file in std::fs::read_dir(build.path()).unwrap().flatten() {
                    std::os::unix::fs::symlink(file.path(), to.join(file.file_name())).unwrap();
                }
            }
        } else if name.starts_with("flink-") {
            let to = dir.join(&name);
            std::fs::create_dir_all(&to).unwrap();
            for file in ["lib", "lib.sha256"] {
                std::os::unix::fs::symlink(entry.path().join(file), to.join(file)).unwrap();
            }
        }
    }
}

/// The quickstart's shape: a bounded job that prints two rows.
fn print_job(dir: &Path) -> std::path::PathBuf {
    let sql = dir.join("print.sql");
    std::fs::write(
        &sql,
        "SET 'execution.runtime-mode' = 'batch';\n\
         CREATE TEMPORARY VIEW v (k, n) AS VALUES ('a', 1), ('b', 2), ('a', 3);\n\
         CREATE TABLE out_rows (k STRING, total INT) WITH ('connector' = 'print', 'print-identifier' = 'out');\n\
         INSERT INTO out_rows SELECT k, SUM(n) FROM v GROUP BY k;\n",
    )
    .unwrap();
    sql
}

fn assert_print_job_runs(cache: &Path, sql: &Path) {
    let out = cold(&cache.with_extension("state"))
        .env("FLINKIT_CACHE_DIR", cache)
        .args(["launch", "-f"])
        .arg(sql)
        .output()
        .unwrap();
    common::assert_success(&out);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("out> +I[a, 4]"), "{stdout}");
    assert!(stdout.contains("out> +I[b, 2]"), "{stdout}");
}

/// The manifest's size and checksum of the archive, and the file's.
fn archive_and_manifest(archive: &Path) -> (String, String) {
    let manifest = std::fs::read_to_string(archive.with_extension("jsa.sha256")).unwrap();
    let sha = flinkit::provision::sha256_file(archive).unwrap();
    let size = std::fs::metadata(archive).unwrap().len();
    (manifest.trim().to_string(), format!("{sha} {size}"))
}

#[test]
fn a_damaged_class_data_archive_is_ignored_then_rebuilt() {
    let setup = flinkit()
        .args(["setup", "--format", "json"])
        .output()
        .unwrap();
    common::assert_success(&setup);
    let real = json(&setup)["cache"].as_str().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    cache_sharing_the_runtime(Path::new(&real), &cache);

    let setup = flinkit()
        .env("FLINKIT_CACHE_DIR", &cache)
        .args(["setup", "--format", "json"])
        .output()
        .unwrap();
    common::assert_success(&setup);
    let archive = std::path::PathBuf::from(
        json(&setup)["class_archive"]
            .as_str()
            .expect("a class-data archive was built"),
    );
    assert!(archive.starts_with(&cache), "{}", archive.display());
    let (manifest, actual) = archive_and_manifest(&archive);
    assert_eq!(manifest, actual);

    // Garbage of the right size: the JVM refuses it and runs without it.
    let size = std::fs::metadata(&archive).unwrap().len() as usize;
    let garbage = dir.path().join("garbage");
    std::fs::write(&garbage, vec![0x5a; size]).unwrap();
    std::fs::rename(&garbage, &archive).unwrap();
    let sql = print_job(dir.path());
    assert_print_job_runs(&cache, &sql);

    // A truncated archive (which would crash a JVM that maps it) is rebuilt before the run.
    let truncated = dir.path().join("truncated");
    std::fs::write(&truncated, b"truncated").unwrap();
    std::fs::rename(&truncated, &archive).unwrap();
    assert_print_job_runs(&cache, &sql);
    let (manifest, actual) = archive_and_manifest(&archive);
    assert_eq!(manifest, actual, "rebuilt");
}

#[test]
fn the_library_runs_a_local_job_in_the_session_and_reads_its_rows() {
    let script = flinkit::sql::Script::parse_str(
        "SET 'execution.runtime-mode' = 'batch';\n\
         CREATE TEMPORARY VIEW v (k, n) AS VALUES ('a', 1), ('b', 2), ('a', 3);\n\
         CREATE TABLE out_rows (k STRING, total INT) WITH ('connector' = 'print', 'print-identifier' = 'lib');\n\
         INSERT INTO out_rows SELECT k, SUM(n) FROM v GROUP BY k;\n",
    )
    .unwrap();
    let run_dir = tempfile::tempdir().unwrap();
    let options = flinkit::launch::Options::local()
        .session_dir(session_state().join("local-session"))
        .run_dir(run_dir.path());
    common::block_on(async {
        let mut job = flinkit::launch::launch(&script, &options).await.unwrap();
        assert_eq!(job.pid(), None, "no JVM of its own");
        assert_eq!(
            job.flink_url().as_deref(),
            session_status(session_state())["web_ui"].as_str()
        );
        let mut rows = Vec::new();
        while let Some(line) = job.next_output().await {
            rows.push(line);
        }
        rows.sort();
        assert_eq!(rows, ["lib> +I[a, 4]", "lib> +I[b, 2]"]);
        let state = job.wait_finished(Some(Duration::from_secs(60))).await;
        assert_eq!(state.unwrap(), flinkit::flink::JobState::Finished);
    });
}

#[test]
fn validate_deep_says_the_same_in_the_session_as_in_a_jvm_of_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("typed.sql");
    std::fs::write(
        &file,
        "CREATE TABLE s (a INT) WITH ('connector' = 'datagen');\n\
         CREATE TABLE t (a INT, b STRING) WITH ('connector' = 'blackhole');\n\
         INSERT INTO t SELECT a, UPPER(a) FROM s;\n",
    )
    .unwrap();
    let deep = |mut command: Command| {
        let out = command
            .args(["validate", "--deep", "--format", "json", "-f"])
            .arg(&file)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{out:?}");
        json(&out)
    };
    let warm_verdict = deep(warm());
    assert_eq!(warm_verdict["diagnostics"][0]["code"], "planner");
    assert_eq!(warm_verdict["diagnostics"][0]["statement"], 2);
    assert_eq!(deep(cold(&dir.path().join("state"))), warm_verdict);
}

/// Whether a run's stderr says it ran in the session.
fn ran_in_session(out: &std::process::Output) -> bool {
    String::from_utf8_lossy(&out.stderr).contains("running in the local session")
}

#[test]
fn a_crashed_session_is_replaced_down_forgets_it_and_an_idle_one_stops() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let sql = print_job(dir.path());
    let local = |args: &[&str]| {
        let out = cold(&state)
            .arg("local")
            .args(args)
            .args(["--format", "json"])
            .output()
            .unwrap();
        common::assert_success(&out);
        json(&out)
    };
    let launch = || {
        let out = cold(&state)
            .args(["launch", "-f"])
            .arg(&sql)
            .output()
            .unwrap();
        common::assert_success(&out);
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("out> +I[a, 4]"),
            "{out:?}"
        );
        out
    };

    let first = local(&["up", "--exit-with", &std::process::id().to_string()]);
    let pid = first["pid"].as_u64().unwrap() as i32;
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while local(&["status"])["running"] == true {
        assert!(Instant::now() < deadline, "a killed session is noticed");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(ran_in_session(&launch()), "a new session ran it");
    let second = local(&["status"]);
    assert_eq!(second["running"], true);
    assert_ne!(second["pid"], first["pid"]);

    assert_eq!(local(&["down"])["stopped"], true);
    assert_eq!(local(&["status"])["running"], false);
    assert!(!ran_in_session(&launch()), "down is not a crash");

    local(&["up", "--idle-timeout", "1s"]);
    let deadline = Instant::now() + Duration::from_secs(60);
    while local(&["status"])["running"] == true {
        assert!(
            Instant::now() < deadline,
            "still running after its idle timeout"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(!ran_in_session(&launch()), "an idle session is not a crash");
}
