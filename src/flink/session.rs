//! The warm local session: one background JVM (the runner's `LocalSession`) that keeps a Flink
//! MiniCluster and the planner warm, so that a local run or a planner check is a request on a
//! loopback socket instead of a JVM start.
//!
//! It lives in a folder of the state directory ([`default_dir`]): `session.json` (its pid, port
//! and web UI, written by the JVM once it listens), `token` (the secret every request carries,
//! readable only by the user), `settings.json` (how it was started, to replace it alike) and
//! `session.log`. The rule for its life: it runs only because the user asked for it
//! ([`up`], `flinkit local up`); it stops on [`down`], after its idle timeout without any run,
//! or when the process it was tied to ([`Settings::exit_with`]) ends; a job in it lives only as
//! long as the connection of the run that started it. A session whose files remain but whose
//! JVM is gone or does not accept connections has crashed: [`ensure`] replaces it, as does a change of the runner jar or Flink
//! runtime it was started from (a lock file keeps two processes from doing it at once).

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};

use super::local::{TMP, jvm_command, remove_tmp, tmpdir_flag};
use crate::provision::Provisioned;

/// The session's main class in the runner jar.
const MAIN_CLASS: &str = "dev.flinkit.runner.LocalSession";

/// How long a starting session may take to listen (a cold JVM and MiniCluster on a busy machine).
const START_TIMEOUT: Duration = Duration::from_secs(180);

/// How a session is started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    /// The JVM's maximum heap (`-Xmx`), e.g. `1g`.
    pub heap: String,
    /// Task slots of its MiniCluster: how many job vertices' subtasks run at once.
    pub slots: u32,
    /// It stops after this long without any run.
    #[serde(with = "seconds")]
    pub idle_timeout: Duration,
    /// It stops when this process ends (a test binary, a shell), if given.
    pub exit_with: Option<u32>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            heap: "1g".into(),
            slots: 8,
            idle_timeout: Duration::from_secs(15 * 60),
            exit_with: None,
        }
    }
}

mod seconds {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_secs())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_secs)
    }
}

/// What `settings.json` records: the settings and the runtime the JVM runs.
#[derive(Debug, Serialize, Deserialize)]
struct Recorded {
    settings: Settings,
    classpath: String,
}

/// A running session, as its `session.json` describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// The JVM's process id (also its process group).
    pub pid: u32,
    /// The loopback port it listens on.
    pub port: u16,
    /// Its MiniCluster's web UI and REST API.
    pub web_ui: String,
    /// Its MiniCluster's task slots.
    pub slots: u32,
    /// Its idle timeout, in seconds.
    pub idle_timeout_s: u64,
    /// Its folder.
    #[serde(skip_deserializing)]
    pub dir: PathBuf,
    #[serde(skip)]
    token: String,
}

/// Why a session could not be started, found, asked or stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// A file of the session could not be written or read.
    #[error("{}", path.display())]
    Io {
        /// The path involved.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The JVM could not be started.
    #[error("cannot start {}", java.display())]
    Spawn {
        /// The java executable.
        java: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The JVM started but the session never listened.
    #[error("the local session did not start; the end of its log ({}):\n{tail}", log.display())]
    DidNotStart {
        /// Its log.
        log: PathBuf,
        /// The log's last lines.
        tail: String,
    },
    /// The session could not be reached, or broke off a request.
    #[error("the local session on port {port} did not answer")]
    Unreachable {
        /// Its port.
        port: u16,
        /// The cause.
        source: std::io::Error,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> SessionError + '_ {
    move |source| SessionError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The session's folder under the state directory: `<state>/local-session`.
pub fn default_dir() -> Result<PathBuf, crate::config::ConfigError> {
    Ok(crate::config::state_dir()?.join("local-session"))
}

/// The session described in `dir`, if its files are there and its JVM is alive; `Err` with
/// the description when the files are there but the JVM is gone (it crashed).
fn read(dir: &Path) -> Option<Result<Session, Session>> {
    let text = std::fs::read_to_string(dir.join("session.json")).ok()?;
    let mut session: Session = serde_json::from_str(&text).ok()?;
    session.dir = dir.to_path_buf();
    session.token = std::fs::read_to_string(dir.join("token"))
        .unwrap_or_default()
        .trim()
        .to_string();
    Some(if is_session_jvm(session.pid) {
        Ok(session)
    } else {
        Err(session)
    })
}

/// Whether `pid` is a live session JVM (not a process that reused the pid).
fn is_session_jvm(pid: u32) -> bool {
    let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let zombie = stat
        .rsplit_once(") ")
        .is_some_and(|(_, rest)| rest.starts_with('Z'));
    !zombie && String::from_utf8_lossy(&cmdline).contains(MAIN_CLASS)
}

/// The running session in `dir`, if there is one (a crashed one is not).
pub fn find(dir: &Path) -> Option<Session> {
    read(dir)?.ok()
}

/// The session in `dir`, started from `provisioned`: the running one; a new one with the
/// recorded settings when the recorded one crashed or runs another runner or runtime; `None`
/// when no session was asked for (or the last one stopped by itself).
pub fn ensure(provisioned: &Provisioned, dir: &Path) -> Result<Option<Session>, SessionError> {
    if !dir.join("settings.json").exists() {
        return Ok(None);
    }
    let _lock = lock(dir)?;
    let recorded: Option<Recorded> = std::fs::read_to_string(dir.join("settings.json"))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok());
    let Some(recorded) = recorded else {
        return Ok(None);
    };
    match read(dir) {
        Some(Ok(session)) if !session.answers() => {
            tracing::warn!(
                pid = session.pid,
                "the local session does not answer; replacing it"
            );
            let _ = killpg(Pid::from_raw(session.pid as i32), Signal::SIGKILL);
        }
        Some(Ok(session)) if recorded.classpath == provisioned.classpath_arg() => {
            return Ok(Some(session));
        }
        Some(Ok(session)) => {
            tracing::info!(
                pid = session.pid,
                "the local session runs another runner or runtime; replacing it"
            );
            stop(&session)?;
        }
        Some(Err(crashed)) => {
            tracing::warn!(
                pid = crashed.pid,
                "the local session is gone without stopping; starting a new one"
            );
        }
        None => {
            // Stopped by itself (idle, its owner gone): nobody waits for it any more.
            let _ = std::fs::remove_file(dir.join("settings.json"));
            return Ok(None);
        }
    }
    start(provisioned, dir, &recorded.settings).map(Some)
}

/// Starts a session in `dir` with `settings`, or returns the one already running there.
pub fn up(
    provisioned: &Provisioned,
    dir: &Path,
    settings: &Settings,
) -> Result<Session, SessionError> {
    let _lock = lock(dir)?;
    if let Some(session) = find(dir) {
        return Ok(session);
    }
    start(provisioned, dir, settings)
}

/// Holds `dir`'s lock: one process at a time starts, replaces or stops its session.
fn lock(dir: &Path) -> Result<std::fs::File, SessionError> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(io(dir))?;
    let path = dir.join("lock");
    let file = std::fs::File::create(&path).map_err(io(&path))?;
    file.lock().map_err(io(&path))?;
    Ok(file)
}

fn start(
    provisioned: &Provisioned,
    dir: &Path,
    settings: &Settings,
) -> Result<Session, SessionError> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(io(dir))?;
    for file in ["session.json", "token"] {
        let _ = std::fs::remove_file(dir.join(file));
    }
    let recorded = Recorded {
        settings: settings.clone(),
        classpath: provisioned.classpath_arg(),
    };
    let settings_file = dir.join("settings.json");
    std::fs::write(
        &settings_file,
        serde_json::to_string_pretty(&recorded).unwrap_or_default(),
    )
    .map_err(io(&settings_file))?;
    let log = dir.join("session.log");
    let log_file = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .mode(0o600)
        .open(&log)
        .map_err(io(&log))?;
    let stderr = log_file.try_clone().map_err(io(&log))?;
    // A session killed before its clean exit left its temporary files; none is running now.
    let tmp = dir.join(TMP);
    remove_tmp(&tmp);
    std::fs::create_dir_all(&tmp).map_err(io(&tmp))?;
    let mut cmd = jvm_command(provisioned, &settings.heap, &[&tmpdir_flag(&tmp)]);
    cmd.arg(MAIN_CLASS)
        .arg("--dir")
        .arg(dir)
        .arg("--slots")
        .arg(settings.slots.to_string())
        .arg("--idle-timeout")
        .arg(settings.idle_timeout.as_secs().max(1).to_string());
    if let Some(pid) = settings.exit_with {
        cmd.arg("--exit-with").arg(pid.to_string());
    }
    cmd.stdin(Stdio::null())
        .stdout(log_file)
        .stderr(stderr)
        .process_group(0);
    tracing::debug!(?cmd, "starting the local session");
    let mut child = cmd.spawn().map_err(|source| SessionError::Spawn {
        java: provisioned.java.path.clone(),
        source,
    })?;
    let pid = child.id();
    let started = Instant::now();
    loop {
        if let Some(Ok(session)) = read(dir)
            && session.pid == pid
        {
            // Reap the JVM when it ends, so that it leaves no zombie in a long-lived caller.
            std::thread::spawn(move || child.wait());
            return Ok(session);
        }
        let exited = matches!(child.try_wait(), Ok(Some(_)));
        if exited || started.elapsed() > START_TIMEOUT {
            if !exited {
                let _ = killpg(Pid::from_raw(pid as i32), Signal::SIGKILL);
                let _ = child.wait();
            }
            let _ = std::fs::remove_file(&settings_file);
            return Err(SessionError::DidNotStart {
                tail: tail(&log, 20),
                log,
            });
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The last `lines` lines of a file.
fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Stops the session in `dir`, if one runs, and forgets it (a later run will not start one).
/// Returns the session that was stopped.
pub fn down(dir: &Path) -> Result<Option<Session>, SessionError> {
    if !dir.exists() {
        return Ok(None);
    }
    let _lock = lock(dir)?;
    let found = read(dir);
    let _ = std::fs::remove_file(dir.join("settings.json"));
    match found {
        Some(Ok(session)) => {
            stop(&session)?;
            Ok(Some(session))
        }
        Some(Err(_)) => {
            for file in ["session.json", "token"] {
                let _ = std::fs::remove_file(dir.join(file));
            }
            Ok(None)
        }
        None => Ok(None),
    }
}

/// Asks the session to stop, then waits for its JVM to end (killing it after 30 s).
fn stop(session: &Session) -> Result<(), SessionError> {
    let asked = std::net::TcpStream::connect(("127.0.0.1", session.port)).and_then(|mut s| {
        s.set_read_timeout(Some(Duration::from_secs(30)))?;
        writeln!(
            s,
            "{}",
            serde_json::json!({"token": session.token, "stop": true})
        )?;
        let mut answer = String::new();
        BufReader::new(s).read_line(&mut answer)?;
        Ok(answer)
    });
    if let Err(err) = &asked {
        tracing::debug!(pid = session.pid, "asking the session to stop: {err}");
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while is_session_jvm(session.pid) {
        if Instant::now() > deadline {
            tracing::warn!(
                pid = session.pid,
                "the local session did not stop; killing it"
            );
            let _ = killpg(Pid::from_raw(session.pid as i32), Signal::SIGKILL);
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    for file in ["session.json", "token"] {
        let _ = std::fs::remove_file(session.dir.join(file));
    }
    Ok(())
}

impl Session {
    /// Whether it accepts connections (a hung or half-dead JVM does not).
    fn answers(&self) -> bool {
        let address = std::net::SocketAddr::from(([127, 0, 0, 1], self.port));
        std::net::TcpStream::connect_timeout(&address, Duration::from_secs(2)).is_ok()
    }

    /// Opens a run: sends the runner's arguments and returns the connection, on which the
    /// session answers with `o `/`e ` lines and a last `x <exit code>` (see the runner's
    /// `LocalSession`). Writing `cancel`, or closing it, cancels the run's job.
    pub async fn open(&self, args: &[String]) -> Result<tokio::net::TcpStream, SessionError> {
        use tokio::io::AsyncWriteExt;
        let unreachable = |source| SessionError::Unreachable {
            port: self.port,
            source,
        };
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", self.port))
            .await
            .map_err(unreachable)?;
        stream.set_nodelay(true).map_err(unreachable)?;
        let request = serde_json::json!({"token": self.token, "run": args}).to_string() + "\n";
        stream
            .write_all(request.as_bytes())
            .await
            .map_err(unreachable)?;
        Ok(stream)
    }

    /// Runs the runner with `args` in the session and returns its stdout lines and exit code
    /// (its stderr lines are logged at debug level).
    pub async fn run_to_end(&self, args: &[String]) -> Result<(Vec<String>, i32), SessionError> {
        use tokio::io::AsyncBufReadExt;
        let stream = self.open(args).await?;
        let mut lines = tokio::io::BufReader::new(stream).lines();
        let mut out = Vec::new();
        while let Some(line) =
            lines
                .next_line()
                .await
                .map_err(|source| SessionError::Unreachable {
                    port: self.port,
                    source,
                })?
        {
            match Line::parse(&line) {
                Line::Out(text) => out.push(text.to_string()),
                Line::Err(text) => tracing::debug!("session: {text}"),
                Line::Exit(code) => return Ok((out, code)),
            }
        }
        Err(SessionError::Unreachable {
            port: self.port,
            source: std::io::ErrorKind::UnexpectedEof.into(),
        })
    }
}

/// One line of a session's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Line<'a> {
    /// A line of the run's stdout (an event, or a `print` sink's row).
    Out(&'a str),
    /// A line of the run's stderr.
    Err(&'a str),
    /// The run's exit code: the last line.
    Exit(i32),
}

impl<'a> Line<'a> {
    /// Parses a line of the session's answer; anything unexpected is stderr.
    pub fn parse(line: &'a str) -> Self {
        match line.split_at_checked(2) {
            Some(("o ", text)) => Self::Out(text),
            Some(("x ", code)) => code.trim().parse().map_or(Self::Err(line), Self::Exit),
            Some(("e ", text)) => Self::Err(text),
            _ => Self::Err(line),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answer_lines_are_tagged_by_stream() {
        assert_eq!(Line::parse("o out> +I[a, 4]"), Line::Out("out> +I[a, 4]"));
        assert_eq!(Line::parse("o "), Line::Out(""));
        assert_eq!(Line::parse("e error: x"), Line::Err("error: x"));
        assert_eq!(Line::parse("x 2"), Line::Exit(2));
        assert_eq!(Line::parse("x two"), Line::Err("x two"));
        assert_eq!(Line::parse("?"), Line::Err("?"));
    }

    #[test]
    fn settings_record_the_idle_timeout_in_seconds() {
        let settings = Settings {
            exit_with: Some(42),
            ..Settings::default()
        };
        let json = serde_json::to_value(&settings).unwrap();
        assert_eq!(json["idle_timeout"], 900);
        let back: Settings = serde_json::from_value(json).unwrap();
        assert_eq!(back, settings);
    }

    #[test]
    fn files_without_a_live_jvm_are_a_crashed_session() {
        let dir = tempfile::tempdir().unwrap();
        assert!(read(dir.path()).is_none());
        std::fs::write(
            dir.path().join("session.json"),
            r#"{"pid":4194303,"port":1,"web_ui":"http://localhost:1","slots":1,"idle_timeout_s":1}"#,
        )
        .unwrap();
        let crashed = read(dir.path()).unwrap().unwrap_err();
        assert_eq!(crashed.pid, 4194303);
        assert!(find(dir.path()).is_none());
    }
}
