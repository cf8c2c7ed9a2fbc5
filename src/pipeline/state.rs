//! The content hash of each deployed job, kept in a small JSON file per cluster and job name.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::PipelineError;

/// What a deploy recorded about a job it launched.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(super) struct Record {
    /// The job id it was launched as.
    pub job_id: String,
    /// The content hash of its statements.
    pub hash: String,
    /// The savepoint a `--keep-state` upgrade stopped the job with when Flink then refused
    /// to resume from it: the next `--keep-state` deploy starts from it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub savepoint: Option<String>,
}

/// `root/<cluster>/<name>.json`, with the cluster's address and the name made file-safe.
fn path(root: &Path, cluster: &str, name: &str) -> PathBuf {
    let digest = Sha256::digest(cluster.as_bytes());
    let key: String = digest[..6].iter().map(|b| format!("{b:02x}")).collect();
    let file: String = name
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    root.join(key).join(format!("{file}.json"))
}

fn failed(path: PathBuf) -> impl FnOnce(std::io::Error) -> PipelineError {
    move |source| PipelineError::State { path, source }
}

/// The record of job `name` on `cluster`, if there is one (an unreadable record counts as none).
pub(super) fn read(
    root: &Path,
    cluster: &str,
    name: &str,
) -> Result<Option<Record>, PipelineError> {
    let path = path(root, cluster, name);
    match std::fs::read(&path) {
        Ok(bytes) => Ok(serde_json::from_slice(&bytes).ok()),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(err) => Err(failed(path)(err)),
    }
}

/// Records job `name` on `cluster`.
pub(super) fn write(
    root: &Path,
    cluster: &str,
    name: &str,
    record: &Record,
) -> Result<(), PipelineError> {
    let path = path(root, cluster, name);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(failed(dir.to_path_buf()))?;
    }
    let json = serde_json::to_vec(record)
        .map_err(std::io::Error::other)
        .map_err(failed(path.clone()))?;
    std::fs::write(&path, json).map_err(failed(path))
}

/// Forgets job `name` on `cluster`.
pub(super) fn remove(root: &Path, cluster: &str, name: &str) -> Result<(), PipelineError> {
    let path = path(root, cluster, name);
    match std::fs::remove_file(&path) {
        Err(err) if err.kind() != std::io::ErrorKind::NotFound => Err(failed(path)(err)),
        _ => Ok(()),
    }
}
