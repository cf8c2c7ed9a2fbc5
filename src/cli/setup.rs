//! `flinkit setup`: provisions Java checks, the runner jar and the Flink runtime classpath
//! explicitly (other commands do it on first use), and says what flinkit runs.

use clap::Args;
use flinkit::flink::line::FlinkLine;
use flinkit::provision::{Cache, Provisioned};
use serde_json::json;

use super::progress::Reporter;
use super::{Context, Format, output};

/// Flags of `flinkit setup`.
#[derive(Args, Debug)]
pub struct SetupArgs {
    /// Check every cached file's SHA-256, not only its presence and size.
    #[arg(long)]
    pub verify: bool,
    /// Throw away the cached runner jar and Flink runtime and provision them again.
    #[arg(long)]
    pub force: bool,
    /// The Flink line to provision: 1.20 (default), 2 (the newest 2.x flinkit runs, 2.2) or 2.2.
    #[arg(long, value_name = "VERSION", value_parser = super::values::flink_line)]
    pub flink_version: Option<FlinkLine>,
}

fn total_size(provisioned: &Provisioned) -> u64 {
    std::iter::once(&provisioned.runner_jar)
        .chain(&provisioned.classpath)
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum()
}

/// Runs `flinkit setup`.
pub fn run(ctx: &Context<'_>, args: &SetupArgs) -> anyhow::Result<()> {
    let line = args.flink_version.unwrap_or_default();
    let cache = Cache::from_env()?.for_line(line);
    if args.force {
        cache.clear()?;
    }
    let mut reporter = Reporter::new(false);
    let provisioned = cache.provision(args.verify, &mut |p| reporter.provision(p))?;
    drop(reporter);
    let size = total_size(&provisioned);
    if ctx.format == Format::Json {
        return output::print_json(&json!({
            "cache": cache.root(),
            "java": {"path": provisioned.java.path, "version": provisioned.java.major},
            "runner_jar": provisioned.runner_jar,
            "class_archive": provisioned.class_archive,
            "classpath_jars": provisioned.classpath.len(),
            "bytes": size,
            "verified": args.verify,
            "versions": {
                "flink": line.flink_version(),
                "kafka_connector": line.kafka_connector(),
                "pulsar_connector": line.pulsar_connector(),
            },
        }));
    }
    output::print(&format!(
        "Java {} ({})\nrunner jar: {}\nclass-data archive: {}\nFlink {} runtime: {} jars, {} MB in all\ncache: {}\n",
        provisioned.java.major,
        provisioned.java.path.display(),
        provisioned.runner_jar.display(),
        provisioned.class_archive.as_ref().map_or_else(
            || "none (`flinkit -vv setup` says why)".to_string(),
            |p| p.display().to_string()
        ),
        line.flink_version(),
        provisioned.classpath.len(),
        size / 1_000_000,
        cache.root().display()
    ))
}
