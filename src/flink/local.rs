//! The embedded local target: the runner jar in a child JVM that runs the job on a Flink
//! MiniCluster (its web UI on a free port, reported by the runner), or the same runner code in a
//! warm [`session`](super::session) that runs it on its long-lived MiniCluster. A child JVM gets
//! its own process group, so the caller decides when it stops: [`LocalJob::terminate`] asks it to
//! cancel the job and exit, then kills the group if it does not; a session's run is cancelled
//! through its connection. The statements go through a file only the user can read. A task reads
//! the runner's stdout — the child's, or the session's `o ` lines — the same way: its events
//! become a [`LocalStatus`] anyone can watch, everything else (a `print` sink's rows) is handed
//! over as output lines.

use std::ffi::OsString;
use std::fs::File;
use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::sync::{mpsc, watch};

use super::session::{Line, Session, SessionError};
use super::{JobSpec, JobState, RunnerEvent};
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
    /// The warm session could not run it.
    #[error(transparent)]
    Session(#[from] SessionError),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> LocalError + '_ {
    move |source| LocalError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// `java <heap> <jvm_flags> <Flink's JDK 17 flags> -cp <runner>:<Flink runtime>
/// dev.flinkit.runner.SqlRunner`, ready for the runner's own arguments.
pub fn runner_command(provisioned: &Provisioned, heap: &str, jvm_flags: &[&str]) -> Command {
    let mut cmd = jvm_command(provisioned, heap, jvm_flags);
    cmd.arg("dev.flinkit.runner.SqlRunner");
    cmd
}

/// `java <heap> <jvm_flags> <Flink's JDK 17 flags> -cp <runner>:<Flink runtime>`, ready for a
/// main class of the runner jar. With a class-data archive the JVM maps it (and runs without it
/// if it cannot); the JVM's own warnings go to stderr, never among the job's output on stdout.
pub fn jvm_command(provisioned: &Provisioned, heap: &str, jvm_flags: &[&str]) -> Command {
    let mut cmd = Command::new(&provisioned.java.path);
    cmd.arg(format!("-Xmx{heap}"))
        .arg("-XX:+UseSerialGC")
        .args(["-Xlog:disable", "-Xlog:all=warning:stderr"]);
    if let Some(archive) = &provisioned.class_archive {
        cmd.arg("-Xshare:auto")
            .arg(format!("-XX:SharedArchiveFile={}", archive.display()));
    }
    cmd.args(jvm_flags)
        .args(versions::jvm_options())
        .arg("-cp")
        .arg(provisioned.classpath_arg());
    cmd
}

/// The JIT settings for a job: C1 only (`-XX:TieredStopAtLevel=1`) for a batch job, whose
/// bounded input makes it short, so that compiling costs less than it saves; the full tiered
/// compiler (C2) for a streaming job, which runs for long and needs C2's code for its
/// throughput. The runtime mode is the script's last `SET 'execution.runtime-mode'`, else the
/// `conf` one, else Flink's default, streaming.
pub fn jit_flags(spec: &JobSpec, conf: &[(String, String)]) -> &'static [&'static str] {
    let conf_mode = conf
        .iter()
        .rev()
        .find(|(key, _)| key == RUNTIME_MODE)
        .map(|(_, value)| value.as_str());
    match spec.runtime_mode.as_deref().or(conf_mode) {
        Some(mode) if mode.eq_ignore_ascii_case("batch") => &["-XX:TieredStopAtLevel=1"],
        _ => &[],
    }
}

/// Flink's runtime mode option.
pub const RUNTIME_MODE: &str = "execution.runtime-mode";

/// The full `java …` command line for `spec`, without starting it.
pub fn command(
    provisioned: &Provisioned,
    spec: &JobSpec,
    statements_file: &Path,
    options: &LocalOptions,
) -> Command {
    let tmp = tmpdir_flag(&options.run_dir.join(TMP));
    let mut flags = jit_flags(spec, &options.conf).to_vec();
    flags.push(&tmp);
    let mut cmd = runner_command(provisioned, &options.heap, &flags);
    cmd.args(runner_args(spec, statements_file, options));
    cmd
}

/// The run directory's folder for the JVM's temporary files (`java.io.tmpdir`): Flink unpacks
/// its RPC system there (a 21 MB jar per JVM) and deletes it only on a clean exit, so a killed
/// JVM's copy stays where flinkit removes it rather than in the system's `/tmp`.
pub const TMP: &str = "tmp";

/// `-Djava.io.tmpdir=<dir>`.
pub fn tmpdir_flag(dir: &Path) -> String {
    format!("-Djava.io.tmpdir={}", dir.display())
}

/// Removes a JVM's temporary folder once the JVM is gone.
pub fn remove_tmp(dir: &Path) {
    match std::fs::remove_dir_all(dir) {
        Ok(()) => {}
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
        Err(err) => tracing::debug!("removing {}: {err}", dir.display()),
    }
}

/// The runner's arguments for `spec`: the same for a child JVM and for a session.
fn runner_args(spec: &JobSpec, statements_file: &Path, options: &LocalOptions) -> Vec<OsString> {
    let mut args: Vec<OsString> = vec![
        "--statements-file".into(),
        statements_file.into(),
        "--job-name".into(),
        spec.name.clone().into(),
    ];
    if let Some(port) = options.web_port {
        args.extend(["--conf".into(), format!("rest.port={port}").into()]);
    }
    for (key, value) in &options.conf {
        args.extend(["--conf".into(), format!("{key}={value}").into()]);
    }
    args
}

/// Writes `json` to `file` (created or truncated, readable only by the user).
fn write_private(file: &Path, json: &str) -> Result<(), LocalError> {
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(file)
        .and_then(|mut f| std::io::Write::write_all(&mut f, json.as_bytes()))
        .map_err(io(file))
}

fn private_dir(dir: &Path) -> Result<(), LocalError> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(io(dir))
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

/// Compiles `statements` with the real planner (`--explain`), executing nothing: in `session`
/// when one is given (warm, about a second), else in a JVM of its own.
pub async fn explain(
    provisioned: &Provisioned,
    statements: &[String],
    scratch: &Path,
    session: Option<&Session>,
) -> Result<Explained, LocalError> {
    private_dir(scratch)?;
    let file = scratch.join(format!("explain-{}.json", std::process::id()));
    write_private(
        &file,
        &serde_json::Value::from(statements.to_vec()).to_string(),
    )?;
    let result = match session {
        Some(session) => explain_in_session(session, &file).await,
        None => {
            let provisioned = provisioned.clone();
            let file = file.clone();
            tokio::task::spawn_blocking(move || explain_in_jvm(&provisioned, &file))
                .await
                .map_err(|e| LocalError::Io {
                    path: scratch.to_path_buf(),
                    source: std::io::Error::other(e),
                })?
        }
    };
    let _ = std::fs::remove_file(&file);
    result
}

async fn explain_in_session(session: &Session, file: &Path) -> Result<Explained, LocalError> {
    let args = vec![
        "--explain".to_string(),
        "--statements-file".to_string(),
        file.display().to_string(),
    ];
    let (out, code) = session.run_to_end(&args).await?;
    Ok(
        explained(&out.join("\n")).unwrap_or_else(|| Explained::Rejected {
            statement: None,
            message: format!("the runner printed no plan (exit {code})"),
        }),
    )
}

fn explain_in_jvm(provisioned: &Provisioned, file: &Path) -> Result<Explained, LocalError> {
    let run = |provisioned: &Provisioned| {
        runner_command(provisioned, "512m", &["-XX:TieredStopAtLevel=1"])
            .arg("--explain")
            .arg("--statements-file")
            .arg(file)
            .stdin(Stdio::null())
            .output()
            .map_err(|source| LocalError::Spawn {
                java: provisioned.java.path.clone(),
                source,
            })
    };
    let mut out = run(provisioned)?;
    let mut explained = explained(&String::from_utf8_lossy(&out.stdout));
    if explained.is_none() && provisioned.class_archive.is_some() {
        tracing::debug!(
            status = %out.status,
            "the planner check printed nothing with the class-data archive; retrying without it"
        );
        out = run(&Provisioned {
            class_archive: None,
            ..provisioned.clone()
        })?;
        explained = self::explained(&String::from_utf8_lossy(&out.stdout));
    }
    Ok(explained.unwrap_or_else(|| Explained::Rejected {
        statement: None,
        message: format!(
            "the runner printed no plan (exit {}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .unwrap_or_default()
        ),
    }))
}

/// The plan or the rejection in an `--explain` run's stdout, if it printed one.
fn explained(stdout: &str) -> Option<Explained> {
    stdout.lines().find_map(
        |line| match serde_json::from_str::<serde_json::Value>(line) {
            Ok(event) if event["event"] == "plan" => Some(Explained::Plan(
                event["plan"].as_str().unwrap_or_default().to_string(),
            )),
            Ok(event) if event["event"] == "error" => Some(Explained::Rejected {
                statement: event["statement"].as_u64().map(|i| i as usize),
                message: event["message"].as_str().unwrap_or_default().to_string(),
            }),
            _ => None,
        },
    )
}

/// How the runner's run has ended, as its events said.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LocalEnd {
    /// The job reached a final state without failing (`FINISHED`, `CANCELED`).
    Finished(JobState),
    /// The job failed at runtime.
    Failed {
        /// Its final state (`FAILED`, or `CANCELED` when it was cancelled).
        state: JobState,
        /// The statement to blame, when known.
        statement: Option<usize>,
        /// The root cause.
        message: String,
    },
    /// The runner rejected the script before running it (bad SQL).
    Rejected {
        /// The statement to blame, when known.
        statement: Option<usize>,
        /// Flink's message.
        message: String,
    },
    /// The runner's output ended without an end event (the JVM died or was killed).
    Vanished,
}

/// What the runner has said so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LocalStatus {
    /// The MiniCluster's web UI (and REST API) address, once it is up.
    pub web_ui: Option<String>,
    /// The job id, once the job was submitted.
    pub job_id: Option<String>,
    /// The latest state the runner reported.
    pub state: Option<JobState>,
    /// How the run ended, once it has.
    pub end: Option<LocalEnd>,
}

/// How many output lines wait for a reader before further ones are dropped.
const OUTPUT_BUFFER: usize = 4096;

/// A running local job: the child JVM or the session's run, its status and its output lines.
#[derive(Debug)]
pub struct LocalJob {
    process: Process,
    status: watch::Receiver<LocalStatus>,
    output: mpsc::Receiver<String>,
    run_dir: PathBuf,
}

/// What runs a local job.
#[derive(Debug)]
enum Process {
    /// A child JVM of its own.
    Jvm {
        child: tokio::process::Child,
        pid: u32,
    },
    /// A run in a warm session: what to tell the task that holds its connection, and the run's
    /// exit code once the session sent it.
    Session {
        requests: mpsc::UnboundedSender<Request>,
        exit: watch::Receiver<Option<i32>>,
    },
}

/// What a session run's connection is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Request {
    /// Ask the session to cancel the job.
    Cancel,
    /// Close the connection (the session cancels the job too).
    Close,
}

/// Sends `signal` to the process group `pid`, without waiting.
fn signal_group(pid: u32, signal: Signal) {
    if let Err(err) = killpg(Pid::from_raw(pid as i32), signal) {
        tracing::debug!(pid, "{signal}: {err}");
    }
}

/// A process exit status with `code`, for a session's run.
fn exit_status(code: i32) -> ExitStatus {
    ExitStatus::from_raw((code & 0xff) << 8)
}

/// Prepares a run's private folder: the statements file the runner reads, and `jvm.log` for
/// the runner's stderr.
fn run_files(dir: &Path, spec: &JobSpec) -> Result<(PathBuf, File), LocalError> {
    private_dir(dir)?;
    let statements = dir.join("statements.json");
    write_private(&statements, &spec.statements_json())?;
    let jvm_log = dir.join("jvm.log");
    let log = File::create(&jvm_log).map_err(io(&jvm_log))?;
    Ok((statements, log))
}

/// Starts `spec` in a child JVM. Must be called within a tokio runtime.
pub fn start(
    provisioned: &Provisioned,
    spec: &JobSpec,
    options: &LocalOptions,
) -> Result<LocalJob, LocalError> {
    let dir = &options.run_dir;
    let (statements, stderr) = run_files(dir, spec)?;
    private_dir(&dir.join(TMP))?;
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
    let mut child = tokio::process::Command::from(cmd)
        .spawn()
        .map_err(|source| LocalError::Spawn {
            java: provisioned.java.path.clone(),
            source,
        })?;
    let pid = child.id().unwrap_or_default();
    let (status_tx, status) = watch::channel(LocalStatus::default());
    let (output_tx, output) = mpsc::channel(OUTPUT_BUFFER);
    let reader = Reader {
        status: status_tx,
        output: output_tx,
        dropped: 0,
    };
    match child.stdout.take() {
        Some(stdout) => {
            tokio::spawn(reader.read(BufReader::new(stdout)));
        }
        None => {
            tokio::spawn(reader.follow(stdout_log));
        }
    }
    Ok(LocalJob {
        process: Process::Jvm { child, pid },
        status,
        output,
        run_dir: dir.clone(),
    })
}

/// Runs `spec` in a warm `session`: the runner's arguments are those of a child JVM, its
/// stdout is read the same way, its stderr goes to the run directory's `jvm.log`. The run is
/// attached: `options.detach` and `options.heap` are the session's business. Must be called
/// within a tokio runtime.
pub async fn start_in_session(
    session: &Session,
    spec: &JobSpec,
    options: &LocalOptions,
) -> Result<LocalJob, LocalError> {
    let dir = &options.run_dir;
    let (statements, log) = run_files(dir, spec)?;
    let args: Vec<String> = runner_args(spec, &statements, options)
        .into_iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    tracing::debug!(port = session.port, ?args, "running in the local session");
    let connection = session.open(&args).await?;
    let (status_tx, status) = watch::channel(LocalStatus::default());
    let (output_tx, output) = mpsc::channel(OUTPUT_BUFFER);
    let (exit_tx, exit) = watch::channel(None);
    let (requests, requests_rx) = mpsc::unbounded_channel();
    let reader = Reader {
        status: status_tx,
        output: output_tx,
        dropped: 0,
    };
    tokio::spawn(reader.read_session(connection, requests_rx, log, exit_tx));
    Ok(LocalJob {
        process: Process::Session { requests, exit },
        status,
        output,
        run_dir: dir.clone(),
    })
}

/// Reads the runner's stdout into the status and the output lines.
struct Reader {
    status: watch::Sender<LocalStatus>,
    output: mpsc::Sender<String>,
    dropped: u64,
}

impl Reader {
    async fn read(mut self, stdout: impl AsyncBufRead + Unpin) {
        let mut lines = stdout.lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if !self.line(line) {
                return;
            }
        }
        self.vanished();
    }

    /// Reads a session's answer: `o ` lines as the runner's stdout (and on after the run's
    /// end, up to the exit code), `e ` lines into `log`; writes `cancel` when asked. The task
    /// holds the connection until the run ends, even when the [`LocalJob`] is dropped (the job
    /// then runs on, as a child JVM would); closing the connection cancels the job.
    async fn read_session(
        mut self,
        connection: tokio::net::TcpStream,
        mut requests: mpsc::UnboundedReceiver<Request>,
        mut log: File,
        exit: watch::Sender<Option<i32>>,
    ) {
        let (answers, mut writer) = connection.into_split();
        let mut lines = BufReader::new(answers).lines();
        let mut running = true;
        let mut listening = true;
        loop {
            let line = tokio::select! {
                line = lines.next_line() => line,
                request = requests.recv(), if listening => {
                    match request {
                        Some(Request::Cancel) => {
                            let _ = writer.write_all(b"cancel\n").await;
                        }
                        Some(Request::Close) => break,
                        None => listening = false,
                    }
                    continue;
                }
            };
            let Ok(Some(line)) = line else {
                break;
            };
            match Line::parse(&line) {
                Line::Out(text) if running => running = self.line(text.to_string()),
                Line::Out(_) => {}
                Line::Err(text) => {
                    let _ = writeln!(log, "{text}");
                }
                Line::Exit(code) => {
                    if running {
                        self.vanished();
                    }
                    exit.send_replace(Some(code));
                    return;
                }
            }
        }
        self.vanished();
        exit.send_replace(Some(130));
    }

    /// Reads `path` as it grows (a detached run's stdout file) until the run has ended.
    async fn follow(mut self, path: PathBuf) {
        let Ok(mut file) = tokio::fs::File::open(&path).await else {
            self.vanished();
            return;
        };
        let mut pending = String::new();
        loop {
            let mut chunk = String::new();
            if file.read_to_string(&mut chunk).await.is_err() {
                self.vanished();
                return;
            }
            pending.push_str(&chunk);
            while let Some(end) = pending.find('\n') {
                let line: String = pending.drain(..=end).collect();
                if !self.line(line.trim_end().to_string()) {
                    return;
                }
            }
            if self.status.is_closed() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Handles one line; false once the run has ended.
    fn line(&mut self, line: String) -> bool {
        let Some(event) = RunnerEvent::parse(&line) else {
            if self.output.try_send(line).is_err() {
                self.dropped += 1;
                if self.dropped == 1 {
                    tracing::warn!("the job's output is not being read; dropping lines");
                }
            }
            return true;
        };
        let mut ended = false;
        self.status.send_modify(|status| match event {
            RunnerEvent::WebUi { url } => status.web_ui = Some(url),
            RunnerEvent::Submitted { job_id, .. } => status.job_id = Some(job_id),
            RunnerEvent::State { job_id, state } => {
                status.job_id = Some(job_id);
                status.state = Some(state);
            }
            RunnerEvent::Finished { job_id, state } => {
                status.job_id = Some(job_id);
                status.state = Some(state);
                status.end = Some(LocalEnd::Finished(state));
                ended = true;
            }
            RunnerEvent::Failed {
                job_id,
                state,
                statement,
                message,
            } => {
                let state = state.unwrap_or(JobState::Failed);
                status.job_id = job_id.or(status.job_id.take());
                status.state = Some(state);
                status.end = Some(LocalEnd::Failed {
                    state,
                    statement,
                    message,
                });
                ended = true;
            }
            RunnerEvent::Error {
                statement, message, ..
            } => {
                status.end = Some(LocalEnd::Rejected { statement, message });
                ended = true;
            }
        });
        !ended
    }

    fn vanished(&self) {
        self.status.send_modify(|status| {
            if status.end.is_none() {
                status.end = Some(LocalEnd::Vanished);
            }
        });
    }
}

impl LocalJob {
    /// The child JVM's process id (also its process group); `None` for a session's run.
    pub fn pid(&self) -> Option<u32> {
        match &self.process {
            Process::Jvm { pid, .. } => Some(*pid),
            Process::Session { .. } => None,
        }
    }

    /// The directory with the statements file and the logs.
    pub fn run_dir(&self) -> &Path {
        &self.run_dir
    }

    /// The JVM's log (its stderr).
    pub fn log_file(&self) -> PathBuf {
        self.run_dir.join("jvm.log")
    }

    /// The runner's stdout, when the job runs detached.
    pub fn output_file(&self) -> PathBuf {
        self.run_dir.join("stdout.log")
    }

    /// What the runner has said so far.
    pub fn status(&self) -> LocalStatus {
        self.status.borrow().clone()
    }

    /// A receiver of the status, to wait for a change.
    pub fn watch(&self) -> watch::Receiver<LocalStatus> {
        self.status.clone()
    }

    /// The next line the job printed that is not a runner event (a `print` sink's rows);
    /// `None` once the runner's output has ended.
    pub async fn next_output(&mut self) -> Option<String> {
        self.output.recv().await
    }

    /// Waits for the JVM to exit (for a session's run: for the session's exit code).
    pub async fn wait(&mut self) -> std::io::Result<ExitStatus> {
        match &mut self.process {
            Process::Jvm { child, .. } => {
                let status = child.wait().await;
                remove_tmp(&self.run_dir.join(TMP));
                status
            }
            Process::Session { exit, .. } => match exit.wait_for(Option::is_some).await {
                Ok(code) => Ok(exit_status(code.unwrap_or(1))),
                Err(_) => Err(std::io::ErrorKind::UnexpectedEof.into()),
            },
        }
    }

    /// Whether the JVM has exited (the session's run has ended).
    pub fn has_exited(&mut self) -> bool {
        match &mut self.process {
            Process::Jvm { child, .. } => {
                let exited = matches!(child.try_wait(), Ok(Some(_)));
                if exited {
                    remove_tmp(&self.run_dir.join(TMP));
                }
                exited
            }
            Process::Session { exit, .. } => exit.borrow().is_some(),
        }
    }

    /// Asks the JVM to cancel the job and exit (SIGTERM to its process group); after `grace`
    /// kills the group. Returns once the JVM is gone. A session's run is asked to cancel its
    /// job; after `grace` the connection is dropped, which cancels it too.
    pub async fn terminate(&mut self, grace: Duration) -> std::io::Result<ExitStatus> {
        match &mut self.process {
            Process::Jvm { child, pid } => {
                let pid = *pid;
                let status = match child.try_wait()? {
                    Some(status) => Ok(status),
                    None => {
                        signal_group(pid, Signal::SIGTERM);
                        match tokio::time::timeout(grace, child.wait()).await {
                            Ok(status) => status,
                            Err(_) => {
                                tracing::warn!(pid, "the local JVM ignored SIGTERM; killing it");
                                signal_group(pid, Signal::SIGKILL);
                                child.wait().await
                            }
                        }
                    }
                };
                remove_tmp(&self.run_dir.join(TMP));
                status
            }
            Process::Session { requests, exit } => {
                if let Some(code) = *exit.borrow() {
                    return Ok(exit_status(code));
                }
                let _ = requests.send(Request::Cancel);
                let ended = tokio::time::timeout(grace, exit.wait_for(Option::is_some)).await;
                if let Ok(Ok(code)) = ended {
                    return Ok(exit_status(code.unwrap_or(1)));
                }
                tracing::warn!("the local session did not end the run; closing its connection");
                let _ = requests.send(Request::Close);
                Ok(exit_status(130))
            }
        }
    }

    /// Sends `signal` to the JVM's process group, without waiting; a session's run is asked
    /// to cancel its job instead, whatever the signal.
    pub fn signal(&self, signal: Signal) {
        match &self.process {
            Process::Jvm { pid, .. } => signal_group(*pid, signal),
            Process::Session { requests, .. } => {
                if requests.send(Request::Cancel).is_err() {
                    tracing::debug!("the session's run has ended already");
                }
            }
        }
    }

    /// The last `lines` lines of the JVM's log.
    pub fn log_tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(self.log_file()).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}
