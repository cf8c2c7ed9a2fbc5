//! Project settings from `flinkit.toml`: the `[cluster]` section gives the default target and
//! the Flink REST and SQL Gateway addresses. Flags win over `FLINKIT_*` environment variables,
//! which win over the file, which wins over the built-in defaults. (The `[stack]` section
//! belongs to [`crate::stack`].)

use std::path::Path;

use serde::Deserialize;

/// The `[cluster]` section.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cluster {
    /// `local`, `rest` or `gateway`.
    pub target: Option<String>,
    /// The JobManager REST address.
    pub flink_url: Option<String>,
    /// The SQL Gateway address.
    pub gateway_url: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct File {
    #[serde(default)]
    cluster: Cluster,
}

/// Why `flinkit.toml` could not be used.
#[derive(Debug, thiserror::Error)]
#[error("{}: {message}", path.display())]
pub struct ConfigError {
    /// The file.
    pub path: std::path::PathBuf,
    /// What is wrong.
    pub message: String,
}

/// The `[cluster]` settings of `path`; empty when the file does not exist.
pub fn cluster(path: &Path) -> Result<Cluster, ConfigError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Cluster::default()),
        Err(err) => {
            return Err(ConfigError {
                path: path.to_path_buf(),
                message: err.to_string(),
            });
        }
    };
    let file: File = toml::from_str(&text).map_err(|e| ConfigError {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    Ok(file.cluster)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cluster_section_and_its_absence() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("flinkit.toml");
        assert_eq!(cluster(&path).unwrap(), Cluster::default());
        std::fs::write(
            &path,
            "[stack]\nflink_port = 18081\n\n[cluster]\ntarget = \"rest\"\nflink_url = \"http://flink:8081\"\n",
        )
        .unwrap();
        let c = cluster(&path).unwrap();
        assert_eq!(c.target.as_deref(), Some("rest"));
        assert_eq!(c.flink_url.as_deref(), Some("http://flink:8081"));
        std::fs::write(&path, "[cluster]\nflink_ulr = \"x\"\n").unwrap();
        assert!(cluster(&path).unwrap_err().message.contains("flink_ulr"));
    }
}
