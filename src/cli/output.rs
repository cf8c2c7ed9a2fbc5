//! Output plumbing: formats, color choice, logging set-up, and writing to stdout where a closed
//! pipe (`flinkit … | head`) counts as success.

use std::io::{IsTerminal, Write};

use clap::ValueEnum;

/// How results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// For people.
    Text,
    /// One JSON document on stdout, for scripts.
    Json,
    /// Graphviz (graph only).
    Dot,
    /// Mermaid flowchart (graph and pipeline report only).
    Mermaid,
    /// One self-contained HTML page (pipeline report only).
    Html,
}

/// When to use colors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorMode {
    /// When stderr is a terminal and NO_COLOR is not set.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

impl ColorMode {
    /// The termcolor choice for stderr.
    pub fn for_stderr(self) -> codespan_reporting::term::termcolor::ColorChoice {
        use codespan_reporting::term::termcolor::ColorChoice;
        match self {
            Self::Always => ColorChoice::Always,
            Self::Never => ColorChoice::Never,
            Self::Auto if std::io::stderr().is_terminal() => ColorChoice::Auto,
            Self::Auto => ColorChoice::Never,
        }
    }
}

/// Sets up `tracing` on stderr: warn by default, raised by `-v`; `FLINKIT_LOG` overrides.
pub fn init_logging(verbose: u8) {
    let level = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("FLINKIT_LOG").unwrap_or_else(|_| {
        // The pulsar crate logs its own retries and shutdown races as warnings and errors; the
        // bridge reports what matters as typed errors, so its log shows from -vv on.
        let pulsar = if verbose >= 2 { level } else { "off" };
        tracing_subscriber::EnvFilter::new(format!(
            "{level},hyper=warn,rdkafka=warn,pulsar={pulsar}"
        ))
    });
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}

/// Writes `text` to stdout; a closed pipe is not an error.
pub fn print(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(err) if err.kind() != std::io::ErrorKind::BrokenPipe => Err(err.into()),
        _ => Ok(()),
    }
}

/// Serializes `value` straight to stdout on one line, without building the document in memory
/// first (for outputs as large as their input, such as `split`'s).
pub fn write_json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    let written = serde_json::to_writer(&mut out, value)
        .map_err(std::io::Error::from)
        .and_then(|()| out.write_all(b"\n"))
        .and_then(|()| out.flush());
    match written {
        Err(err) if err.kind() != std::io::ErrorKind::BrokenPipe => Err(err.into()),
        _ => Ok(()),
    }
}

/// Writes a JSON value on one line to stdout.
pub fn print_json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    print(&format!("{}\n", serde_json::to_string(value)?))
}
