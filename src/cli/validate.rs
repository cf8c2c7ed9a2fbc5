//! `flinkit validate`: checks a script offline (connector options, formats, keys, metadata,
//! INSERTs, variables) and renders each finding like a compiler, or prints the contract's JSON;
//! `--fix` prints the repairs as a diff and `--write` applies them.

use std::collections::BTreeMap;

use anyhow::Context as _;
use clap::Args;
use codespan_reporting::diagnostic::{Diagnostic as Report, Label, Severity as Level};
use codespan_reporting::files::SimpleFiles;
use codespan_reporting::term::{self, termcolor::StandardStream};
use flinkit::connectors::{self, Diagnostic, Severity, apply_edits};
use flinkit::flink::session;
use flinkit::launch::{Event, LaunchError, Options, Prepared};
use flinkit::sql::{Origin, Script};
use flinkit::vars::{self, Substituted};
use serde_json::json;

use super::args::{JarArgs, SqlArgs, VarArgs};
use super::{Context, Format, InvalidInput, output};

/// Flags of `flinkit validate`.
#[derive(Args, Debug)]
pub struct ValidateArgs {
    #[command(flatten)]
    pub sql: SqlArgs,
    #[command(flatten)]
    pub vars: VarArgs,
    #[command(flatten)]
    pub jars: JarArgs,
    /// Print the automatic repairs (legacy Pulsar options, metadata keys) as a diff.
    #[arg(long)]
    pub fix: bool,
    /// With --fix: apply the repairs to the files in place.
    #[arg(long, requires = "fix")]
    pub write: bool,
    /// Also compile the script with Flink's real planner (no job runs; needs Java; in the warm
    /// local session when one is up, see `flinkit local`).
    #[arg(long)]
    pub deep: bool,
}

/// Substitutes variables, fetches and describes the jars the script needs beyond the runner
/// (connectors flinkit knows, `--jar`s), and validates against the bundled and added
/// connectors; returns the added jars too.
pub fn check(
    script: &Script,
    vars: &VarArgs,
    jars: &JarArgs,
) -> anyhow::Result<(Substituted, Vec<Diagnostic>, Vec<std::path::PathBuf>)> {
    let reporter = std::sync::Arc::new(std::sync::Mutex::new(super::progress::Reporter::new(true)));
    let listener = reporter.clone();
    let mut options = Options::local().on_event(move |event| {
        if let (Event::Provision(p), Ok(mut reporter)) = (event, listener.lock()) {
            reporter.provision(p.clone());
        }
    });
    for (key, value) in &vars.vars {
        options = options.var(key.clone(), value.clone());
    }
    for jar in jars.resolve()? {
        options = options.jar(jar);
    }
    let prepared = Prepared::new(script, &options);
    drop(reporter);
    let extras = prepared
        .extras()
        .map_err(|err| LaunchError::Jars(err.clone()))?
        .jars()
        .to_vec();
    Ok((
        prepared.substituted().clone(),
        prepared.diagnostics().to_vec(),
        extras,
    ))
}

/// Lines longer than this (bytes) are not drawn under a finding; its place is given instead.
const MAX_SHOWN_LINE: usize = 1000;

/// Prints diagnostics: rendered on stderr in text mode, the source lines shown with their secret
/// literals masked.
pub fn render(
    ctx: &Context<'_>,
    script: &Script,
    substituted: &Substituted,
    diagnostics: &[Diagnostic],
) {
    let redactor = &substituted.redactor;
    let mut files = SimpleFiles::new();
    let masked: Vec<(usize, vars::MaskedSource)> = script
        .sources
        .iter()
        .enumerate()
        .map(|(index, s)| {
            let masked = substituted.mask_source(index, s.text());
            (files.add(s.name(), masked.text.clone()), masked)
        })
        .collect();
    let mut stream = StandardStream::stderr(ctx.color.for_stderr());
    let config = term::Config::default();
    for d in diagnostics {
        let level = match d.severity {
            Severity::Error => Level::Error,
            Severity::Warning => Level::Warning,
        };
        let mut notes = Vec::new();
        if let Some(suggestion) = &d.suggestion {
            notes.push(format!("help: {}", redactor.redact(suggestion)));
        }
        let (id, masked_source) = &masked[d.source];
        let source = &script.sources[d.source];
        let at = source.position(d.span.start);
        if source.line_range(at.line).len() > MAX_SHOWN_LINE {
            // Drawing a very long line under each finding costs its length every time.
            let label = if level == Level::Error {
                "error"
            } else {
                "warning"
            };
            eprintln!(
                "{label}[{}]: {}\n  --> {}:{}:{}",
                d.code,
                redactor.redact(&d.message),
                source.name(),
                at.line,
                at.column
            );
            for note in &notes {
                eprintln!("  = {note}");
            }
            continue;
        }
        let report = Report::new(level)
            .with_code(d.code)
            .with_message(redactor.redact(&d.message))
            .with_labels(vec![Label::primary(*id, masked_source.range(&d.span))])
            .with_notes(notes);
        if term::emit_to_write_style(&mut stream, &config, &files, &report).is_err() {
            eprintln!("{}: {}", d.code, redactor.redact(&d.message));
        }
    }
}

/// The contract's `{"ok", "diagnostics"}` object, secrets masked.
pub fn to_json(redactor: &vars::Redactor, diagnostics: &[Diagnostic]) -> serde_json::Value {
    let ok = !diagnostics.iter().any(|d| d.severity == Severity::Error);
    let mut value = json!({"ok": ok, "diagnostics": diagnostics});
    if let Some(list) = value["diagnostics"].as_array_mut() {
        for d in list {
            for key in ["message", "suggestion"] {
                if let Some(text) = d.get(key).and_then(|v| v.as_str()) {
                    d[key] = json!(redactor.redact(text));
                }
            }
        }
    }
    value
}

/// Compiles the script with Flink's planner through the runner (`--explain`): in the warm local
/// session when one is up and the script needs no connector jars (the session's classpath is
/// fixed when it starts), else in a JVM of its own.
fn deep(
    script: &Script,
    substituted: &Substituted,
    extra_jars: Vec<std::path::PathBuf>,
) -> anyhow::Result<Vec<Diagnostic>> {
    let cache = flinkit::provision::Cache::from_env()?;
    let mut reporter = super::progress::Reporter::new(true);
    let mut provisioned = cache.provision(false, &mut |p| reporter.provision(p))?;
    let session = if extra_jars.is_empty() {
        session::ensure(&provisioned, &session::default_dir()?).unwrap_or_else(|err| {
            tracing::warn!("the local session: {err}; compiling in a JVM of its own");
            None
        })
    } else {
        None
    };
    provisioned.extra_jars = extra_jars;
    reporter.start(match session {
        Some(_) => "compiling the script with Flink's planner in the local session",
        None => "compiling the script with Flink's planner",
    });
    let scratch = flinkit::config::state_dir()?.join("explain");
    let explained = super::block_on(flinkit::flink::local::explain(
        &provisioned,
        &substituted.texts,
        &scratch,
        session.as_ref(),
    ))??;
    drop(reporter);
    Ok(match explained {
        flinkit::flink::local::Explained::Plan(_) => Vec::new(),
        flinkit::flink::local::Explained::Rejected { statement, message } => {
            let index = statement
                .filter(|&i| i < script.statements.len())
                .unwrap_or_else(|| script.statements.len().saturating_sub(1));
            if script.statements.is_empty() {
                return Err(InvalidInput(message).into());
            }
            vec![Diagnostic::statement_error(
                script,
                index,
                "planner",
                format!("Flink's planner rejects this statement: {message}"),
            )]
        }
    })
}

/// The repaired text of each source that has fixes.
fn repaired(script: &Script, diagnostics: &[Diagnostic]) -> BTreeMap<usize, String> {
    let mut by_source: BTreeMap<usize, Vec<&connectors::Edit>> = BTreeMap::new();
    for edit in diagnostics.iter().flat_map(|d| &d.fixes) {
        by_source.entry(edit.source).or_default().push(edit);
    }
    by_source
        .into_iter()
        .map(|(source, edits)| (source, apply_edits(script.sources[source].text(), &edits)))
        .collect()
}

/// Runs `flinkit validate`.
pub fn run(ctx: &Context<'_>, args: &ValidateArgs) -> anyhow::Result<()> {
    let script = Script::from_inputs(&args.sql.inputs(ctx.matches))?;
    let (substituted, mut diagnostics, extra_jars) = check(&script, &args.vars, &args.jars)?;
    let redactor = &substituted.redactor;
    if args.deep && !diagnostics.iter().any(|d| d.severity == Severity::Error) {
        diagnostics.extend(deep(&script, &substituted, extra_jars)?);
    }
    let errors = diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    let mut diff = String::new();
    if args.fix {
        for (source, text) in repaired(&script, &diagnostics) {
            let file = &script.sources[source];
            let name = file.name();
            diff.push_str(
                &similar::TextDiff::from_lines(file.text(), &text)
                    .unified_diff()
                    .header(&name, &name)
                    .to_string(),
            );
            if args.write {
                match file.origin() {
                    Origin::File(path) => std::fs::write(path, &text)
                        .with_context(|| format!("cannot write {}", path.display()))?,
                    other => {
                        return Err(InvalidInput(format!(
                            "--write can only repair files, and {other} is not one"
                        ))
                        .into());
                    }
                }
            }
        }
    }
    match ctx.format {
        Format::Json => {
            let mut value = to_json(redactor, &diagnostics);
            if args.fix {
                value["fix"] = json!(redactor.redact(&diff));
                value["written"] = json!(args.write);
            }
            output::print_json(&value)?;
        }
        _ => {
            render(ctx, &script, &substituted, &diagnostics);
            if args.fix {
                output::print(&redactor.redact(&diff))?;
                if args.write && !diff.is_empty() {
                    eprintln!("repairs written; validate again to see what is left");
                }
            }
            let warnings = diagnostics.len() - errors;
            eprintln!(
                "{}: {} statement(s), {errors} error(s), {warnings} warning(s)",
                if errors == 0 { "ok" } else { "invalid" },
                script.statements.len()
            );
        }
    }
    if errors > 0 && !(args.fix && args.write) {
        std::process::exit(2);
    }
    Ok(())
}
