//! The Docker stack's images, `flinkit/<service>:<version>`, made once on an engine and reused.
//!
//! Each adds, to a base with Java (or PostgreSQL), the same Maven Central jars the process
//! runtime runs ([`Cache::stack_classpath`]) under `/opt/flinkit/lib`, so both runtimes run the
//! same classes with the same settings. The base is the official image (`flink`,
//! `apache/kafka`, `apachepulsar/pulsar`, `postgres`) when the engine can pull it; otherwise one
//! built here:
//!
//! - `flinkit/debian:bookworm`: `debootstrap --variant=minbase bookworm` imported as an image
//!   (needs root and Debian's `debootstrap`);
//! - `flinkit/jre:17`: that base with Debian's `openjdk-17-jre-headless`;
//! - `flinkit/postgres:15`: that base with Debian's `postgresql-15`.
//!
//! An image is reused while its `org.flinkit.jars` label matches the jars the cache holds now
//! (a new stack version or pom builds it again). `flinkit stack images build` builds the
//! service images from the Debian base whatever can be pulled.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use bollard::query_parameters::{BuildImageOptions, CreateImageOptions};
use futures::StreamExt as _;
use sha2::{Digest, Sha256};

use super::docker::Engine;
use super::{Event, Service, StackError, io};
use crate::provision::Cache;
use crate::versions;

/// The Debian base, made with debootstrap.
pub const DEBIAN: &str = "flinkit/debian:bookworm";
/// The Debian base with Java 17.
pub const JRE: &str = "flinkit/jre:17";
/// Where the jars are in a service's image.
pub const LIB: &str = "/opt/flinkit/lib";
/// The PostgreSQL major version: Debian 12's, the one the process runtime runs here.
pub const POSTGRES_MAJOR: u32 = 15;
/// The Debian mirror debootstrap and apt-get use.
const MIRROR: &str = "http://deb.debian.org/debian";
/// The label holding a hash of the image's jars.
const JARS_LABEL: &str = "org.flinkit.jars";
/// The label naming the image an image was built from.
const FROM_LABEL: &str = "org.flinkit.from";

/// One of the stack's images.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StackImage {
    /// The JobManager, the TaskManager and the SQL Gateway.
    Flink,
    /// The Kafka broker.
    Kafka,
    /// Pulsar standalone.
    Pulsar,
    /// The PostgreSQL server.
    Postgres,
    /// The Schema Registry: Java only, its application mounted from the cache (as the runner
    /// jar reaches the Flink containers).
    SchemaRegistry,
}

impl StackImage {
    /// Every image, in the stack's order.
    pub const ALL: [StackImage; 5] = [
        Self::Flink,
        Self::Kafka,
        Self::Pulsar,
        Self::Postgres,
        Self::SchemaRegistry,
    ];

    /// The image a service runs in.
    pub fn of(service: Service) -> Self {
        match service {
            Service::Flink | Service::Gateway => Self::Flink,
            Service::Kafka => Self::Kafka,
            Service::Pulsar => Self::Pulsar,
            Service::Postgres => Self::Postgres,
            Service::SchemaRegistry => Self::SchemaRegistry,
        }
    }

    /// The images `services` need, each once.
    pub fn for_services(services: &[Service]) -> Vec<Self> {
        Self::ALL
            .into_iter()
            .filter(|image| services.iter().any(|&s| Self::of(s) == *image))
            .collect()
    }

    /// Its name (`flinkit/<name>:<version>`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Flink => "flink",
            Self::Kafka => "kafka",
            Self::Pulsar => "pulsar",
            Self::Postgres => "postgres",
            Self::SchemaRegistry => "schema-registry",
        }
    }

    /// The version of what it runs (the process runtime's).
    pub fn version(self) -> String {
        let property = |name| versions::property(name).unwrap_or("unknown").to_string();
        match self {
            Self::Flink => versions::flink().to_string(),
            Self::Kafka => property("kafka.version"),
            Self::Pulsar => property("pulsar.version"),
            Self::Postgres => POSTGRES_MAJOR.to_string(),
            Self::SchemaRegistry => property("apicurio.registry.version"),
        }
    }

    /// `flinkit/<service>:<version>`.
    pub fn tag(self) -> String {
        format!("flinkit/{}:{}", self.name(), self.version())
    }

    /// The official image of the same version (the compose file's).
    pub fn official(self) -> String {
        let version = self.version();
        match self {
            Self::Flink => format!("flink:{version}-java17"),
            Self::Kafka => format!("apache/kafka:{version}"),
            Self::Pulsar => format!("apachepulsar/pulsar:{version}"),
            Self::Postgres => format!("postgres:{version}"),
            Self::SchemaRegistry => format!("apicurio/apicurio-registry-mem:{version}"),
        }
    }

    /// The stack pom whose jars it holds (PostgreSQL has none).
    fn pom(self) -> Option<&'static str> {
        match self {
            Self::Flink => Some("flink"),
            Self::Kafka => Some("kafka"),
            Self::Pulsar => Some("pulsar"),
            Self::Postgres | Self::SchemaRegistry => None,
        }
    }

    fn title(self) -> String {
        let version = self.version();
        match self {
            Self::Flink => format!("Flink {version} cluster and SQL Gateway"),
            Self::Kafka => format!("Kafka {version} broker"),
            Self::Pulsar => format!("Pulsar {version} standalone"),
            Self::Postgres => format!("PostgreSQL {version}"),
            Self::SchemaRegistry => format!("Schema Registry (Apicurio Registry {version})"),
        }
    }
}

/// An image ready on the engine.
#[derive(Debug, Clone)]
pub struct Ready {
    /// Which one.
    pub image: StackImage,
    /// Its tag.
    pub tag: String,
    /// Its jars, in classpath order, as paths inside the image.
    pub classpath: Vec<PathBuf>,
}

/// Whether to pull the official bases or build everything here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Reuse a matching image; else build on the official image when it can be pulled, else
    /// on the Debian base.
    Reuse,
    /// Build the service images again on the Debian base (`flinkit stack images build`).
    Build,
}

/// Makes sure `images` are on the engine (see the module's documentation), saying on
/// `progress` which are built and why.
pub fn ensure(
    engine: &Engine,
    images: &[StackImage],
    cache: &Cache,
    source: Source,
    progress: &mut dyn FnMut(Event),
) -> Result<Vec<Ready>, StackError> {
    let mut ready = Vec::new();
    for &image in images {
        let jars = match image.pom() {
            Some(pom) => cache.stack_classpath(pom, &image.title(), false, &mut |p| {
                progress(Event::Provision(p))
            })?,
            None => Vec::new(),
        };
        let hash = jars_hash(&jars);
        let tag = image.tag();
        let present = engine.image_labels(&tag)?;
        let current = present
            .as_ref()
            .is_some_and(|labels| labels.get(JARS_LABEL) == Some(&hash));
        let why = match (source, present.is_some(), current) {
            (Source::Reuse, _, true) => None,
            (Source::Build, ..) => Some("`flinkit stack images build`".to_string()),
            (Source::Reuse, false, _) => Some(format!("{tag} is not on the engine")),
            (Source::Reuse, true, false) => Some(format!("{tag} holds other jars")),
        };
        if let Some(why) = why {
            build(engine, image, &jars, &hash, source, &why, progress)?;
        }
        ready.push(Ready {
            image,
            tag,
            classpath: jars.iter().map(|jar| in_image(jar)).collect(),
        });
    }
    Ok(ready)
}

/// Where a jar of the cache is in an image.
fn in_image(jar: &Path) -> PathBuf {
    Path::new(LIB).join(jar.file_name().unwrap_or_default())
}

/// A hash of the jars' names and sizes (names carry versions).
fn jars_hash(jars: &[PathBuf]) -> String {
    let mut hasher = Sha256::new();
    for jar in jars {
        let size = std::fs::metadata(jar).map(|m| m.len()).unwrap_or_default();
        hasher.update(format!("{} {size}\n", jar.display()).as_bytes());
    }
    let hex: String = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    hex[..16].to_string()
}

/// Builds one service image: on the official image when it can be pulled (unless `source` is
/// [`Source::Build`]), else on the Debian base.
fn build(
    engine: &Engine,
    image: StackImage,
    jars: &[PathBuf],
    hash: &str,
    source: Source,
    why: &str,
    progress: &mut dyn FnMut(Event),
) -> Result<(), StackError> {
    let tag = image.tag();
    let official = image.official();
    let local = match image {
        StackImage::Postgres => DEBIAN,
        _ => JRE,
    };
    let (from, why) = match source {
        Source::Build => (local.to_string(), why.to_string()),
        Source::Reuse => match engine.pull(&official) {
            Ok(()) => (official.clone(), why.to_string()),
            Err(cannot) => (
                local.to_string(),
                format!("{why}, and {official} cannot be pulled ({cannot})"),
            ),
        },
    };
    if from == local {
        ensure_local_base(engine, local, progress).map_err(|e| StackError::Image {
            image: tag.clone(),
            reason: format!("{why}; building it here failed: {e}"),
        })?;
    }
    progress(Event::Building {
        image: tag.clone(),
        from: from.clone(),
        why: why.clone(),
    });
    let started = Instant::now();
    let mut dockerfile = format!("FROM {from}\nUSER root\n");
    match image {
        StackImage::Postgres if from == DEBIAN => dockerfile.push_str(&format!(
            "RUN {}\n",
            apt_install(&format!("postgresql-{POSTGRES_MAJOR}"))
        )),
        StackImage::Postgres | StackImage::SchemaRegistry => {}
        _ => dockerfile.push_str(&format!("COPY lib/ {LIB}/\n")),
    }
    if image == StackImage::Postgres {
        dockerfile.push_str(&format!(
            "RUN mkdir -p /var/lib/postgresql/data && chown postgres:postgres /var/lib/postgresql/data\n\
             ENV PATH=/usr/lib/postgresql/{POSTGRES_MAJOR}/bin:$PATH\n"
        ));
    }
    dockerfile.push_str(&format!(
        "LABEL {JARS_LABEL}=\"{hash}\" {FROM_LABEL}=\"{from}\"\n"
    ));
    let files: Vec<(String, &Path)> = jars
        .iter()
        .map(|jar| {
            let name = jar.file_name().unwrap_or_default().to_string_lossy();
            (format!("lib/{name}"), jar.as_path())
        })
        .collect();
    engine
        .build(&tag, &dockerfile, &files)
        .map_err(|reason| StackError::Image {
            image: tag.clone(),
            reason: format!("{why}; building it on {from} failed: {reason}"),
        })?;
    progress(Event::Built(tag, started.elapsed()));
    Ok(())
}

/// `apt-get install` of Debian packages, with no service started and the lists removed.
fn apt_install(packages: &str) -> String {
    format!(
        "printf '#!/bin/sh\\nexit 101\\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d \
         && mkdir -p /etc/postgresql-common \
         && echo 'create_main_cluster = false' >/etc/postgresql-common/createcluster.conf \
         && apt-get update -qq \
         && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends {packages} \
         && apt-get clean && rm -rf /var/lib/apt/lists/* /usr/sbin/policy-rc.d"
    )
}

/// Makes `flinkit/debian:bookworm` (and `flinkit/jre:17` when `base` is it) unless present.
fn ensure_local_base(
    engine: &Engine,
    base: &str,
    progress: &mut dyn FnMut(Event),
) -> Result<(), StackError> {
    if engine.image_labels(DEBIAN)?.is_none() {
        let why = "the Debian base of the images built here".to_string();
        progress(Event::Building {
            image: DEBIAN.into(),
            from: format!("debootstrap --variant=minbase bookworm {MIRROR}"),
            why,
        });
        let started = Instant::now();
        import_debian(engine)?;
        progress(Event::Built(DEBIAN.into(), started.elapsed()));
    }
    if base == JRE && engine.image_labels(JRE)?.is_none() {
        progress(Event::Building {
            image: JRE.into(),
            from: DEBIAN.into(),
            why: "Java for the images built here".into(),
        });
        let started = Instant::now();
        let dockerfile = format!(
            "FROM {DEBIAN}\nRUN {}\n",
            apt_install("openjdk-17-jre-headless")
        );
        engine
            .build(JRE, &dockerfile, &[])
            .map_err(|reason| StackError::Image {
                image: JRE.into(),
                reason,
            })?;
        progress(Event::Built(JRE.into(), started.elapsed()));
    }
    Ok(())
}

/// `debootstrap --variant=minbase bookworm` into a folder, imported as `flinkit/debian:bookworm`.
fn import_debian(engine: &Engine) -> Result<(), StackError> {
    let failed = |reason: String| StackError::Image {
        image: DEBIAN.into(),
        reason,
    };
    if !nix::unistd::geteuid().is_root() {
        return Err(failed(
            "debootstrap needs root: run `sudo flinkit stack images build` once".into(),
        ));
    }
    let dir = tempfile::Builder::new()
        .prefix("flinkit-debian-")
        .tempdir()
        .map_err(|e| failed(format!("no temporary folder: {e}")))?;
    let root = dir.path().join("rootfs");
    let log = dir.path().join("debootstrap.log");
    let out = std::fs::File::create(&log).map_err(io(&log))?;
    let status = Command::new("debootstrap")
        .args(["--variant=minbase", "bookworm"])
        .arg(&root)
        .arg(MIRROR)
        .stdin(Stdio::null())
        .stdout(out.try_clone().map_err(io(&log))?)
        .stderr(out)
        .status()
        .map_err(|e| {
            failed(format!(
                "cannot run debootstrap ({e}): apt-get install debootstrap"
            ))
        })?;
    if !status.success() {
        let tail = super::diagnose::tail(&log, 5).replace('\n', " | ");
        return Err(failed(format!("debootstrap failed ({status}): {tail}")));
    }
    for leftover in ["var/cache/apt/archives", "var/lib/apt/lists"] {
        let path = root.join(leftover);
        if let Ok(entries) = std::fs::read_dir(&path) {
            for entry in entries.flatten() {
                if entry.file_type().is_ok_and(|t| t.is_file()) {
                    let _ = std::fs::remove_file(entry.path());
                }
            }
        }
    }
    // The tar program keeps device files, owners and links exactly as debootstrap made them.
    let archive = Command::new("tar")
        .arg("-C")
        .arg(&root)
        .args(["--numeric-owner", "-cf", "-", "."])
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| failed(format!("cannot run tar: {e}")))?;
    if !archive.status.success() {
        return Err(failed(format!(
            "tar of the root file system failed: {}",
            String::from_utf8_lossy(&archive.stderr).trim()
        )));
    }
    engine.import(DEBIAN, archive.stdout).map_err(failed)
}

impl Engine {
    /// The labels of a local image, `None` when the engine does not have it.
    pub fn image_labels(&self, tag: &str) -> Result<Option<HashMap<String, String>>, StackError> {
        match self.block_on(self.docker().inspect_image(tag)) {
            Ok(image) => Ok(Some(
                image
                    .config
                    .and_then(|config| config.labels)
                    .unwrap_or_default(),
            )),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(None),
            Err(source) => Err(StackError::DockerApi {
                what: format!("inspecting the image {tag}"),
                source,
            }),
        }
    }

    /// Pulls an image; the engine's reason when it cannot.
    pub fn pull(&self, image: &str) -> Result<(), String> {
        let options = CreateImageOptions {
            from_image: Some(image.to_string()),
            ..Default::default()
        };
        self.block_on(async {
            let mut stream = self.docker().create_image(Some(options), None, None);
            while let Some(item) = stream.next().await {
                let info = item.map_err(|e| api_message(&e))?;
                if let Some(error) = info.error_detail.and_then(|d| d.message) {
                    return Err(error);
                }
            }
            Ok(())
        })
    }

    /// Builds `tag` from a Dockerfile and `files` (name in the context, path here), with the
    /// host's network (apt-get reaches Debian's mirror as this machine does).
    pub fn build(
        &self,
        tag: &str,
        dockerfile: &str,
        files: &[(String, &Path)],
    ) -> Result<(), String> {
        let context = build_context(dockerfile, files).map_err(|e| e.to_string())?;
        let options = BuildImageOptions {
            t: Some(tag.to_string()),
            dockerfile: "Dockerfile".into(),
            rm: true,
            forcerm: true,
            networkmode: Some("host".into()),
            ..Default::default()
        };
        self.block_on(async {
            let mut stream =
                self.docker()
                    .build_image(options, None, Some(bollard::body_full(context.into())));
            let mut last = Vec::new();
            while let Some(item) = stream.next().await {
                let info = item.map_err(|e| api_message(&e))?;
                if let Some(error) = info.error_detail.and_then(|d| d.message) {
                    return Err(format!("{error} (after: {})", last.join(" | ")));
                }
                if let Some(line) = info.stream.map(|s| s.trim().to_string())
                    && !line.is_empty()
                {
                    tracing::debug!(target: "flinkit::docker::build", "{line}");
                    last.push(line);
                    if last.len() > 3 {
                        last.remove(0);
                    }
                }
            }
            Ok(())
        })
    }

    /// Imports a root file system (a tar archive) as the image `tag` (`docker import`).
    fn import(&self, tag: &str, archive: Vec<u8>) -> Result<(), String> {
        let (repo, version) = tag.split_once(':').unwrap_or((tag, "latest"));
        let options = CreateImageOptions {
            from_src: Some("-".into()),
            repo: Some(repo.into()),
            tag: Some(version.into()),
            changes: vec!["CMD [\"bash\"]".into()],
            ..Default::default()
        };
        self.block_on(async {
            let mut stream = self.docker().create_image(
                Some(options),
                Some(bollard::body_full(archive.into())),
                None,
            );
            while let Some(item) = stream.next().await {
                let info = item.map_err(|e| api_message(&e))?;
                if let Some(error) = info.error_detail.and_then(|d| d.message) {
                    return Err(error);
                }
            }
            Ok(())
        })
    }
}

/// The engine's message of an API error (without bollard's wrapping).
fn api_message(err: &bollard::errors::Error) -> String {
    match err {
        bollard::errors::Error::DockerResponseServerError { message, .. } => message.clone(),
        bollard::errors::Error::DockerStreamError { error } => error.clone(),
        other => other.to_string(),
    }
}

/// A build context: the Dockerfile and the files, as a tar archive.
fn build_context(dockerfile: &str, files: &[(String, &Path)]) -> std::io::Result<Vec<u8>> {
    let mut archive = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_size(dockerfile.len() as u64);
    header.set_mode(0o644);
    header.set_cksum();
    archive.append_data(&mut header, "Dockerfile", dockerfile.as_bytes())?;
    for (name, path) in files {
        archive.append_path_with_name(path, name)?;
    }
    archive.into_inner()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_are_tagged_with_the_stack_versions() {
        assert_eq!(
            StackImage::Flink.tag(),
            format!("flinkit/flink:{}", versions::flink())
        );
        assert_eq!(StackImage::Postgres.tag(), "flinkit/postgres:15");
        assert_eq!(StackImage::Postgres.official(), "postgres:15");
        assert_eq!(
            StackImage::for_services(&[Service::Gateway, Service::Flink, Service::Postgres]),
            [StackImage::Flink, StackImage::Postgres]
        );
    }

    #[test]
    fn a_build_context_holds_the_dockerfile_and_the_files() {
        let dir = tempfile::tempdir().unwrap();
        let jar = dir.path().join("a.jar");
        std::fs::write(&jar, b"jar").unwrap();
        let context = build_context("FROM x\n", &[("lib/a.jar".into(), &jar)]).unwrap();
        let mut archive = tar::Archive::new(context.as_slice());
        let names: Vec<String> = archive
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().display().to_string())
            .collect();
        assert_eq!(names, ["Dockerfile", "lib/a.jar"]);
    }

    #[test]
    fn the_jars_hash_changes_with_the_jars() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a-1.jar");
        let b = dir.path().join("a-2.jar");
        std::fs::write(&a, b"1").unwrap();
        std::fs::write(&b, b"1").unwrap();
        assert_eq!(
            jars_hash(std::slice::from_ref(&a)),
            jars_hash(std::slice::from_ref(&a))
        );
        assert_ne!(jars_hash(&[a]), jars_hash(&[b]));
    }
}
