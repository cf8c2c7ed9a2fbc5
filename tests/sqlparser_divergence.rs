//! Why flinkit has its own lexer: where sqlparser's tokenizer (the crate the Rust ecosystem
//! trusts for SQL) treats Flink SQL differently from Flink's Calcite parser. Each test pins one
//! difference, so a sqlparser upgrade that closes it shows up here.

use sqlparser::dialect::{GenericDialect, MySqlDialect};
use sqlparser::tokenizer::{Token, Tokenizer, Whitespace};

fn semicolons(dialect: &dyn sqlparser::dialect::Dialect, sql: &str) -> Option<usize> {
    let tokens = Tokenizer::new(dialect, sql).tokenize().ok()?;
    Some(tokens.iter().filter(|t| **t == Token::SemiColon).count())
}

fn flinkit_statements(sql: &str) -> Option<usize> {
    flinkit::sql::Script::parse_str(sql)
        .ok()
        .map(|s| s.statements.len())
}

#[test]
fn double_slash_starts_a_line_comment_in_flink_only() {
    let sql = "SELECT 1 // note; not a statement end\nFROM t";
    assert_eq!(semicolons(&GenericDialect {}, sql), Some(1));
    assert_eq!(flinkit_statements(sql), Some(1));
}

#[test]
fn backslash_is_no_escape_in_flink_strings() {
    let sql = r"SELECT 'C:\'; SELECT 2";
    assert_eq!(
        semicolons(&MySqlDialect {}, sql),
        None,
        "MySQL's dialect (the one with backtick identifiers) reads \\' as an escaped quote"
    );
    assert_eq!(flinkit_statements(sql), Some(2));
}

#[test]
fn block_comments_do_not_nest_in_flink() {
    let sql = "SELECT 1 /* a /* b */; SELECT 2";
    let generic = semicolons(&GenericDialect {}, sql);
    assert_ne!(
        generic,
        Some(1),
        "sqlparser nests block comments, so the ; after */ is swallowed or the text fails"
    );
    assert_eq!(flinkit_statements(sql), Some(2));
}

#[test]
fn backtick_identifiers_cannot_span_lines_in_flink() {
    let sql = "SELECT `a\nb` FROM t";
    assert!(Tokenizer::new(&MySqlDialect {}, sql).tokenize().is_ok());
    assert!(flinkit::sql::Script::parse_str(sql).is_err());
}

#[test]
fn hints_are_plain_comments_to_sqlparser() {
    let sql = "SELECT * FROM t /*+ OPTIONS('a' = 'b') */";
    let tokens = Tokenizer::new(&GenericDialect {}, sql).tokenize().unwrap();
    assert!(
        tokens
            .iter()
            .any(|t| matches!(t, Token::Whitespace(Whitespace::MultiLineComment(_))))
    );
    let lexed = flinkit::sql::lexer::tokenize(sql).unwrap();
    assert_eq!(
        lexed.last().map(|t| t.kind),
        Some(flinkit::sql::lexer::TokenKind::Hint)
    );
}
