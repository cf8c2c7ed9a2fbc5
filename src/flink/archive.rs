//! The class-data-sharing archive (AppCDS) of the runner jar and the Flink runtime: the classes
//! a local run loads, parsed and verified once and then mapped into every later JVM, which
//! makes a local job or `validate --deep` start seconds sooner.
//!
//! The archive is made by a training run: the runner runs [`TRAINING_STATEMENTS`], a tiny bounded
//! job through the planner and a MiniCluster, with `-XX:ArchiveClassesAtExit` (JDK 13+; the
//! automatic `-XX:+AutoCreateSharedArchive` needs JDK 19, and Java 17 is the floor). A dedicated
//! run rather than the user's first job because the archive is written only when the JVM exits
//! normally — a streaming, detached or interrupted job never does — and because dumping adds
//! seconds to whichever run does it; planning alone (`--explain`) would miss the MiniCluster's
//! and the task runtime's classes.
//!
//! The archive lives beside the runtime it belongs to, named by a key over the runner jar's
//! SHA-256, the runtime's jar manifest, the JVM options and `java -version`: a change to any of
//! them means a new archive, and the old ones are removed once it is in place. It is written to
//! a temporary file, checked by a JVM that must map it (`-Xshare:on`), and renamed into place
//! before its manifest (SHA-256 and size) is written. A missing or damaged archive (a size that
//! differs from its manifest, or with `verify` a checksum) is rebuilt; a JVM that still cannot
//! use one runs without it (`-Xshare:auto`), so the archive never fails a job. A failed training
//! run leaves a marker so that later runs do not pay for it again until the key changes.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use sha2::{Digest, Sha256};

use super::local::runner_command;
use crate::provision::{Progress, ProvisionError, Provisioned, sha256_file};
use crate::versions;

/// The training job: a bounded job with the shape of the tutorials' (inline rows, a view, a
/// deduplication and an aggregation into a `print` sink), so that its run loads the planner's,
/// the code generator's and the MiniCluster's classes.
pub const TRAINING_STATEMENTS: &[&str] = &[
    "SET 'execution.runtime-mode' = 'batch'",
    "SET 'parallelism.default' = '1'",
    "CREATE TEMPORARY VIEW training_rows (id, grp, name, version) AS VALUES \
     ('a', 'x', 'first', 1), ('b', 'x', 'second', 1), ('a', 'x', 'third', 2), ('c', 'y', 'fourth', 1)",
    "CREATE TEMPORARY VIEW training_latest AS SELECT id, grp, name FROM (SELECT *, \
     ROW_NUMBER() OVER (PARTITION BY id ORDER BY version DESC) AS rn FROM training_rows) \
     WHERE rn = 1",
    "CREATE TABLE training_sink (grp STRING, n BIGINT, names STRING) \
     WITH ('connector' = 'print', 'print-identifier' = 'training')",
    "INSERT INTO training_sink SELECT grp, COUNT(*), LISTAGG(UPPER(name)) \
     FROM training_latest WHERE name LIKE '%r%' OR grp <> 'z' GROUP BY grp",
];

/// Why the archive could not be built or checked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ArchiveError {
    /// A file operation failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path involved.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Checksumming a file failed.
    #[error(transparent)]
    Checksum(#[from] ProvisionError),
    /// The training run did not finish its job.
    #[error("the training run failed ({status}); see {}", log.display())]
    Training {
        /// How the JVM exited.
        status: String,
        /// The JVM's output.
        log: PathBuf,
    },
    /// A JVM could not map the archive the training run wrote.
    #[error("the JVM cannot use the archive it wrote; see {}", log.display())]
    Unusable {
        /// The checking JVM's output.
        log: PathBuf,
    },
    /// An earlier training run for this key failed; it is not tried again.
    #[error("an earlier training run failed (remove {} to try again)", marker.display())]
    FailedBefore {
        /// The marker it left.
        marker: PathBuf,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ArchiveError + '_ {
    move |source| ArchiveError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The state of the archive on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// In place and matching its manifest.
    Ready,
    /// Not built yet.
    Missing,
    /// Present but not matching its manifest (or without one).
    Damaged,
}

/// The class-data archive for one runner jar, runtime and Java, in a directory of archives.
#[derive(Debug, Clone)]
pub struct ClassArchive {
    dir: PathBuf,
    key: String,
}

impl ClassArchive {
    /// The archive in `dir` for the runner jar with `runner_sha256`, the runtime whose jars
    /// `runtime_manifest` lists, and the Java that printed `java_version`.
    pub fn new(
        dir: &Path,
        runner_sha256: &str,
        runtime_manifest: &Path,
        java_version: &str,
    ) -> Result<Self, ArchiveError> {
        let runtime = std::fs::read(runtime_manifest).map_err(io(runtime_manifest))?;
        let mut hasher = Sha256::new();
        for part in [
            runner_sha256.as_bytes(),
            &runtime,
            versions::jvm_options().join(" ").as_bytes(),
            java_version.as_bytes(),
        ] {
            hasher.update((part.len() as u64).to_le_bytes());
            hasher.update(part);
        }
        let key = hasher.finalize()[..8]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        Ok(Self {
            dir: dir.to_path_buf(),
            key,
        })
    }

    /// The key: a hash of everything the archive depends on.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The archive file (`<key>.jsa`).
    pub fn path(&self) -> PathBuf {
        self.dir.join(format!("{}.jsa", self.key))
    }

    fn manifest(&self) -> PathBuf {
        self.dir.join(format!("{}.jsa.sha256", self.key))
    }

    fn failed_marker(&self) -> PathBuf {
        self.dir.join(format!("{}.failed", self.key))
    }

    fn log(&self) -> PathBuf {
        self.dir.join(format!("{}.log", self.key))
    }

    /// Whether the archive is in place and matches its manifest's size (and, with `verify`,
    /// its SHA-256).
    fn state(&self, verify: bool) -> Result<State, ArchiveError> {
        let Ok(meta) = std::fs::metadata(self.path()) else {
            return Ok(State::Missing);
        };
        let Ok(manifest) = std::fs::read_to_string(self.manifest()) else {
            return Ok(State::Damaged);
        };
        let mut parts = manifest.split_whitespace();
        let (Some(sha), Some(size)) = (parts.next(), parts.next()) else {
            return Ok(State::Damaged);
        };
        if size.parse::<u64>().ok() != Some(meta.len())
            || (verify && sha256_file(&self.path())? != sha)
        {
            return Ok(State::Damaged);
        }
        Ok(State::Ready)
    }

    /// The archive to run with: the cached one, else one built now by a training run of
    /// `provisioned` (reported through `progress`). A damaged archive is removed and rebuilt.
    pub fn prepare(
        &self,
        provisioned: &Provisioned,
        verify: bool,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<Option<PathBuf>, ArchiveError> {
        let step = "class-data archive".to_string();
        if self.state(verify)? == State::Ready {
            progress(Progress::Cached(step));
            return Ok(Some(self.path()));
        }
        std::fs::create_dir_all(&self.dir).map_err(io(&self.dir))?;
        let lock_path = self.dir.join(".lock");
        let lock = File::create(&lock_path).map_err(io(&lock_path))?;
        lock.lock().map_err(io(&lock_path))?;
        match self.state(verify)? {
            State::Ready => {
                progress(Progress::Cached(step));
                return Ok(Some(self.path()));
            }
            State::Damaged => {
                tracing::debug!(archive = %self.path().display(), "the class-data archive does not match its manifest; rebuilding it");
                self.remove()?;
            }
            State::Missing => {}
        }
        let marker = self.failed_marker();
        if marker.exists() {
            return Err(ArchiveError::FailedBefore { marker });
        }
        progress(Progress::Started(
            "building the class-data archive for fast JVM starts (first time only)".into(),
        ));
        let started = Instant::now();
        match self.build(provisioned) {
            Ok(()) => {
                progress(Progress::Done(step, started.elapsed()));
                Ok(Some(self.path()))
            }
            Err(err) => {
                let _ = std::fs::write(&marker, err.to_string());
                Err(err)
            }
        }
    }

    /// Removes the archive and its manifest.
    fn remove(&self) -> Result<(), ArchiveError> {
        for path in [self.manifest(), self.path()] {
            match std::fs::remove_file(&path) {
                Err(err) if err.kind() != std::io::ErrorKind::NotFound => {
                    return Err(io(&path)(err));
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Runs the training job, checks the archive it wrote, moves it into place, writes its
    /// manifest and removes the archives of other keys.
    fn build(&self, provisioned: &Provisioned) -> Result<(), ArchiveError> {
        let scratch = tempfile::Builder::new()
            .prefix(".training-")
            .tempdir_in(&self.dir)
            .map_err(io(&self.dir))?;
        let statements = scratch.path().join("statements.json");
        std::fs::write(
            &statements,
            serde_json::Value::from(TRAINING_STATEMENTS.to_vec()).to_string(),
        )
        .map_err(io(&statements))?;
        let tmp = scratch.path().join("archive.jsa");
        let log = self.log();
        let output = File::create(&log).map_err(io(&log))?;
        let untrained = Provisioned {
            class_archive: None,
            ..provisioned.clone()
        };
        let dump = format!("-XX:ArchiveClassesAtExit={}", tmp.display());
        let out = runner_command(
            &untrained,
            "1g",
            &[dump.as_str(), "-XX:TieredStopAtLevel=1"],
        )
        .arg("--statements-file")
        .arg(&statements)
        .arg("--job-name")
        .arg("flinkit class-data training")
        .stdin(Stdio::null())
        .stderr(output.try_clone().map_err(io(&log))?)
        .output()
        .map_err(io(&provisioned.java.path))?;
        (&output).write_all(&out.stdout).map_err(io(&log))?;
        let finished = String::from_utf8_lossy(&out.stdout)
            .lines()
            .any(|l| l.contains(r#""event":"finished""#));
        if !out.status.success() || !finished || !tmp.is_file() {
            return Err(ArchiveError::Training {
                status: out.status.to_string(),
                log,
            });
        }
        let mut check = Command::new(&provisioned.java.path);
        check
            .arg("-Xshare:on")
            .arg(format!("-XX:SharedArchiveFile={}", tmp.display()))
            .args(versions::jvm_options())
            .arg("-cp")
            .arg(provisioned.classpath_arg())
            .arg("-version")
            .stdin(Stdio::null())
            .stdout(output.try_clone().map_err(io(&log))?)
            .stderr(output.try_clone().map_err(io(&log))?);
        if !check
            .status()
            .map_err(io(&provisioned.java.path))?
            .success()
        {
            return Err(ArchiveError::Unusable { log });
        }
        let sha = sha256_file(&tmp)?;
        let size = std::fs::metadata(&tmp).map_err(io(&tmp))?.len();
        std::fs::rename(&tmp, self.path()).map_err(io(&self.path()))?;
        let manifest_tmp = scratch.path().join("manifest");
        std::fs::write(&manifest_tmp, format!("{sha} {size}\n")).map_err(io(&manifest_tmp))?;
        std::fs::rename(&manifest_tmp, self.manifest()).map_err(io(&self.manifest()))?;
        self.remove_others();
        Ok(())
    }

    /// Removes the archives, manifests, logs and markers of other keys (a previous runner
    /// jar's or Java's).
    fn remove_others(&self) {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let ours = name.starts_with(&format!("{}.", self.key));
            let archive_file = [".jsa", ".jsa.sha256", ".log", ".failed"]
                .iter()
                .any(|ext| name.ends_with(ext));
            if !ours
                && archive_file
                && !name.starts_with('.')
                && let Err(err) = std::fs::remove_file(entry.path())
            {
                tracing::debug!(file = name, "cannot remove a stale archive file: {err}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn archive(dir: &Path, runner: &str) -> ClassArchive {
        let manifest = dir.join("lib.sha256");
        if !manifest.exists() {
            std::fs::write(&manifest, "abc 3 lib/a.jar\n").unwrap();
        }
        ClassArchive::new(&dir.join("cds"), runner, &manifest, "openjdk 17.0.21").unwrap()
    }

    #[test]
    fn the_key_changes_with_the_runner_the_runtime_and_java() {
        let dir = tempfile::tempdir().unwrap();
        let manifest = dir.path().join("lib.sha256");
        std::fs::write(&manifest, "abc 3 lib/a.jar\n").unwrap();
        let key = |runner: &str, java: &str| {
            ClassArchive::new(dir.path(), runner, &manifest, java)
                .unwrap()
                .key()
                .to_string()
        };
        let base = key("runner-1", "17.0.21");
        assert_eq!(base, key("runner-1", "17.0.21"), "stable");
        assert_ne!(base, key("runner-2", "17.0.21"), "another runner jar");
        assert_ne!(base, key("runner-1", "21.0.5"), "another Java");
        std::fs::write(&manifest, "abd 3 lib/a.jar\n").unwrap();
        assert_ne!(base, key("runner-1", "17.0.21"), "another runtime");
    }

    #[test]
    fn a_damaged_archive_is_noticed() {
        let dir = tempfile::tempdir().unwrap();
        let archive = archive(dir.path(), "runner-1");
        assert_eq!(archive.state(false).unwrap(), State::Missing);
        std::fs::create_dir_all(&archive.dir).unwrap();
        std::fs::write(archive.path(), b"archive bytes").unwrap();
        assert_eq!(archive.state(false).unwrap(), State::Damaged, "no manifest");
        let sha = sha256_file(&archive.path()).unwrap();
        std::fs::write(archive.manifest(), format!("{sha} 13\n")).unwrap();
        assert_eq!(archive.state(true).unwrap(), State::Ready);
        std::fs::write(archive.path(), b"archive bytez").unwrap();
        assert_eq!(archive.state(false).unwrap(), State::Ready, "same size");
        assert_eq!(archive.state(true).unwrap(), State::Damaged, "checksum");
        std::fs::write(archive.path(), b"archive").unwrap();
        assert_eq!(archive.state(false).unwrap(), State::Damaged, "truncated");
        archive.remove().unwrap();
        assert_eq!(archive.state(false).unwrap(), State::Missing);
    }

    #[test]
    fn other_keys_archives_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let old = archive(dir.path(), "runner-1");
        let new = archive(dir.path(), "runner-2");
        std::fs::create_dir_all(&old.dir).unwrap();
        for path in [old.path(), old.manifest(), new.path(), new.manifest()] {
            std::fs::write(path, b"x").unwrap();
        }
        std::fs::write(old.dir.join(".lock"), b"").unwrap();
        new.remove_others();
        assert!(!old.path().exists() && !old.manifest().exists());
        assert!(new.path().exists() && new.manifest().exists());
        assert!(old.dir.join(".lock").exists());
    }
}
