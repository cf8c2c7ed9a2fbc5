//! Turning a failure into what the user sees: a located SQL error rendered like a compiler's
//! (file, line, caret, help) or the contract's JSON error object, and the exit code.

use std::process::ExitCode;

use codespan_reporting::diagnostic::{Diagnostic, Label};
use codespan_reporting::files::SimpleFile;
use codespan_reporting::term::{self, termcolor::StandardStream};
use flinkit::bridge::BridgeError;
use flinkit::bridge::table::TableError;
use flinkit::config::ConfigError;
use flinkit::flink::gateway::GatewayError;
use flinkit::flink::rest::RestError;
use flinkit::launch::LaunchError;
use flinkit::lineage::LineageError;
use flinkit::pipeline::PipelineError;
use flinkit::provision::ProvisionError;
use flinkit::run::RunError;
use flinkit::sql::{SqlError, SyntaxError};
use flinkit::vars::MaskedSource;
use serde_json::json;

use super::{Context, Format, InvalidInput, Reported, output};

/// Prints the failure and returns its exit code: 2 for invalid input, 1 otherwise.
pub fn failure(ctx: &Context<'_>, err: &anyhow::Error) -> ExitCode {
    // `downcast_ref` also finds an `InvalidInput` attached as context to its cause.
    let invalid = err.downcast_ref::<InvalidInput>().is_some()
        || err.chain().any(|cause| {
            cause.is::<InvalidInput>()
                || cause.is::<SqlError>()
                || cause.is::<LineageError>()
                || cause.is::<TableError>()
                || cause
                    .downcast_ref::<BridgeError>()
                    .is_some_and(BridgeError::is_invalid_input)
                || cause
                    .downcast_ref::<LaunchError>()
                    .is_some_and(LaunchError::is_invalid_input)
                || cause
                    .downcast_ref::<PipelineError>()
                    .is_some_and(PipelineError::is_invalid_input)
                || cause
                    .downcast_ref::<ConfigError>()
                    .is_some_and(ConfigError::is_invalid_input)
                || cause
                    .downcast_ref::<RunError>()
                    .is_some_and(RunError::is_invalid_input)
        });
    let code = if invalid { 2 } else { 1 };
    let syntax = err
        .chain()
        .find_map(|cause| cause.downcast_ref::<SqlError>())
        .and_then(SqlError::syntax);
    let json_mode = ctx.format == Format::Json;
    if json_mode && err.chain().any(|cause| cause.is::<Reported>()) {
        return ExitCode::from(code);
    }
    match (syntax, json_mode) {
        (Some(syntax), true) => {
            let _ = output::print_json(&json!({"error": {
                "message": syntax.message,
                "line": syntax.line,
                "column": syntax.column,
                "source": syntax.source_name,
                "help": syntax.help,
            }}));
        }
        (Some(syntax), false) => render_syntax(ctx, syntax),
        (None, true) => {
            let mut error = json!({"message": message(err)});
            if let Some(at) = err
                .chain()
                .find_map(|cause| cause.downcast_ref::<SqlError>())
                .and_then(SqlError::position)
            {
                error["line"] = json!(at.line);
                error["column"] = json!(at.column);
            } else if let Some(at) = err.chain().find_map(|cause| {
                cause
                    .downcast_ref::<LaunchError>()
                    .and_then(LaunchError::statement)
                    .or_else(|| {
                        cause
                            .downcast_ref::<PipelineError>()
                            .and_then(PipelineError::statement)
                    })
            }) {
                // A statement Flink refused or failed: where it starts, as the text says.
                error["statement"] = json!(at.index);
                error["source"] = json!(at.source);
                error["line"] = json!(at.line);
                error["column"] = json!(at.column);
            }
            if let Some(fix) = fix(err) {
                error["help"] = json!(fix);
            }
            if let Some((running, pending)) = err
                .chain()
                .find_map(|cause| cause.downcast_ref::<PipelineError>())
                .and_then(PipelineError::progress)
            {
                error["running"] = json!(running);
                error["not_deployed"] = json!(pending);
            }
            let _ = output::print_json(&json!({ "error": error }));
        }
        (None, false) => {
            eprintln!("error: {}", message(err));
            if let Some(fix) = fix(err) {
                eprintln!("help: {fix}");
            }
        }
    }
    ExitCode::from(code)
}

/// The error and its causes, `: `-separated as `{:#}` prints them, without a cause whose text
/// the message already holds (an error that names its cause in its own text).
fn message(err: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in err.chain() {
        let part = cause.to_string();
        if text.is_empty() {
            text = part;
        } else if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
    }
    text
}

/// The fix for a failure, when the library knows one.
fn fix(err: &anyhow::Error) -> Option<&'static str> {
    err.chain().find_map(|cause| {
        if let Some(err) = cause.downcast_ref::<LaunchError>() {
            err.help()
        } else if let Some(err) = cause.downcast_ref::<RestError>() {
            err.help()
        } else if let Some(err) = cause.downcast_ref::<GatewayError>() {
            err.help()
        } else if let Some(err) = cause.downcast_ref::<PipelineError>() {
            err.help()
        } else {
            cause
                .downcast_ref::<ProvisionError>()
                .and_then(ProvisionError::fix)
        }
    })
}

/// Lines longer than this (bytes) are not drawn under an error; its place is given instead.
const MAX_SHOWN_LINE: usize = 1000;

fn render_syntax(ctx: &Context<'_>, err: &SyntaxError) {
    let text = err.source_text.as_str();
    let line_start = text[..err.range.start].rfind('\n').map_or(0, |at| at + 1);
    let line_end = text[err.range.start..]
        .find('\n')
        .map_or(text.len(), |at| err.range.start + at);
    if line_end - line_start > MAX_SHOWN_LINE {
        eprintln!(
            "error: {}\n  --> {}:{}:{}\n  = help: {}",
            err.message, err.source_name, err.line, err.column, err.help
        );
        return;
    }
    let masked = MaskedSource::secret_literals(text);
    let file = SimpleFile::new(err.source_name.as_str(), masked.text.as_str());
    let diagnostic = Diagnostic::error()
        .with_message(&err.message)
        .with_labels(vec![
            Label::primary((), masked.range(&err.range)).with_message(err.label),
        ])
        .with_notes(vec![format!("help: {}", err.help)]);
    let mut stream = StandardStream::stderr(ctx.color.for_stderr());
    if term::emit_to_write_style(&mut stream, &term::Config::default(), &file, &diagnostic).is_err()
    {
        eprintln!(
            "error: {}:{}:{}: {}\nhelp: {}",
            err.source_name, err.line, err.column, err.message, err.help
        );
    }
}
