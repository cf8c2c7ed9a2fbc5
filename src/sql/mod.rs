//! The SQL engine: lexing, splitting and parsing Flink SQL scripts into a [`Script`] of
//! [`Statement`]s that keep their source, byte range, line and column.
//!
//! ```
//! use flinkit::sql::{Script, StatementKind};
//!
//! let script = Script::parse_str(
//!     "CREATE TABLE t (x INT) WITH ('connector' = 'datagen');\n\
//!      INSERT INTO o SELECT 'a;b' FROM t -- no trailing semicolon",
//! )
//! .unwrap();
//! assert_eq!(script.statements.len(), 2);
//! assert_eq!(script.statements[1].kind, StatementKind::Insert);
//! assert_eq!(script.statements[1].sources(), ["t"]);
//! assert_eq!((script.statements[1].line, script.statements[1].column), (2, 1));
//! ```

mod cursor;
pub mod lexer;
pub mod model;
mod parse;
mod query;
pub mod reserved;
pub mod source;
pub mod split;
mod tables;

use std::ops::Range;

pub(crate) use cursor::ident_text;
pub use tables::{Redeclared, Tables};

pub use model::{
    Column, ColumnKind, CreateCatalog, CreateTable, CreateView, Detail, Insert, Like, PrimaryKey,
    SetOption, StatementKind, SyntaxProblem, TableOption, Watermark,
};
pub use query::QueryShape;
pub use source::{Input, InputError, Origin, Position, SourceFile};

use cursor::Cursor;
use lexer::{Lexer, Token};

/// One statement of a script.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    /// 0-based position in the script.
    pub index: usize,
    /// What kind of statement it is.
    pub kind: StatementKind,
    /// Index of its source in [`Script::sources`].
    pub source: usize,
    /// Byte range in the source, from the first token to the last (no `;`).
    pub range: Range<usize>,
    /// 1-based line of the first token.
    pub line: usize,
    /// 1-based column (in characters) of the first token.
    pub column: usize,
    /// The statement's text, comments inside it included.
    pub text: String,
    /// What the statement says, for the kinds flinkit models.
    pub detail: Detail,
}

impl Statement {
    /// The created object's name (`create_*`), as written without backticks.
    pub fn name(&self) -> Option<&str> {
        match &self.detail {
            Detail::CreateTable(t) => Some(&t.name),
            Detail::CreateView(v) => Some(&v.name),
            Detail::Named(name) => Some(name),
            Detail::CreateCatalog(catalog) => Some(&catalog.name),
            _ => None,
        }
    }

    /// The INSERT's target table.
    pub fn target(&self) -> Option<&str> {
        match &self.detail {
            Detail::Insert(i) => Some(&i.target),
            _ => None,
        }
    }

    /// The tables read by an INSERT, a view or a CREATE TABLE AS; empty otherwise.
    pub fn sources(&self) -> &[String] {
        match &self.detail {
            Detail::Insert(i) => &i.sources,
            Detail::CreateView(v) => &v.sources,
            Detail::CreateTable(t) => t.query_sources.as_deref().unwrap_or_default(),
            _ => &[],
        }
    }

    /// The INSERTs this statement runs: itself, or the members of a statement set.
    pub fn inserts(&self) -> &[Insert] {
        match &self.detail {
            Detail::Insert(i) => std::slice::from_ref(i),
            Detail::StatementSet(inserts) => inserts,
            _ => &[],
        }
    }

    /// The parsed CREATE TABLE, if this is one.
    pub fn create_table(&self) -> Option<&CreateTable> {
        match &self.detail {
            Detail::CreateTable(t) => Some(t),
            _ => None,
        }
    }
}

/// A located syntax error: an unterminated string, identifier, comment or statement set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub help: &'static str,
    /// What the caret under the source points at (`opened here`, `here`).
    pub label: &'static str,
    /// Index of the source in the list that was parsed.
    pub source: usize,
    /// The source's display name.
    pub source_name: String,
    /// The source's whole text (for rendering the line with a caret).
    pub source_text: String,
    /// Byte range of the construct's opening.
    pub range: Range<usize>,
    /// 1-based line of the opening.
    pub line: usize,
    /// 1-based column of the opening.
    pub column: usize,
}

/// Why a script could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SqlError {
    /// An input could not be loaded.
    #[error(transparent)]
    Input(#[from] InputError),
    /// The text could not be split.
    #[error("{}:{}:{}: {}", .0.source_name, .0.line, .0.column, .0.message)]
    Syntax(Box<SyntaxError>),
}

impl SqlError {
    /// Where the error is: a syntax error's position, or a loading error's when it has one.
    pub fn position(&self) -> Option<Position> {
        match self {
            Self::Syntax(err) => Some(Position {
                line: err.line,
                column: err.column,
            }),
            Self::Input(err) => err.position(),
        }
    }

    /// The located syntax error, if that is what this is.
    pub fn syntax(&self) -> Option<&SyntaxError> {
        match self {
            Self::Syntax(err) => Some(err),
            Self::Input(_) => None,
        }
    }
}

/// A whole script: its sources and its statements in order.
#[derive(Debug, Clone)]
pub struct Script {
    /// The loaded sources, in the order given.
    pub sources: Vec<SourceFile>,
    /// Every statement of every source, in order; each source is split on its own.
    pub statements: Vec<Statement>,
}

impl Script {
    /// Loads the inputs (reading `-` from stdin) and splits them.
    pub fn from_inputs(inputs: &[Input]) -> Result<Self, SqlError> {
        Self::from_sources(source::load(inputs)?)
    }

    /// Parses one piece of text given as the first argument.
    pub fn parse_str(sql: &str) -> Result<Self, SqlError> {
        Self::from_sources(vec![SourceFile::new(Origin::Argument(1), sql.to_string())])
    }

    /// Splits and parses already loaded sources.
    pub fn from_sources(sources: Vec<SourceFile>) -> Result<Self, SqlError> {
        let mut statements = Vec::new();
        for (index, source) in sources.iter().enumerate() {
            split_source(index, source, &mut statements)?;
        }
        Ok(Self {
            sources,
            statements,
        })
    }

    /// The source a statement came from.
    pub fn source_of(&self, statement: &Statement) -> &SourceFile {
        &self.sources[statement.source]
    }
}

fn syntax_error(
    source_index: usize,
    source: &SourceFile,
    message: String,
    help: &'static str,
    range: Range<usize>,
    opens: bool,
) -> SqlError {
    let position = source.position(range.start);
    SqlError::Syntax(Box::new(SyntaxError {
        message,
        help,
        label: if opens { "opened here" } else { "here" },
        source: source_index,
        source_name: source.name(),
        source_text: source.text().to_string(),
        range,
        line: position.line,
        column: position.column,
    }))
}

/// The error for a statement that starts with no statement keyword: most often a file name
/// given without `-f`, or stray words.
fn not_sql(source_index: usize, source: &SourceFile, text: &str, range: Range<usize>) -> SqlError {
    let looks_like_path = !text.contains(char::is_whitespace)
        && (text.contains('/') || text.to_ascii_lowercase().ends_with(".sql"));
    let shown: String = text.chars().take(40).collect();
    let ellipsis = if shown.len() < text.len() { "…" } else { "" };
    let mut message = format!("`{shown}{ellipsis}` is not a Flink SQL statement");
    if looks_like_path && matches!(source.origin(), Origin::Argument(_)) {
        message.push_str(&format!(" (did you mean `-f {text}`?)"));
    }
    let first = range.start..range.start + text.chars().next().map_or(0, char::len_utf8);
    syntax_error(
        source_index,
        source,
        message,
        "a statement starts with a keyword such as CREATE, INSERT, SELECT, SET, EXECUTE or SHOW; \
         give a file of SQL with -f PATH",
        first,
        false,
    )
}

/// Splits one source and appends its statements.
fn split_source(
    source_index: usize,
    source: &SourceFile,
    out: &mut Vec<Statement>,
) -> Result<(), SqlError> {
    let src = source.text();
    let mut toks: Vec<Token> = Vec::new();
    let mut chunker = split::Chunker::new();
    let mut lexer = Lexer::new(src);
    loop {
        let tok = lexer.next().transpose().map_err(|err| {
            let end = src[err.offset..]
                .chars()
                .next()
                .map_or(err.offset, |c| err.offset + c.len_utf8());
            syntax_error(
                source_index,
                source,
                err.kind.to_string(),
                err.kind.help(),
                err.offset..end,
                !matches!(err.kind, lexer::LexErrorKind::UnexpectedCharacter(_)),
            )
        })?;
        match tok {
            Some(tok) if tok.kind.is_trivia() => {}
            Some(tok) => {
                toks.push(tok);
                if chunker.complete(src, &toks) {
                    split_chunk(source_index, source, &toks, out)?;
                    toks.clear();
                }
            }
            None => return split_chunk(source_index, source, &toks, out),
        }
    }
}

/// Splits a buffer of whole statements (or the rest of the source) and appends them.
fn split_chunk(
    source_index: usize,
    source: &SourceFile,
    toks: &[Token],
    out: &mut Vec<Statement>,
) -> Result<(), SqlError> {
    let src = source.text();
    let pieces = split::split_tokens(src, toks).map_err(|err| {
        let tok = toks[err.token];
        syntax_error(
            source_index,
            source,
            err.kind.to_string(),
            err.kind.help(),
            tok.range(),
            err.kind == split::SplitErrorKind::UnclosedSet,
        )
    })?;
    for piece in pieces {
        let stmt_toks = &toks[piece.tokens.clone()];
        let range = stmt_toks[0].start..stmt_toks[stmt_toks.len() - 1].end;
        let (kind, mut detail) = parse::parse_statement(src, stmt_toks);
        if kind == StatementKind::Other && !parse::is_other_statement(src, &stmt_toks[0]) {
            return Err(not_sql(source_index, source, &src[range.clone()], range));
        }
        if let Some(inner) = piece
            .inner
            .as_ref()
            .filter(|_| kind == StatementKind::StatementSet)
        {
            let inserts = inner
                .iter()
                .filter_map(|r| parse::parse_insert(&mut Cursor::new(src, &toks[r.clone()])))
                .collect();
            detail = Detail::StatementSet(inserts);
        }
        let position = source.position(range.start);
        out.push(Statement {
            index: out.len(),
            kind,
            source: source_index,
            text: src[range.clone()].to_string(),
            range,
            line: position.line,
            column: position.column,
            detail,
        });
    }
    Ok(())
}
