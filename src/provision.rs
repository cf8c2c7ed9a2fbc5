//! Provisioning: obtains, caches and verifies what the JVM side needs — Java 17+, Maven, the
//! runner jar (built with Maven from the `jars/` sources embedded in this binary, cached under
//! the hash of those sources) and the Flink runtime classpath for local runs (resolved from
//! Maven Central, cached under the Flink version) — so that later runs work offline.
//!
//! Layout of the cache (`$FLINKIT_CACHE_DIR`, else `$XDG_CACHE_HOME/flinkit`, else
//! `~/.cache/flinkit`):
//!
//! ```text
//! runner/<sources-hash>/flink-sql-runner.jar   + .sha256 (`<sources-hash>-2.2/` for Flink 2.x)
//! flink-<version>-<pom-hash>/lib/*.jar         + lib.sha256 (one "sha256 size name" per jar)
//! flink-<version>-<pom-hash>/cds/<key>.jsa     + .sha256: the class-data archive (about 100 MB)
//! stack-<service>-<pom-hash>/lib/*.jar         the local stack's services (`jars/stack/*/pom.xml`)
//! src/<sources-hash>/                          the extracted Maven project (one per Flink line)
//! jars-<artifacts-hash>/lib/*.jar               + lib.sha256: connector jars and their dependencies
//! described-<jars-hash>.json                    the factories and class conflicts of a set of jars
//! job-<jars-hash>.jar                           the runner with the extra jars nested (for REST)
//! ```

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::connectors::resolve::Artifact;
use crate::flink::archive;
use crate::flink::line::FlinkLine;
use crate::versions;

/// What the runner found in a set of extra jars ([`Cache::describe`]).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Described {
    /// The `--describe-connectors` answer, with only the connectors and formats the runner
    /// does not bundle.
    pub catalog: serde_json::Value,
    /// Factories that failed to load (a class missing, built for another Flink line).
    pub load_errors: Vec<String>,
    /// Classes the classpath carries twice in different versions.
    pub conflicts: Vec<crate::jars::Conflict>,
}

/// A pom whose dependencies are `artifacts`, for `dependency:copy-dependencies`.
fn artifacts_pom(artifacts: &[Artifact]) -> String {
    let dependencies: String = artifacts
        .iter()
        .map(|a| {
            format!(
                "<dependency><groupId>{}</groupId><artifactId>{}</artifactId><version>{}</version></dependency>",
                a.group, a.artifact, a.version
            )
        })
        .collect();
    format!(
        "<project xmlns=\"http://maven.apache.org/POM/4.0.0\"><modelVersion>4.0.0</modelVersion>\
         <groupId>dev.flinkit</groupId><artifactId>extra-jars</artifactId><version>1</version>\
         <dependencies>{dependencies}</dependencies></project>\n"
    )
}

/// Whether Maven's output says `coordinates` (`G:A:V`) does not exist.
fn missing_artifact(tail: &str, coordinates: &str) -> bool {
    let mut parts = coordinates.splitn(3, ':');
    let (Some(g), Some(a), Some(v)) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    tail.lines().any(|l| {
        (l.contains("Could not find artifact") || l.contains("was not found in"))
            && l.contains(&format!("{g}:{a}:jar:{v}"))
    })
}

/// Why provisioning failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProvisionError {
    /// No `java` was found.
    #[error("Java 17 or newer is needed to run Flink, but `{command}` could not be run")]
    JavaMissing {
        /// The command tried.
        command: String,
    },
    /// `java` is older than 17.
    #[error("Java 17 or newer is needed to run Flink, but `{command}` is Java {found}")]
    JavaTooOld {
        /// The command tried.
        command: String,
        /// Its major version.
        found: u32,
    },
    /// No `mvn` was found.
    #[error("Maven is needed to build the runner jar and fetch Flink, but `mvn` could not be run")]
    MavenMissing,
    /// Neither `FLINKIT_CACHE_DIR`, `XDG_CACHE_HOME` nor `HOME` is set.
    #[error("no cache directory: set FLINKIT_CACHE_DIR")]
    NoCacheDir,
    /// A Maven run failed.
    #[error("{what} failed; the end of its log ({}):\n{tail}", log.display())]
    Maven {
        /// What was being done.
        what: String,
        /// The last lines of Maven's output.
        tail: String,
        /// The full log.
        log: PathBuf,
    },
    /// A cached file no longer matches its checksum.
    #[error("{} changed since it was cached; run `flinkit setup --force`", path.display())]
    Corrupt {
        /// The damaged file.
        path: PathBuf,
    },
    /// A Maven artifact does not exist.
    #[error("Maven Central has no artifact {artifact}")]
    NoArtifact {
        /// The `G:A:V` asked for.
        artifact: String,
    },
    /// A jar could not be read, or the combined job jar written.
    #[error(transparent)]
    Jar(#[from] crate::jars::JarError),
    /// The runner could not describe the factories of the extra jars.
    #[error("the factories of the extra jars could not be described: {message}")]
    Describe {
        /// The runner's error (the last lines of its output).
        message: String,
    },
    /// A file operation failed.
    #[error("{}", path.display())]
    Io {
        /// The path involved.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

impl ProvisionError {
    /// The command or step that fixes it, when there is one.
    pub fn fix(&self) -> Option<&'static str> {
        match self {
            Self::JavaMissing { .. } | Self::JavaTooOld { .. } => Some(
                "install Java 17: `apt-get install openjdk-17-jdk-headless` (or point JAVA_HOME at a JDK 17+)",
            ),
            Self::MavenMissing => Some("install Maven: `apt-get install maven`"),
            Self::Maven { .. } => Some(
                "check that Maven Central is reachable (`mvn dependency:get -Dartifact=org.apache.flink:flink-core:1.20.3`), then run `flinkit setup` again",
            ),
            _ => None,
        }
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ProvisionError + '_ {
    move |source| ProvisionError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// A Java runtime.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Java {
    /// The `java` executable.
    pub path: PathBuf,
    /// Its major version (17, 21, …).
    pub major: u32,
    /// What `java -version` printed (vendor, version and build): the class-data archive is
    /// keyed by it.
    pub version: String,
}

/// Finds `$JAVA_HOME/bin/java`, else `java` on the `PATH`, and checks it is Java 17 or newer.
pub fn find_java() -> Result<Java, ProvisionError> {
    let path = std::env::var_os("JAVA_HOME")
        .map(|home| PathBuf::from(home).join("bin/java"))
        .filter(|p| p.exists())
        .unwrap_or_else(|| PathBuf::from("java"));
    let command = path.display().to_string();
    let out =
        Command::new(&path)
            .arg("-version")
            .output()
            .map_err(|_| ProvisionError::JavaMissing {
                command: command.clone(),
            })?;
    let text = String::from_utf8_lossy(&out.stderr);
    let major = parse_java_major(&text).ok_or(ProvisionError::JavaMissing {
        command: command.clone(),
    })?;
    if major < 17 {
        return Err(ProvisionError::JavaTooOld {
            command,
            found: major,
        });
    }
    Ok(Java {
        path,
        major,
        version: text.trim().to_string(),
    })
}

/// The major version in `java -version` output (`"17.0.15"` → 17, `"1.8.0_392"` → 8).
fn parse_java_major(text: &str) -> Option<u32> {
    let start = text.find("version \"")? + "version \"".len();
    let version = &text[start..];
    let mut parts = version.split(|c: char| !c.is_ascii_digit());
    let first: u32 = parts.next()?.parse().ok()?;
    if first == 1 {
        parts.next()?.parse().ok()
    } else {
        Some(first)
    }
}

/// Checks that `mvn` runs.
pub fn find_maven() -> Result<PathBuf, ProvisionError> {
    let mvn = PathBuf::from("mvn");
    let ok = Command::new(&mvn)
        .arg("-v")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if ok {
        Ok(mvn)
    } else {
        Err(ProvisionError::MavenMissing)
    }
}

/// A provisioning step's progress, for a progress display.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// A step started; it may take long (Maven downloads).
    Started(String),
    /// Maven has downloaded `bytes` for the running step in `elapsed` since it started: sent as
    /// its downloads complete (at most about twice a second) and once more when Maven ends.
    Downloaded {
        /// The bytes downloaded so far.
        bytes: u64,
        /// Since the step started.
        elapsed: Duration,
    },
    /// A step finished after this long.
    Done(String, Duration),
    /// A step was already done: the cached result is used.
    Cached(String),
}

/// What a local run needs.
#[derive(Debug, Clone)]
pub struct Provisioned {
    /// The Java runtime.
    pub java: Java,
    /// The generic job jar.
    pub runner_jar: PathBuf,
    /// The Flink runtime jars for an embedded MiniCluster.
    pub classpath: Vec<PathBuf>,
    /// The class-data-sharing archive of the runner and the runtime for this Java, when one
    /// could be built ([`crate::flink::archive`]); the JVM starts faster with it.
    pub class_archive: Option<PathBuf>,
    /// Connector jars and user jars, after the runtime (none unless a script needs them).
    pub extra_jars: Vec<PathBuf>,
}

impl Provisioned {
    /// The `-cp` value: the runner jar, then the Flink runtime, then the extra jars (last, so
    /// that the class-data archive of the first two still applies).
    pub fn classpath_arg(&self) -> String {
        std::iter::once(&self.runner_jar)
            .chain(&self.classpath)
            .chain(&self.extra_jars)
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(":")
    }
}

/// The cache directory and the operations on it, for one Flink line (the runner jar, the
/// local runtime and the stack's Flink are the line's; connector jars are shared).
#[derive(Debug, Clone)]
pub struct Cache {
    root: PathBuf,
    line: FlinkLine,
}

impl Cache {
    /// The cache at `root`, for the default Flink line.
    pub fn at(root: impl Into<PathBuf>) -> Self {
        Self {
            root: root.into(),
            line: FlinkLine::default(),
        }
    }

    /// The same cache for Flink `line`.
    pub fn for_line(&self, line: FlinkLine) -> Self {
        Self {
            root: self.root.clone(),
            line,
        }
    }

    /// The Flink line this cache provisions for.
    pub fn line(&self) -> FlinkLine {
        self.line
    }

    /// `-2.2` after a folder name for a line other than the default (whose folders keep the
    /// names they always had).
    fn line_suffix(&self) -> String {
        if self.line.is_default() {
            String::new()
        } else {
            format!("-{}", self.line)
        }
    }

    /// The cache from `FLINKIT_CACHE_DIR`, `XDG_CACHE_HOME` or `HOME` ([`crate::config::cache_dir`]).
    pub fn from_env() -> Result<Self, ProvisionError> {
        crate::config::cache_dir()
            .map(Self::at)
            .map_err(|_| ProvisionError::NoCacheDir)
    }

    /// The cache's root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Everything a local run needs, provisioning what is missing. With `verify`, every cached
    /// file's checksum is checked; otherwise only its presence and size.
    pub fn provision(
        &self,
        verify: bool,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<Provisioned, ProvisionError> {
        let java = find_java()?;
        let runner_jar = self.runner_jar(verify, progress)?;
        let classpath = self.local_classpath(verify, progress)?;
        let runner_sha256 = self.runner_jar_sha256(&runner_jar)?;
        let mut provisioned = Provisioned {
            java,
            runner_jar,
            classpath,
            class_archive: None,
            extra_jars: Vec::new(),
        };
        let runtime = self.runtime_dir();
        provisioned.class_archive = archive::ClassArchive::new(
            &runtime.join("cds"),
            &runner_sha256,
            &runtime.join("lib.sha256"),
            &provisioned.java.version,
        )
        .and_then(|archive| archive.prepare(&provisioned, verify, progress))
        .unwrap_or_else(|err| {
            tracing::debug!("running without a class-data archive: {err}");
            None
        });
        Ok(provisioned)
    }

    /// Removes what `provision` would otherwise reuse, so the next call rebuilds it.
    pub fn clear(&self) -> Result<(), ProvisionError> {
        let _lock = self.lock()?;
        for dir in [self.runner_dir(), self.runtime_dir()] {
            if dir.exists() {
                std::fs::remove_dir_all(&dir).map_err(io(&dir))?;
            }
        }
        Ok(())
    }

    fn runner_dir(&self) -> PathBuf {
        self.root
            .join("runner")
            .join(format!("{}{}", sources_hash(), self.line_suffix()))
    }

    fn runtime_dir(&self) -> PathBuf {
        let hash = poms_hash(|p| p.starts_with("flink-local-runtime/"));
        self.root.join(format!(
            "flink-{}-{}",
            self.line.flink_version(),
            &hash[..12]
        ))
    }

    /// The runner jar: `FLINKIT_RUNNER_JAR` when set, else the cached build of the embedded
    /// sources, built with Maven when missing.
    pub fn runner_jar(
        &self,
        verify: bool,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<PathBuf, ProvisionError> {
        if let Some(jar) = std::env::var_os("FLINKIT_RUNNER_JAR").map(PathBuf::from) {
            return if jar.is_file() {
                Ok(jar)
            } else {
                Err(ProvisionError::Io {
                    path: jar,
                    source: std::io::ErrorKind::NotFound.into(),
                })
            };
        }
        let dir = self.runner_dir();
        let jar = dir.join("flink-sql-runner.jar");
        let manifest = dir.join("flink-sql-runner.jar.sha256");
        let step = "runner jar".to_string();
        if check_manifest(&dir, &manifest, verify)? {
            progress(Progress::Cached(step));
            return Ok(jar);
        }
        let _lock = self.lock()?;
        if check_manifest(&dir, &manifest, verify)? {
            progress(Progress::Cached(step));
            return Ok(jar);
        }
        progress(Progress::Started(format!(
            "building the runner jar with Maven (Flink {}, first time only)",
            self.line.flink_version()
        )));
        let started = Instant::now();
        find_maven()?;
        let src = self.extract_sources()?;
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        let log = dir.join("build.log");
        let pom = src.join("pom.xml").display().to_string();
        let mut args = vec![
            "-f",
            &pom,
            "-pl",
            "flink-sql-runner",
            "-am",
            "package",
            "-DskipTests",
        ];
        let line_args = self.line.maven_args();
        args.extend(line_args.iter().map(String::as_str));
        maven("building the runner jar", started, progress, &args, &log)?;
        let built = find_built_jar(&src.join("flink-sql-runner/target"))?;
        let tmp = dir.join("flink-sql-runner.jar.tmp");
        std::fs::copy(&built, &tmp).map_err(io(&tmp))?;
        std::fs::rename(&tmp, &jar).map_err(io(&jar))?;
        write_manifest(&dir, &manifest, std::slice::from_ref(&jar))?;
        progress(Progress::Done(step, started.elapsed()));
        Ok(jar)
    }

    /// Whether the runner jar of these sources is cached (its presence only): when it is not,
    /// this is a first run, and the runner jar is built and Flink fetched with Maven.
    pub fn runner_jar_cached(&self) -> bool {
        let dir = self.runner_dir();
        check_manifest(&dir, &dir.join("flink-sql-runner.jar.sha256"), false).unwrap_or(false)
    }

    /// The SHA-256 of the runner jar, from its cache manifest (computed when it is not cached,
    /// e.g. with `FLINKIT_RUNNER_JAR`).
    pub fn runner_jar_sha256(&self, jar: &Path) -> Result<String, ProvisionError> {
        let manifest = self.runner_dir().join("flink-sql-runner.jar.sha256");
        if jar.starts_with(self.runner_dir())
            && let Ok(text) = std::fs::read_to_string(&manifest)
            && let Some(sha) = text.split_whitespace().next()
        {
            return Ok(sha.to_string());
        }
        sha256_file(jar)
    }

    /// The Flink runtime classpath for local runs, resolved with Maven when missing.
    pub fn local_classpath(
        &self,
        verify: bool,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<Vec<PathBuf>, ProvisionError> {
        self.resolve_classpath(
            &self.runtime_dir(),
            "flink-local-runtime/pom.xml",
            &format!("Flink {} runtime", self.line.flink_version()),
            verify,
            progress,
        )
    }

    /// The runtime classpath of one of the local stack's services, described by the embedded
    /// pom `jars/stack/<name>/pom.xml` (`kafka`, `pulsar`, `flink`), resolved with Maven into
    /// `stack-<name>-<pom-hash>/lib/` when missing. `title` names it in progress messages.
    pub fn stack_classpath(
        &self,
        name: &str,
        title: &str,
        verify: bool,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<Vec<PathBuf>, ProvisionError> {
        let pom = format!("stack/{name}/pom.xml");
        if !versions::jar_sources::FILES.iter().any(|(p, _)| *p == pom) {
            return Err(ProvisionError::Io {
                path: PathBuf::from("jars").join(&pom),
                source: std::io::ErrorKind::NotFound.into(),
            });
        }
        let hash = poms_hash(|p| p == pom);
        // Only Flink's classpath depends on the line.
        let line = if name == "flink" {
            self.line_suffix()
        } else {
            String::new()
        };
        let dir = self
            .root
            .join(format!("stack-{name}-{}{line}", &hash[..12]));
        self.resolve_classpath(&dir, &pom, title, verify, progress)
    }

    /// The runnable jar of one of the stack's applications that must be built rather than only
    /// fetched (the Schema Registry, a Quarkus application: see
    /// `jars/stack/<name>/pom.xml`), built with Maven into `stack-<name>-<pom-hash>/app/` once
    /// and listed with its files' SHA-256 in `app.sha256`. Returns `app/quarkus-app/<name>-runner.jar`
    /// (its libraries in `lib/` beside it, named by its manifest).
    pub fn stack_application(
        &self,
        name: &str,
        title: &str,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<PathBuf, ProvisionError> {
        let pom = format!("stack/{name}/pom.xml");
        let prefix = format!("stack/{name}/");
        if !versions::jar_sources::FILES.iter().any(|(p, _)| *p == pom) {
            return Err(ProvisionError::Io {
                path: PathBuf::from("jars").join(&pom),
                source: std::io::ErrorKind::NotFound.into(),
            });
        }
        let hash = poms_hash(|p| p.starts_with(&prefix));
        let dir = self.root.join(format!("stack-{name}-{}", &hash[..12]));
        let app = dir.join("app");
        let jar = app.join("quarkus-app").join(format!("{name}-runner.jar"));
        let manifest = dir.join("app.sha256");
        let step = title.to_string();
        if check_manifest(&app, &manifest, false)? {
            progress(Progress::Cached(step));
            return Ok(jar);
        }
        let _lock = self.lock()?;
        if !check_manifest(&app, &manifest, false)? {
            progress(Progress::Started(format!(
                "building the {step} from Maven Central's artifacts (first time only)"
            )));
            let started = Instant::now();
            find_maven()?;
            let src = self.extract_sources()?;
            std::fs::create_dir_all(&dir).map_err(io(&dir))?;
            let tmp = dir.join("app.tmp");
            if tmp.exists() {
                std::fs::remove_dir_all(&tmp).map_err(io(&tmp))?;
            }
            maven(
                &format!("building the {step}"),
                started,
                progress,
                &[
                    "-f",
                    &src.join(&pom).display().to_string(),
                    "package",
                    &format!("-Dregistry.output={}", tmp.display()),
                ],
                &dir.join("build.log"),
            )?;
            if app.exists() {
                std::fs::remove_dir_all(&app).map_err(io(&app))?;
            }
            std::fs::rename(&tmp, &app).map_err(io(&app))?;
            let mut files: Vec<PathBuf> = walkdir::WalkDir::new(&app)
                .into_iter()
                .filter_map(Result::ok)
                .filter(|e| e.file_type().is_file())
                .map(walkdir::DirEntry::into_path)
                .collect();
            files.sort();
            write_manifest(&app, &manifest, &files)?;
            progress(Progress::Done(step, started.elapsed()));
        } else {
            progress(Progress::Cached(step));
        }
        Ok(jar)
    }

    /// The jars of Maven `artifacts` and their runtime dependencies (Flink's own modules left
    /// out: the runner and the cluster have them), fetched with Maven into
    /// `jars-<hash of the sorted coordinates>/lib/` once, Maven checking each download against
    /// Central's checksums, and listed with their SHA-256 in `lib.sha256` (checked on every
    /// later use: sizes always, hashes with `verify`).
    pub fn artifact_jars(
        &self,
        artifacts: &[Artifact],
        verify: bool,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<Vec<PathBuf>, ProvisionError> {
        if artifacts.is_empty() {
            return Ok(Vec::new());
        }
        let mut coordinates: Vec<String> = artifacts.iter().map(Artifact::to_string).collect();
        coordinates.sort();
        coordinates.dedup();
        let mut hasher = Sha256::new();
        for c in &coordinates {
            hasher.update(c.as_bytes());
            hasher.update(b"\n");
        }
        let dir = self
            .root
            .join(format!("jars-{}", &hex(&hasher.finalize())[..16]));
        let manifest = dir.join("lib.sha256");
        let step = coordinates.join(", ");
        if check_manifest(&dir, &manifest, verify)? {
            progress(Progress::Cached(step));
            return read_manifest(&dir, &manifest);
        }
        let _lock = self.lock()?;
        if !check_manifest(&dir, &manifest, verify)? {
            progress(Progress::Started(format!(
                "fetching {step} from Maven Central (first time only)"
            )));
            let started = Instant::now();
            find_maven()?;
            std::fs::create_dir_all(&dir).map_err(io(&dir))?;
            let pom = dir.join("pom.xml");
            std::fs::write(&pom, artifacts_pom(artifacts)).map_err(io(&pom))?;
            let tmp = dir.join("lib.tmp");
            if tmp.exists() {
                std::fs::remove_dir_all(&tmp).map_err(io(&tmp))?;
            }
            let log = dir.join("fetch.log");
            let fetched = maven(
                &format!("fetching {step}"),
                started,
                progress,
                &[
                    "-C",
                    "-f",
                    &pom.display().to_string(),
                    "dependency:copy-dependencies",
                    &format!("-DoutputDirectory={}", tmp.display()),
                    "-DincludeScope=runtime",
                    "-DexcludeGroupIds=org.apache.flink",
                    "-DexcludeTransitive=false",
                ],
                &log,
            );
            if let Err(ProvisionError::Maven { tail, .. }) = &fetched
                && let Some(missing) = coordinates.iter().find(|c| missing_artifact(tail, c))
            {
                return Err(ProvisionError::NoArtifact {
                    artifact: missing.clone(),
                });
            }
            fetched?;
            // Flink's own connector and format modules are what was asked for: copy them too
            // (only the transitive Flink modules are left to the runner and the cluster).
            let flink: Vec<&Artifact> = artifacts
                .iter()
                .filter(|a| a.group == "org.apache.flink")
                .collect();
            if !flink.is_empty() {
                maven(
                    &format!("fetching {step}"),
                    started,
                    progress,
                    &[
                        "-C",
                        "-f",
                        &pom.display().to_string(),
                        "dependency:copy-dependencies",
                        &format!("-DoutputDirectory={}", tmp.display()),
                        "-DincludeScope=runtime",
                        "-DexcludeTransitive=true",
                        "-DincludeGroupIds=org.apache.flink",
                    ],
                    &log,
                )?;
            }
            self.leave_out_bundled(&tmp, artifacts, progress)?;
            let lib = dir.join("lib");
            if lib.exists() {
                std::fs::remove_dir_all(&lib).map_err(io(&lib))?;
            }
            std::fs::rename(&tmp, &lib).map_err(io(&lib))?;
            let mut jars: Vec<PathBuf> = std::fs::read_dir(&lib)
                .map_err(io(&lib))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "jar"))
                .collect();
            jars.sort();
            write_manifest(&dir, &manifest, &jars)?;
            progress(Progress::Done(step, started.elapsed()));
        } else {
            progress(Progress::Cached(step));
        }
        read_manifest(&dir, &manifest)
    }

    /// Removes from `lib` the dependency jars that share classes with the runner jar: libraries
    /// the runner bundles (snappy, commons-*), which the artifacts' dependencies bring again in
    /// other versions. The runner's copy serves them, as Flink's own `provided` dependencies do
    /// (the runner is first on the classpath, so its classes win anyway, and keeping the rest of
    /// the other copy would mix two versions). The artifacts asked for always stay.
    fn leave_out_bundled(
        &self,
        lib: &Path,
        wanted: &[Artifact],
        progress: &mut dyn FnMut(Progress),
    ) -> Result<(), ProvisionError> {
        let runner = self.runner_jar(false, progress)?;
        let bundled = crate::jars::classes(&runner)?;
        for entry in std::fs::read_dir(lib).map_err(io(lib))? {
            let jar = entry.map_err(io(lib))?.path();
            let name = jar.file_name().unwrap_or_default().to_string_lossy();
            let asked = wanted
                .iter()
                .any(|a| name == format!("{}-{}.jar", a.artifact, a.version));
            if !asked
                && crate::jars::classes(&jar)?
                    .iter()
                    .any(|c| bundled.contains(c))
            {
                tracing::debug!(jar = %jar.display(), "left out: the runner bundles this library");
                std::fs::remove_file(&jar).map_err(io(&jar))?;
            }
        }
        Ok(())
    }

    /// What the runner's `--describe-connectors` says about the factories `extra_jars` add to
    /// the bundled ones, and the classes the classpath (runner, Flink, `extra_jars`) carries
    /// twice in different versions: computed once per set of jars (keyed by their SHA-256s and
    /// the runner's, and their paths) and kept as `described-<hash>.json`; Java runs only the
    /// first time.
    pub fn describe(
        &self,
        extra_jars: &[PathBuf],
        progress: &mut dyn FnMut(Progress),
    ) -> Result<Described, ProvisionError> {
        let runner = self.runner_jar(false, progress)?;
        let mut hasher = Sha256::new();
        hasher.update(self.runner_jar_sha256(&runner)?.as_bytes());
        for jar in extra_jars {
            // The path too: the conflicts name the jars by their paths.
            hasher.update(jar.as_os_str().as_encoded_bytes());
            hasher.update(sha256_file(jar)?.as_bytes());
        }
        let path = self
            .root
            .join(format!("described-{}.json", &hex(&hasher.finalize())[..16]));
        if let Ok(text) = std::fs::read_to_string(&path)
            && let Ok(described) = serde_json::from_str::<Described>(&text)
        {
            return Ok(described);
        }
        let mut provisioned = self.provision(false, progress)?;
        provisioned.extra_jars = extra_jars.to_vec();
        let provisioned = &provisioned;
        let out =
            crate::flink::local::runner_command(provisioned, "512m", &["-XX:TieredStopAtLevel=1"])
                .arg("--describe-connectors")
                .stdin(Stdio::null())
                .output()
                .map_err(io(&provisioned.java.path))?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        let tail = || {
            let lines: Vec<&str> = stderr.lines().collect();
            lines[lines.len().saturating_sub(5)..].join("\n")
        };
        if !out.status.success() {
            return Err(ProvisionError::Describe { message: tail() });
        }
        let mut catalog: serde_json::Value =
            serde_json::from_slice(&out.stdout).map_err(|err| ProvisionError::Describe {
                message: format!("unreadable answer ({err}); {}", tail()),
            })?;
        let builtin = self.line.catalog();
        let load_errors: Vec<String> = catalog
            .get("load_errors")
            .and_then(|v| serde_json::from_value(v.clone()).ok())
            .unwrap_or_default();
        for (key, bundled) in [("connectors", true), ("formats", false)] {
            if let Some(list) = catalog.get_mut(key).and_then(|v| v.as_array_mut()) {
                list.retain(|entry| {
                    let id = entry["identifier"].as_str().unwrap_or_default();
                    if bundled {
                        builtin.connector(id).is_none()
                    } else {
                        builtin.format(id).is_none()
                    }
                });
            }
        }
        let mut classpath = vec![provisioned.runner_jar.clone()];
        classpath.extend(provisioned.classpath.iter().cloned());
        classpath.extend(provisioned.extra_jars.iter().cloned());
        let described = Described {
            catalog,
            load_errors,
            conflicts: crate::jars::conflicts(&classpath)?,
        };
        let tmp = path.with_extension("tmp");
        let text = serde_json::to_string(&described).map_err(|e| io(&tmp)(e.into()))?;
        std::fs::write(&tmp, text).map_err(io(&tmp))?;
        std::fs::rename(&tmp, &path).map_err(io(&path))?;
        Ok(described)
    }

    /// The job jar for a cluster when a job needs extra jars: the runner jar with them nested
    /// under `lib/` ([`crate::jars::combine`]), built once per set (`job-<hash>.jar`), and its
    /// SHA-256 (what [`crate::flink::rest::RestClient::ensure_jar`] uploads it by).
    pub fn job_jar(
        &self,
        runner_jar: &Path,
        extra_jars: &[PathBuf],
    ) -> Result<(PathBuf, String), ProvisionError> {
        let mut hasher = Sha256::new();
        hasher.update(self.runner_jar_sha256(runner_jar)?.as_bytes());
        for jar in extra_jars {
            hasher.update(sha256_file(jar)?.as_bytes());
            hasher.update(jar.file_name().unwrap_or_default().as_encoded_bytes());
        }
        let jar = self
            .root
            .join(format!("job-{}.jar", &hex(&hasher.finalize())[..16]));
        let manifest = jar.with_extension("jar.sha256");
        if let Ok(text) = std::fs::read_to_string(&manifest)
            && let Some(sha) = text.split_whitespace().next()
            && jar.is_file()
        {
            return Ok((jar, sha.to_string()));
        }
        let _lock = self.lock()?;
        crate::jars::combine(runner_jar, extra_jars, &jar)?;
        let sha = sha256_file(&jar)?;
        std::fs::write(&manifest, format!("{sha}\n")).map_err(io(&manifest))?;
        Ok((jar, sha))
    }

    /// The dependencies of an embedded pom, copied by Maven into `dir/lib` (once), listed in
    /// `dir/lib.sha256`.
    fn resolve_classpath(
        &self,
        dir: &Path,
        pom: &str,
        step: &str,
        verify: bool,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<Vec<PathBuf>, ProvisionError> {
        let lib = dir.join("lib");
        let manifest = dir.join("lib.sha256");
        let step = step.to_string();
        if check_manifest(dir, &manifest, verify)? {
            progress(Progress::Cached(step));
            return read_manifest(dir, &manifest);
        }
        let _lock = self.lock()?;
        if !check_manifest(dir, &manifest, verify)? {
            progress(Progress::Started(format!(
                "fetching the {step} from Maven Central (first time only)"
            )));
            let started = Instant::now();
            find_maven()?;
            let src = self.extract_sources()?;
            let tmp = dir.join("lib.tmp");
            if tmp.exists() {
                std::fs::remove_dir_all(&tmp).map_err(io(&tmp))?;
            }
            std::fs::create_dir_all(dir).map_err(io(dir))?;
            let pom = src.join(pom).display().to_string();
            let output = format!("-DoutputDirectory={}", tmp.display());
            let mut args = vec![
                "-f",
                &pom,
                "dependency:copy-dependencies",
                &output,
                "-DincludeScope=runtime",
            ];
            let line_args = self.line.maven_args();
            args.extend(line_args.iter().map(String::as_str));
            maven(
                &format!("fetching the {step}"),
                started,
                progress,
                &args,
                &dir.join("fetch.log"),
            )?;
            if lib.exists() {
                std::fs::remove_dir_all(&lib).map_err(io(&lib))?;
            }
            std::fs::rename(&tmp, &lib).map_err(io(&lib))?;
            let mut jars: Vec<PathBuf> = std::fs::read_dir(&lib)
                .map_err(io(&lib))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "jar"))
                .collect();
            jars.sort();
            write_manifest(dir, &manifest, &jars)?;
            progress(Progress::Done(step, started.elapsed()));
        } else {
            progress(Progress::Cached(step));
        }
        read_manifest(dir, &manifest)
    }

    /// Writes the embedded Maven project to `src/<hash>/` (once).
    fn extract_sources(&self) -> Result<PathBuf, ProvisionError> {
        // One folder per line: Maven's build output of one line must not meet the other's.
        let src = self
            .root
            .join("src")
            .join(format!("{}{}", sources_hash(), self.line_suffix()));
        let done = src.join(".complete");
        if done.exists() {
            return Ok(src);
        }
        for (rel, bytes) in versions::jar_sources::FILES {
            let path = src.join(rel);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(io(parent))?;
            }
            std::fs::write(&path, bytes).map_err(io(&path))?;
        }
        File::create(&done).map_err(io(&done))?;
        Ok(src)
    }

    /// An exclusive lock on the cache, held while building (tests and users may run several
    /// flinkit processes at once).
    fn lock(&self) -> Result<File, ProvisionError> {
        std::fs::create_dir_all(&self.root).map_err(io(&self.root))?;
        let path = self.root.join(".lock");
        let file = File::create(&path).map_err(io(&path))?;
        file.lock().map_err(io(&path))?;
        Ok(file)
    }
}

/// The hash of the runner's sources (the parent pom and `jars/flink-sql-runner/`): a changed
/// source or version means a new runner jar; the stack's poms do not count.
pub fn sources_hash() -> String {
    poms_hash(|p| p.starts_with("flink-sql-runner/"))[..16].to_string()
}

/// The hash of the parent pom and the embedded files `select` picks: a changed pom or version
/// means a new cache directory.
fn poms_hash(select: impl Fn(&str) -> bool) -> String {
    let mut hasher = Sha256::new();
    for (path, bytes) in versions::jar_sources::FILES
        .iter()
        .filter(|(p, _)| *p == "pom.xml" || select(p))
    {
        hasher.update(path.as_bytes());
        hasher.update(bytes);
    }
    hex(&hasher.finalize())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The SHA-256 of a file, in hex.
pub fn sha256_file(path: &Path) -> Result<String, ProvisionError> {
    let mut file = File::open(path).map_err(io(path))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf).map_err(io(path))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex(&hasher.finalize()))
}

/// Writes `sha256 size relative-path` for each file, after everything else is in place.
fn write_manifest(dir: &Path, manifest: &Path, files: &[PathBuf]) -> Result<(), ProvisionError> {
    let mut text = String::new();
    for file in files {
        let size = std::fs::metadata(file).map_err(io(file))?.len();
        let rel = file.strip_prefix(dir).unwrap_or(file);
        text.push_str(&format!(
            "{} {size} {}\n",
            sha256_file(file)?,
            rel.display()
        ));
    }
    let tmp = manifest.with_extension("tmp");
    let mut out = File::create(&tmp).map_err(io(&tmp))?;
    out.write_all(text.as_bytes()).map_err(io(&tmp))?;
    out.sync_all().map_err(io(&tmp))?;
    std::fs::rename(&tmp, manifest).map_err(io(manifest))
}

fn read_manifest(dir: &Path, manifest: &Path) -> Result<Vec<PathBuf>, ProvisionError> {
    let file = File::open(manifest).map_err(io(manifest))?;
    let mut files = Vec::new();
    for line in BufReader::new(file).lines() {
        let line = line.map_err(io(manifest))?;
        if let Some(rel) = line.splitn(3, ' ').nth(2) {
            files.push(dir.join(rel));
        }
    }
    Ok(files)
}

/// Whether the manifest exists and every file it lists is there with its size (and, with
/// `verify`, its checksum). A checksum mismatch is an error, not a silent rebuild.
fn check_manifest(dir: &Path, manifest: &Path, verify: bool) -> Result<bool, ProvisionError> {
    let Ok(text) = std::fs::read_to_string(manifest) else {
        return Ok(false);
    };
    for line in text.lines() {
        let mut parts = line.splitn(3, ' ');
        let (Some(sha), Some(size), Some(rel)) = (parts.next(), parts.next(), parts.next()) else {
            return Ok(false);
        };
        let path = dir.join(rel);
        let Ok(meta) = std::fs::metadata(&path) else {
            return Ok(false);
        };
        if size.parse::<u64>().ok() != Some(meta.len()) {
            return Err(ProvisionError::Corrupt { path });
        }
        if verify && sha256_file(&path)? != sha {
            return Err(ProvisionError::Corrupt { path });
        }
    }
    Ok(!text.is_empty())
}

/// Runs Maven in batch mode, its output going to `log`, reporting the bytes it downloads (from
/// its "Downloaded from" lines) as [`Progress::Downloaded`] since `started`.
fn maven(
    what: &str,
    started: Instant,
    progress: &mut dyn FnMut(Progress),
    args: &[&str],
    log: &Path,
) -> Result<(), ProvisionError> {
    let mut out = File::create(log).map_err(io(log))?;
    let err = out.try_clone().map_err(io(log))?;
    let mut child = Command::new("mvn")
        .arg("-B")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(err)
        .spawn()
        .map_err(|_| ProvisionError::MavenMissing)?;
    let mut bytes = 0;
    let mut reported = Instant::now();
    if let Some(stdout) = child.stdout.take() {
        for line in BufReader::new(stdout).split(b'\n') {
            let line = line.map_err(io(log))?;
            out.write_all(&line)
                .and_then(|()| out.write_all(b"\n"))
                .map_err(io(log))?;
            if let Some(n) = downloaded_bytes(&String::from_utf8_lossy(&line)) {
                bytes += n;
                if reported.elapsed() >= Duration::from_millis(500) {
                    reported = Instant::now();
                    progress(Progress::Downloaded {
                        bytes,
                        elapsed: started.elapsed(),
                    });
                }
            }
        }
    }
    let status = child.wait().map_err(io(log))?;
    if bytes > 0 {
        progress(Progress::Downloaded {
            bytes,
            elapsed: started.elapsed(),
        });
    }
    if status.success() {
        return Ok(());
    }
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let tail = lines[lines.len().saturating_sub(25)..].join("\n");
    Err(ProvisionError::Maven {
        what: what.to_string(),
        tail,
        log: log.to_path_buf(),
    })
}

/// The size of the file in a Maven "Downloaded from REPO: URL (6.5 MB at 3.2 MB/s)" line (Maven
/// counts 1 kB as 1000 bytes).
fn downloaded_bytes(line: &str) -> Option<u64> {
    let line = line.trim_start_matches("[INFO] ");
    if !line.starts_with("Downloaded from ") {
        return None;
    }
    let size = line[line.rfind(" (")? + 2..].split(" at ").next()?;
    let (number, unit) = size.split_once(' ')?;
    let scale = match unit {
        "B" => 1.0,
        "kB" => 1e3,
        "MB" => 1e6,
        "GB" => 1e9,
        _ => return None,
    };
    let number: f64 = number.parse().ok()?;
    Some((number * scale).round() as u64)
}

/// The shaded jar Maven built: the largest `flink-sql-runner*.jar` that is not `original-…`.
fn find_built_jar(target: &Path) -> Result<PathBuf, ProvisionError> {
    std::fs::read_dir(target)
        .map_err(io(target))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let name = p.file_name().unwrap_or_default().to_string_lossy();
            name.starts_with("flink-sql-runner") && name.ends_with(".jar")
        })
        .max_by_key(|p| std::fs::metadata(p).map(|m| m.len()).unwrap_or_default())
        .ok_or_else(|| ProvisionError::Io {
            path: target.join("flink-sql-runner.jar"),
            source: std::io::ErrorKind::NotFound.into(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_versions() {
        assert_eq!(
            parse_java_major("openjdk version \"17.0.15\" 2025-04-15\nOpenJDK Runtime"),
            Some(17)
        );
        assert_eq!(parse_java_major("java version \"1.8.0_392\""), Some(8));
        assert_eq!(
            parse_java_major("openjdk version \"21\" 2023-09-19"),
            Some(21)
        );
        assert_eq!(parse_java_major("nonsense"), None);
    }

    #[test]
    fn manifests_detect_missing_and_changed_files() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.jar");
        std::fs::write(&file, b"jar bytes").unwrap();
        let manifest = dir.path().join("m.sha256");
        assert!(!check_manifest(dir.path(), &manifest, true).unwrap());
        write_manifest(dir.path(), &manifest, std::slice::from_ref(&file)).unwrap();
        assert!(check_manifest(dir.path(), &manifest, true).unwrap());
        assert_eq!(
            read_manifest(dir.path(), &manifest).unwrap(),
            vec![file.clone()]
        );
        std::fs::write(&file, b"jar byteZ").unwrap();
        assert!(
            check_manifest(dir.path(), &manifest, false).unwrap(),
            "same size"
        );
        assert!(matches!(
            check_manifest(dir.path(), &manifest, true),
            Err(ProvisionError::Corrupt { .. })
        ));
        std::fs::remove_file(&file).unwrap();
        assert!(!check_manifest(dir.path(), &manifest, false).unwrap());
    }

    #[test]
    fn maven_download_lines_give_their_sizes() {
        let line = "Downloaded from central: https://repo.maven.apache.org/maven2/org/apache/kafka/\
                    kafka-clients/4.1.0/kafka-clients-4.1.0.jar (6.5 MB at 3.2 MB/s)";
        assert_eq!(downloaded_bytes(line), Some(6_500_000));
        assert_eq!(
            downloaded_bytes("[INFO] Downloaded from central: https://x/a.pom (2.1 kB at 45 kB/s)"),
            Some(2_100)
        );
        assert_eq!(
            downloaded_bytes("Downloaded from central: https://x/b.sha1 (40 B at 1.2 kB/s)"),
            Some(40)
        );
        assert_eq!(
            downloaded_bytes("Downloading from central: https://x/a.jar"),
            None
        );
        assert_eq!(downloaded_bytes("[INFO] BUILD SUCCESS"), None);
    }

    #[test]
    fn the_sources_hash_is_stable() {
        assert_eq!(sources_hash(), sources_hash());
        assert_eq!(sources_hash().len(), 16);
    }
}
