//! `flinkit split`: the statements of a script, with kind, name, target, sources and position.

use clap::Args;
use flinkit::sql::{Detail, Script, Statement};
use flinkit::vars::{self, Vars};
use serde::Serialize;

use super::args::SqlArgs;
use super::{Context, Format, output};

/// Flags of `flinkit split`.
#[derive(Args, Debug)]
pub struct SplitArgs {
    #[command(flatten)]
    pub sql: SqlArgs,
}

#[derive(Serialize)]
struct InsertJson<'a> {
    target: &'a str,
    sources: &'a [String],
}

#[derive(Serialize)]
struct StatementJson<'a> {
    index: usize,
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    target: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sources: Option<&'a [String]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    inserts: Option<Vec<InsertJson<'a>>>,
    source: String,
    line: usize,
    column: usize,
    text: &'a str,
}

fn to_json<'a>(script: &'a Script, stmt: &'a Statement, text: &'a str) -> StatementJson<'a> {
    let sources = match &stmt.detail {
        Detail::Insert(_) | Detail::CreateView(_) => Some(stmt.sources()),
        Detail::CreateTable(t) => t.query_sources.as_deref(),
        _ => None,
    };
    let inserts = matches!(stmt.detail, Detail::StatementSet(_)).then(|| {
        stmt.inserts()
            .iter()
            .map(|i| InsertJson {
                target: &i.target,
                sources: &i.sources,
            })
            .collect()
    });
    StatementJson {
        index: stmt.index,
        kind: stmt.kind.as_str(),
        name: stmt.name(),
        target: stmt.target(),
        sources,
        inserts,
        source: script.source_of(stmt).name(),
        line: stmt.line,
        column: stmt.column,
        text,
    }
}

/// The contract's `{"statements":[…]}`, serialized statement by statement.
#[derive(Serialize)]
struct SplitJson<'a> {
    statements: Statements<'a>,
}

struct Statements<'a> {
    script: &'a Script,
    redacted: &'a [String],
}

impl Serialize for Statements<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(
            self.script
                .statements
                .iter()
                .map(|s| to_json(self.script, s, &self.redacted[s.index])),
        )
    }
}

/// One line per statement: index, kind, what it touches, and where it is.
fn to_text(script: &Script) -> String {
    let mut out = String::new();
    for stmt in &script.statements {
        let summary = match &stmt.detail {
            Detail::Insert(i) => format!("{} ← {}", i.target, list(&i.sources)),
            Detail::StatementSet(inserts) => inserts
                .iter()
                .map(|i| format!("{} ← {}", i.target, list(&i.sources)))
                .collect::<Vec<_>>()
                .join("; "),
            _ => match (stmt.name(), stmt.sources()) {
                (Some(name), []) => name.to_string(),
                (Some(name), sources) => format!("{name} ← {}", list(sources)),
                (None, _) => first_line(&stmt.text),
            },
        };
        out.push_str(&format!(
            "{:>3}  {:<15} {summary}  ({}:{}:{})\n",
            stmt.index,
            stmt.kind.as_str(),
            script.source_of(stmt).name(),
            stmt.line,
            stmt.column
        ));
    }
    if script.statements.is_empty() {
        out.push_str("no statements\n");
    }
    out
}

fn list(sources: &[String]) -> String {
    if sources.is_empty() {
        "(no table)".to_string()
    } else {
        sources.join(", ")
    }
}

fn first_line(text: &str) -> String {
    let line = text.lines().next().unwrap_or_default();
    if line.chars().count() > 60 {
        format!("{}…", line.chars().take(60).collect::<String>())
    } else {
        line.to_string()
    }
}

/// Runs `flinkit split`.
pub fn run(ctx: &Context<'_>, args: &SplitArgs) -> anyhow::Result<()> {
    let script = Script::from_inputs(&args.sql.inputs(ctx.matches))?;
    let masked = vars::substitute(&script, &Vars::none());
    match ctx.format {
        Format::Json => output::write_json(&SplitJson {
            statements: Statements {
                script: &script,
                redacted: &masked.redacted,
            },
        }),
        _ => output::print(&masked.redactor.redact(&to_text(&script))),
    }
}
