//! The embeddable launcher: one async path from a parsed [`Script`] to a running Flink job on
//! every target, and the [`Job`] handle that watches and stops it.
//!
//! [`launch`] substitutes `${VAR}` variables, validates every table offline (unless told not
//! to), turns the script into one job for the generic runner jar, provisions what the target
//! needs, submits it, and returns a [`Job`]:
//!
//! - [`Target::Local`]: the runner in a child JVM on an embedded MiniCluster — or, when the
//!   user started a warm [session](crate::flink::session) (`flinkit local up`), the same runner
//!   code in that session's JVM, about a second instead of a JVM start ([`UseSession`]).
//! - [`Target::Rest`]: a cluster's JobManager REST API (the runner jar uploaded once by hash).
//! - [`Target::Gateway`]: a SQL Gateway session (its INSERTs as one statement set).
//!
//! Each Flink line flinkit runs (1.20, 2.x: [`FlinkLine`]) has its own runner and option
//! catalog: on rest and gateway the cluster's own version picks them
//! ([`Options::cluster_line`]), locally [`Options::flink_line`] does (1.20 by default).
//!
//! ```no_run
//! use std::time::Duration;
//! use flinkit::launch::{launch, Options};
//! use flinkit::sql::Script;
//!
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! let script = Script::parse_str(
//!     "CREATE TABLE gen (n BIGINT) WITH ('connector' = 'datagen', 'rows-per-second' = '10');
//!      CREATE TABLE sink (n BIGINT) WITH ('connector' = 'blackhole');
//!      INSERT INTO sink SELECT n FROM gen;",
//! )?;
//! let options = Options::rest("http://localhost:8081").name("orders").var("ENV", "dev");
//! let job = launch(&script, &options).await?;
//! job.wait_running(Duration::from_secs(60)).await?;
//! for vertex in job.metrics().await? {
//!     println!("{}: {} in, {} out", vertex.name, vertex.records_in, vertex.records_out);
//! }
//! let savepoint = job.stop_with_savepoint("file:///tmp/savepoints").await?;
//! println!("stopped; savepoint at {savepoint}");
//! # Ok(()) }
//! ```
//!
//! Connectors and formats the runner does not bundle (`jdbc`, the CDC connectors, `protobuf`,
//! …) are fetched from Maven Central the first time a script names them, and [`Options::jar`]
//! adds any other jar; both are checked offline like the bundled connectors ([`Extras`]) and
//! reach every target: the local classpath, one combined job jar per set over REST, `ADD JAR`
//! on the SQL Gateway.
//!
//! A [`Job`] handle does not own its job: dropping it leaves the job running (on a cluster, and
//! locally the child JVM), unless [`Job::cancel_on_drop`] was asked for. Errors are
//! [`LaunchError`]s: [`LaunchError::is_invalid_input`] tells the script's fault from the world's,
//! [`LaunchError::statement`] locates a statement Flink rejected, and messages never hold a
//! secret (substituted values and secret options are masked).

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::connectors::catalog::Catalog;
use crate::connectors::resolve::{self, Artifact, JarSource};
use crate::connectors::{self, Diagnostic, Severity};
use crate::flink::gateway::{self, GatewayClient, GatewayError};
use crate::flink::http::HttpError;
use crate::flink::line::{FlinkLine, LineError};
use crate::flink::local::{self, LocalEnd, LocalError, LocalJob, LocalOptions};
use crate::flink::rest::{Refusal, RestClient, RestError, RunRequest, Vertex};
use crate::flink::session::{self, Session};
use crate::flink::{JobError, JobSpec, JobState};
use crate::provision::{Cache, Progress, ProvisionError};
use crate::sql::Script;
use crate::vars::{self, Redactor, Substituted, Vars};

/// Where a job runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Target {
    /// An embedded Flink MiniCluster in a child JVM on this machine.
    Local,
    /// A running cluster, through its JobManager REST API.
    Rest,
    /// A running cluster, through its SQL Gateway.
    Gateway,
}

impl Target {
    /// `local`, `rest` or `gateway`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Local => "local",
            Self::Rest => "rest",
            Self::Gateway => "gateway",
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a launch is doing, for a progress display.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// The runner jar or Flink's runtime is being provisioned.
    Provision(Progress),
    /// The job is being submitted (for the local target: the JVM is starting).
    Submitting {
        /// The target.
        target: Target,
        /// Its address (`local` for the local target).
        url: String,
    },
    /// A job of the same name already runs and `replace` was not asked for.
    AlreadyRunning {
        /// The job name.
        name: String,
        /// The running job's id.
        job_id: String,
    },
    /// `replace` was asked for but no job of that name runs: the script starts fresh.
    NothingToReplace {
        /// The job name.
        name: String,
    },
    /// The running job of the same name is being stopped with a savepoint.
    Stopping {
        /// Its id.
        job_id: String,
        /// Where the savepoint goes.
        savepoint_dir: String,
    },
    /// It stopped; the new job starts from this savepoint.
    Stopped {
        /// Its id.
        job_id: String,
        /// The savepoint's path.
        savepoint: String,
    },
    /// The new script lacks operators of the old one: their state is dropped.
    DroppingUnmappedState,
    /// The local job runs in the warm session (instead of a JVM of its own).
    InSession {
        /// The session JVM's process id.
        pid: u32,
        /// Its web UI.
        web_ui: String,
    },
    /// The local MiniCluster's web UI is up.
    WebUi {
        /// Its address.
        url: String,
    },
    /// Flink accepted the job.
    Submitted {
        /// Its id.
        job_id: String,
    },
}

type Listener = Arc<dyn Fn(&Event) + Send + Sync>;

/// Whether a local job may run in the warm session ([`crate::flink::session`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum UseSession {
    /// When the user started one (a crashed or stale one is replaced first) and the job fits
    /// it: attached, no fixed web port, no cluster option (`taskmanager.*`, `rest.*` …) set, no
    /// connector jars beyond the runner's (the session's classpath is fixed when it starts).
    /// Otherwise, and when there is none, a JVM of its own.
    #[default]
    IfUp,
    /// Always a JVM of its own.
    Never,
}

/// Option prefixes that configure a cluster rather than a job: a job that sets one gets a
/// MiniCluster of its own.
const CLUSTER_OPTIONS: &[&str] = &[
    "taskmanager.",
    "jobmanager.",
    "rest.",
    "web.",
    "cluster.",
    "env.",
    "metrics.",
    "blob.",
    "high-availability",
    "io.tmp.dirs",
    "security.",
    "pekko.",
];

fn is_cluster_option(key: &str) -> bool {
    CLUSTER_OPTIONS.iter().any(|prefix| key.starts_with(prefix))
}

/// How to launch a script: the target and its addresses, the job's name, variables and
/// configuration, savepoints. Built with [`Options::local`], [`Options::rest`] or
/// [`Options::gateway`] and the builder methods.
#[derive(Clone)]
pub struct Options {
    target: Target,
    flink_url: String,
    gateway_url: String,
    name: Option<String>,
    vars: Vec<(String, String)>,
    sets: Vec<(String, String)>,
    parallelism: Option<u32>,
    from_savepoint: Option<String>,
    allow_non_restored_state: bool,
    replace: Option<String>,
    detach: bool,
    validate: bool,
    keep_session: bool,
    heap: String,
    web_port: Option<u16>,
    run_dir: Option<PathBuf>,
    cache: Option<Cache>,
    jars: Vec<JarSource>,
    session: UseSession,
    session_dir: Option<PathBuf>,
    flink_line: Option<FlinkLine>,
    listener: Option<Listener>,
}

impl fmt::Debug for Options {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Options")
            .field("target", &self.target)
            .field("flink_url", &crate::flink::http::shown(&self.flink_url))
            .field("gateway_url", &crate::flink::http::shown(&self.gateway_url))
            .field("name", &self.name)
            .field(
                "vars",
                &self.vars.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            )
            .field(
                "sets",
                &self.sets.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            )
            .field("parallelism", &self.parallelism)
            .field("detach", &self.detach)
            .field("jars", &self.jars)
            .field("flink_line", &self.flink_line)
            .finish_non_exhaustive()
    }
}

/// The JobManager REST address of the local stack.
pub const DEFAULT_FLINK_URL: &str = "http://localhost:8081";
/// The SQL Gateway address of the local stack.
pub const DEFAULT_GATEWAY_URL: &str = "http://localhost:8083";

impl Options {
    fn new(target: Target) -> Self {
        Self {
            target,
            flink_url: DEFAULT_FLINK_URL.into(),
            gateway_url: DEFAULT_GATEWAY_URL.into(),
            name: None,
            vars: Vec::new(),
            sets: Vec::new(),
            parallelism: None,
            from_savepoint: None,
            allow_non_restored_state: false,
            replace: None,
            detach: false,
            validate: true,
            keep_session: false,
            heap: "1g".into(),
            web_port: None,
            run_dir: None,
            cache: None,
            jars: Vec::new(),
            session: UseSession::default(),
            session_dir: None,
            flink_line: None,
            listener: None,
        }
    }

    /// Runs the job on an embedded MiniCluster in a child JVM.
    pub fn local() -> Self {
        Self::new(Target::Local)
    }

    /// Submits the job through the JobManager REST API at `flink_url`.
    pub fn rest(flink_url: impl Into<String>) -> Self {
        Self::new(Target::Rest).flink_url(flink_url)
    }

    /// Runs the script through the SQL Gateway at `gateway_url`; the job is then watched and
    /// stopped through the REST API at [`Options::flink_url`] (default `http://localhost:8081`).
    pub fn gateway(gateway_url: impl Into<String>) -> Self {
        Self::new(Target::Gateway).gateway_url(gateway_url)
    }

    /// The target.
    pub fn target(&self) -> Target {
        self.target
    }

    /// The target's address: the REST URL, the SQL Gateway URL, or `local`.
    pub fn address(&self) -> &str {
        match self.target {
            Target::Local => "local",
            Target::Rest => &self.flink_url,
            Target::Gateway => &self.gateway_url,
        }
    }

    /// The JobManager REST address (the REST target's, and where a gateway's job is watched).
    pub fn flink_url(mut self, url: impl Into<String>) -> Self {
        self.flink_url = url.into();
        self
    }

    /// The SQL Gateway address.
    pub fn gateway_url(mut self, url: impl Into<String>) -> Self {
        self.gateway_url = url.into();
        self
    }

    /// The job name (default: the script's `SET 'pipeline.name'`, else `flinkit: ` and the
    /// tables the script writes).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// A value for `${NAME}` (wins over the environment). Values are treated as secrets.
    pub fn var(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.vars.push((name.into(), value.into()));
        self
    }

    /// A Flink option for the job, like a `SET` statement ahead of the script (later ones win;
    /// on the gateway a session property, elsewhere the job's configuration).
    pub fn set(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.sets.push((key.into(), value.into()));
        self
    }

    /// The job's parallelism (default: the cluster's).
    pub fn parallelism(mut self, parallelism: u32) -> Self {
        self.parallelism = Some(parallelism);
        self
    }

    /// Starts the job from this savepoint.
    pub fn from_savepoint(mut self, path: impl Into<String>) -> Self {
        self.from_savepoint = Some(path.into());
        self
    }

    /// With a savepoint: skips state that belongs to no operator of the new script.
    pub fn allow_non_restored_state(mut self, allow: bool) -> Self {
        self.allow_non_restored_state = allow;
        self
    }

    /// Redeploys: stops the RUNNING job of the same name with a savepoint in `savepoint_dir`
    /// and starts the script from it (REST and gateway targets). State of operators the new
    /// script lacks is dropped only if Flink says it cannot be mapped.
    pub fn replace(mut self, savepoint_dir: impl Into<String>) -> Self {
        self.replace = Some(savepoint_dir.into());
        self
    }

    /// Returns as soon as the job is submitted: on the local target the JVM then writes its
    /// output to files in the run directory and outlives this process.
    pub fn detach(mut self, detach: bool) -> Self {
        self.detach = detach;
        self
    }

    /// Whether to refuse a script whose offline validation finds errors (default: yes).
    pub fn validate(mut self, validate: bool) -> Self {
        self.validate = validate;
        self
    }

    /// With the gateway target: leaves the session open ([`Job::session`] names it).
    pub fn keep_session(mut self, keep: bool) -> Self {
        self.keep_session = keep;
        self
    }

    /// The local JVM's maximum heap (default `1g`).
    pub fn heap(mut self, heap: impl Into<String>) -> Self {
        self.heap = heap.into();
        self
    }

    /// The local web UI's port (default: a free one).
    pub fn web_port(mut self, port: u16) -> Self {
        self.web_port = Some(port);
        self
    }

    /// Where a local run keeps its statements file and logs (default: a new folder under the
    /// state directory's `runs/`).
    pub fn run_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.run_dir = Some(dir.into());
        self
    }

    /// Whether a local job may run in the warm session (default: [`UseSession::IfUp`]).
    pub fn session(mut self, session: UseSession) -> Self {
        self.session = session;
        self
    }

    /// The warm session's folder (default: [`session::default_dir`]).
    pub fn session_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.session_dir = Some(dir.into());
        self
    }

    /// The cache of runner jars and Flink runtimes (default: [`Cache::from_env`]).
    pub fn cache(mut self, cache: Cache) -> Self {
        self.cache = Some(cache);
        self
    }

    /// Adds a jar to the job: a file, or a Maven artifact fetched into the cache (repeatable).
    /// Its connectors and formats are checked offline like the bundled ones and it reaches
    /// every target. Connectors in flinkit's curated table ([`resolve::PROVIDERS`]) need no
    /// `jar`: they are fetched when a script names them.
    pub fn jar(mut self, jar: JarSource) -> Self {
        self.jars.push(jar);
        self
    }

    /// The jars added with [`Options::jar`].
    pub fn jars(&self) -> &[JarSource] {
        &self.jars
    }

    /// The Flink line to run on (default: 1.20 locally; a cluster's own line, read from it).
    /// For the rest and gateway targets it must be the cluster's: a line other than the one
    /// the cluster reports is an error ([`LineError::Mismatch`]).
    pub fn flink_line(mut self, line: FlinkLine) -> Self {
        self.flink_line = Some(line);
        self
    }

    /// The Flink line set with [`Options::flink_line`] (or read by [`Options::cluster_line`]).
    pub fn line(&self) -> Option<FlinkLine> {
        self.flink_line
    }

    /// For the rest and gateway targets, asks the cluster (`/overview`) or the SQL Gateway
    /// (`/v1/info`) its Flink version and sets the line to it, so the job gets the runner and
    /// the option catalog of that line; [`Prepared::prepare`] and [`launch`] do it themselves.
    /// A cluster that does not answer leaves the options as they are (submitting then says it
    /// does not answer); one running a line flinkit has no runner for is an error.
    pub async fn cluster_line(mut self) -> Result<Self, LineError> {
        let (service, url, version) = match self.target {
            Target::Local => return Ok(self),
            Target::Rest => {
                let rest = RestClient::new(&self.flink_url, Duration::from_secs(5));
                (
                    "the cluster",
                    rest.url().to_string(),
                    rest.version().await.ok(),
                )
            }
            Target::Gateway => {
                let gateway = GatewayClient::new(&self.gateway_url);
                let version = gateway.version().await.ok();
                ("the SQL Gateway", gateway.url().to_string(), version)
            }
        };
        let Some(version) = version else {
            return Ok(self);
        };
        let line = FlinkLine::of_cluster(&version, service, &url)?;
        if let Some(asked) = self.flink_line.filter(|asked| *asked != line) {
            return Err(LineError::Mismatch {
                asked: asked.to_string(),
                service,
                url,
                version,
            });
        }
        self.flink_line = Some(line);
        Ok(self)
    }

    /// The line the job runs on: the one set or read from the cluster, else 1.20.
    fn line_or_default(&self) -> FlinkLine {
        self.flink_line.unwrap_or_default()
    }

    /// Calls `listener` with each step of the launch, for a progress display.
    pub fn on_event(mut self, listener: impl Fn(&Event) + Send + Sync + 'static) -> Self {
        self.listener = Some(Arc::new(listener));
        self
    }

    fn emit(&self, event: Event) {
        if let Some(listener) = &self.listener {
            listener(&event);
        }
    }

    /// The cache, for the job's Flink line.
    fn cache_or_default(&self) -> Result<Cache, LaunchError> {
        let cache = match &self.cache {
            Some(cache) => cache.clone(),
            None => Cache::from_env()?,
        };
        Ok(cache.for_line(self.line_or_default()))
    }

    /// The job configuration: `--set`s, then the parallelism and savepoint as Flink keys.
    fn job_conf(&self, restore: Option<&str>, allow_non_restored: bool) -> Vec<(String, String)> {
        let mut conf = self.sets.clone();
        if let Some(p) = self.parallelism {
            conf.push(("parallelism.default".into(), p.to_string()));
        }
        if let Some(savepoint) = restore {
            conf.extend(crate::flink::restore_conf(savepoint, allow_non_restored));
        }
        conf
    }
}

/// Where a statement is: its index in the script and its first token's position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementRef {
    /// The statement's 0-based index in the script.
    pub index: usize,
    /// The name of the input it came from (a file's path, `<stdin>`, `<arg 1>` …).
    pub source: String,
    /// 1-based line of its first token.
    pub line: usize,
    /// 1-based column of its first token.
    pub column: usize,
}

impl StatementRef {
    /// The statement `index` of `script`, if there is one.
    pub fn of(script: &Script, index: usize) -> Option<Self> {
        let stmt = script.statements.get(index)?;
        Some(Self {
            index,
            source: script.source_of(stmt).name().to_string(),
            line: stmt.line,
            column: stmt.column,
        })
    }
}

impl fmt::Display for StatementRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "statement {} ({}:{}:{})",
            self.index, self.source, self.line, self.column
        )
    }
}

/// ` in statement N (file:line:col)`, or nothing.
fn at(statement: &Option<StatementRef>) -> String {
    statement
        .as_ref()
        .map(|s| format!(" in {s}"))
        .unwrap_or_default()
}

/// ` (file:line:col)`, or nothing.
fn place(statement: &Option<StatementRef>) -> String {
    statement
        .as_ref()
        .map(|s| format!(" ({}:{}:{})", s.source, s.line, s.column))
        .unwrap_or_default()
}

/// Who turned a script down.
fn rejecter(target: Target) -> &'static str {
    match target {
        Target::Gateway => "the SQL Gateway",
        Target::Local | Target::Rest => "Flink",
    }
}

/// Why the jars a script needs could not be had; nothing was started.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum JarsError {
    /// A `--jar` path does not exist or is not a jar.
    #[error("--jar {jar}: {message}")]
    BadJar {
        /// The jar as given.
        jar: String,
        /// What is wrong with it.
        message: String,
    },
    /// A jar or artifact was built for another Flink line.
    #[error(
        "--jar {jar}: built for Flink {line}, but flinkit runs Flink {flink}; use its release for Flink {flink}"
    )]
    OtherFlinkLine {
        /// The jar or artifact.
        jar: String,
        /// The Flink line it was built for.
        line: String,
        /// The Flink version in use.
        flink: String,
    },
    /// A Maven artifact does not exist.
    #[error("--jar {artifact}: Maven Central has no such artifact")]
    NoArtifact {
        /// The `G:A:V`.
        artifact: String,
    },
    /// Factories in the added jars could not be loaded.
    #[error(
        "the added jars' factories could not be loaded (built for another Flink line?): {message}"
    )]
    Unloadable {
        /// The first loading error.
        message: String,
    },
    /// Two jars carry different versions of the same classes.
    #[error(
        "{} and {} both contain {} ({} class{} such as {}) in different versions; the JVM would load one and fail at run time with a ClassCastException or NoSuchMethodError: keep only one of them",
        first.display(), second.display(), package, classes, if *classes == 1 { "" } else { "es" }, example
    )]
    Conflict {
        /// The jar first on the classpath.
        first: PathBuf,
        /// The other jar.
        second: PathBuf,
        /// The package of the clashing classes.
        package: String,
        /// How many classes clash.
        classes: usize,
        /// One of them.
        example: String,
    },
    /// Fetching or describing the jars failed (Maven, Java, the cache).
    #[error(transparent)]
    Provision(Arc<ProvisionError>),
}

impl JarsError {
    /// Whether the jars given are at fault (the CLI exits 2), not the world.
    pub fn is_invalid_input(&self) -> bool {
        !matches!(self, Self::Provision(_))
    }
}

impl From<ProvisionError> for JarsError {
    fn from(err: ProvisionError) -> Self {
        match err {
            ProvisionError::NoArtifact { artifact } => Self::NoArtifact { artifact },
            other => Self::Provision(Arc::new(other)),
        }
    }
}

/// The jars a script needs beyond the runner, and the catalog of what they provide.
#[derive(Debug, Clone, Default)]
pub struct Extras {
    jars: Vec<PathBuf>,
    catalog: Option<Catalog>,
    line: FlinkLine,
}

impl Extras {
    /// The jar files, in classpath order (empty when the script needs nothing extra).
    pub fn jars(&self) -> &[PathBuf] {
        &self.jars
    }

    /// The line's bundled catalog extended with the added jars' connectors and formats.
    pub fn catalog(&self) -> &Catalog {
        self.catalog.as_ref().unwrap_or_else(|| self.line.catalog())
    }

    /// No jars, for `line`.
    fn none(line: FlinkLine) -> Self {
        Self {
            line,
            ..Self::default()
        }
    }

    /// Finds what `script` needs beyond the runner, fetches it into `cache` once, and describes
    /// it with the runner: first the user's `jars` (files, or Maven artifacts); then, for each
    /// connector, format or catalog type they do not provide, the artifacts of
    /// [`resolve::PROVIDERS`] built for the cache's Flink line (so a user's jar wins over the
    /// table). Blocking: the first time
    /// it runs Maven and Java; later it reads the cache. A script that needs nothing extra
    /// costs nothing here (no I/O at all).
    pub fn resolve(
        needs: &[resolve::Need],
        jars: &[JarSource],
        cache: &Cache,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<Self, JarsError> {
        let line = cache.line();
        let curated = |needs: &[&resolve::Need]| -> Vec<Artifact> {
            needs
                .iter()
                .filter_map(|n| resolve::provider(n.kind, &n.identifier))
                .filter(|p| p.fits(line.as_str()))
                .flat_map(|p| p.artifacts())
                .collect()
        };
        let all_needs: Vec<&resolve::Need> = needs.iter().collect();
        if curated(&all_needs).is_empty() && jars.is_empty() {
            return Ok(Self::none(line));
        }
        let (artifacts, files) = user_jars(jars, line)?;
        let user = fetch(cache, &artifacts, progress)?
            .into_iter()
            .chain(files)
            .collect::<Vec<_>>();
        let mut extras = Self::none(line);
        if !user.is_empty() {
            extras = describe(cache, dedup(user), progress)?;
        }
        let catalog = extras.catalog().clone();
        let left: Vec<&resolve::Need> = needs
            .iter()
            .filter(|n| match n.kind {
                resolve::Kind::Connector => catalog.connector(&n.identifier).is_none(),
                resolve::Kind::Format => catalog.format(&n.identifier).is_none(),
                // A jar that provides the connector provides its catalog (JDBC's does).
                resolve::Kind::Catalog => catalog.connector(&n.identifier).is_none(),
            })
            .collect();
        let more = curated(&left);
        if more.is_empty() {
            return Ok(extras);
        }
        let mut all = fetch(cache, &more, progress)?;
        all.extend(extras.jars);
        describe(cache, dedup(all), progress)
    }
}

/// The user's jars: Maven artifacts to fetch, and files checked to be jars built for `line`
/// (as absolute paths).
fn user_jars(
    jars: &[JarSource],
    line: FlinkLine,
) -> Result<(Vec<Artifact>, Vec<PathBuf>), JarsError> {
    let flink = line.flink_version();
    let line = line.as_str();
    let other_line = |jar: String, built: String| JarsError::OtherFlinkLine {
        jar,
        line: built,
        flink: flink.to_string(),
    };
    let mut artifacts = Vec::new();
    let mut files = Vec::new();
    for jar in jars {
        match jar {
            JarSource::Maven(artifact) => {
                if let Some(built) = artifact.flink_line().filter(|b| *b != line) {
                    return Err(other_line(artifact.to_string(), built));
                }
                artifacts.push(artifact.clone());
            }
            JarSource::Path(path) => {
                let bad = |message: String| JarsError::BadJar {
                    jar: path.display().to_string(),
                    message,
                };
                if !path.is_file() {
                    return Err(bad("no such file".into()));
                }
                crate::jars::check(path)
                    .map_err(|_| bad("not a jar (not a zip archive)".into()))?;
                let declared = crate::jars::flink_artifact(path)
                    .map_err(|e| bad(e.to_string()))?
                    .and_then(|gav| gav.parse::<Artifact>().ok());
                if let Some(built) = declared
                    .as_ref()
                    .and_then(Artifact::flink_line)
                    .filter(|b| *b != line)
                {
                    return Err(other_line(path.display().to_string(), built));
                }
                files.push(std::fs::canonicalize(path).map_err(|e| bad(e.to_string()))?);
            }
        }
    }
    Ok((artifacts, files))
}

/// The jars of `artifacts` (none without any).
fn fetch(
    cache: &Cache,
    artifacts: &[Artifact],
    progress: &mut dyn FnMut(Progress),
) -> Result<Vec<PathBuf>, JarsError> {
    if artifacts.is_empty() {
        return Ok(Vec::new());
    }
    let mut artifacts = artifacts.to_vec();
    artifacts.sort();
    artifacts.dedup();
    Ok(cache.artifact_jars(&artifacts, false, progress)?)
}

/// `jars` without a second jar of the same file name (the same artifact reached twice).
fn dedup(jars: Vec<PathBuf>) -> Vec<PathBuf> {
    let mut seen = std::collections::HashSet::new();
    jars.into_iter()
        .filter(|j| seen.insert(j.file_name().map(|n| n.to_os_string())))
        .collect()
}

/// Describes `jars` with the runner: the catalog they extend the bundled one with, refused
/// when a factory cannot be loaded or two jars carry different copies of a class.
fn describe(
    cache: &Cache,
    jars: Vec<PathBuf>,
    progress: &mut dyn FnMut(Progress),
) -> Result<Extras, JarsError> {
    let described = cache.describe(&jars, progress)?;
    if let Some(first) = described.load_errors.first() {
        return Err(JarsError::Unloadable {
            message: first.clone(),
        });
    }
    if let Some(c) = described
        .conflicts
        .iter()
        .find(|c| jars.contains(&c.second))
    {
        return Err(JarsError::Conflict {
            first: c.first.clone(),
            second: c.second.clone(),
            package: c.package.clone(),
            classes: c.classes,
            example: c.example.clone(),
        });
    }
    let extra: Catalog = serde_json::from_value(described.catalog).map_err(|err| {
        JarsError::from(ProvisionError::Describe {
            message: format!("unreadable catalog: {err}"),
        })
    })?;
    Ok(Extras {
        jars,
        catalog: Some(cache.line().catalog().extended(extra)),
        line: cache.line(),
    })
}

/// Why a launch, or an operation on a [`Job`], failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LaunchError {
    /// Offline validation found errors; nothing was started.
    #[error("the script has errors; nothing was started")]
    Invalid {
        /// Every finding, warnings included (messages masked).
        diagnostics: Vec<Diagnostic>,
    },
    /// The script does not make a job (no INSERT, or a bare SELECT).
    #[error("{source}{}", place(statement))]
    NotAJob {
        /// What is wrong.
        #[source]
        source: JobError,
        /// The statement to blame.
        statement: Option<StatementRef>,
    },
    /// An option does not fit the target.
    #[error("{option}: {message}")]
    Option {
        /// The option.
        option: &'static str,
        /// What is wrong.
        message: String,
    },
    /// Flink (or the SQL Gateway) rejected the script before running it.
    #[error("{} rejected the script{}: {message}", rejecter(*target), at(statement))]
    Rejected {
        /// Where the script was sent.
        target: Target,
        /// The statement to blame, when known.
        statement: Option<StatementRef>,
        /// Flink's root cause (masked).
        message: String,
    },
    /// The job failed at runtime.
    #[error("job {job_id} {state}{}: {message}", at(statement))]
    Failed {
        /// Flink's job id.
        job_id: String,
        /// Its final state.
        state: JobState,
        /// The statement to blame, when known.
        statement: Option<StatementRef>,
        /// The root cause (masked).
        message: String,
    },
    /// The local JVM ended without saying how the job ended.
    #[error(
        "the local JVM exited without reporting the job's end; the end of its log ({}):\n{tail}",
        log.display()
    )]
    Vanished {
        /// The JVM's log.
        log: PathBuf,
        /// Its last lines (masked).
        tail: String,
    },
    /// The JobManager REST API failed.
    #[error(transparent)]
    Rest(#[from] RestError),
    /// The SQL Gateway failed outside any statement.
    #[error(transparent)]
    Gateway(#[from] GatewayError),
    /// The local JVM could not be started.
    #[error(transparent)]
    Local(#[from] LocalError),
    /// Java, Maven, the runner jar or Flink's runtime could not be provisioned.
    #[error(transparent)]
    Provision(#[from] ProvisionError),
    /// The jars the script needs could not be had.
    #[error(transparent)]
    Jars(#[from] JarsError),
    /// No runner for the Flink line asked for or the cluster runs; nothing was submitted.
    #[error(transparent)]
    Line(#[from] LineError),
    /// A database the script's `jdbc` tables name does not answer or lacks a table.
    #[error(transparent)]
    Database(#[from] connectors::database::DatabaseError),
    /// No folder for the local run's files (`HOME` unset, no `FLINKIT_STATE_DIR`).
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// Waiting for the local JVM failed.
    #[error("cannot wait for the local JVM")]
    Io(#[source] std::io::Error),
}

impl LaunchError {
    /// Whether the script or the options are at fault (the CLI exits 2), not the world.
    pub fn is_invalid_input(&self) -> bool {
        match self {
            Self::Jars(err) => err.is_invalid_input(),
            Self::Line(err) => !matches!(err, LineError::NoRunner { .. }),
            Self::Database(err) => err.is_invalid_input(),
            _ => matches!(
                self,
                Self::Invalid { .. }
                    | Self::NotAJob { .. }
                    | Self::Option { .. }
                    | Self::Rejected { .. }
            ),
        }
    }

    /// The statement a failure belongs to, when one is to blame.
    pub fn statement(&self) -> Option<&StatementRef> {
        match self {
            Self::NotAJob { statement, .. }
            | Self::Rejected { statement, .. }
            | Self::Failed { statement, .. } => statement.as_ref(),
            _ => None,
        }
    }

    /// The HTTP status a Flink service answered with, when that is the failure.
    pub fn http_status(&self) -> Option<u16> {
        match self {
            Self::Rest(err) => err.http_status(),
            Self::Gateway(err) => err.http_status(),
            _ => None,
        }
    }

    /// The offline findings, for [`LaunchError::Invalid`].
    pub fn diagnostics(&self) -> &[Diagnostic] {
        match self {
            Self::Invalid { diagnostics } => diagnostics,
            _ => &[],
        }
    }

    /// How to fix it, when there is a known way.
    pub fn help(&self) -> Option<&'static str> {
        match self {
            Self::NotAJob { source, .. } => Some(source.help()),
            Self::Rest(err) => err.help(),
            Self::Gateway(err) => err.help(),
            Self::Provision(err) => err.fix(),
            Self::Jars(JarsError::Provision(err)) => err.fix(),
            _ => None,
        }
    }
}

/// A script checked and turned into a job, not yet submitted: what `launch --dry-run` shows.
#[derive(Debug)]
pub struct Prepared<'s> {
    script: &'s Script,
    line: Result<FlinkLine, LineError>,
    substituted: Substituted,
    extras: Result<Extras, JarsError>,
    diagnostics: Vec<Diagnostic>,
    spec: Result<JobSpec, JobError>,
}

impl<'s> Prepared<'s> {
    /// Substitutes the variables of `options`, resolves the jars the script needs beyond the
    /// runner ([`Extras::resolve`]: blocking, Maven and Java the first time), validates the
    /// tables offline against the bundled and added connectors of the options' Flink line
    /// ([`Options::flink_line`]; 1.20 unless set — [`Prepared::prepare`] reads a cluster's),
    /// and builds the job. Never fails: the findings, the jars' problem and the job's shape are
    /// there to look at.
    pub fn new(script: &'s Script, options: &Options) -> Self {
        let substituted = vars::substitute(script, &Vars::new(options.vars.iter().cloned()));
        let line = options.line_or_default();
        let needs = resolve::needs(script, &substituted, line.catalog());
        let extras = options
            .cache_or_default()
            .map_err(|_| JarsError::from(ProvisionError::NoCacheDir))
            .and_then(|cache| {
                Extras::resolve(&needs, &options.jars, &cache, &mut |p| {
                    options.emit(Event::Provision(p))
                })
            });
        Self::with_extras(script, options, Ok(line), substituted, extras)
    }

    /// [`Prepared::new`] for async callers: a rest or gateway target's Flink line is read from
    /// the cluster ([`Options::cluster_line`]), and the jars are resolved on a blocking thread.
    pub async fn prepare(script: &'s Script, options: &Options) -> Self {
        let substituted = vars::substitute(script, &Vars::new(options.vars.iter().cloned()));
        let (options, line) = match options.clone().cluster_line().await {
            Ok(resolved) => {
                let line = resolved.line_or_default();
                (resolved, Ok(line))
            }
            Err(err) => (options.clone(), Err(err)),
        };
        let catalog_line = line.clone().unwrap_or_default();
        let needs = resolve::needs(script, &substituted, catalog_line.catalog());
        let extras = if needs.is_empty() && options.jars.is_empty() {
            Ok(Extras::none(catalog_line))
        } else {
            let owned = options.clone();
            tokio::task::spawn_blocking(move || {
                let cache = owned
                    .cache_or_default()
                    .map_err(|_| JarsError::from(ProvisionError::NoCacheDir))?;
                Extras::resolve(&needs, &owned.jars, &cache, &mut |p| {
                    owned.emit(Event::Provision(p))
                })
            })
            .await
            .unwrap_or_else(|err| {
                Err(JarsError::from(ProvisionError::Io {
                    path: PathBuf::from("."),
                    source: std::io::Error::other(err),
                }))
            })
        };
        Self::with_extras(script, &options, line, substituted, extras)
    }

    fn with_extras(
        script: &'s Script,
        options: &Options,
        line: Result<FlinkLine, LineError>,
        substituted: Substituted,
        extras: Result<Extras, JarsError>,
    ) -> Self {
        let fallback = line.clone().unwrap_or_default().catalog();
        let catalog = extras.as_ref().map_or(fallback, Extras::catalog);
        let diagnostics = connectors::validate_with(script, &substituted, catalog);
        let spec = JobSpec::from_script(script, &substituted.texts, options.name.as_deref()).map(
            |mut spec| {
                spec.name = substituted.job_name(&spec.name, script);
                spec
            },
        );
        Self {
            script,
            line,
            substituted,
            extras,
            diagnostics,
            spec,
        }
    }

    /// The Flink line the job runs on, or why flinkit has no runner for it.
    pub fn line(&self) -> Result<FlinkLine, &LineError> {
        self.line.as_ref().copied()
    }

    /// The jars the script needs beyond the runner, or why they could not be had.
    pub fn extras(&self) -> Result<&Extras, &JarsError> {
        self.extras.as_ref()
    }

    /// The script.
    pub fn script(&self) -> &'s Script {
        self.script
    }

    /// The statements after substitution, and their masked forms.
    pub fn substituted(&self) -> &Substituted {
        &self.substituted
    }

    /// Masks secrets in anything printed about this script.
    pub fn redactor(&self) -> &Redactor {
        &self.substituted.redactor
    }

    /// The offline findings.
    pub fn diagnostics(&self) -> &[Diagnostic] {
        &self.diagnostics
    }

    /// Whether any finding is an error.
    pub fn has_errors(&self) -> bool {
        self.diagnostics
            .iter()
            .any(|d| d.severity == Severity::Error)
    }

    /// The job, or why the script makes none (located).
    pub fn spec(&self) -> Result<&JobSpec, LaunchError> {
        self.spec.as_ref().map_err(|err| LaunchError::NotAJob {
            source: err.clone(),
            statement: err
                .statement()
                .and_then(|i| StatementRef::of(self.script, i)),
        })
    }

    fn masked_diagnostics(&self) -> Vec<Diagnostic> {
        let redactor = self.redactor();
        self.diagnostics
            .iter()
            .cloned()
            .map(|mut d| {
                d.message = redactor.redact(&d.message);
                d.suggestion = d.suggestion.map(|s| redactor.redact(&s));
                d
            })
            .collect()
    }

    /// Submits the job to `options`' target and returns its handle once Flink accepted it. A
    /// line flinkit has no runner for is refused here, before anything is uploaded.
    pub async fn submit(&self, options: &Options) -> Result<Job, LaunchError> {
        let line = self.line.clone()?;
        let options = &options.clone().flink_line(line);
        let extras = self
            .extras
            .as_ref()
            .map_err(|e| LaunchError::Jars(e.clone()))?;
        if options.validate && self.has_errors() {
            return Err(LaunchError::Invalid {
                diagnostics: self.masked_diagnostics(),
            });
        }
        let spec = self.spec()?;
        if options.replace.is_some() && options.target == Target::Local {
            return Err(LaunchError::Option {
                option: "replace",
                message: "a local job has no running predecessor to replace; use the rest or gateway target".into(),
            });
        }
        if !extras.jars.is_empty() {
            connectors::database::check(self.script, &self.substituted).await?;
        }
        let context = Context {
            script: self.script,
            redactor: self.redactor().clone(),
            extra_jars: extras.jars.clone(),
        };
        match options.target {
            Target::Local => context.local(spec, options).await,
            Target::Rest => context.rest(spec, options).await,
            Target::Gateway => {
                context
                    .gateway(spec, &self.substituted.texts, options)
                    .await
            }
        }
    }
}

/// Launches `script` as one job: substitutes variables, validates (unless
/// [`Options::validate`] says not to), submits to the target and returns the job's handle once
/// Flink accepted it. See the [module docs](self).
pub async fn launch(script: &Script, options: &Options) -> Result<Job, LaunchError> {
    Prepared::prepare(script, options)
        .await
        .submit(options)
        .await
}

/// What a submission needs to turn Flink's answers into located, masked errors.
#[derive(Clone)]
struct Context<'s> {
    script: &'s Script,
    redactor: Redactor,
    extra_jars: Vec<PathBuf>,
}

impl Context<'_> {
    fn locate(&self, statement: Option<usize>) -> Option<StatementRef> {
        statement.and_then(|i| StatementRef::of(self.script, i))
    }

    fn rest_error(&self, mut err: RestError) -> LaunchError {
        if let RestError::Http(HttpError::Status { message, .. }) = &mut err {
            *message = self.redactor.redact(message);
        }
        err.into()
    }

    /// The job jar for a cluster: the runner jar, or, when the script needs extra jars, the
    /// runner with them nested under `lib/` (built once per set; Flink extracts nested jars
    /// onto the job's classpath and ships them with the job, so one upload per set suffices
    /// and nothing has to be installed on the cluster).
    async fn provision_jar(&self, options: &Options) -> Result<(PathBuf, String), LaunchError> {
        let cache = options.cache_or_default()?;
        let listener = options.clone();
        let extra = self.extra_jars.clone();
        tokio::task::spawn_blocking(move || {
            let jar = cache.runner_jar(false, &mut |p| listener.emit(Event::Provision(p)))?;
            if !extra.is_empty() {
                return cache.job_jar(&jar, &extra);
            }
            let sha = cache.runner_jar_sha256(&jar)?;
            Ok::<_, ProvisionError>((jar, sha))
        })
        .await
        .map_err(|e| LaunchError::Io(std::io::Error::other(e)))?
        .map_err(LaunchError::from)
    }

    /// With `replace`: stops the RUNNING job named `name` with a savepoint and returns the
    /// savepoint's path (`None` when no such job runs).
    async fn stop_for_replace(
        &self,
        rest: &RestClient,
        name: &str,
        options: &Options,
    ) -> Result<Option<String>, LaunchError> {
        let running: Vec<_> = rest
            .jobs()
            .await
            .map_err(|e| self.rest_error(e))?
            .into_iter()
            .filter(|j| j.name == name && j.state == JobState::Running)
            .collect();
        let Some(dir) = &options.replace else {
            if let Some(job) = running.first() {
                options.emit(Event::AlreadyRunning {
                    name: name.to_string(),
                    job_id: job.id.clone(),
                });
            }
            return Ok(None);
        };
        let Some(job) = running.first() else {
            options.emit(Event::NothingToReplace {
                name: name.to_string(),
            });
            return Ok(None);
        };
        options.emit(Event::Stopping {
            job_id: job.id.clone(),
            savepoint_dir: dir.clone(),
        });
        let savepoint = rest
            .stop_with_savepoint(&job.id, dir)
            .await
            .map_err(|e| self.rest_error(e))?;
        options.emit(Event::Stopped {
            job_id: job.id.clone(),
            savepoint: savepoint.clone(),
        });
        Ok(Some(savepoint))
    }

    async fn rest(&self, spec: &JobSpec, options: &Options) -> Result<Job, LaunchError> {
        let rest = RestClient::new(&options.flink_url, Duration::from_secs(30));
        options.emit(Event::Submitting {
            target: Target::Rest,
            url: rest.url().to_string(),
        });
        // The jar (provisioned, then found on the cluster or uploaded) and the job to replace
        // are independent: ask for both at once. An unreachable cluster fails the first.
        let jar = async {
            let (jar, sha) = self.provision_jar(options).await?;
            rest.ensure_jar(&jar, &sha)
                .await
                .map_err(|e| self.rest_error(e))
        };
        let (jar_id, replaced) =
            tokio::try_join!(jar, self.stop_for_replace(&rest, &spec.name, options))?;
        let mut request = RunRequest {
            statements: spec.statements.clone(),
            job_name: spec.name.clone(),
            parallelism: options.parallelism,
            savepoint: replaced.clone().or_else(|| options.from_savepoint.clone()),
            allow_non_restored_state: options.allow_non_restored_state,
            conf: options.sets.clone(),
        };
        let mut ran = rest.run(&jar_id, &request).await;
        if replaced.is_some()
            && let Err(err) = &ran
            && Refusal::of(err).is_some_and(|r| r.is_unmapped_state())
        {
            options.emit(Event::DroppingUnmappedState);
            request.allow_non_restored_state = true;
            ran = rest.run(&jar_id, &request).await;
        }
        let id = ran.map_err(|err| match Refusal::of(&err) {
            Some(refusal)
                if err.http_status().is_some_and(|s| s < 500) || refusal.statement.is_some() =>
            {
                LaunchError::Rejected {
                    target: Target::Rest,
                    statement: self.locate(refusal.statement),
                    message: self.redactor.redact(&refusal.message),
                }
            }
            _ => self.rest_error(err),
        })?;
        options.emit(Event::Submitted { job_id: id.clone() });
        Ok(Job {
            id,
            name: spec.name.clone(),
            target: Target::Rest,
            runs: Runs::Cluster(rest),
            session: None,
            restored_from: replaced,
            locations: self.locations(),
            redactor: self.redactor.clone(),
            cancel_on_drop: false,
        })
    }

    async fn gateway(
        &self,
        spec: &JobSpec,
        texts: &[String],
        options: &Options,
    ) -> Result<Job, LaunchError> {
        let client = GatewayClient::new(&options.gateway_url);
        client.version().await.map_err(|e| self.gateway_error(e))?;
        options.emit(Event::Submitting {
            target: Target::Gateway,
            url: client.url().to_string(),
        });
        let rest = RestClient::new(&options.flink_url, Duration::from_secs(10));
        let replaced = self.stop_for_replace(&rest, &spec.name, options).await?;
        let restore = replaced.clone().or_else(|| options.from_savepoint.clone());
        let client = &client;
        let jars: Vec<String> = self
            .extra_jars
            .iter()
            .map(|j| j.display().to_string())
            .collect();
        let jars = &jars;
        let run_with = |allow_non_restored: bool| {
            let extra = options.job_conf(restore.as_deref(), allow_non_restored);
            let mut plan = gateway::plan(self.script, texts, &extra);
            plan.jars = jars.clone();
            async move { client.run(&plan, options.keep_session, &spec.name).await }
        };
        let mut ran = run_with(options.allow_non_restored_state).await;
        // As through REST: a replaced job's state that no operator of the new script reads is
        // dropped only once Flink said it cannot be mapped.
        if replaced.is_some()
            && !options.allow_non_restored_state
            && let Err(GatewayError::Statement { message, .. }) = &ran
            && crate::flink::refuses_unmapped_state(message)
        {
            options.emit(Event::DroppingUnmappedState);
            ran = run_with(true).await;
        }
        let run = ran.map_err(|e| self.gateway_error(e))?;
        let id = run
            .job_id
            .ok_or_else(|| LaunchError::Gateway(GatewayError::NoJob))?;
        options.emit(Event::Submitted { job_id: id.clone() });
        Ok(Job {
            id,
            name: spec.name.clone(),
            target: Target::Gateway,
            runs: Runs::Cluster(rest),
            session: run.session,
            restored_from: replaced,
            locations: self.locations(),
            redactor: self.redactor.clone(),
            cancel_on_drop: false,
        })
    }

    fn gateway_error(&self, err: GatewayError) -> LaunchError {
        match err {
            GatewayError::Statement { statement, message } => LaunchError::Rejected {
                target: Target::Gateway,
                statement: self.locate(Some(statement)),
                message: self.redactor.redact(&gateway_explained(message)),
            },
            GatewayError::Http(HttpError::Status {
                service,
                url,
                status,
                message,
            }) => LaunchError::Gateway(GatewayError::Http(HttpError::Status {
                service,
                url,
                status,
                message: self.redactor.redact(&message),
            })),
            other => other.into(),
        }
    }

    async fn local(&self, spec: &JobSpec, options: &Options) -> Result<Job, LaunchError> {
        let cache = options.cache_or_default()?;
        let listener = options.clone();
        let mut provisioned = tokio::task::spawn_blocking(move || {
            cache.provision(false, &mut |p| listener.emit(Event::Provision(p)))
        })
        .await
        .map_err(|e| LaunchError::Io(std::io::Error::other(e)))??;
        provisioned.extra_jars = self.extra_jars.clone();
        let run_dir = match &options.run_dir {
            Some(dir) => dir.clone(),
            None => crate::config::state_dir()?.join("runs").join(format!(
                "{}-{}",
                unix_seconds(),
                std::process::id()
            )),
        };
        let local_options = LocalOptions {
            heap: options.heap.clone(),
            web_port: options.web_port,
            conf: options.job_conf(
                options.from_savepoint.as_deref(),
                options.allow_non_restored_state,
            ),
            run_dir,
            detach: options.detach,
        };
        let process = match self.session(&provisioned, options).await? {
            Some(session) => {
                options.emit(Event::InSession {
                    pid: session.pid,
                    web_ui: session.web_ui.clone(),
                });
                match local::start_in_session(&session, spec, &local_options).await {
                    Err(LocalError::Session(err)) => {
                        tracing::warn!("{err}; running in a JVM of its own");
                        None
                    }
                    started => Some(started?),
                }
            }
            None => None,
        };
        let process = match process {
            Some(process) => process,
            None => {
                options.emit(Event::Submitting {
                    target: Target::Local,
                    url: "local".into(),
                });
                local::start(&provisioned, spec, &local_options)?
            }
        };
        let mut status = process.watch();
        let mut web_ui_seen = false;
        let id = loop {
            let now = status.borrow_and_update().clone();
            if let (Some(url), false) = (&now.web_ui, web_ui_seen) {
                web_ui_seen = true;
                options.emit(Event::WebUi { url: url.clone() });
            }
            if let Some(end) = now.end {
                let mut job = self.local_job(String::new(), spec, process);
                return Err(job.local_end(end, now.job_id).await);
            }
            if let Some(id) = now.job_id {
                break id;
            }
            if status.changed().await.is_err() {
                let mut job = self.local_job(String::new(), spec, process);
                return Err(job.local_end(LocalEnd::Vanished, None).await);
            }
        };
        options.emit(Event::Submitted { job_id: id.clone() });
        Ok(self.local_job(id, spec, process))
    }

    /// The warm session the job runs in, when [`UseSession`] and the job allow one and the user
    /// started one (replaced first if it crashed or runs another runtime).
    async fn session(
        &self,
        provisioned: &crate::provision::Provisioned,
        options: &Options,
    ) -> Result<Option<Session>, LaunchError> {
        if options.session == UseSession::Never || options.detach || options.web_port.is_some() {
            return Ok(None);
        }
        if !options.line_or_default().is_default() {
            // The session runs the default line's runner; making it another line's would
            // replace it under the jobs other runs have in it.
            return Ok(None);
        }
        if !self.extra_jars.is_empty() {
            // The session's classpath is fixed when it starts; replacing it for these jars would
            // cancel the jobs other runs have in it.
            tracing::debug!("the job needs connector jars: it gets a MiniCluster of its own");
            return Ok(None);
        }
        let script_sets = self
            .script
            .statements
            .iter()
            .filter_map(|s| match &s.detail {
                crate::sql::Detail::Set(set) => set.key.as_deref(),
                _ => None,
            });
        let mut keys = options
            .sets
            .iter()
            .map(|(k, _)| k.as_str())
            .chain(script_sets);
        if let Some(key) = keys.find(|k| is_cluster_option(k)) {
            tracing::debug!("{key} configures a cluster: the job gets a MiniCluster of its own");
            return Ok(None);
        }
        let dir = match &options.session_dir {
            Some(dir) => dir.clone(),
            None => session::default_dir()?,
        };
        let provisioned = provisioned.clone();
        let ensured = tokio::task::spawn_blocking(move || session::ensure(&provisioned, &dir))
            .await
            .map_err(|e| LaunchError::Io(std::io::Error::other(e)))?;
        Ok(ensured.unwrap_or_else(|err| {
            tracing::warn!("the local session: {err}; running in a JVM of its own");
            None
        }))
    }

    fn local_job(&self, id: String, spec: &JobSpec, process: LocalJob) -> Job {
        Job {
            id,
            name: spec.name.clone(),
            target: Target::Local,
            runs: Runs::Local(process),
            session: None,
            restored_from: None,
            locations: self.locations(),
            redactor: self.redactor.clone(),
            cancel_on_drop: false,
        }
    }

    fn locations(&self) -> Vec<StatementRef> {
        (0..self.script.statements.len())
            .filter_map(|i| StatementRef::of(self.script, i))
            .collect()
    }
}

fn unix_seconds() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A launched job: its id, name and target, and what can be done with it. On the local target
/// it also owns the child JVM ([`Job::pid`], [`Job::next_output`]).
///
/// Dropping a handle leaves the job running — on a cluster and, for a local job, in its JVM —
/// unless [`Job::cancel_on_drop`] asked for it to be cancelled then (for a cluster job that
/// drop waits up to 10 s for the cancel request). A local job in the warm session is tied to
/// its connection, which a task of the async runtime holds: it runs until that runtime ends.
#[derive(Debug)]
pub struct Job {
    id: String,
    name: String,
    target: Target,
    runs: Runs,
    session: Option<String>,
    restored_from: Option<String>,
    locations: Vec<StatementRef>,
    redactor: Redactor,
    cancel_on_drop: bool,
}

/// Where a [`Job`] runs: a cluster, watched through its REST API, or a local child JVM (watched
/// through its events, and through its MiniCluster's REST API once that is up).
#[derive(Debug)]
enum Runs {
    Cluster(RestClient),
    Local(LocalJob),
}

impl Job {
    fn local(&self) -> Option<&LocalJob> {
        match &self.runs {
            Runs::Local(local) => Some(local),
            Runs::Cluster(_) => None,
        }
    }

    fn local_mut(&mut self) -> Option<&mut LocalJob> {
        match &mut self.runs {
            Runs::Local(local) => Some(local),
            Runs::Cluster(_) => None,
        }
    }

    /// Flink's job id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The job name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Where it runs.
    pub fn target(&self) -> Target {
        self.target
    }

    /// The REST address through which the job is watched (a local job's MiniCluster web UI).
    pub fn flink_url(&self) -> Option<String> {
        match &self.runs {
            Runs::Local(local) => local.status().web_ui,
            Runs::Cluster(rest) => Some(rest.url().to_string()),
        }
    }

    /// The SQL Gateway session, when it was kept open.
    pub fn session(&self) -> Option<&str> {
        self.session.as_deref()
    }

    /// The savepoint the job started from when it replaced a running job.
    pub fn restored_from(&self) -> Option<&str> {
        self.restored_from.as_deref()
    }

    /// The local JVM's process id (also its process group); `None` for a job in the warm
    /// session (whose JVM runs other jobs too).
    pub fn pid(&self) -> Option<u32> {
        self.local().and_then(LocalJob::pid)
    }

    /// The local JVM's log file.
    pub fn log_file(&self) -> Option<PathBuf> {
        self.local().map(LocalJob::log_file)
    }

    /// A detached local job's output file.
    pub fn output_file(&self) -> Option<PathBuf> {
        self.local().map(LocalJob::output_file)
    }

    /// Cancel the job when this handle is dropped without [`Job::cancel`] or
    /// [`Job::stop_with_savepoint`] (for tests and one-shot tools: nothing is left behind).
    pub fn cancel_on_drop(mut self, cancel: bool) -> Self {
        self.cancel_on_drop = cancel;
        self
    }

    /// The next line a local job printed that is not the runner's (a `print` sink's rows),
    /// masked; `None` once its output has ended, and always for cluster jobs (whose output is in
    /// the TaskManagers' logs). Lines not read are kept up to 4096, then dropped.
    pub async fn next_output(&mut self) -> Option<String> {
        let line = self.local_mut()?.next_output().await?;
        Some(self.redactor.redact(&line))
    }

    /// A REST client for the job's cluster (the local MiniCluster's once its web UI is up).
    fn rest(&self) -> Option<RestClient> {
        match &self.runs {
            Runs::Local(local) => local
                .status()
                .web_ui
                .map(|url| RestClient::new(&url, Duration::from_secs(10))),
            Runs::Cluster(rest) => Some(rest.clone()),
        }
    }

    /// The job's state now.
    pub async fn state(&self) -> Result<JobState, LaunchError> {
        match &self.runs {
            Runs::Local(local) => {
                let status = local.status();
                Ok(match status.end {
                    Some(LocalEnd::Finished(state) | LocalEnd::Failed { state, .. }) => state,
                    Some(LocalEnd::Rejected { .. } | LocalEnd::Vanished) => JobState::Failed,
                    None => status.state.unwrap_or(JobState::Initializing),
                })
            }
            Runs::Cluster(rest) => Ok(rest
                .summary(&self.id)
                .await?
                .map_or(JobState::Initializing, |j| j.state)),
        }
    }

    /// Waits until every task of the job runs, or the job has ended, at most `timeout`, and
    /// returns its state then: `RUNNING`, a final state (`FINISHED` for a bounded job that was
    /// quick), or the state at the deadline (`CREATED` while tasks wait for slots). A job that
    /// failed is [`LaunchError::Failed`] with its root cause.
    pub async fn wait_running(&self, timeout: Duration) -> Result<JobState, LaunchError> {
        let rest = match &self.runs {
            Runs::Cluster(rest) => rest,
            Runs::Local(local) => {
                let mut watch = local.watch();
                let reached = tokio::time::timeout(
                    timeout,
                    watch.wait_for(|s| s.end.is_some() || s.state == Some(JobState::Running)),
                )
                .await;
                if let Ok(Ok(status)) = &reached
                    && let Some(LocalEnd::Failed {
                        state,
                        statement,
                        message,
                    }) = &status.end
                {
                    return Err(self.failed(*state, *statement, message));
                }
                return self.state().await;
            }
        };
        let state = rest.wait_running(&self.id, timeout).await?;
        if state == JobState::Failed {
            return Err(self.cluster_failure(rest, state).await);
        }
        Ok(state)
    }

    /// Waits until the job has ended, at most `timeout` (`None`: no limit), and returns its
    /// final state — or the state at the deadline. A failed job is [`LaunchError::Failed`];
    /// a local job's JVM is gone when this returns a final state.
    pub async fn wait_finished(
        &mut self,
        timeout: Option<Duration>,
    ) -> Result<JobState, LaunchError> {
        let limit = timeout.unwrap_or(Duration::MAX);
        let rest = match &self.runs {
            Runs::Cluster(rest) => rest.clone(),
            Runs::Local(local) => {
                let mut watch = local.watch();
                let end =
                    match tokio::time::timeout(limit, watch.wait_for(|s| s.end.is_some())).await {
                        Ok(Ok(status)) => status.end.clone(),
                        Ok(Err(_)) => Some(LocalEnd::Vanished),
                        Err(_) => None,
                    };
                return match end {
                    Some(LocalEnd::Finished(state)) => {
                        self.reap().await;
                        Ok(state)
                    }
                    Some(end) => Err(self.local_end(end, Some(self.id.clone())).await),
                    None => self.state().await,
                };
            }
        };
        let state = rest
            .wait_ended(&self.id, limit.min(Duration::from_secs(u32::MAX as u64)))
            .await?;
        if state == JobState::Failed {
            return Err(self.cluster_failure(&rest, state).await);
        }
        Ok(state)
    }

    /// Each operator chain with its records in and out, summed over subtasks.
    pub async fn metrics(&self) -> Result<Vec<Vertex>, LaunchError> {
        let Some(rest) = self.rest() else {
            return Ok(Vec::new());
        };
        Ok(rest.job(&self.id).await?.vertices)
    }

    /// The root cause of the job's latest failure, if it has one (masked, without the Java
    /// stack).
    pub async fn exceptions(&self) -> Result<Option<String>, LaunchError> {
        if let Some(LocalEnd::Failed { message, .. }) = self.local().and_then(|l| l.status().end) {
            return Ok(Some(self.redactor.redact(&message)));
        }
        let Some(rest) = self.rest() else {
            return Ok(None);
        };
        Ok(rest
            .root_cause(&self.id)
            .await?
            .map(|c| self.redactor.redact(&c)))
    }

    /// Cancels the job and waits (up to 30 s) until it has ended; returns its final state. A
    /// local job's JVM is asked to cancel and exit, and killed if it does not.
    pub async fn cancel(mut self) -> Result<JobState, LaunchError> {
        self.cancel_on_drop = false;
        let rest = match &mut self.runs {
            Runs::Cluster(rest) => rest.clone(),
            Runs::Local(local) => {
                let ended = local.status().end;
                local
                    .terminate(Duration::from_secs(30))
                    .await
                    .map_err(LaunchError::Io)?;
                return Ok(match ended {
                    Some(LocalEnd::Finished(state) | LocalEnd::Failed { state, .. }) => state,
                    _ => JobState::Canceled,
                });
            }
        };
        rest.cancel(&self.id).await?;
        Ok(rest.wait_ended(&self.id, Duration::from_secs(30)).await?)
    }

    /// Stops the job with a savepoint in `directory` (a path the cluster can write, such as
    /// `file:///tmp/savepoints` or `s3://bucket/savepoints`); returns the savepoint's path.
    pub async fn stop_with_savepoint(mut self, directory: &str) -> Result<String, LaunchError> {
        self.cancel_on_drop = false;
        let rest = self.rest().ok_or_else(|| LaunchError::Option {
            option: "savepoint",
            message: "the local job's web UI is not up yet".into(),
        })?;
        let savepoint = rest.stop_with_savepoint(&self.id, directory).await?;
        if self.local().is_some() {
            let _ = self.wait_finished(Some(Duration::from_secs(30))).await;
        }
        Ok(savepoint)
    }

    /// The error for a local run's end.
    async fn local_end(&mut self, end: LocalEnd, job_id: Option<String>) -> LaunchError {
        match end {
            LocalEnd::Rejected { statement, message } => {
                self.reap().await;
                LaunchError::Rejected {
                    target: Target::Local,
                    statement: self.location(statement),
                    message: self.redactor.redact(&message),
                }
            }
            LocalEnd::Failed {
                state,
                statement,
                message,
            } => {
                self.reap().await;
                let mut err = self.failed(state, statement, &message);
                if let (LaunchError::Failed { job_id: id, .. }, Some(known)) = (&mut err, job_id) {
                    *id = known;
                }
                err
            }
            LocalEnd::Finished(state) => LaunchError::Failed {
                job_id: job_id.unwrap_or_default(),
                state,
                statement: None,
                message: "the job ended before it was submitted".into(),
            },
            LocalEnd::Vanished => {
                self.reap().await;
                let (log, tail) = self
                    .local()
                    .map(|l| (l.log_file(), l.log_tail(20)))
                    .unwrap_or_default();
                LaunchError::Vanished {
                    log,
                    tail: self.redactor.redact(&tail),
                }
            }
        }
    }

    /// Waits for a local JVM whose run has ended to exit (killing it after 30 s).
    async fn reap(&mut self) {
        if let Some(local) = self.local_mut()
            && let Err(err) = local.terminate(Duration::from_secs(30)).await
        {
            tracing::warn!(pid = ?local.pid(), "waiting for the local JVM: {err}");
        }
    }

    fn location(&self, statement: Option<usize>) -> Option<StatementRef> {
        statement.and_then(|i| self.locations.get(i).cloned())
    }

    fn failed(&self, state: JobState, statement: Option<usize>, message: &str) -> LaunchError {
        LaunchError::Failed {
            job_id: self.id.clone(),
            state,
            statement: self.location(statement),
            message: self.redactor.redact(message),
        }
    }

    async fn cluster_failure(&self, rest: &RestClient, state: JobState) -> LaunchError {
        let cause = rest
            .root_cause(&self.id)
            .await
            .ok()
            .flatten()
            .unwrap_or_else(|| "no exception recorded".into());
        self.failed(state, None, &cause)
    }
}

impl Drop for Job {
    fn drop(&mut self) {
        if !self.cancel_on_drop {
            return;
        }
        let rest = match &self.runs {
            Runs::Local(local) => {
                local.signal(nix::sys::signal::Signal::SIGTERM);
                return;
            }
            Runs::Cluster(rest) => rest.clone(),
        };
        let id = self.id.clone();
        let cancelled = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime
                .block_on(async {
                    tokio::time::timeout(Duration::from_secs(10), rest.cancel(&id)).await
                })
                .map_err(std::io::Error::other)?
                .map_err(std::io::Error::other)
        })
        .join();
        if !matches!(cancelled, Ok(Ok(()))) {
            tracing::warn!(job = %self.id, "could not cancel the job on drop");
        }
    }
}

/// A SQL Gateway's rejection, with what the Gateway lacks when a jdbc catalog or table finds no
/// driver: `DriverManager` only sees drivers of the Gateway's own class loader, never one that
/// arrives with `ADD JAR`, so Flink's bare "No suitable driver" would mislead.
fn gateway_explained(message: String) -> String {
    if !message.contains("No suitable driver") {
        return message;
    }
    format!(
        "the SQL Gateway has no JDBC driver for this database on its own classpath (Java's DriverManager ignores one that comes with ADD JAR): put the driver (for PostgreSQL org.postgresql:postgresql) and the jdbc connector (flink-connector-jdbc-core and its dialect) in the Gateway's lib/ with `classloader.parent-first-patterns.additional: org.postgresql.` (else the driver from ADD JAR shadows it) and restart it, or use --target rest or local; `flinkit stack up` starts a Gateway that has them ({message})"
    )
}

#[cfg(test)]
mod tests {
    use super::gateway_explained;

    #[test]
    fn a_gateway_without_a_jdbc_driver_is_told_what_it_needs() {
        let raw = "java.sql.SQLException: No suitable driver found for jdbc:postgresql://db/x";
        let explained = gateway_explained(raw.to_string());
        assert!(
            explained.starts_with("the SQL Gateway has no JDBC driver"),
            "{explained}"
        );
        assert!(explained.contains("Gateway's lib/"), "{explained}");
        assert!(explained.ends_with(&format!("({raw})")), "{explained}");
        assert_eq!(
            gateway_explained("Object 'x' not found".into()),
            "Object 'x' not found"
        );
    }
}
