//! Variables and secrets: `${NAME}` in option values (and SET values) is replaced after
//! splitting, from `--var NAME=VALUE` (wins) or the environment; substituted values and the
//! values of options whose key looks secret are never printed — [`Redactor`] masks them in SQL
//! text (by position) and in any other text (by value).

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;

use crate::sql::lexer::{Lexer, TokenKind};
use crate::sql::{Script, Statement};

/// The mask printed instead of a secret.
pub const MASK: &str = "***";

/// Key fragments that mark an option's value as secret.
const SECRET_KEY_PARTS: &[&str] = &[
    "password",
    "secret",
    "token",
    "jaas",
    "auth.params",
    "credential",
    "user-info",
];

/// Whether an option key names a secret (`properties.sasl.jaas.config`, `ssl.keystore.password`).
pub fn is_secret_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    SECRET_KEY_PARTS.iter().any(|part| key.contains(part))
}

/// Where variable values come from.
#[derive(Debug, Clone, Default)]
pub struct Vars {
    explicit: BTreeMap<String, String>,
    environment: bool,
}

impl Vars {
    /// `--var` values, falling back to the environment.
    pub fn new(explicit: impl IntoIterator<Item = (String, String)>) -> Self {
        Self {
            explicit: explicit.into_iter().collect(),
            environment: true,
        }
    }

    /// No variables at all: `${…}` stays as written (for commands that only read SQL).
    pub fn none() -> Self {
        Self::default()
    }

    fn get(&self, name: &str) -> Option<String> {
        self.explicit
            .get(name)
            .cloned()
            .or_else(|| self.environment.then(|| std::env::var(name).ok()).flatten())
    }
}

/// A `${NAME}` with no value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Undefined {
    /// The variable's name.
    pub name: String,
    /// The statement it is in.
    pub statement: usize,
    /// Byte range of `${NAME}` in the statement's source.
    pub span: Range<usize>,
}

/// A script after substitution.
#[derive(Debug, Clone, Default)]
pub struct Substituted {
    /// Each statement's text with variables replaced: what the runner gets.
    pub texts: Vec<String>,
    /// The same texts with every secret literal masked: what may be printed.
    pub redacted: Vec<String>,
    /// Variables without a value.
    pub undefined: Vec<Undefined>,
    /// The masker for everything else that is printed.
    pub redactor: Redactor,
    /// Effective values of option literals that changed, by (statement, literal start offset in
    /// the source).
    values: HashMap<(usize, usize), String>,
}

impl Substituted {
    /// The value of the literal starting at `start` in statement `statement` after
    /// substitution, or `written` when it had no variable.
    pub fn value<'a>(&'a self, statement: usize, start: usize, written: &'a str) -> &'a str {
        self.values
            .get(&(statement, start))
            .map_or(written, String::as_str)
    }
}

/// Masks secrets in text.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    secrets: Vec<String>,
}

impl Redactor {
    /// Masks every known secret value of three characters or more in `text` (shorter values are
    /// masked where their position is known, in SQL text, only).
    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_string();
        for secret in &self.secrets {
            out = out.replace(secret.as_str(), MASK);
        }
        out
    }

    fn add(&mut self, secret: &str) {
        if secret.chars().count() >= 3 && !self.secrets.iter().any(|s| s == secret) {
            self.secrets.push(secret.to_string());
            self.secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        }
    }
}

/// Replaces variables in every statement of `script`.
pub fn substitute(script: &Script, vars: &Vars) -> Substituted {
    let mut out = Substituted::default();
    for stmt in &script.statements {
        let (text, redacted) = substitute_statement(stmt, vars, &mut out);
        out.texts.push(text);
        out.redacted.push(redacted);
    }
    out
}

/// Rewrites the value literals (`'key' = 'value'`) of one statement.
fn substitute_statement(stmt: &Statement, vars: &Vars, out: &mut Substituted) -> (String, String) {
    let src = stmt.text.as_str();
    let toks: Vec<_> = Lexer::new(src)
        .filter_map(Result::ok)
        .filter(|t| !matches!(t.kind, TokenKind::LineComment | TokenKind::BlockComment))
        .collect();
    let mut text = String::with_capacity(src.len());
    let mut redacted = String::with_capacity(src.len());
    let mut copied = 0;
    for (i, tok) in toks.iter().enumerate() {
        let is_value = tok.kind == TokenKind::String
            && i >= 2
            && toks[i - 1].kind == TokenKind::Eq
            && toks[i - 2].kind == TokenKind::String;
        if !is_value {
            continue;
        }
        let key = crate::sql::lexer::Token::text(&toks[i - 2], src);
        let secret_key = is_secret_key(key);
        let literal = tok.text(src);
        let (value, used) = replace_vars(literal, stmt, tok.start, vars, out);
        if !used && !secret_key {
            continue;
        }
        text.push_str(&src[copied..tok.start]);
        redacted.push_str(&src[copied..tok.start]);
        text.push_str(&value);
        redacted.push_str(&format!("'{MASK}'"));
        copied = tok.end;
        let unquoted = value[1..value.len() - 1].replace("''", "'");
        out.redactor.add(&unquoted);
        if used {
            out.values
                .insert((stmt.index, stmt.range.start + tok.start), unquoted);
        }
    }
    text.push_str(&src[copied..]);
    redacted.push_str(&src[copied..]);
    (text, redacted)
}

/// Replaces each `${NAME}` in a quoted literal, escaping quotes in the values; records the
/// values as secrets and the undefined names as errors. Returns the new literal and whether any
/// variable was replaced.
fn replace_vars(
    literal: &str,
    stmt: &Statement,
    offset: usize,
    vars: &Vars,
    out: &mut Substituted,
) -> (String, bool) {
    let mut result = String::with_capacity(literal.len());
    let mut rest = literal;
    let mut at = 0;
    let mut used = false;
    while let Some(open) = rest.find("${") {
        let Some(close) = rest[open..].find('}') else {
            break;
        };
        let name = &rest[open + 2..open + close];
        let valid = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-');
        result.push_str(&rest[..open]);
        if !valid {
            result.push_str(&rest[open..open + close + 1]);
        } else if let Some(value) = vars.get(name) {
            out.redactor.add(&value);
            result.push_str(&value.replace('\'', "''"));
            used = true;
        } else {
            let start = stmt.range.start + offset + at + open;
            if vars.environment || !vars.explicit.is_empty() {
                out.undefined.push(Undefined {
                    name: name.to_string(),
                    statement: stmt.index,
                    span: start..start + close + 1,
                });
            }
            result.push_str(&rest[open..open + close + 1]);
        }
        at += open + close + 1;
        rest = &rest[open + close + 1..];
    }
    result.push_str(rest);
    (result, used)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn script(sql: &str) -> Script {
        Script::parse_str(sql).unwrap()
    }

    #[test]
    fn variables_are_replaced_in_values_only_and_masked() {
        let s = script(
            "CREATE TABLE t (x INT) WITH ('connector' = 'kafka', 'topic' = '${TOPIC}', \
             'properties.sasl.jaas.config' = 'user=\"a\" password=\"${PASS}\";') ;\
             SELECT '${TOPIC}' FROM t",
        );
        let vars = Vars::new([
            ("TOPIC".to_string(), "orders".to_string()),
            ("PASS".to_string(), "s3cr'et".to_string()),
        ]);
        let out = substitute(&s, &vars);
        assert!(out.undefined.is_empty());
        assert!(
            out.texts[0].contains("'topic' = 'orders'"),
            "{}",
            out.texts[0]
        );
        assert!(
            out.texts[0].contains("password=\"s3cr''et\";'"),
            "{}",
            out.texts[0]
        );
        assert_eq!(
            out.texts[1], "SELECT '${TOPIC}' FROM t",
            "not a value literal"
        );
        assert!(out.redacted[0].contains("'topic' = '***'"));
        assert!(out.redacted[0].contains("'properties.sasl.jaas.config' = '***'"));
        assert!(!out.redacted[0].contains("s3cr"));
        assert_eq!(
            out.redactor.redact("failed: password s3cr'et for orders"),
            "failed: password *** for ***"
        );
        let table = s.statements[0].create_table().unwrap();
        let topic = &table.options[1];
        assert_eq!(out.value(0, topic.value_span.start, &topic.value), "orders");
    }

    #[test]
    fn secret_keys_are_masked_without_variables() {
        let s =
            script("CREATE TABLE t (x INT) WITH ('ssl.keystore.password' = 'hunter2', 'a' = 'b')");
        let out = substitute(&s, &Vars::none());
        assert!(out.redacted[0].contains("'ssl.keystore.password' = '***', 'a' = 'b'"));
        assert_eq!(out.texts[0], s.statements[0].text);
        assert_eq!(out.redactor.redact("x hunter2 y"), "x *** y");
    }

    #[test]
    fn undefined_variables_are_located() {
        let sql = "CREATE TABLE t (x INT) WITH ('topic' = 'a-${NOPE_FLINKIT_TEST}')";
        let out = substitute(&script(sql), &Vars::new([]));
        assert_eq!(out.undefined.len(), 1);
        assert_eq!(&sql[out.undefined[0].span.clone()], "${NOPE_FLINKIT_TEST}");
        let quiet = substitute(&script(sql), &Vars::none());
        assert!(quiet.undefined.is_empty());
    }
}
