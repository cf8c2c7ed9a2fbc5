//! Statement classification and the statement parsers: CREATE TABLE (columns, metadata and
//! computed columns, watermark, primary key, comment, partitions, WITH options with spans, LIKE,
//! AS query), CREATE VIEW, INSERT, SET and RESET.

use super::cursor::{Cursor, is_ident_token};
use super::lexer::{Token, TokenKind};
use super::model::{
    Column, ColumnKind, CreateCatalog, CreateTable, CreateView, Detail, Insert, Like, PrimaryKey,
    SetOption, StatementKind, SyntaxProblem, TableOption, Watermark,
};
use super::query::{query_shape, query_sources};

/// Classifies the statement made of `toks` and parses what flinkit models of it.
pub(crate) fn parse_statement(src: &str, toks: &[Token]) -> (StatementKind, Detail) {
    let mut c = Cursor::new(src, toks);
    if c.is_kw("CREATE") || (c.is_kw("REPLACE") && c.is_kw_at(1, "TABLE")) {
        return parse_create(&mut c);
    }
    let first = c.peek().map(|t| (t.kind, t.text(src).to_ascii_uppercase()));
    let Some((kind, word)) = first else {
        return (StatementKind::Other, Detail::None);
    };
    if kind == TokenKind::LParen {
        return (StatementKind::Select, Detail::None);
    }
    match word.as_str() {
        "INSERT" => insert_statement(&mut c),
        "EXECUTE" if c.is_kw_at(1, "INSERT") => {
            c.bump();
            insert_statement(&mut c)
        }
        "EXECUTE" | "BEGIN" if c.is_kw_at(1, "STATEMENT") => (
            StatementKind::StatementSet,
            Detail::StatementSet(Vec::new()),
        ),
        "SET" => (StatementKind::Set, Detail::Set(parse_set(&mut c))),
        "RESET" => (StatementKind::Reset, Detail::Set(parse_set(&mut c))),
        "USE" => (StatementKind::Use, Detail::None),
        "SELECT" | "WITH" | "VALUES" | "TABLE" => (StatementKind::Select, Detail::None),
        "EXPLAIN" => (StatementKind::Explain, Detail::None),
        "DROP" => (StatementKind::Drop, Detail::None),
        "ALTER" => (StatementKind::Alter, Detail::None),
        "SHOW" => (StatementKind::Show, Detail::None),
        "DESCRIBE" | "DESC" => (StatementKind::Describe, Detail::None),
        _ => (StatementKind::Other, Detail::None),
    }
}

/// First words of the statements Flink's SQL parser and SQL client take, besides the kinds
/// [`parse_statement`] names (`ADD JAR`, `ANALYZE TABLE`, `CALL`, `COMPILE PLAN`, `LOAD MODULE`,
/// `STOP JOB`, `TRUNCATE TABLE`, …). A statement that starts with any other token is not SQL.
const OTHER_STATEMENTS: &[&str] = &[
    "ADD", "ANALYZE", "CALL", "CLEAR", "COMPILE", "DELETE", "EXIT", "HELP", "LOAD", "MERGE",
    "QUIT", "REMOVE", "STOP", "TRUNCATE", "UNLOAD", "UPDATE", "UPSERT",
];

/// Whether a statement of kind `other` starting with `first` can be Flink SQL at all.
pub(crate) fn is_other_statement(src: &str, first: &Token) -> bool {
    OTHER_STATEMENTS.iter().any(|kw| first.is_keyword(src, kw))
        || ["CREATE", "REPLACE", "EXECUTE"]
            .iter()
            .any(|kw| first.is_keyword(src, kw))
}

fn insert_statement(c: &mut Cursor<'_>) -> (StatementKind, Detail) {
    match parse_insert(c) {
        Some(insert) => (StatementKind::Insert, Detail::Insert(insert)),
        None => (StatementKind::Insert, Detail::None),
    }
}

/// Parses `[EXECUTE] INSERT INTO|OVERWRITE target [PARTITION (…)] [(columns)] query`.
pub(crate) fn parse_insert(c: &mut Cursor<'_>) -> Option<Insert> {
    let start = c.peek()?.start;
    let end = c.toks.last()?.end;
    c.eat_kw("EXECUTE");
    if !c.eat_kw("INSERT") {
        return None;
    }
    let overwrite = c.eat_kw("OVERWRITE");
    if !overwrite && !c.eat_kw("INTO") {
        return None;
    }
    let name_start = c.peek()?.start;
    let target = c.qualified_name()?;
    let target_span = name_start..c.toks[c.pos - 1].end;
    let mut static_partitions = Vec::new();
    if c.is_kw("PARTITION") && c.peek_at(1).is_some_and(|t| t.kind == TokenKind::LParen) {
        c.bump();
        let end = c.matching_paren_end();
        c.bump();
        while c.pos < end {
            if let Some(name) = c.ident()
                && c.is_kind(TokenKind::Eq)
            {
                static_partitions.push(name);
            }
            while c.pos < end && c.eat_kind(TokenKind::Comma).is_none() {
                c.bump();
            }
        }
        c.pos = end;
    }
    let mut columns = None;
    let query_follows = ["SELECT", "WITH", "VALUES"]
        .iter()
        .any(|kw| c.is_kw_at(1, kw))
        || c.peek_at(1).is_some_and(|t| t.kind == TokenKind::LParen);
    if c.is_kind(TokenKind::LParen) && !query_follows {
        let save = c.pos;
        columns = c.ident_list();
        if columns.is_none() {
            c.pos = save;
        }
    }
    let query = &c.toks[c.pos..];
    Some(Insert {
        target,
        target_span,
        overwrite,
        columns,
        static_partitions,
        sources: query_sources(c.src, query),
        span: start..end,
        shape: query_shape(c.src, query),
    })
}

fn parse_set(c: &mut Cursor<'_>) -> SetOption {
    c.bump();
    let key = c.string().or_else(|| c.qualified_name());
    let value = if c.eat_kind(TokenKind::Eq).is_some() {
        c.string().or_else(|| {
            let from = c.pos;
            c.pos = c.toks.len();
            Some(c.text_between(from, c.pos).to_string())
        })
    } else {
        None
    };
    SetOption { key, value }
}

fn parse_create(c: &mut Cursor<'_>) -> (StatementKind, Detail) {
    let or_replace = if c.eat_kw("REPLACE") {
        true
    } else {
        c.eat_kw("CREATE");
        c.eat_kws(&["OR", "REPLACE"])
    };
    let temporary = c.eat_kw("TEMPORARY");
    c.eat_kw("SYSTEM");
    let kind = if c.eat_kw("TABLE") {
        StatementKind::CreateTable
    } else if c.eat_kw("VIEW") {
        StatementKind::CreateView
    } else if c.eat_kw("FUNCTION") {
        StatementKind::CreateFunction
    } else if c.eat_kw("CATALOG") {
        StatementKind::CreateCatalog
    } else if c.eat_kw("DATABASE") {
        StatementKind::CreateDatabase
    } else {
        return (StatementKind::Other, Detail::None);
    };
    let if_not_exists = c.eat_kws(&["IF", "NOT", "EXISTS"]);
    let name_start = c.peek().map(|t| t.start);
    let Some(name) = c.qualified_name() else {
        return (kind, Detail::None);
    };
    let detail = match kind {
        StatementKind::CreateTable => {
            let mut table = CreateTable {
                name,
                name_span: name_start.unwrap_or_default()..c.toks[c.pos - 1].end,
                temporary,
                if_not_exists,
                or_replace,
                ..CreateTable::default()
            };
            if let Err(problem) = table_body(c, &mut table) {
                table.syntax_error = Some(problem);
            }
            Detail::CreateTable(Box::new(table))
        }
        StatementKind::CreateView => {
            if c.is_kind(TokenKind::LParen) {
                c.pos = c.matching_paren_end();
            }
            if c.eat_kw("COMMENT") {
                c.string();
            }
            c.eat_kw("AS");
            let sources = query_sources(c.src, &c.toks[c.pos..]);
            Detail::CreateView(CreateView {
                name,
                temporary,
                sources,
            })
        }
        StatementKind::CreateCatalog => {
            let options = if c.eat_kw("WITH") {
                table_options(c).unwrap_or_default()
            } else {
                Vec::new()
            };
            Detail::CreateCatalog(CreateCatalog { name, options })
        }
        _ => Detail::Named(name),
    };
    (kind, detail)
}

fn problem(c: &Cursor<'_>, expected: &str) -> SyntaxProblem {
    match c.peek() {
        Some(tok) => SyntaxProblem {
            message: format!("expected {expected}, found `{}`", tok.text(c.src)),
            span: tok.range(),
        },
        None => {
            let end = c.toks.last().map_or(0, |t| t.end);
            SyntaxProblem {
                message: format!("expected {expected}, found the end of the statement"),
                span: end..end,
            }
        }
    }
}

fn expect_kw(c: &mut Cursor<'_>, kw: &str) -> Result<(), SyntaxProblem> {
    if c.eat_kw(kw) {
        Ok(())
    } else {
        Err(problem(c, kw))
    }
}

fn expect_kind(c: &mut Cursor<'_>, kind: TokenKind, what: &str) -> Result<(), SyntaxProblem> {
    match c.eat_kind(kind) {
        Some(_) => Ok(()),
        None => Err(problem(c, what)),
    }
}

/// Everything after the table name.
fn table_body(c: &mut Cursor<'_>, table: &mut CreateTable) -> Result<(), SyntaxProblem> {
    if c.is_kind(TokenKind::LParen) {
        let end = c.matching_paren_end();
        if end > c.toks.len() || c.toks[end - 1].kind != TokenKind::RParen {
            return Err(problem(c, "a closing `)` for the column list"));
        }
        let inner = Cursor {
            src: c.src,
            toks: &c.toks[..end - 1],
            pos: c.pos + 1,
        };
        table_elements(inner, table)?;
        c.pos = end;
    }
    loop {
        if c.at_end() {
            return Ok(());
        }
        if c.eat_kw("COMMENT") {
            table.comment = Some(c.string().ok_or_else(|| problem(c, "a comment string"))?);
        } else if c.eat_kws(&["PARTITIONED", "BY"]) {
            table.partitioned_by = c
                .ident_list()
                .ok_or_else(|| problem(c, "a parenthesised column list"))?;
        } else if c.is_kw("DISTRIBUTED") {
            while !c.at_end()
                && !["WITH", "LIKE", "AS", "PARTITIONED", "COMMENT"]
                    .iter()
                    .any(|kw| c.is_kw(kw))
            {
                c.bump();
            }
        } else if c.eat_kw("WITH") {
            table.options = table_options(c)?;
        } else if c.eat_kw("LIKE") {
            table.like = Some(like_clause(c)?);
        } else if c.eat_kw("AS") {
            table.query_sources = Some(query_sources(c.src, &c.toks[c.pos..]));
            return Ok(());
        } else {
            return Err(problem(
                c,
                "COMMENT, PARTITIONED BY, WITH, LIKE or AS after the column list",
            ));
        }
    }
}

fn table_options(c: &mut Cursor<'_>) -> Result<Vec<TableOption>, SyntaxProblem> {
    expect_kind(c, TokenKind::LParen, "`(` after WITH")?;
    let mut options = Vec::new();
    if c.eat_kind(TokenKind::RParen).is_some() {
        return Ok(options);
    }
    loop {
        let key_tok = *c.peek().ok_or_else(|| problem(c, "an option key"))?;
        let key = c
            .string()
            .ok_or_else(|| problem(c, "an option key in single quotes"))?;
        expect_kind(c, TokenKind::Eq, "`=`")?;
        let value_tok = *c.peek().ok_or_else(|| problem(c, "an option value"))?;
        let value = c
            .string()
            .ok_or_else(|| problem(c, "an option value in single quotes"))?;
        options.push(TableOption {
            key,
            value,
            key_span: key_tok.range(),
            value_span: value_tok.range(),
        });
        if c.eat_kind(TokenKind::Comma).is_none() {
            break;
        }
    }
    expect_kind(c, TokenKind::RParen, "`,` or `)` in the WITH options")?;
    Ok(options)
}

fn like_clause(c: &mut Cursor<'_>) -> Result<Like, SyntaxProblem> {
    let table = c
        .qualified_name()
        .ok_or_else(|| problem(c, "the name of the table to copy"))?;
    let mut options = Vec::new();
    if c.eat_kind(TokenKind::LParen).is_some() {
        while let Some(tok) = c.peek() {
            if tok.kind == TokenKind::RParen {
                break;
            }
            let strategy = c.bump().map(|t| t.text(c.src).to_ascii_uppercase());
            let what = c.bump().map(|t| t.text(c.src).to_ascii_uppercase());
            match (strategy, what) {
                (Some(s), Some(w)) => options.push(format!("{s} {w}")),
                _ => return Err(problem(c, "a LIKE option such as EXCLUDING OPTIONS")),
            }
        }
        expect_kind(c, TokenKind::RParen, "`)`")?;
    }
    Ok(Like { table, options })
}

/// Splits the column list at depth-0 commas and parses each element.
fn table_elements(mut c: Cursor<'_>, table: &mut CreateTable) -> Result<(), SyntaxProblem> {
    while !c.at_end() {
        let start = c.pos;
        let mut depth = 0usize;
        let mut angle = 0usize;
        while let Some(tok) = c.peek() {
            match tok.kind {
                TokenKind::LParen => depth += 1,
                TokenKind::RParen => depth = depth.saturating_sub(1),
                TokenKind::Lt if c.pos > start && opens_type_params(&c, c.pos - 1) => angle += 1,
                TokenKind::Gt if angle > 0 => angle -= 1,
                TokenKind::Comma if depth == 0 && angle == 0 => break,
                _ => {}
            }
            c.bump();
        }
        let element = Cursor {
            src: c.src,
            toks: &c.toks[..c.pos],
            pos: start,
        };
        if start == c.pos {
            return Err(problem(&c, "a column, WATERMARK or PRIMARY KEY"));
        }
        table_element(element, table)?;
        c.eat_kind(TokenKind::Comma);
    }
    Ok(())
}

/// A `<` that opens the parameters of `ROW`, `ARRAY`, `MAP` or `MULTISET` (or nested ones).
fn opens_type_params(c: &Cursor<'_>, prev: usize) -> bool {
    let tok = &c.toks[prev];
    ["ROW", "ARRAY", "MAP", "MULTISET"]
        .iter()
        .any(|kw| tok.is_keyword(c.src, kw))
}

fn table_element(mut c: Cursor<'_>, table: &mut CreateTable) -> Result<(), SyntaxProblem> {
    let first = *c.peek().ok_or_else(|| problem(&c, "a table element"))?;
    let span = first.start..c.toks[c.toks.len() - 1].end;
    if c.eat_kw("WATERMARK") {
        expect_kw(&mut c, "FOR")?;
        let col_tok = *c.peek().ok_or_else(|| problem(&c, "the rowtime column"))?;
        let column = c
            .qualified_name()
            .ok_or_else(|| problem(&c, "the rowtime column"))?;
        expect_kw(&mut c, "AS")?;
        let expr = c.text_between(c.pos, c.toks.len()).to_string();
        table.watermark = Some(Watermark {
            column,
            expr,
            span: col_tok.start..c.toks[c.pos - 2].end,
        });
        return Ok(());
    }
    if c.eat_kw("CONSTRAINT") {
        c.ident().ok_or_else(|| problem(&c, "a constraint name"))?;
    }
    if c.eat_kws(&["PRIMARY", "KEY"]) {
        let columns = c
            .ident_list()
            .ok_or_else(|| problem(&c, "a parenthesised column list"))?;
        let not_enforced = c.eat_kws(&["NOT", "ENFORCED"]);
        table.primary_key = Some(PrimaryKey {
            columns,
            not_enforced,
            span,
        });
        return expect_end(&c);
    }
    let name = c.ident().ok_or_else(|| problem(&c, "a column name"))?;
    let name_span = first.range();
    let mut comment = None;
    let kind = if c.eat_kw("AS") {
        let from = c.pos;
        let mut to = c.toks.len();
        if let Some(at) = (from..c.toks.len()).find(|&i| {
            c.toks[i].is_keyword(c.src, "COMMENT")
                && c.toks
                    .get(i + 1)
                    .is_some_and(|t| t.kind == TokenKind::String)
                && i + 2 == c.toks.len()
        }) {
            to = at;
        }
        let expr = c.text_between(from, to).to_string();
        c.pos = to;
        if c.eat_kw("COMMENT") {
            comment = c.string();
        }
        ColumnKind::Computed { expr }
    } else {
        let data_type = column_type(&mut c)?;
        let mut nullable = true;
        let mut metadata = None;
        loop {
            if c.eat_kws(&["NOT", "NULL"]) {
                nullable = false;
            } else if c.eat_kw("NULL") {
                nullable = true;
            } else if c.eat_kw("METADATA") {
                let key = if c.eat_kw("FROM") {
                    let tok = c.peek().copied();
                    let key = c
                        .string()
                        .ok_or_else(|| problem(&c, "a metadata key in single quotes"))?;
                    Some((key, tok.map_or(name_span.clone(), |t| t.range())))
                } else {
                    None
                };
                let is_virtual = c.eat_kw("VIRTUAL");
                metadata = Some((key, is_virtual));
            } else if c.eat_kw("COMMENT") {
                comment = Some(c.string().ok_or_else(|| problem(&c, "a comment string"))?);
            } else if c.eat_kws(&["PRIMARY", "KEY"]) {
                let not_enforced = c.eat_kws(&["NOT", "ENFORCED"]);
                table.primary_key = Some(PrimaryKey {
                    columns: vec![name.clone()],
                    not_enforced,
                    span: span.clone(),
                });
            } else {
                break;
            }
        }
        match metadata {
            Some((key, is_virtual)) => {
                let key_span = key.as_ref().map_or(name_span.clone(), |(_, s)| s.clone());
                ColumnKind::Metadata {
                    data_type,
                    key: key.map(|(k, _)| k),
                    is_virtual,
                    key_span,
                }
            }
            None => ColumnKind::Physical {
                data_type,
                nullable,
            },
        }
    };
    expect_end(&c)?;
    table.columns.push(Column {
        name,
        kind,
        comment,
        span,
    });
    Ok(())
}

fn expect_end(c: &Cursor<'_>) -> Result<(), SyntaxProblem> {
    if c.at_end() {
        Ok(())
    } else {
        Err(problem(c, "`,` or `)`"))
    }
}

/// The type text of a column: every token up to a depth-0 `NOT NULL`, `NULL`, `METADATA`,
/// `COMMENT` or `PRIMARY KEY`.
fn column_type(c: &mut Cursor<'_>) -> Result<String, SyntaxProblem> {
    let from = c.pos;
    let mut depth = 0usize;
    while let Some(tok) = c.peek() {
        match tok.kind {
            TokenKind::LParen | TokenKind::Lt => depth += 1,
            TokenKind::RParen | TokenKind::Gt => depth = depth.saturating_sub(1),
            TokenKind::Word if depth == 0 => {
                let stop = ["METADATA", "COMMENT", "NULL"]
                    .iter()
                    .any(|kw| tok.is_keyword(c.src, kw))
                    || (tok.is_keyword(c.src, "NOT") && c.is_kw_at(1, "NULL"))
                    || (tok.is_keyword(c.src, "PRIMARY") && c.is_kw_at(1, "KEY"));
                if stop {
                    break;
                }
            }
            _ => {}
        }
        c.bump();
    }
    if from == c.pos || !c.toks.get(from).is_some_and(is_ident_token) {
        c.pos = from;
        return Err(problem(c, "a data type"));
    }
    Ok(c.text_between(from, c.pos).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::lexer::tokenize;

    fn parse(sql: &str) -> (StatementKind, Detail) {
        let toks: Vec<Token> = tokenize(sql)
            .unwrap()
            .into_iter()
            .filter(|t| !t.kind.is_trivia())
            .collect();
        parse_statement(sql, &toks)
    }

    fn table(sql: &str) -> CreateTable {
        match parse(sql) {
            (StatementKind::CreateTable, Detail::CreateTable(t)) => *t,
            other => panic!("not a table: {other:?}"),
        }
    }

    #[test]
    fn rich_ddl() {
        let sql = "CREATE TEMPORARY TABLE IF NOT EXISTS `cat`.db.orders (
          id BIGINT NOT NULL COMMENT 'the id',
          customer ROW<name STRING, tags ARRAY<STRING>>,
          attrs MAP<STRING, ARRAY<ROW<k STRING, v INT NOT NULL>>>,
          price DECIMAL(10, 2),
          ts TIMESTAMP_LTZ(3) METADATA FROM 'timestamp' VIRTUAL,
          headers MAP<STRING, BYTES> METADATA,
          local_ts TIMESTAMP(3) WITH LOCAL TIME ZONE,
          total AS price * 2 COMMENT 'doubled',
          cmp AS CASE WHEN price < 10 THEN 'a' ELSE 'b' END,
          WATERMARK FOR ts AS ts - INTERVAL '5' SECOND,
          CONSTRAINT pk PRIMARY KEY (id) NOT ENFORCED
        ) COMMENT 'c;' PARTITIONED BY (id, `price`)
        WITH ('connector' = 'kafka', 'topic' = 'it''s')";
        let t = table(sql);
        assert_eq!(t.name, "cat.db.orders");
        assert_eq!(&sql[t.name_span.clone()], "`cat`.db.orders");
        assert!(t.temporary && t.if_not_exists);
        let names: Vec<_> = t.columns.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "id", "customer", "attrs", "price", "ts", "headers", "local_ts", "total", "cmp"
            ]
        );
        assert_eq!(
            t.columns[0].kind,
            ColumnKind::Physical {
                data_type: "BIGINT".into(),
                nullable: false
            }
        );
        assert_eq!(t.columns[0].comment.as_deref(), Some("the id"));
        assert_eq!(
            t.columns[1].data_type(),
            Some("ROW<name STRING, tags ARRAY<STRING>>")
        );
        assert_eq!(
            t.columns[2].data_type(),
            Some("MAP<STRING, ARRAY<ROW<k STRING, v INT NOT NULL>>>")
        );
        assert_eq!(t.columns[3].data_type(), Some("DECIMAL(10, 2)"));
        match &t.columns[4].kind {
            ColumnKind::Metadata {
                data_type,
                key,
                is_virtual,
                key_span,
            } => {
                assert_eq!(data_type, "TIMESTAMP_LTZ(3)");
                assert_eq!(key.as_deref(), Some("timestamp"));
                assert!(is_virtual);
                assert_eq!(&sql[key_span.clone()], "'timestamp'");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            &t.columns[5].kind,
            ColumnKind::Metadata {
                key: None,
                is_virtual: false,
                ..
            }
        ));
        assert_eq!(
            t.columns[6].data_type(),
            Some("TIMESTAMP(3) WITH LOCAL TIME ZONE")
        );
        assert_eq!(
            t.columns[7].kind,
            ColumnKind::Computed {
                expr: "price * 2".into()
            }
        );
        assert_eq!(t.columns[7].comment.as_deref(), Some("doubled"));
        assert_eq!(
            t.columns[8].kind,
            ColumnKind::Computed {
                expr: "CASE WHEN price < 10 THEN 'a' ELSE 'b' END".into()
            }
        );
        let wm = t.watermark.as_ref().unwrap();
        assert_eq!(
            (wm.column.as_str(), wm.expr.as_str()),
            ("ts", "ts - INTERVAL '5' SECOND")
        );
        let pk = t.primary_key.as_ref().unwrap();
        assert_eq!(pk.columns, ["id"]);
        assert!(pk.not_enforced);
        assert_eq!(t.comment.as_deref(), Some("c;"));
        assert_eq!(t.partitioned_by, ["id", "price"]);
        assert_eq!(t.connector(), Some("kafka"));
        assert_eq!(t.option("topic"), Some("it's"));
        assert_eq!(&sql[t.options[1].value_span.clone()], "'it''s'");
        assert_eq!(t.syntax_error, None);
    }

    #[test]
    fn column_level_primary_key_and_like() {
        let t = table(
            "CREATE TABLE c WITH ('topic' = 'x') LIKE base (EXCLUDING OPTIONS INCLUDING WATERMARKS)",
        );
        let like = t.like.unwrap();
        assert_eq!(like.table, "base");
        assert_eq!(like.options, ["EXCLUDING OPTIONS", "INCLUDING WATERMARKS"]);
        assert!(!like.inherits_options());
        let t = table("CREATE TABLE k (id INT PRIMARY KEY NOT ENFORCED, v STRING) WITH ()");
        assert_eq!(t.primary_key.unwrap().columns, ["id"]);
        assert_eq!(t.columns.len(), 2);
    }

    #[test]
    fn ctas_reads_its_query() {
        let t =
            table("CREATE TABLE s WITH ('connector' = 'print') AS SELECT * FROM a JOIN b ON TRUE");
        assert_eq!(t.query_sources.unwrap(), ["a", "b"]);
    }

    #[test]
    fn syntax_problems_are_located() {
        let sql = "CREATE TABLE t (a INT) WITH ('k' 'v')";
        let t = table(sql);
        let problem = t.syntax_error.unwrap();
        assert_eq!(&sql[problem.span], "'v'");
        assert!(problem.message.contains("`=`"), "{}", problem.message);
    }

    #[test]
    fn inserts() {
        let (kind, detail) =
            parse("INSERT OVERWRITE cat.t PARTITION (p = 'x') (a, `b`) SELECT a, b FROM s");
        assert_eq!(kind, StatementKind::Insert);
        let Detail::Insert(i) = detail else { panic!() };
        assert_eq!(i.target, "cat.t");
        assert!(i.overwrite);
        assert_eq!(i.columns.unwrap(), ["a", "b"]);
        assert_eq!(i.sources, ["s"]);
        let (_, detail) = parse("INSERT INTO t (SELECT 1 FROM u)");
        let Detail::Insert(i) = detail else { panic!() };
        assert_eq!((i.columns, i.sources), (None, vec!["u".to_string()]));
        let (_, detail) = parse("INSERT INTO t VALUES (1), (2)");
        let Detail::Insert(i) = detail else { panic!() };
        assert!(i.sources.is_empty());
    }

    #[test]
    fn kinds() {
        let cases = [
            (
                "create temporary system function f as 'x'",
                StatementKind::CreateFunction,
            ),
            (
                "CREATE CATALOG c WITH ('type' = 'generic_in_memory')",
                StatementKind::CreateCatalog,
            ),
            (
                "CREATE DATABASE IF NOT EXISTS d",
                StatementKind::CreateDatabase,
            ),
            ("CREATE VIEW v AS SELECT 1", StatementKind::CreateView),
            ("use catalog c", StatementKind::Use),
            ("SET", StatementKind::Set),
            ("RESET", StatementKind::Reset),
            ("(SELECT 1)", StatementKind::Select),
            (
                "WITH a AS (SELECT 1) SELECT * FROM a",
                StatementKind::Select,
            ),
            ("EXPLAIN PLAN FOR SELECT 1", StatementKind::Explain),
            ("DROP TABLE t", StatementKind::Drop),
            ("ALTER TABLE t SET ('a' = 'b')", StatementKind::Alter),
            ("SHOW TABLES", StatementKind::Show),
            ("desc t", StatementKind::Describe),
            ("LOAD MODULE hive", StatementKind::Other),
            ("EXECUTE INSERT INTO t SELECT 1", StatementKind::Insert),
            ("REPLACE TABLE t AS SELECT 1", StatementKind::CreateTable),
        ];
        for (sql, kind) in cases {
            assert_eq!(parse(sql).0, kind, "{sql}");
        }
        let (_, Detail::Set(set)) = parse("SET 'a.b' = 'x''y'") else {
            panic!()
        };
        assert_eq!(
            (set.key.as_deref(), set.value.as_deref()),
            (Some("a.b"), Some("x'y"))
        );
    }
}
