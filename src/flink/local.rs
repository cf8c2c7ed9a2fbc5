//! The embedded local target: the runner jar in a child JVM that runs the job on a Flink
//! MiniCluster (its web UI on a free port, reported by the runner). The JVM gets its own process group, so the caller
//! decides when it stops: [`LocalJob::terminate`] asks it to cancel the job and exit, then
//! kills the group if it does not. The statements go through a file only the user can read.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

use super::{JobSpec, RunnerEvent};
use crate::provision::Provisioned;
use crate::versions;

/// How to run a job locally.
#[derive(Debug, Clone)]
pub struct LocalOptions {
    /// The JVM's maximum heap (`-Xmx`), e.g. `1g`.
    pub heap: String,
    /// The web UI port; the runner picks a free one when `None` and reports it.
    pub web_port: Option<u16>,
    /// Extra Flink configuration for the MiniCluster (`parallelism.default`, …).
    pub conf: Vec<(String, String)>,
    /// Where the statements file and the logs go.
    pub run_dir: PathBuf,
    /// Run in the background: output goes to files in `run_dir`, and the job outlives flinkit.
    pub detach: bool,
}

/// Why the local run could not be started or stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LocalError {
    /// The JVM could not be started.
    #[error("cannot start {}", java.display())]
    Spawn {
        /// The java executable.
        java: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A file could not be written or read.
    #[error("{}", path.display())]
    Io {
        /// The path involved.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> LocalError + '_ {
    move |source| LocalError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// One line of the runner's stdout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    /// A runner event.
    Event(RunnerEvent),
    /// Anything else the job printed (a `print` sink's rows).
    Output(String),
}

/// A running local job.
#[derive(Debug)]
pub struct LocalJob {
    child: Child,
    lines: Receiver<Line>,
    run_dir: PathBuf,
}

/// `java <heap> <jvm_flags> <Flink's JDK 17 flags> -cp <runner>:<Flink runtime>
/// dev.flinkit.runner.SqlRunner`, ready for the runner's own arguments.
pub fn runner_command(provisioned: &Provisioned, heap: &str, jvm_flags: &[&str]) -> Command {
    let mut cmd = Command::new(&provisioned.java.path);
    cmd.arg(format!("-Xmx{heap}"))
        .arg("-XX:+UseSerialGC")
        .args(jvm_flags)
        .args(versions::jvm_options())
        .arg("-cp")
        .arg(provisioned.classpath_arg())
        .arg("dev.flinkit.runner.SqlRunner");
    cmd
}

/// The full `java …` command line for `spec`, without starting it.
pub fn command(
    provisioned: &Provisioned,
    spec: &JobSpec,
    statements_file: &Path,
    options: &LocalOptions,
) -> Command {
    let mut cmd = runner_command(provisioned, &options.heap, &[]);
    cmd.arg("--statements-file")
        .arg(statements_file)
        .arg("--job-name")
        .arg(&spec.name);
    if let Some(port) = options.web_port {
        cmd.arg("--conf").arg(format!("rest.port={port}"));
    }
    for (key, value) in &options.conf {
        cmd.arg("--conf").arg(format!("{key}={value}"));
    }
    cmd
}

/// What Flink's planner says of a script compiled without running it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Explained {
    /// The script compiles; this is its plan.
    Plan(String),
    /// The planner rejected it.
    Rejected {
        /// The statement to blame, when known.
        statement: Option<usize>,
        /// Flink's message.
        message: String,
    },
}

/// Compiles `statements` with the real planner (`--explain`), executing nothing.
pub fn explain(
    provisioned: &Provisioned,
    statements: &[String],
    scratch: &Path,
) -> Result<Explained, LocalError> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(scratch)
        .map_err(io(scratch))?;
    let file = scratch.join("explain.json");
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&file)
        .and_then(|mut f| {
            std::io::Write::write_all(
                &mut f,
                serde_json::Value::from(statements.to_vec())
                    .to_string()
                    .as_bytes(),
            )
        })
        .map_err(io(&file))?;
    let out = runner_command(provisioned, "512m", &["-XX:TieredStopAtLevel=1"])
        .arg("--explain")
        .arg("--statements-file")
        .arg(&file)
        .stdin(Stdio::null())
        .output()
        .map_err(|source| LocalError::Spawn {
            java: provisioned.java.path.clone(),
            source,
        })?;
    let _ = std::fs::remove_file(&file);
    let stdout = String::from_utf8_lossy(&out.stdout);
    for line in stdout.lines() {
        match serde_json::from_str::<serde_json::Value>(line) {
            Ok(event) if event["event"] == "plan" => {
                return Ok(Explained::Plan(
                    event["plan"].as_str().unwrap_or_default().to_string(),
                ));
            }
            Ok(event) if event["event"] == "error" => {
                return Ok(Explained::Rejected {
                    statement: event["statement"].as_u64().map(|i| i as usize),
                    message: event["message"].as_str().unwrap_or_default().to_string(),
                });
            }
            _ => {}
        }
    }
    Ok(Explained::Rejected {
        statement: None,
        message: format!(
            "the runner printed no plan (exit {}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .unwrap_or_default()
        ),
    })
}

/// Starts `spec` in a child JVM.
pub fn start(
    provisioned: &Provisioned,
    spec: &JobSpec,
    options: &LocalOptions,
) -> Result<LocalJob, LocalError> {
    let dir = &options.run_dir;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(io(dir))?;
    let statements = dir.join("statements.json");
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&statements)
        .and_then(|mut f| std::io::Write::write_all(&mut f, spec.statements_json().as_bytes()))
        .map_err(io(&statements))?;
    let jvm_log = dir.join("jvm.log");
    let stderr = File::create(&jvm_log).map_err(io(&jvm_log))?;
    let mut cmd = command(provisioned, spec, &statements, options);
    cmd.stdin(Stdio::null()).stderr(stderr).process_group(0);
    let stdout_log = dir.join("stdout.log");
    if options.detach {
        let out = File::create(&stdout_log).map_err(io(&stdout_log))?;
        cmd.stdout(out);
    } else {
        cmd.stdout(Stdio::piped());
    }
    tracing::debug!(?cmd, "starting the local runner");
    let mut child = cmd.spawn().map_err(|source| LocalError::Spawn {
        java: provisioned.java.path.clone(),
        source,
    })?;
    let (tx, lines) = channel();
    match child.stdout.take() {
        Some(stdout) => {
            std::thread::spawn(move || {
                for line in BufReader::new(stdout).lines() {
                    let Ok(line) = line else { break };
                    if tx.send(classify(line)).is_err() {
                        break;
                    }
                }
            });
        }
        None => {
            std::thread::spawn(move || follow(&stdout_log, |line| tx.send(classify(line)).is_ok()));
        }
    }
    Ok(LocalJob {
        child,
        lines,
        run_dir: dir.clone(),
    })
}

fn classify(line: String) -> Line {
    match RunnerEvent::parse(&line) {
        Some(event) => Line::Event(event),
        None => Line::Output(line),
    }
}

/// Calls `each` with every line appended to `path` until it returns false.
fn follow(path: &Path, mut each: impl FnMut(String) -> bool) {
    let Ok(mut file) = File::open(path) else {
        return;
    };
    let mut pending = String::new();
    let mut offset = 0u64;
    loop {
        let mut chunk = String::new();
        if file.seek(SeekFrom::Start(offset)).is_err() || file.read_to_string(&mut chunk).is_err() {
            return;
        }
        offset += chunk.len() as u64;
        pending.push_str(&chunk);
        while let Some(end) = pending.find('\n') {
            let line: String = pending.drain(..=end).collect();
            if !each(line.trim_end().to_string()) {
                return;
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

impl LocalJob {
    /// The JVM's process id (also its process group).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The directory with the statements file and the logs.
    pub fn run_dir(&self) -> &Path {
        &self.run_dir
    }

    /// The JVM's log (its stderr).
    pub fn log_file(&self) -> PathBuf {
        self.run_dir.join("jvm.log")
    }

    /// The next line of output, waiting at most `timeout`. `Err(Disconnected)` once the
    /// runner's stdout is closed.
    pub fn next_line(&self, timeout: Duration) -> Result<Line, RecvTimeoutError> {
        self.lines.recv_timeout(timeout)
    }

    /// The exit status, if the JVM has exited.
    pub fn try_wait(&mut self) -> std::io::Result<Option<ExitStatus>> {
        self.child.try_wait()
    }

    /// Waits for the JVM to exit.
    pub fn wait(&mut self) -> std::io::Result<ExitStatus> {
        self.child.wait()
    }

    /// Asks the JVM to cancel the job and exit (SIGTERM to its process group); after `grace`
    /// kills the group. Returns once the JVM is gone.
    pub fn terminate(&mut self, grace: Duration) -> std::io::Result<ExitStatus> {
        if let Some(status) = self.child.try_wait()? {
            return Ok(status);
        }
        let group = Pid::from_raw(self.child.id() as i32);
        let _ = killpg(group, Signal::SIGTERM);
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait()? {
                return Ok(status);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        tracing::warn!(
            pid = self.child.id(),
            "the local JVM ignored SIGTERM; killing it"
        );
        let _ = killpg(group, Signal::SIGKILL);
        self.child.wait()
    }

    /// The last `lines` lines of the JVM's log.
    pub fn log_tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(self.log_file()).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}
