//! The statement model: what each statement is, and for the statements flinkit reasons about
//! (CREATE TABLE, CREATE VIEW, INSERT, statement sets, SET/RESET) what they say.

use std::ops::Range;

use serde::Serialize;

/// The kind of a statement, as named in the CLI/JSON contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum StatementKind {
    /// `CREATE [TEMPORARY] TABLE …` (also `CREATE TABLE … AS SELECT`).
    CreateTable,
    /// `CREATE [TEMPORARY] VIEW …`.
    CreateView,
    /// `CREATE [TEMPORARY [SYSTEM]] FUNCTION …`.
    CreateFunction,
    /// `CREATE CATALOG …`.
    CreateCatalog,
    /// `CREATE DATABASE …`.
    CreateDatabase,
    /// `USE …`, `USE CATALOG …`, `USE MODULES …`.
    Use,
    /// `SET …`.
    Set,
    /// `RESET …`.
    Reset,
    /// `INSERT INTO|OVERWRITE …` (also `EXECUTE INSERT …`).
    Insert,
    /// `EXECUTE STATEMENT SET BEGIN … END` or `BEGIN STATEMENT SET; … END`.
    StatementSet,
    /// A query: `SELECT`, `WITH`, `VALUES`, `TABLE t`, or a parenthesised query.
    Select,
    /// `EXPLAIN …`.
    Explain,
    /// `DROP …`.
    Drop,
    /// `ALTER …`.
    Alter,
    /// `SHOW …`.
    Show,
    /// `DESCRIBE …` / `DESC …`.
    Describe,
    /// Anything else (`LOAD MODULE`, `ADD JAR`, `ANALYZE`, …).
    Other,
}

impl StatementKind {
    /// The contract's name of the kind (`create_table`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CreateTable => "create_table",
            Self::CreateView => "create_view",
            Self::CreateFunction => "create_function",
            Self::CreateCatalog => "create_catalog",
            Self::CreateDatabase => "create_database",
            Self::Use => "use",
            Self::Set => "set",
            Self::Reset => "reset",
            Self::Insert => "insert",
            Self::StatementSet => "statement_set",
            Self::Select => "select",
            Self::Explain => "explain",
            Self::Drop => "drop",
            Self::Alter => "alter",
            Self::Show => "show",
            Self::Describe => "describe",
            Self::Other => "other",
        }
    }
}

/// What a statement says, for the kinds flinkit looks into.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Detail {
    /// Nothing more is modelled.
    None,
    /// A `CREATE TABLE`.
    CreateTable(Box<CreateTable>),
    /// A `CREATE VIEW`.
    CreateView(CreateView),
    /// The name of a created function or database.
    Named(String),
    /// A `CREATE CATALOG`.
    CreateCatalog(CreateCatalog),
    /// An `INSERT`.
    Insert(Insert),
    /// The INSERTs of a statement set, in order.
    StatementSet(Vec<Insert>),
    /// `SET 'key' = 'value'` (both absent for a bare `SET`) or `RESET ['key']`.
    Set(SetOption),
}

/// A parsed `CREATE CATALOG name WITH (…)`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CreateCatalog {
    /// The catalog's name.
    pub name: String,
    /// The `WITH (…)` options in order (`'type'` names the catalog's factory).
    pub options: Vec<TableOption>,
}

impl CreateCatalog {
    /// The `'type'` option's value and its option, when given.
    pub fn kind(&self) -> Option<&TableOption> {
        self.options.iter().find(|o| o.key == "type")
    }
}

/// A `SET`/`RESET` key and value.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SetOption {
    /// The key, unquoted.
    pub key: Option<String>,
    /// The value, unquoted (never present for `RESET`).
    pub value: Option<String>,
}

/// A parsed `CREATE TABLE`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CreateTable {
    /// The qualified name, parts joined by dots, without backticks.
    pub name: String,
    /// Byte range of the name.
    pub name_span: Range<usize>,
    /// `TEMPORARY`.
    pub temporary: bool,
    /// `IF NOT EXISTS`.
    pub if_not_exists: bool,
    /// `CREATE OR REPLACE TABLE … AS` / `REPLACE TABLE … AS`.
    pub or_replace: bool,
    /// The columns in order.
    pub columns: Vec<Column>,
    /// The `WATERMARK FOR` clause.
    pub watermark: Option<Watermark>,
    /// The `PRIMARY KEY (…) NOT ENFORCED` constraint (table- or column-level).
    pub primary_key: Option<PrimaryKey>,
    /// The table `COMMENT`.
    pub comment: Option<String>,
    /// `PARTITIONED BY (…)` columns.
    pub partitioned_by: Vec<String>,
    /// The `WITH (…)` options in order.
    pub options: Vec<TableOption>,
    /// `LIKE other (…)`.
    pub like: Option<Like>,
    /// The tables read by `AS query` (CREATE TABLE AS SELECT), first appearance order.
    pub query_sources: Option<Vec<String>>,
    /// The first thing the parser could not make sense of, if any.
    pub syntax_error: Option<SyntaxProblem>,
}

impl CreateTable {
    /// The value of the option `key`, when set.
    pub fn option(&self, key: &str) -> Option<&str> {
        self.options
            .iter()
            .find(|o| o.key == key)
            .map(|o| o.value.as_str())
    }

    /// The value of `'connector'`, when set.
    pub fn connector(&self) -> Option<&str> {
        self.option("connector")
    }

    /// The column named `name`.
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }
}

/// Something the statement parser could not understand: a message and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxProblem {
    /// What was expected or found.
    pub message: String,
    /// Byte range of the offending token (empty at the end of the statement).
    pub span: Range<usize>,
}

/// One column of a table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// The name, unquoted.
    pub name: String,
    /// Physical, metadata or computed.
    pub kind: ColumnKind,
    /// The column `COMMENT`.
    pub comment: Option<String>,
    /// Byte range of the whole column definition.
    pub span: Range<usize>,
}

/// The three kinds of column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ColumnKind {
    /// A physical column: `name TYPE [NOT NULL]`.
    Physical {
        /// The full type text as written (`ROW<a INT, b ARRAY<STRING>>`, `DECIMAL(10, 2)`).
        data_type: String,
        /// False with `NOT NULL`.
        nullable: bool,
    },
    /// A metadata column: `name TYPE METADATA [FROM 'key'] [VIRTUAL]`.
    Metadata {
        /// The full type text as written.
        data_type: String,
        /// The metadata key of `FROM 'key'`; without it the column name is the key.
        key: Option<String>,
        /// `VIRTUAL`: read-only, not written by sinks.
        is_virtual: bool,
        /// Byte range of the key literal, or of the column name when there is no `FROM`.
        key_span: Range<usize>,
    },
    /// A computed column: `name AS expression`.
    Computed {
        /// The expression text.
        expr: String,
    },
}

impl Column {
    /// The type text of a physical or metadata column.
    pub fn data_type(&self) -> Option<&str> {
        match &self.kind {
            ColumnKind::Physical { data_type, .. } | ColumnKind::Metadata { data_type, .. } => {
                Some(data_type)
            }
            ColumnKind::Computed { .. } => None,
        }
    }

    /// Whether this is a physical column.
    pub fn is_physical(&self) -> bool {
        matches!(self.kind, ColumnKind::Physical { .. })
    }
}

/// `WATERMARK FOR column AS expression`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Watermark {
    /// The rowtime column.
    pub column: String,
    /// The watermark expression text.
    pub expr: String,
    /// Byte range of the column name.
    pub span: Range<usize>,
}

/// `PRIMARY KEY (columns) NOT ENFORCED`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrimaryKey {
    /// The key columns.
    pub columns: Vec<String>,
    /// Whether `NOT ENFORCED` was written (Flink requires it).
    pub not_enforced: bool,
    /// Byte range of the constraint.
    pub span: Range<usize>,
}

/// One `'key' = 'value'` of a `WITH (…)` clause.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableOption {
    /// The key, unquoted.
    pub key: String,
    /// The value, unquoted.
    pub value: String,
    /// Byte range of the key literal (quotes included).
    pub key_span: Range<usize>,
    /// Byte range of the value literal (quotes included).
    pub value_span: Range<usize>,
}

/// `LIKE source_table [( like_options )]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Like {
    /// The table copied from.
    pub table: String,
    /// Each like option as written, upper-cased and single-spaced (`EXCLUDING OPTIONS`).
    pub options: Vec<String>,
}

impl Like {
    /// Whether the source table's `WITH` options are inherited (not `EXCLUDING OPTIONS`/`ALL`).
    pub fn inherits_options(&self) -> bool {
        let mut inherits = true;
        for option in &self.options {
            match option.as_str() {
                "EXCLUDING ALL" | "EXCLUDING OPTIONS" => inherits = false,
                "INCLUDING ALL" | "INCLUDING OPTIONS" | "OVERWRITING OPTIONS" => inherits = true,
                _ => {}
            }
        }
        inherits
    }
}

/// A parsed `CREATE VIEW`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateView {
    /// The qualified view name.
    pub name: String,
    /// `TEMPORARY`.
    pub temporary: bool,
    /// The tables and views read by the view's query.
    pub sources: Vec<String>,
}

/// A parsed `INSERT`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Insert {
    /// The qualified target table.
    pub target: String,
    /// Byte range of the target name.
    pub target_span: Range<usize>,
    /// `INSERT OVERWRITE`.
    pub overwrite: bool,
    /// The explicit column list, when written.
    pub columns: Option<Vec<String>>,
    /// The static partition columns (`PARTITION (k = 'v', …)`): given values, not written by
    /// the query.
    pub static_partitions: Vec<String>,
    /// The distinct tables read, in first-appearance order (no CTE names, no table functions).
    pub sources: Vec<String>,
    /// Byte range of the whole INSERT (inside a statement set: of that INSERT alone).
    pub span: Range<usize>,
    /// What the query's shape says about its output (column count, updates).
    pub shape: super::query::QueryShape,
}
