//! Offline validation of a script's tables against the bundled connectors: required, unknown,
//! conflicting and dependent options; enum and typed values; formats and their options; upsert
//! rules; primary keys, watermarks and metadata columns; INSERT column lists and updates written
//! to append-only sinks; the legacy StreamNative Pulsar options, with fixes. Every finding is a
//! located [`Diagnostic`] with a suggestion.

pub mod catalog;
pub mod database;
mod lines;
pub mod resolve;

use std::ops::Range;

use serde::Serialize;

use crate::sql::lexer::{Lexer, TokenKind};
use crate::sql::{
    ColumnKind, CreateTable, Detail, Insert, Script, Statement, StatementKind, TableOption, Tables,
};
use crate::vars::Substituted;
use catalog::{Catalog, Connector, OptionSpec};

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Flink would reject the script or the job would fail.
    Error,
    /// Legal, but probably not what was meant.
    Warning,
}

/// A text edit that fixes a finding: replace `range` of source `source` with `replacement`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edit {
    /// Index of the source in [`Script::sources`].
    pub source: usize,
    /// Byte range to replace.
    pub range: Range<usize>,
    /// The new text.
    pub replacement: String,
}

/// One located finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// A stable identifier of the rule (`unknown-option`, …).
    pub code: &'static str,
    /// What is wrong.
    pub message: String,
    /// The statement's index.
    pub statement: usize,
    /// 1-based line of the offending text.
    pub line: usize,
    /// 1-based column of the offending text.
    pub column: usize,
    /// The option involved, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub option: Option<String>,
    /// What to write instead.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suggestion: Option<String>,
    /// Index of the source in [`Script::sources`].
    #[serde(skip)]
    pub source: usize,
    /// Byte range of the offending text in its source.
    #[serde(skip)]
    pub span: Range<usize>,
    /// Edits that fix it (`validate --fix`).
    #[serde(skip)]
    pub fixes: Vec<Edit>,
}

impl Diagnostic {
    /// An error about a whole statement (the planner's, for instance), at its first token.
    pub fn statement_error(
        script: &Script,
        statement: usize,
        code: &'static str,
        message: String,
    ) -> Self {
        let stmt = &script.statements[statement];
        Self {
            severity: Severity::Error,
            code,
            message,
            statement,
            line: stmt.line,
            column: stmt.column,
            option: None,
            suggestion: None,
            source: stmt.source,
            span: stmt.range.start
                ..stmt.range.start + stmt.text.split_whitespace().next().map_or(0, str::len),
            fixes: Vec::new(),
        }
    }
}

/// StreamNative (legacy) Pulsar metadata keys and their Apache names.
const LEGACY_PULSAR_METADATA: &[(&str, &str)] = &[
    ("eventTime", "event_time"),
    ("messageId", "message_id"),
    ("publishTime", "publish_time"),
    ("producerName", "producer_name"),
];

/// The metadata each format exposes, from Flink's decoding formats (`ReadableMetadata`): read-only,
/// and reachable only through a connector that forwards its value format's metadata under
/// `value.` — the Kafka connectors.
const FORMAT_METADATA: &[(&str, &[&str])] = &[
    (
        "debezium-json",
        &[
            "schema",
            "ingestion-timestamp",
            "source.timestamp",
            "source.database",
            "source.schema",
            "source.table",
            "source.properties",
        ],
    ),
    (
        "canal-json",
        &[
            "database",
            "table",
            "sql-type",
            "pk-names",
            "ingestion-timestamp",
            "event-timestamp",
        ],
    ),
    (
        "maxwell-json",
        &[
            "database",
            "table",
            "primary-key-columns",
            "ingestion-timestamp",
        ],
    ),
    (
        "ogg-json",
        &["table", "current_ts", "op_ts", "source.properties"],
    ),
];

/// Connectors that expose their value format's metadata as `value.<key>`.
fn forwards_format_metadata(connector: &Connector) -> bool {
    matches!(connector.identifier.as_str(), "kafka" | "upsert-kafka")
}

/// Validates every table and INSERT of `script` against the bundled connectors; `values` gives
/// option values after variable substitution. Findings come in statement order.
pub fn validate(script: &Script, values: &Substituted) -> Vec<Diagnostic> {
    validate_with(script, values, Catalog::builtin())
}

/// [`validate`] against `catalog`: the bundled connectors extended with those of added jars
/// ([`Catalog::extended`]).
pub fn validate_with(script: &Script, values: &Substituted, catalog: &Catalog) -> Vec<Diagnostic> {
    let mut v = Validator {
        script,
        values,
        catalog,
        tables: script.tables(),
        out: Vec::new(),
    };
    for undefined in &values.undefined {
        let stmt = &script.statements[undefined.statement];
        v.push(
            stmt,
            Severity::Error,
            "undefined-variable",
            format!("variable ${{{}}} has no value", undefined.name),
            undefined.span.clone(),
            None,
            Some(format!(
                "pass --var {}=VALUE or set the environment variable {}",
                undefined.name, undefined.name
            )),
        );
    }
    for malformed in &values.malformed {
        let stmt = &script.statements[malformed.statement];
        v.push(
            stmt,
            Severity::Error,
            "bad-variable",
            malformed.problem.clone(),
            malformed.span.clone(),
            None,
            Some(
                "write a variable as ${NAME}; to keep the text literally, do not start it with ${"
                    .into(),
            ),
        );
    }
    for redeclared in v.tables.redeclared().to_vec() {
        let stmt = &script.statements[redeclared.statement];
        let first = &script.statements[redeclared.first];
        if let Some(table) = stmt.create_table() {
            v.push(
                stmt,
                Severity::Error,
                "duplicate-table",
                format!(
                    "table `{}` already exists (created at line {}); Flink rejects a second CREATE TABLE",
                    table.name, first.line
                ),
                table.name_span.clone(),
                None,
                Some("rename it, drop the first one, or write CREATE TABLE IF NOT EXISTS to keep the first".into()),
            );
        }
    }
    let catalogs = script
        .statements
        .iter()
        .any(|s| matches!(s.kind, StatementKind::CreateCatalog | StatementKind::Use));
    let written: Vec<&str> = script
        .statements
        .iter()
        .flat_map(|s| s.inserts().iter().map(|i| i.target.as_str()))
        .collect();
    for stmt in &script.statements {
        if let Detail::CreateTable(table) = &stmt.detail {
            v.table(stmt, table, written.contains(&table.name.as_str()));
        }
        for insert in stmt.inserts() {
            let declared = created_before(script, &insert.target, stmt.index);
            let later = created_after(script, &insert.target, stmt.index);
            if let Some(created) = later.filter(|_| !declared) {
                v.push(
                    stmt,
                    Severity::Error,
                    "unknown-table",
                    format!(
                        "`{}` is created later (line {}); Flink runs statements in order",
                        insert.target, created.line
                    ),
                    insert.target_span.clone(),
                    None,
                    Some("move the CREATE TABLE before the INSERT".into()),
                );
            } else if !declared && !catalogs {
                v.push(
                    stmt,
                    Severity::Warning,
                    "undeclared-table",
                    format!(
                        "`{}` is not created in this script, so nothing here checks what is written to it",
                        insert.target
                    ),
                    insert.target_span.clone(),
                    None,
                    Some(format!(
                        "add a CREATE TABLE {} (…) WITH (…) before the INSERT, unless the cluster's catalog has it",
                        insert.target
                    )),
                );
            }
            v.insert(stmt, insert);
        }
        if !catalogs {
            v.undeclared_sources(stmt);
        }
    }
    v.line_rules();
    v.out.sort_by_key(|d| (d.statement, d.span.start));
    v.out
}

struct Validator<'a> {
    script: &'a Script,
    values: &'a Substituted,
    catalog: &'a Catalog,
    tables: Tables<'a>,
    out: Vec<Diagnostic>,
}

/// The nearest candidate to `word`, if it is close enough to be a likely typo.
fn nearest<'c>(word: &str, candidates: impl IntoIterator<Item = &'c str>) -> Option<&'c str> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(word, c), c))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

impl<'a> Validator<'a> {
    #[allow(clippy::too_many_arguments)]
    fn push(
        &mut self,
        stmt: &Statement,
        severity: Severity,
        code: &'static str,
        message: String,
        span: Range<usize>,
        option: Option<&str>,
        suggestion: Option<String>,
    ) -> &mut Diagnostic {
        let position = self.script.source_of(stmt).position(span.start);
        self.out.push(Diagnostic {
            severity,
            code,
            message,
            statement: stmt.index,
            line: position.line,
            column: position.column,
            option: option.map(str::to_string),
            suggestion,
            source: stmt.source,
            span,
            fixes: Vec::new(),
        });
        self.out.last_mut().expect("just pushed")
    }

    /// Fails on a table or column name that Flink's parser reserves, written without
    /// backquotes (`CREATE TABLE out`, a column `value STRING`): Flink refuses the statement.
    fn reserved_names(&mut self, stmt: &Statement, table: &CreateTable) {
        let text = self.script.source_of(stmt).text();
        let mut names: Vec<(&'static str, usize, String)> = Vec::new();
        if let Some(written) = text.get(table.name_span.clone()) {
            for (at, part) in crate::sql::reserved::unquoted_parts(written) {
                names.push(("table", table.name_span.start + at, part.to_string()));
            }
        }
        for column in &table.columns {
            let start = column.span.start;
            if !text[start..].starts_with('`') {
                names.push(("column", start, column.name.clone()));
            }
            // The type follows the name in the column's text.
            let Some(data_type) = column.data_type() else {
                continue;
            };
            let definition = &text[column.span.clone()];
            let Some(at) = definition
                .get(column.name.len()..)
                .and_then(|rest| rest.find(data_type))
                .map(|at| start + column.name.len() + at)
            else {
                continue;
            };
            for (offset, field) in crate::sql::reserved::unquoted_row_fields(data_type) {
                names.push(("field", at + offset, field.to_string()));
            }
        }
        for (what, start, name) in names {
            if crate::sql::reserved::is_reserved(&name) {
                self.push(
                    stmt,
                    Severity::Error,
                    "reserved-word",
                    format!("{what} name `{name}` is a word Flink's SQL parser reserves"),
                    start..start + name.len(),
                    None,
                    Some(format!(
                        "write it in backquotes (`{name}`) here and wherever the statements use it"
                    )),
                );
            }
        }
    }

    /// Warns about each table `stmt` reads that no statement of the script creates, as a table
    /// or a view: Flink answers "Object '…' not found" unless the cluster's catalog has it.
    /// Flink's names are case-sensitive, so a created name that differs only in case is the
    /// fix. Qualified names (`cat.db.t`) are the catalog's. Anywhere in the script counts: a
    /// pipeline folder's files are read in path order, not in the order its jobs run.
    fn undeclared_sources(&mut self, stmt: &Statement) {
        let reads: Vec<(&[String], Range<usize>)> = match stmt.inserts() {
            [] => vec![(stmt.sources(), stmt.range.clone())],
            inserts => inserts
                .iter()
                .map(|i| (i.sources.as_slice(), i.span.clone()))
                .collect(),
        };
        let created: Vec<&str> = self
            .script
            .statements
            .iter()
            .filter(|s| {
                matches!(
                    s.kind,
                    StatementKind::CreateTable | StatementKind::CreateView
                )
            })
            .filter_map(Statement::name)
            .collect();
        for (sources, range) in reads {
            for source in sources {
                if source.contains('.') || created.contains(&source.as_str()) {
                    continue;
                }
                let lower = source.to_lowercase();
                let suggestion = match created.iter().find(|c| c.to_lowercase() == lower) {
                    Some(same) => format!("write `{same}`: Flink's table names are case-sensitive"),
                    None => format!(
                        "add a CREATE TABLE {source} (…) WITH (…) or CREATE VIEW {source} AS …, \
                         unless the cluster's catalog has it"
                    ),
                };
                let span = self.name_span(stmt, &range, source);
                self.push(
                    stmt,
                    Severity::Warning,
                    "undeclared-table",
                    format!(
                        "`{source}` is read but not created in this script; Flink answers \
                         \"Object '{source}' not found\" unless the cluster's catalog has it"
                    ),
                    span,
                    None,
                    Some(suggestion),
                );
            }
        }
    }

    /// Where `name` is read in `range` of `stmt`'s source: the first time it follows `FROM`,
    /// `JOIN`, `TABLE` or a comma, else its first appearance, else the range's start.
    fn name_span(&self, stmt: &Statement, range: &Range<usize>, name: &str) -> Range<usize> {
        let text = &self.script.source_of(stmt).text()[range.clone()];
        let tokens: Vec<_> = Lexer::new(text)
            .filter_map(Result::ok)
            .filter(|t| !t.kind.is_trivia())
            .collect();
        let is_name = |i: usize| crate::sql::ident_text(text, &tokens[i]).as_deref() == Some(name);
        let after_from = |i: usize| {
            i > 0
                && (tokens[i - 1].kind == TokenKind::Comma
                    || ["FROM", "JOIN", "TABLE"]
                        .iter()
                        .any(|k| tokens[i - 1].text(text).eq_ignore_ascii_case(k)))
        };
        (0..tokens.len())
            .find(|&i| is_name(i) && after_from(i))
            .or_else(|| (0..tokens.len()).find(|&i| is_name(i)))
            .map_or(range.start..range.start, |i| {
                range.start + tokens[i].start..range.start + tokens[i].end
            })
    }

    fn value(&self, stmt: &Statement, option: &'a TableOption) -> &'a str {
        self.values
            .value(stmt.index, option.value_span.start, &option.value)
    }

    /// The table's options with `LIKE` parents' inherited ones first (own ones win).
    fn effective_options(&self, table: &'a CreateTable, depth: usize) -> Vec<&'a TableOption> {
        let mut options: Vec<&TableOption> = Vec::new();
        if let Some(like) = table.like.as_ref().filter(|l| l.inherits_options())
            && depth < 16
            && let Some((_, parent)) = self.tables.get(&like.table)
        {
            options = self.effective_options(parent, depth + 1);
        }
        for own in &table.options {
            options.retain(|o| o.key != own.key);
            options.push(own);
        }
        options
    }

    fn table(&mut self, stmt: &'a Statement, table: &'a CreateTable, written: bool) {
        if let Some(problem) = &table.syntax_error {
            self.push(
                stmt,
                Severity::Error,
                "syntax",
                problem.message.clone(),
                problem.span.clone(),
                None,
                None,
            );
            return;
        }
        self.reserved_names(stmt, table);
        self.duplicate_options(stmt, table);
        self.like(stmt, table);
        let options = self.effective_options(table, 0);
        let get = |key: &str| options.iter().find(|o| o.key == key).copied();
        let Some(connector_option) = get("connector") else {
            if let Some(legacy) = get("connector.type") {
                self.push(
                    stmt,
                    Severity::Warning,
                    "legacy-connector",
                    format!(
                        "`{}` is declared with the legacy 'connector.type' options, which flinkit does not check; Flink runs them only through its old TableFactory stack",
                        table.name
                    ),
                    legacy.key_span.clone(),
                    Some("connector.type"),
                    Some("declare the table with 'connector' = '…' and the connector's current options".into()),
                );
                return;
            }
            if !table.options.is_empty() && table.like.is_none() {
                self.push(
                    stmt,
                    Severity::Error,
                    "missing-connector",
                    format!("table `{}` has options but no 'connector'", table.name),
                    table.name_span.clone(),
                    Some("connector"),
                    Some("add 'connector' = 'kafka' (or upsert-kafka, pulsar, upsert-pulsar, datagen, print, blackhole, filesystem)".into()),
                );
            }
            self.columns(stmt, table, None, written);
            return;
        };
        let identifier = self.value(stmt, connector_option).to_string();
        let Some(connector) = self.catalog.connector(&identifier) else {
            if self.refuse_missing_connector(stmt, &table.name, connector_option, &identifier) {
                return;
            }
            let suggestion = nearest(
                &identifier,
                self.catalog
                    .connectors
                    .iter()
                    .map(|c| c.identifier.as_str()),
            )
            .map(|s| format!("'connector' = '{s}'"));
            // A name close to a bundled one is most likely a typo; any other is a connector
            // that neither the runner nor an added jar provides: its options went unchecked
            // and Flink would refuse the table.
            let message = format!(
                "no connector named '{identifier}' is bundled with flinkit or provided by an added jar: its options went unchecked"
            );
            let severity = Severity::Error;
            let help = suggestion.unwrap_or_else(|| {
                format!(
                    "add the jar that provides '{identifier}': --jar PATH.jar or --jar GROUP:ARTIFACT:VERSION (or `jars = [...]` in flinkit.toml)"
                )
            });
            self.push(
                stmt,
                severity,
                "unknown-connector",
                message,
                connector_option.value_span.clone(),
                Some("connector"),
                Some(help),
            );
            return;
        };
        let legacy_topic = self.options(stmt, table, connector, &options);
        self.required(stmt, table, connector, &options, legacy_topic);
        self.rules(stmt, table, connector, &options);
        self.columns(stmt, table, Some(connector), written);
    }

    /// Checks each own option's key and value; returns whether a legacy Pulsar `topic` was seen.
    fn options(
        &mut self,
        stmt: &'a Statement,
        table: &'a CreateTable,
        connector: &'a Connector,
        options: &[&'a TableOption],
    ) -> bool {
        let mut legacy_topic = false;
        let pulsar = connector.identifier.ends_with("pulsar");
        for (index, option) in table.options.iter().enumerate() {
            let key = option.key.as_str();
            if key == "connector" {
                continue;
            }
            let value = self.value(stmt, option);
            if let Some(spec) = connector.option(key) {
                self.check_value(stmt, option, value, spec, key);
                if spec.deprecated_keys.iter().any(|d| d == key) {
                    self.push(
                        stmt,
                        Severity::Warning,
                        "deprecated-option",
                        format!("'{key}' is deprecated"),
                        option.key_span.clone(),
                        Some(key),
                        Some(format!("'{}'", spec.key)),
                    );
                }
                continue;
            }
            if connector
                .forwarded_prefixes()
                .iter()
                .any(|p| key.starts_with(p))
                || (connector.is_upsert() && key == "format")
            {
                continue;
            }
            if self.format_option(stmt, option, value, options)
                || self.of_unknown_format(stmt, key, options)
            {
                continue;
            }
            if pulsar && key == "topic" {
                legacy_topic = true;
                let edit = Edit {
                    source: stmt.source,
                    range: option.key_span.clone(),
                    replacement: "'topics'".into(),
                };
                self.push(
                    stmt,
                    Severity::Error,
                    "legacy-pulsar-option",
                    "'topic' is the legacy StreamNative connector's option; the Apache Pulsar connector calls it 'topics'".into(),
                    option.key_span.clone(),
                    Some(key),
                    Some("'topics'".into()),
                )
                .fixes
                .push(edit);
                continue;
            }
            if pulsar && key == "admin-url" {
                let edit = Edit {
                    source: stmt.source,
                    range: removal_range(table, index),
                    replacement: String::new(),
                };
                self.push(
                    stmt,
                    Severity::Error,
                    "legacy-pulsar-option",
                    "'admin-url' is a legacy StreamNative option; the Apache Pulsar connector does not need it".into(),
                    option.key_span.clone(),
                    Some(key),
                    Some("remove the option".into()),
                )
                .fixes
                .push(edit);
                continue;
            }
            let keys: Vec<&str> = connector
                .options()
                .map(|o| o.key.as_str())
                .filter(|k| !k.contains('#'))
                .collect();
            let suggestion = nearest(key, keys).map(|s| format!("'{s}'"));
            self.push(
                stmt,
                Severity::Error,
                "unknown-option",
                format!(
                    "'{key}' is not an option of the '{}' connector",
                    connector.identifier
                ),
                option.key_span.clone(),
                Some(key),
                suggestion,
            );
        }
        legacy_topic
    }

    /// Whether `key` is an option of a format the table names but flinkit does not know
    /// (`protobuf.message-class-name` with 'format' = 'protobuf'): the unknown format is reported
    /// once, its options are left unchecked.
    fn of_unknown_format(&self, stmt: &Statement, key: &str, options: &[&'a TableOption]) -> bool {
        [
            ("key.", "key.format"),
            ("value.", "value.format"),
            ("", "format"),
        ]
        .iter()
        .any(|(prefix, format_key)| {
            options
                .iter()
                .find(|o| o.key == *format_key)
                .map(|o| self.value(stmt, o))
                .filter(|format| self.catalog.format(format).is_none())
                .is_some_and(|format| key.starts_with(&format!("{prefix}{format}.")))
        })
    }

    /// Each key set twice in the WITH clause: an error at the second.
    fn duplicate_options(&mut self, stmt: &Statement, table: &CreateTable) {
        for (index, option) in table.options.iter().enumerate() {
            if let Some(first) = table.options[..index].iter().find(|o| o.key == option.key) {
                let line = self
                    .script
                    .source_of(stmt)
                    .position(first.key_span.start)
                    .line;
                self.push(
                    stmt,
                    Severity::Error,
                    "duplicate-option",
                    format!(
                        "'{}' is set twice (first at line {line}); one value would silently win",
                        option.key
                    ),
                    option.key_span.clone(),
                    Some(&option.key),
                    Some("remove one of them".into()),
                );
            }
        }
    }

    /// `LIKE` names a table created earlier in the script, and not in a cycle.
    fn like(&mut self, stmt: &Statement, table: &CreateTable) {
        let Some(like) = &table.like else {
            return;
        };
        let span = like_span(stmt).unwrap_or_else(|| table.name_span.clone());
        if created_before(self.script, &like.table, stmt.index) {
            return;
        }
        let mut chain = vec![table.name.clone()];
        let mut at = like.table.clone();
        while let Some((_, t)) = self.tables.get(&at) {
            if chain.contains(&at) {
                chain.push(at);
                self.push(
                    stmt,
                    Severity::Error,
                    "like-cycle",
                    format!("LIKE goes round in a circle: {}", chain.join(" → ")),
                    span,
                    None,
                    Some("copy from a table that does not copy from this one".into()),
                );
                return;
            }
            chain.push(at);
            match &t.like {
                Some(next) => at = next.table.clone(),
                None => break,
            }
        }
        let catalogs = self
            .script
            .statements
            .iter()
            .any(|s| matches!(s.kind, StatementKind::CreateCatalog | StatementKind::Use));
        let message = match created_after(self.script, &like.table, stmt.index) {
            Some(p) => format!(
                "`{}` is created later (line {}); Flink creates tables in order, so LIKE needs an earlier one",
                like.table, p.line
            ),
            None if catalogs => return,
            None => format!(
                "LIKE copies `{}`, which this script does not create",
                like.table
            ),
        };
        let names = self.tables_before(stmt);
        let suggestion =
            nearest(&like.table, names.iter().map(String::as_str)).map(|s| format!("LIKE {s}"));
        self.push(
            stmt,
            Severity::Error,
            "unknown-table",
            message,
            span,
            None,
            suggestion,
        );
    }

    /// The tables created before `stmt`.
    fn tables_before(&self, stmt: &Statement) -> Vec<String> {
        self.script.statements[..stmt.index]
            .iter()
            .filter_map(|s| s.create_table().map(|t| t.name.clone()))
            .collect()
    }

    /// Checks an option that belongs to a format (`json.…`, `key.raw.…`); false if it is none.
    fn format_option(
        &mut self,
        stmt: &'a Statement,
        option: &'a TableOption,
        value: &str,
        options: &[&'a TableOption],
    ) -> bool {
        let key = option.key.as_str();
        for (prefix, format_key) in [
            ("key.", "key.format"),
            ("value.", "value.format"),
            ("", "format"),
        ] {
            let Some(rest) = key.strip_prefix(prefix) else {
                continue;
            };
            let chosen = options
                .iter()
                .find(|o| o.key == format_key)
                .map(|o| self.value(stmt, o));
            let named = self
                .catalog
                .formats
                .iter()
                .filter(|f| rest.starts_with(&format!("{}.", f.identifier)))
                .max_by_key(|f| f.identifier.len());
            let Some(format) = named else {
                continue;
            };
            if chosen != Some(format.identifier.as_str()) {
                self.push(
                    stmt,
                    Severity::Error,
                    "format-option-mismatch",
                    format!(
                        "'{key}' is an option of the '{}' format, but '{format_key}' is {}",
                        format.identifier,
                        chosen.map_or("not set".to_string(), |c| format!("'{c}'"))
                    ),
                    option.key_span.clone(),
                    Some(key),
                    Some(format!(
                        "set '{format_key}' = '{}' or remove the option",
                        format.identifier
                    )),
                );
                return true;
            }
            let name = &rest[format.identifier.len() + 1..];
            let spec = format.options().find(|o| {
                o.matches(name) || (o.kind == "map" && name.starts_with(&format!("{}.", o.key)))
            });
            match spec {
                Some(spec) if spec.kind != "map" || name == spec.key => {
                    self.check_value(stmt, option, value, spec, key);
                }
                Some(_) => {}
                None => {
                    let full: Vec<String> = format
                        .options()
                        .map(|o| format!("{prefix}{}.{}", format.identifier, o.key))
                        .collect();
                    let suggestion =
                        nearest(key, full.iter().map(String::as_str)).map(|s| format!("'{s}'"));
                    self.push(
                        stmt,
                        Severity::Error,
                        "unknown-format-option",
                        format!("the '{}' format has no option '{name}'", format.identifier),
                        option.key_span.clone(),
                        Some(key),
                        suggestion,
                    );
                }
            }
            return true;
        }
        false
    }

    fn check_value(
        &mut self,
        stmt: &Statement,
        option: &TableOption,
        value: &str,
        spec: &OptionSpec,
        key: &str,
    ) {
        if value.contains("${") {
            return;
        }
        let problem = match spec.kind.as_str() {
            "enum" => {
                if spec.values.iter().any(|v| v.eq_ignore_ascii_case(value)) {
                    None
                } else {
                    let suggestion = nearest(value, spec.values.iter().map(String::as_str))
                        .map(|s| format!("'{s}'"))
                        .or_else(|| Some(format!("one of {}", spec.values.join(", "))));
                    Some((
                        "bad-enum-value",
                        format!(
                            "'{value}' is not a value of '{key}' ({})",
                            spec.values.join(", ")
                        ),
                        suggestion,
                    ))
                }
            }
            "boolean"
                if !value.eq_ignore_ascii_case("true") && !value.eq_ignore_ascii_case("false") =>
            {
                Some((
                    "bad-value",
                    format!("'{key}' takes true or false, not '{value}'"),
                    Some("'true' or 'false'".into()),
                ))
            }
            "int" if value.trim().parse::<i32>().is_err() => Some((
                "bad-value",
                format!("'{key}' takes a whole number, not '{value}'"),
                None,
            )),
            "long" if value.trim().parse::<i64>().is_err() => Some((
                "bad-value",
                format!("'{key}' takes a whole number, not '{value}'"),
                None,
            )),
            "float" if value.trim().parse::<f64>().is_err() => Some((
                "bad-value",
                format!("'{key}' takes a number, not '{value}'"),
                None,
            )),
            "duration" if !is_duration(value) => Some((
                "bad-value",
                format!("'{key}' takes a duration, not '{value}'"),
                Some("a number with a unit, like '10 s', '500ms', '5 min' or '1h'".into()),
            )),
            "memory_size" if !is_memory_size(value) => Some((
                "bad-value",
                format!("'{key}' takes a memory size, not '{value}'"),
                Some("a number with a unit, like '64mb', '1 gb' or '512kb'".into()),
            )),
            _ => None,
        };
        if let Some((code, message, suggestion)) = problem {
            self.push(
                stmt,
                Severity::Error,
                code,
                message,
                option.value_span.clone(),
                Some(key),
                suggestion,
            );
        }
    }

    fn required(
        &mut self,
        stmt: &Statement,
        table: &CreateTable,
        connector: &Connector,
        options: &[&TableOption],
        legacy_topic: bool,
    ) {
        let has = |key: &str| options.iter().any(|o| o.key == key);
        for spec in &connector.required_options {
            let set = options.iter().any(|o| spec.matches(&o.key));
            if set || (legacy_topic && spec.key == "topics") {
                continue;
            }
            self.push(
                stmt,
                Severity::Error,
                "missing-option",
                format!(
                    "the '{}' connector needs '{}'",
                    connector.identifier, spec.key
                ),
                table.name_span.clone(),
                Some(&spec.key),
                Some(format!("add '{}' = '…' to the WITH clause", spec.key)),
            );
        }
        for (slot, format_key) in [
            ("", "format"),
            ("key.", "key.format"),
            ("value.", "value.format"),
        ] {
            let Some(option) = options.iter().find(|o| o.key == format_key) else {
                continue;
            };
            let value = self.value(stmt, option);
            let Some(format) = self.catalog.format(value) else {
                let suggestion = nearest(
                    value,
                    self.catalog.formats.iter().map(|f| f.identifier.as_str()),
                )
                .map(|s| format!("'{s}'"))
                .unwrap_or_else(|| {
                    format!(
                        "add the jar that provides '{value}': --jar PATH.jar or --jar GROUP:ARTIFACT:VERSION"
                    )
                });
                self.push(
                    stmt,
                    Severity::Error,
                    "unknown-format",
                    format!(
                        "no format named '{value}' is bundled with flinkit or provided by an added jar: its options went unchecked"
                    ),
                    option.value_span.clone(),
                    Some(format_key),
                    Some(suggestion),
                );
                continue;
            };
            for spec in &format.required_options {
                let key = format!("{slot}{}.{}", format.identifier, spec.key);
                let set = options.iter().any(|o| {
                    o.key
                        .strip_prefix(&format!("{slot}{}.", format.identifier))
                        .is_some_and(|rest| spec.matches(rest))
                });
                if !set {
                    self.push(
                        stmt,
                        Severity::Error,
                        "missing-option",
                        format!("the '{}' format needs '{key}'", format.identifier),
                        option.value_span.clone(),
                        Some(&key),
                        Some(format!("add '{key}' = '…'")),
                    );
                }
            }
        }
        let id = connector.identifier.as_str();
        if matches!(id, "kafka" | "pulsar") && !has("format") && !has("value.format") {
            self.push(
                stmt,
                Severity::Error,
                "missing-option",
                format!("the '{id}' connector needs a value format"),
                table.name_span.clone(),
                Some("format"),
                Some("add 'format' = 'json' (or 'value.format' = 'json')".into()),
            );
        }
        if matches!(id, "kafka" | "upsert-kafka") && !has("topic") && !has("topic-pattern") {
            self.push(
                stmt,
                Severity::Error,
                "missing-option",
                format!("the '{id}' connector needs 'topic' (or 'topic-pattern' to read)"),
                table.name_span.clone(),
                Some("topic"),
                Some("add 'topic' = '…'".into()),
            );
        }
    }

    fn conflict(&mut self, stmt: &Statement, options: &[&TableOption], keys: &[&str], why: &str) {
        let set: Vec<&&TableOption> = options
            .iter()
            .filter(|o| keys.contains(&o.key.as_str()))
            .collect();
        if set.len() > 1 {
            let second = set[1];
            let names: Vec<String> = set.iter().map(|o| format!("'{}'", o.key)).collect();
            self.push(
                stmt,
                Severity::Error,
                "conflicting-options",
                format!("{} cannot be set together: {why}", names.join(" and ")),
                second.key_span.clone(),
                Some(&second.key),
                Some(format!("keep one of {}", names.join(", "))),
            );
        }
    }

    /// Flink's `checkAllOrNone`: `keys` are set together or not at all.
    fn all_or_none(&mut self, stmt: &Statement, options: &[&TableOption], keys: &[&str]) {
        let set: Vec<&&TableOption> = keys
            .iter()
            .filter_map(|key| options.iter().find(|o| o.key == *key))
            .collect();
        let Some(first) = set.first().filter(|_| set.len() < keys.len()) else {
            return;
        };
        let missing: Vec<String> = keys
            .iter()
            .filter(|key| !set.iter().any(|o| o.key == **key))
            .map(|key| format!("'{key}'"))
            .collect();
        let names: Vec<String> = keys.iter().map(|key| format!("'{key}'")).collect();
        self.push(
            stmt,
            Severity::Error,
            "missing-dependency",
            format!(
                "{} are set all or none: '{}' needs {}",
                names.join(", "),
                first.key,
                missing.join(", ")
            ),
            first.key_span.clone(),
            Some(&first.key),
            Some(format!(
                "add {} (an empty value counts), or remove '{}'",
                missing
                    .iter()
                    .map(|key| format!("{key} = '…'"))
                    .collect::<Vec<_>>()
                    .join(", "),
                first.key
            )),
        );
    }

    fn needs(
        &mut self,
        stmt: &Statement,
        options: &[&TableOption],
        (key, value): (&str, Option<&str>),
        needed: &str,
        why: String,
    ) {
        let Some(option) = options.iter().find(|o| o.key == key) else {
            return;
        };
        let actual = self.value(stmt, option);
        if value.is_some_and(|v| !v.eq_ignore_ascii_case(actual)) {
            return;
        }
        if !options.iter().any(|o| o.key == needed) {
            self.push(
                stmt,
                Severity::Error,
                "missing-dependency",
                why,
                option.key_span.clone(),
                Some(key),
                Some(format!("add '{needed}' = '…'")),
            );
        }
    }

    fn rules(
        &mut self,
        stmt: &Statement,
        table: &CreateTable,
        connector: &Connector,
        options: &[&TableOption],
    ) {
        self.conflict(
            stmt,
            options,
            &["topic", "topic-pattern"],
            "a table reads either named topics or a pattern",
        );
        self.conflict(
            stmt,
            options,
            &["format", "value.format"],
            "'format' is the value format when there is no key format",
        );
        if connector.identifier.ends_with("pulsar") {
            self.conflict(
                stmt,
                options,
                &["source.start.message-id", "source.start.publish-time"],
                "a source starts at one position",
            );
            self.conflict(
                stmt,
                options,
                &[
                    "source.stop.at-message-id",
                    "source.stop.after-message-id",
                    "source.stop.at-publish-time",
                ],
                "a source stops at one position",
            );
        }
        if connector.identifier == "jdbc" {
            // JdbcDynamicTableFactory's validateConfigOptions.
            for group in [
                &["username", "password"][..],
                &[
                    "scan.partition.column",
                    "scan.partition.num",
                    "scan.partition.lower-bound",
                    "scan.partition.upper-bound",
                ],
                &["lookup.cache.max-rows", "lookup.cache.ttl"],
            ] {
                self.all_or_none(stmt, options, group);
            }
        }
        if connector.identifier == "kafka" {
            self.needs(
                stmt,
                options,
                ("key.fields", None),
                "key.format",
                "'key.fields' needs 'key.format' to encode the key".into(),
            );
            self.needs(
                stmt,
                options,
                ("key.format", None),
                "key.fields",
                "'key.format' needs 'key.fields' to say which columns form the key".into(),
            );
        }
        for mode in ["scan.startup.mode", "scan.bounded.mode"] {
            let prefix = mode.trim_end_matches(".mode");
            self.needs(
                stmt,
                options,
                (mode, Some("timestamp")),
                &format!("{prefix}.timestamp-millis"),
                format!("'{mode}' = 'timestamp' needs '{prefix}.timestamp-millis'"),
            );
            self.needs(
                stmt,
                options,
                (mode, Some("specific-offsets")),
                &format!("{prefix}.specific-offsets"),
                format!("'{mode}' = 'specific-offsets' needs '{prefix}.specific-offsets'"),
            );
        }
        self.needs(
            stmt,
            options,
            ("sink.delivery-guarantee", Some("exactly-once")),
            "sink.transactional-id-prefix",
            "exactly-once delivery needs 'sink.transactional-id-prefix' (unique per job)".into(),
        );
        if let Some(prefix) = options.iter().find(|o| o.key == "key.fields-prefix") {
            let include = options
                .iter()
                .find(|o| o.key == "value.fields-include")
                .map(|o| self.value(stmt, o));
            if !include.is_some_and(|v| v.eq_ignore_ascii_case("EXCEPT_KEY")) {
                self.push(
                    stmt,
                    Severity::Error,
                    "missing-dependency",
                    "'key.fields-prefix' needs 'value.fields-include' = 'EXCEPT_KEY'".into(),
                    prefix.key_span.clone(),
                    Some("key.fields-prefix"),
                    Some("add 'value.fields-include' = 'EXCEPT_KEY'".into()),
                );
            }
        }
        if connector.is_upsert() {
            if table.primary_key.is_none() {
                self.push(
                    stmt,
                    Severity::Error,
                    "upsert-needs-primary-key",
                    format!(
                        "the '{}' connector keys rows by the primary key, and `{}` has none",
                        connector.identifier, table.name
                    ),
                    table.name_span.clone(),
                    None,
                    Some("add PRIMARY KEY (column) NOT ENFORCED to the column list".into()),
                );
            }
            if let Some(format) = options.iter().find(|o| o.key == "format") {
                self.push(
                    stmt,
                    Severity::Error,
                    "upsert-rejects-format",
                    format!(
                        "the '{}' connector needs separate key and value formats",
                        connector.identifier
                    ),
                    format.key_span.clone(),
                    Some("format"),
                    Some("use 'key.format' and 'value.format' instead of 'format'".into()),
                );
            }
        }
    }

    fn columns(
        &mut self,
        stmt: &Statement,
        table: &CreateTable,
        connector: Option<&Connector>,
        written: bool,
    ) {
        let column_names: Vec<&str> = table.columns.iter().map(|c| c.name.as_str()).collect();
        if let Some(pk) = &table.primary_key {
            for column in &pk.columns {
                if !column_names.contains(&column.as_str()) && table.like.is_none() {
                    let suggestion =
                        nearest(column, column_names.iter().copied()).map(|s| format!("`{s}`"));
                    self.push(
                        stmt,
                        Severity::Error,
                        "unknown-column",
                        format!("the primary key names `{column}`, which is not a column"),
                        pk.span.clone(),
                        None,
                        suggestion,
                    );
                }
            }
            if !pk.not_enforced {
                self.push(
                    stmt,
                    Severity::Error,
                    "primary-key-enforced",
                    "Flink does not enforce primary keys: write NOT ENFORCED".into(),
                    pk.span.clone(),
                    None,
                    Some("PRIMARY KEY (…) NOT ENFORCED".into()),
                );
            }
        }
        if let Some(wm) = &table.watermark {
            match table.column(&wm.column) {
                None if table.like.is_none() => {
                    let suggestion =
                        nearest(&wm.column, column_names.iter().copied()).map(|s| format!("`{s}`"));
                    self.push(
                        stmt,
                        Severity::Error,
                        "unknown-column",
                        format!("the watermark is on `{}`, which is not a column", wm.column),
                        wm.span.clone(),
                        None,
                        suggestion,
                    );
                }
                Some(column) => {
                    if let Some(ty) = column.data_type()
                        && !is_rowtime_type(ty)
                    {
                        self.push(stmt, Severity::Error, "bad-watermark-type", format!("the watermark column `{}` is {ty}; a rowtime must be TIMESTAMP(p) or TIMESTAMP_LTZ(p) with a precision p from 0 to 3", wm.column), wm.span.clone(), None, Some("declare it TIMESTAMP(3) or TIMESTAMP_LTZ(3), or compute one: ts AS CAST(… AS TIMESTAMP(3))".into()));
                    }
                }
                None => {}
            }
        }
        let Some(connector) = connector else {
            return;
        };
        let format_metadata: Vec<String> = if forwards_format_metadata(connector) {
            let options = self.effective_options(table, 0);
            let format = ["value.format", "format"].iter().find_map(|key| {
                options
                    .iter()
                    .find(|o| o.key == *key)
                    .map(|o| self.value(stmt, o))
            });
            FORMAT_METADATA
                .iter()
                .filter(|(name, _)| Some(*name) == format)
                .flat_map(|(_, keys)| keys.iter().map(|k| format!("value.{k}")))
                .collect()
        } else {
            Vec::new()
        };
        for column in &table.columns {
            let ColumnKind::Metadata {
                key,
                is_virtual,
                key_span,
                ..
            } = &column.kind
            else {
                continue;
            };
            let name = key.as_deref().unwrap_or(&column.name);
            let readable = connector.readable_metadata.contains_key(name)
                || format_metadata.iter().any(|k| k == name);
            let writable = connector.writable_metadata.contains_key(name);
            if readable || writable {
                if written && !is_virtual && !writable {
                    self.push(stmt, Severity::Error, "metadata-not-writable", format!("the '{}' connector can read metadata '{name}' but not write it, and `{}` is written to", connector.identifier, table.name), key_span.clone(), None, Some("mark the column VIRTUAL".into()));
                }
                continue;
            }
            let all: Vec<&str> = connector
                .readable_metadata
                .keys()
                .chain(connector.writable_metadata.keys())
                .chain(format_metadata.iter())
                .map(String::as_str)
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect();
            if all.is_empty() {
                self.push(
                    stmt,
                    Severity::Error,
                    "unknown-metadata-key",
                    format!("the '{}' connector has no metadata", connector.identifier),
                    key_span.clone(),
                    None,
                    Some("remove the METADATA column".into()),
                );
                continue;
            }
            let legacy = connector
                .identifier
                .ends_with("pulsar")
                .then(|| {
                    LEGACY_PULSAR_METADATA
                        .iter()
                        .find(|(old, _)| *old == name)
                        .map(|(_, new)| *new)
                })
                .flatten();
            if let Some(apache) = legacy {
                let fix = match key {
                    Some(_) => Edit {
                        source: stmt.source,
                        range: key_span.clone(),
                        replacement: format!("'{apache}'"),
                    },
                    None => {
                        let metadata_end = self.metadata_keyword_end(stmt, column);
                        Edit {
                            source: stmt.source,
                            range: metadata_end..metadata_end,
                            replacement: format!(" FROM '{apache}'"),
                        }
                    }
                };
                self.push(stmt, Severity::Error, "legacy-pulsar-metadata", format!("'{name}' is a legacy StreamNative metadata key; the Apache Pulsar connector calls it '{apache}'"), key_span.clone(), None, Some(format!("METADATA FROM '{apache}'"))).fixes.push(fix);
                continue;
            }
            let suggestion =
                nearest(name, all.iter().copied()).map(|s| format!("METADATA FROM '{s}'"));
            self.push(
                stmt,
                Severity::Error,
                "unknown-metadata-key",
                format!(
                    "'{name}' is no metadata key of the '{}' connector (it has {})",
                    connector.identifier,
                    all.join(", ")
                ),
                key_span.clone(),
                None,
                suggestion,
            );
        }
    }

    /// The source offset just past the `METADATA` keyword of a metadata column.
    fn metadata_keyword_end(&self, stmt: &Statement, column: &crate::sql::Column) -> usize {
        let text = &self.script.source_of(stmt).text()[column.span.clone()];
        let upper = text.to_ascii_uppercase();
        upper.find("METADATA").map_or(column.span.end, |at| {
            column.span.start + at + "METADATA".len()
        })
    }

    fn insert(&mut self, stmt: &'a Statement, insert: &Insert) {
        let Some((_, target)) = self.tables.get(&insert.target) else {
            return;
        };
        let writable: Vec<&str> = target
            .columns
            .iter()
            .filter(|c| match &c.kind {
                ColumnKind::Physical { .. } => true,
                ColumnKind::Metadata { is_virtual, .. } => !is_virtual,
                ColumnKind::Computed { .. } => false,
            })
            .map(|c| c.name.as_str())
            .collect();
        if let Some(columns) = &insert.columns {
            for column in columns {
                if !writable.contains(&column.as_str()) && target.like.is_none() {
                    let suggestion =
                        nearest(column, writable.iter().copied()).map(|s| format!("`{s}`"));
                    self.push(
                        stmt,
                        Severity::Error,
                        "unknown-column",
                        format!("`{}` has no writable column `{column}`", target.name),
                        insert.target_span.clone(),
                        None,
                        suggestion,
                    );
                }
            }
        }
        let expected = insert.columns.as_ref().map_or_else(
            || {
                let fixed = writable
                    .iter()
                    .filter(|c| insert.static_partitions.iter().any(|p| p == *c))
                    .count();
                writable.len() - fixed
            },
            Vec::len,
        );
        if let Some(arity) = insert.shape.arity
            && arity != expected
            && (insert.columns.is_some() || target.like.is_none())
        {
            self.push(
                stmt,
                Severity::Error,
                "column-count",
                format!(
                    "the query produces {arity} column(s), but {expected} are written to `{}`",
                    target.name
                ),
                insert.span.clone(),
                None,
                Some(
                    "make the SELECT list match the target's columns (or list the columns written)"
                        .into(),
                ),
            );
        }
        let Some(connector) = self.connector_of(stmt, target) else {
            return;
        };
        // A changelog format (debezium-json, …) makes an append-only connector take updates.
        if !connector.is_append_only_sink() || changelog_format(target).is_some() {
            return;
        }
        let changing_source = insert.sources.iter().find_map(|s| {
            let (st, t) = self.tables.get(s.as_str())?;
            if let Some(format) = changelog_format(t) {
                return Some(format!(
                    "it reads the changelog table `{s}` ('{format}'), whose rows change"
                ));
            }
            self.connector_of(st, t)
                .is_some_and(Connector::is_upsert)
                .then(|| format!("it reads the upsert table `{s}`, whose rows change"))
        });
        let why = if insert.shape.grouped {
            Some("its GROUP BY aggregate updates rows as new input arrives".to_string())
        } else if insert.shape.outer_join {
            Some("its outer join retracts rows when a match arrives late".to_string())
        } else if insert.shape.distinct {
            Some(
                "its SELECT DISTINCT is an aggregate that updates rows as new input arrives"
                    .to_string(),
            )
        } else {
            changing_source
        };
        if let Some(why) = why {
            let upsert = format!("upsert-{}", connector.identifier);
            let suggestion = if connector.identifier == "filesystem" {
                "write to an upsert table (upsert-kafka, upsert-pulsar) instead".to_string()
            } else {
                format!(
                    "declare `{}` with 'connector' = '{upsert}' and a PRIMARY KEY",
                    target.name
                )
            };
            self.push(stmt, Severity::Error, "updates-into-append-only", format!("the query's result changes over time ({why}), but `{}` uses the append-only '{}' connector", target.name, connector.identifier), insert.target_span.clone(), None, Some(suggestion));
        }
    }

    fn connector_of(&self, stmt: &Statement, table: &'a CreateTable) -> Option<&'a Connector> {
        let options = self.effective_options(table, 0);
        let option = options.iter().find(|o| o.key == "connector")?;
        self.catalog.connector(self.value(stmt, option))
    }
}

/// Whether a `CREATE TABLE name` comes before statement `index`.
fn created_before(script: &Script, name: &str, index: usize) -> bool {
    script.statements[..index]
        .iter()
        .any(|s| s.create_table().is_some_and(|t| t.name == name))
}

/// The first `CREATE TABLE name` after statement `index`.
fn created_after<'s>(script: &'s Script, name: &str, index: usize) -> Option<&'s Statement> {
    script.statements[index + 1..]
        .iter()
        .find(|s| s.create_table().is_some_and(|t| t.name == name))
}

/// Whether a column type can be a rowtime: `TIMESTAMP(p)`, `TIMESTAMP_LTZ(p)` or
/// `TIMESTAMP(p) WITH LOCAL TIME ZONE` with p from 0 to 3 (`DefaultSchemaResolver`), nullable or not.
fn is_rowtime_type(ty: &str) -> bool {
    let normalized = ty
        .to_ascii_uppercase()
        .split_whitespace()
        .collect::<String>();
    let normalized = normalized.strip_suffix("NOTNULL").unwrap_or(&normalized);
    let normalized = normalized.strip_suffix("NULL").unwrap_or(normalized);
    ["TIMESTAMP_LTZ(", "TIMESTAMP("].iter().any(|prefix| {
        normalized
            .strip_prefix(prefix)
            .and_then(|rest| rest.split_once(')'))
            .is_some_and(|(precision, rest)| {
                matches!(precision, "0" | "1" | "2" | "3")
                    && (rest.is_empty() || (*prefix == "TIMESTAMP(" && rest == "WITHLOCALTIMEZONE"))
            })
    })
}

/// The source range of the table name after `LIKE` in a CREATE TABLE statement.
fn like_span(stmt: &Statement) -> Option<Range<usize>> {
    let text = stmt.text.as_str();
    let toks: Vec<_> = Lexer::new(text)
        .filter_map(Result::ok)
        .filter(|t| !t.kind.is_trivia())
        .collect();
    let at = toks.iter().rposition(|t| t.is_keyword(text, "LIKE"))?;
    let first = toks.get(at + 1)?;
    let mut end = first.end;
    for t in &toks[at + 2..] {
        if !matches!(
            t.kind,
            TokenKind::Dot | TokenKind::Word | TokenKind::QuotedIdent
        ) {
            break;
        }
        end = t.end;
    }
    Some(stmt.range.start + first.start..stmt.range.start + end)
}

/// The range that removes option `index` with its separating comma.
fn removal_range(table: &CreateTable, index: usize) -> Range<usize> {
    let options = &table.options;
    let option = &options[index];
    if index > 0 {
        options[index - 1].value_span.end..option.value_span.end
    } else if let Some(next) = options.get(1) {
        option.key_span.start..next.key_span.start
    } else {
        option.key_span.start..option.value_span.end
    }
}

/// Flink's duration syntax: a number and an optional unit (`10 s`, `500ms`, `1 min`, `2h`).
fn is_duration(value: &str) -> bool {
    const UNITS: &[&str] = &[
        "",
        "d",
        "day",
        "days",
        "h",
        "hour",
        "hours",
        "min",
        "m",
        "minute",
        "minutes",
        "s",
        "sec",
        "secs",
        "second",
        "seconds",
        "ms",
        "milli",
        "millis",
        "millisecond",
        "milliseconds",
        "µs",
        "us",
        "micro",
        "micros",
        "microsecond",
        "microseconds",
        "ns",
        "nano",
        "nanos",
        "nanosecond",
        "nanoseconds",
    ];
    number_with_unit(value, UNITS)
}

/// Flink's memory size syntax (`64mb`, `1 gb`, `512`).
fn is_memory_size(value: &str) -> bool {
    const UNITS: &[&str] = &[
        "",
        "b",
        "bytes",
        "k",
        "kb",
        "kibibytes",
        "m",
        "mb",
        "mebibytes",
        "g",
        "gb",
        "gibibytes",
        "t",
        "tb",
        "tebibytes",
    ];
    number_with_unit(value, UNITS)
}

fn number_with_unit(value: &str, units: &[&str]) -> bool {
    let value = value.trim();
    let digits = value
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(value.len());
    digits > 0 && units.contains(&value[digits..].trim().to_lowercase().as_str())
}

/// Applies `edits` to `text` (edits of one source, non-overlapping).
pub fn apply_edits(text: &str, edits: &[&Edit]) -> String {
    let mut sorted: Vec<&&Edit> = edits.iter().collect();
    sorted.sort_by_key(|e| std::cmp::Reverse(e.range.start));
    let mut out = text.to_string();
    let mut last_start = usize::MAX;
    for edit in sorted {
        if edit.range.end <= last_start {
            out.replace_range(edit.range.clone(), &edit.replacement);
            last_start = edit.range.start;
        }
    }
    out
}

/// The changelog format a table's messages are in (`'format'` or `'value.format'` =
/// `debezium-json`, `canal-json`, `maxwell-json`, `ogg-json`, `debezium-avro-confluent`), if
/// any: such a table reads and writes updates and deletes whatever its connector.
fn changelog_format(table: &CreateTable) -> Option<&str> {
    table
        .options
        .iter()
        .filter(|o| o.key == "format" || o.key == "value.format")
        .map(|o| o.value.as_str())
        .find(|v| {
            matches!(
                *v,
                "debezium-json"
                    | "canal-json"
                    | "maxwell-json"
                    | "ogg-json"
                    | "debezium-avro-confluent"
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_sizes() {
        for ok in ["10 s", "500ms", "5 min", "1h", "3", "2 days"] {
            assert!(is_duration(ok), "{ok}");
        }
        for bad in ["ten seconds", "1.5s", "s", ""] {
            assert!(!is_duration(bad), "{bad}");
        }
        assert!(is_memory_size("64mb") && is_memory_size("1 GB") && !is_memory_size("64 megs"));
    }

    #[test]
    fn nearest_keys() {
        assert_eq!(nearest("topcs", ["topics", "service-url"]), Some("topics"));
        assert_eq!(nearest("zzz", ["topics", "service-url"]), None);
    }
}
