//! The stack's PostgreSQL: the server this machine's packages installed (Debian's
//! `postgresql`, in `/usr/lib/postgresql/<major>/bin`), initialised and run by flinkit under the
//! stack's state directory — no system cluster, no service manager.
//!
//! `initdb` makes a cluster whose superuser is `flinkit`, trusted on loopback (`--auth=trust`),
//! then the server in single-user mode creates the database `flinkit`; both happen in a
//! directory beside the data directory that is renamed into place only when they succeed, so a
//! half-initialised cluster is never taken for a ready one. The server listens on `localhost`
//! only, on the stack's `postgres_port`, with no Unix socket (a socket path under a deep state
//! directory can exceed the 107 bytes a socket address holds).
//!
//! PostgreSQL refuses to run as root. When flinkit is root, each server program runs in a user
//! namespace of its own (`unshare --user`, util-linux) in which it is the `postgres` user: it
//! has no capabilities and a non-root uid in its namespace, while the files it writes stay
//! owned by the stack's owner, so the data directory can live under any state directory root
//! can reach (`/root/.local/state`, a private temporary folder) and `down --purge` deletes it.
//! Handing the data directory to the `postgres` user instead would need every folder above it
//! to be open to that user, which `/root` and temporary folders are not.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use super::{Ports, Service, StackError, diagnose, io};

/// The database and the user the stack's server has.
pub const DATABASE: &str = "flinkit";

/// The JDBC URL a table's `url` takes to reach the stack's server.
pub fn jdbc_url(ports: &Ports) -> String {
    format!(
        "jdbc:postgresql://localhost:{}/{DATABASE}",
        ports.postgres_port
    )
}

/// The folder the Debian packages install each major version's server programs under.
pub(crate) const DEBIAN_ROOT: &str = "/usr/lib/postgresql";

/// An installed PostgreSQL server: the folder holding `initdb` and `postgres`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Server {
    bin: PathBuf,
}

impl Server {
    /// The newest server the Debian packages installed, else the `initdb` and `postgres` on
    /// `PATH` (other systems install them there).
    pub fn find() -> Result<Self, StackError> {
        let newest = std::fs::read_dir(DEBIAN_ROOT)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|entry| {
                let major: u32 = entry.file_name().to_str()?.parse().ok()?;
                let bin = entry.path().join("bin");
                Self::has_programs(&bin).then_some((major, bin))
            })
            .max_by_key(|(major, _)| *major);
        if let Some((_, bin)) = newest {
            return Ok(Self { bin });
        }
        std::env::var_os("PATH")
            .iter()
            .flat_map(std::env::split_paths)
            .find(|dir| Self::has_programs(dir))
            .map(|bin| Self { bin })
            .ok_or(StackError::NoPostgres)
    }

    fn has_programs(dir: &Path) -> bool {
        ["initdb", "postgres"]
            .iter()
            .all(|program| dir.join(program).is_file())
    }

    /// The folder of its programs.
    pub fn bin(&self) -> &Path {
        &self.bin
    }

    /// Its major version, from `postgres --version` (`postgres (PostgreSQL) 15.18 (Debian …)`).
    pub fn major_version(&self) -> Result<u32, StackError> {
        let program = self.bin.join("postgres");
        let out = Command::new(&program)
            .arg("--version")
            .stdin(Stdio::null())
            .output()
            .map_err(|source| StackError::Spawn {
                what: program.display().to_string(),
                source,
            })?;
        let text = String::from_utf8_lossy(&out.stdout);
        text.split_whitespace()
            .find_map(|word| word.split('.').next()?.parse().ok())
            .ok_or_else(|| StackError::Spawn {
                what: program.display().to_string(),
                source: std::io::Error::other(format!("unexpected version: {}", text.trim())),
            })
    }

    /// A command running one of its programs, in a user namespace as the `postgres` user when
    /// flinkit is root (see the module's documentation).
    pub(crate) fn command(&self, program: &str) -> Result<Command, StackError> {
        let path = self.bin.join(program);
        if !nix::unistd::geteuid().is_root() {
            return Ok(Command::new(path));
        }
        let user = nix::unistd::User::from_name("postgres")
            .ok()
            .flatten()
            .ok_or(StackError::NoPostgresUser)?;
        let mut command = Command::new("unshare");
        command
            .arg("--user")
            .arg(format!("--map-user={}", user.uid))
            .arg(format!("--map-group={}", user.gid))
            .arg("--")
            .arg(path);
        Ok(command)
    }

    /// Makes `data` a cluster with the user and database `flinkit`, unless it is one already
    /// (`PG_VERSION` is written last by `initdb`, and the directory is renamed into place only
    /// after the database exists). Its output goes to `log`.
    pub(crate) fn initialise(&self, data: &Path, log: &Path) -> Result<(), StackError> {
        if data.join("PG_VERSION").is_file() {
            return Ok(());
        }
        let fresh = data.with_extension("init");
        if fresh.exists() {
            std::fs::remove_dir_all(&fresh).map_err(io(&fresh))?;
        }
        let out = File::create(log).map_err(io(log))?;
        let mut initdb = self.command("initdb")?;
        initdb
            .arg("--pgdata")
            .arg(&fresh)
            .args([
                "--username",
                DATABASE,
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "--no-instructions",
            ])
            .stdin(Stdio::null());
        self.run(initdb, "initdb", &out, log)?;
        // Single-user mode runs as the bootstrap superuser, whatever the system user is called.
        let mut single = self.command("postgres")?;
        single
            .args(["--single", "-j", "-D"])
            .arg(&fresh)
            .arg("postgres")
            .stdin(Stdio::piped());
        let create = format!("CREATE DATABASE {DATABASE};\n");
        self.run_with_input(single, "postgres --single", &out, log, &create)?;
        std::fs::rename(&fresh, data).map_err(io(data))
    }

    fn run(
        &self,
        mut command: Command,
        what: &str,
        out: &File,
        log: &Path,
    ) -> Result<(), StackError> {
        let status = command
            .stdout(out.try_clone().map_err(io(log))?)
            .stderr(out.try_clone().map_err(io(log))?)
            .status()
            .map_err(|source| spawn_error(what, source))?;
        check(status, what, log)
    }

    fn run_with_input(
        &self,
        mut command: Command,
        what: &str,
        out: &File,
        log: &Path,
        input: &str,
    ) -> Result<(), StackError> {
        use std::io::Write as _;
        let mut child = command
            .stdout(out.try_clone().map_err(io(log))?)
            .stderr(out.try_clone().map_err(io(log))?)
            .spawn()
            .map_err(|source| spawn_error(what, source))?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin
                .write_all(input.as_bytes())
                .map_err(|source| spawn_error(what, source))?;
        }
        let status = child.wait().map_err(|source| spawn_error(what, source))?;
        check(status, what, log)
    }

    /// The server on `data`: `localhost:port` only, no Unix socket, its log on stderr.
    pub(crate) fn server(&self, data: &Path, port: u16) -> Result<Command, StackError> {
        let mut command = self.command("postgres")?;
        command
            .arg("-D")
            .arg(data)
            .args(["-p", &port.to_string()])
            .args(["-c", "listen_addresses=localhost"])
            .args(["-c", "unix_socket_directories="])
            // A local stack's share of this machine's memory (the default is 128 MB).
            .args(["-c", "shared_buffers=64MB"])
            .args(["-c", "log_line_prefix=%m [%p] "]);
        Ok(command)
    }
}

fn spawn_error(what: &str, source: std::io::Error) -> StackError {
    StackError::Spawn {
        what: what.to_string(),
        source,
    }
}

fn check(status: std::process::ExitStatus, what: &str, log: &Path) -> Result<(), StackError> {
    if status.success() {
        return Ok(());
    }
    Err(StackError::Unhealthy {
        service: Service::Postgres,
        waited: Duration::ZERO,
        reason: format!("initialising its data with {what} failed ({status})"),
        cause: None,
        tail: diagnose::tail(log, 20),
        log: log.to_path_buf(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_programs_are_not_a_server() {
        let dir = tempfile::tempdir().unwrap();
        assert!(!Server::has_programs(dir.path()));
        std::fs::write(dir.path().join("initdb"), "").unwrap();
        assert!(!Server::has_programs(dir.path()), "postgres is missing");
        std::fs::write(dir.path().join("postgres"), "").unwrap();
        assert!(Server::has_programs(dir.path()));
    }
}
