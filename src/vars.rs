//! Variables and secrets: `${NAME}` in option values (and SET values) is replaced after
//! splitting, from `--var NAME=VALUE` (wins) or the environment; substituted values and the
//! values of options whose key looks secret are never printed — [`Redactor`] masks them in SQL
//! text (by position) and in any other text (by value).

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::Range;

use sha2::{Digest, Sha256};

use crate::sql::lexer::{Lexer, TokenKind};
use crate::sql::{Script, Statement};

/// The mask printed instead of a secret.
pub const MASK: &str = "***";

/// Words that make an option's value secret wherever they appear in its key, after dropping
/// case and the `.`, `-` and `_` separators (`ssl.keystore.password`, `sasl.jaas.config`,
/// `client_secret`, `basic-auth.credentials-source`).
const SECRET_WORDS: &[&str] = &[
    "password",
    "passwd",
    "secret",
    "token",
    "jaas",
    "credential",
];

/// Names that make an option's value secret when they are one segment of its key or two adjacent
/// ones (`pulsar.client.authParams`, `auth-params`, `basic-auth.user-info`, `ssl.key`,
/// `ssl.keystore.key`, `private-key`, `api.key`, `fs.s3a.access.key`).
const SECRET_NAMES: &[&str] = &[
    "authparams",
    "userinfo",
    "privatekey",
    "sslkey",
    "keystorekey",
    "apikey",
    "accesskey",
    "pwd",
];

/// Whether an option key names a secret, as the real connectors spell them:
/// `properties.sasl.jaas.config`, `ssl.keystore.password`, `pulsar.client.authParams`,
/// `auth-params`, `ssl.key`, `private_key`, `credentials` — case and separators do not matter.
pub fn is_secret_key(key: &str) -> bool {
    let segments = key_segments(key);
    let joined: String = segments.concat();
    if SECRET_WORDS.iter().any(|word| joined.contains(word)) {
        return true;
    }
    segments.iter().enumerate().any(|(i, segment)| {
        SECRET_NAMES.contains(&segment.as_str())
            || segments
                .get(i + 1)
                .is_some_and(|next| SECRET_NAMES.contains(&format!("{segment}{next}").as_str()))
    })
}

/// The lower-case words of a key: split at `.`, `-`, `_`, white space and camel-case humps.
fn key_segments(key: &str) -> Vec<String> {
    let mut segments = Vec::new();
    let mut current = String::new();
    let mut previous_lower = false;
    for c in key.chars() {
        if !c.is_alphanumeric() {
            if !current.is_empty() {
                segments.push(std::mem::take(&mut current));
            }
            previous_lower = false;
            continue;
        }
        if c.is_uppercase() && previous_lower && !current.is_empty() {
            segments.push(std::mem::take(&mut current));
        }
        previous_lower = c.is_lowercase() || c.is_ascii_digit();
        current.extend(c.to_lowercase());
    }
    if !current.is_empty() {
        segments.push(current);
    }
    segments
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

/// A `${` that does not start a variable: no closing brace, or a name that is not one
/// (`${ A }`, `${}`). Flink would get the text literally.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Malformed {
    /// What is wrong, in a sentence.
    pub problem: String,
    /// The statement it is in.
    pub statement: usize,
    /// Byte range of the reference in the statement's source (from `${` to its `}` or to the
    /// end of the literal).
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
    /// `${` references that are not variables.
    pub malformed: Vec<Malformed>,
    /// The masker for everything else that is printed.
    pub redactor: Redactor,
    /// Effective values of option literals that changed, by (statement, literal start offset in
    /// the source).
    values: HashMap<(usize, usize), String>,
    /// The literals masked in `redacted`, by source: byte ranges in the source, in order.
    masked: BTreeMap<usize, Vec<Range<usize>>>,
}

impl Substituted {
    /// The value of the literal starting at `start` in statement `statement` after
    /// substitution, or `written` when it had no variable.
    pub fn value<'a>(&'a self, statement: usize, start: usize, written: &'a str) -> &'a str {
        self.values
            .get(&(statement, start))
            .map_or(written, String::as_str)
    }

    /// Source `source`'s text (`text`) with every secret literal replaced by `'***'`, for
    /// showing lines of it; [`MaskedSource::offset`] moves byte offsets of the original onto it.
    pub fn mask_source(&self, source: usize, text: &str) -> MaskedSource {
        MaskedSource::new(text, self.masked.get(&source).into_iter().flatten())
    }
}

impl Substituted {
    /// A printable job name for `name`, derived from `script`'s table names: each `, `-separated
    /// part that shows a secret (a table named like a variable's value) is masked, and then a
    /// short hash of the script as written (`${VAR}` references, not their values) keeps the names
    /// of different scripts apart — `--replace` finds its job by name.
    pub fn job_name(&self, name: &str, script: &Script) -> String {
        if !self.redactor.reveals(name) {
            return name.to_string();
        }
        let masked = name
            .split(", ")
            .map(|part| {
                if self.redactor.reveals(part) {
                    self.redactor.redact(part)
                } else {
                    part.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join(", ");
        let mut hash = Sha256::new();
        for stmt in &script.statements {
            hash.update(stmt.text.as_bytes());
            hash.update([0]);
        }
        let digest = hash.finalize();
        let short: String = digest[..4].iter().map(|b| format!("{b:02x}")).collect();
        format!("{masked} #{short}")
    }
}

/// A source's text with its secret literals masked.
#[derive(Debug, Clone)]
pub struct MaskedSource {
    /// The masked text.
    pub text: String,
    /// Each masked literal: its range in the original and in the masked text.
    cuts: Vec<(Range<usize>, Range<usize>)>,
}

impl MaskedSource {
    /// `text` with each of `ranges` (in order, not overlapping) replaced by `'***'`.
    fn new<'r>(text: &str, ranges: impl IntoIterator<Item = &'r Range<usize>>) -> Self {
        let mut masked = String::with_capacity(text.len());
        let mut cuts = Vec::new();
        let mut copied = 0;
        for range in ranges {
            if range.start < copied || range.end > text.len() {
                continue;
            }
            masked.push_str(&text[copied..range.start]);
            let at = masked.len();
            masked.push('\'');
            masked.push_str(MASK);
            masked.push('\'');
            cuts.push((range.clone(), at..masked.len()));
            copied = range.end;
        }
        masked.push_str(&text[copied..]);
        Self { text: masked, cuts }
    }

    /// A whole source that could not be split (a lexing error), with the values of its
    /// secret-keyed options masked — up to the error, and an unterminated value of a secret key
    /// to the end of its line — for showing its lines.
    pub fn secret_literals(text: &str) -> Self {
        let mut ranges: Vec<Range<usize>> = value_literals(text)
            .into_iter()
            .filter(|(key, _)| is_secret_key(text[key.clone()].trim_matches('\'')))
            .map(|(_, value)| value)
            .collect();
        let mut before: Vec<crate::sql::lexer::Token> = Vec::new();
        for tok in Lexer::new(text) {
            match tok {
                Ok(tok) if tok.kind.is_trivia() => {}
                Ok(tok) => before.push(tok),
                Err(err) => {
                    let secret_key = matches!(
                        before.as_slice(),
                        [.., key, eq] if key.kind == TokenKind::String
                            && eq.kind == TokenKind::Eq
                            && is_secret_key(&text[key.start + 1..key.end - 1])
                    );
                    if secret_key {
                        let end = text[err.offset..]
                            .find(['\n', '\r'])
                            .map_or(text.len(), |n| err.offset + n);
                        ranges.push(err.offset..end);
                    }
                    break;
                }
            }
        }
        ranges.sort_by_key(|r| r.start);
        Self::new(text, &ranges)
    }

    /// Where byte `offset` of the original text is in the masked text (inside a masked literal:
    /// its start).
    pub fn offset(&self, offset: usize) -> usize {
        let mut shift: isize = 0;
        for (original, masked) in &self.cuts {
            if offset < original.start {
                break;
            }
            if offset < original.end {
                return masked.start;
            }
            shift = masked.end as isize - original.end as isize;
        }
        offset.saturating_add_signed(shift)
    }

    /// `range` of the original text, moved onto the masked text.
    pub fn range(&self, range: &Range<usize>) -> Range<usize> {
        let start = self.offset(range.start);
        start..self.offset(range.end).max(start)
    }
}

/// Masks secrets in text.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    /// The secrets, longest first (a secret inside a longer one is masked after it), each once.
    secrets: BTreeSet<(Reverse<usize>, String)>,
}

impl Redactor {
    /// Masks every known secret value of three characters or more where it stands as a value
    /// in `text` — not inside a longer word: a password `postgres` leaves `postgres-cdc` alone
    /// but masks `user:postgres@host` and `"postgres"`. Shorter values are masked where their
    /// position is known, in SQL text, only.
    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_string();
        for (_, secret) in &self.secrets {
            out = mask_standalone(&out, secret);
        }
        out
    }

    /// Whether `text` shows a known secret where [`Redactor::redact`] would mask it.
    pub fn reveals(&self, text: &str) -> bool {
        self.redact(text) != text
    }

    fn add(&mut self, secret: &str) {
        if secret.chars().count() >= 3 {
            self.secrets
                .insert((Reverse(secret.len()), secret.to_string()));
        }
    }
}

/// Whether `c` continues a word: letters, digits and `_`.
fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// `text` with each occurrence of `secret` masked unless it is part of a longer word: the
/// character next to it on either side is a letter, digit or `_`, or a `-` or `.` joining it to
/// one (`postgres-cdc`, `db.postgres.users`). A secret that itself starts or ends with such a
/// joint is masked wherever it occurs.
fn mask_standalone(text: &str, secret: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut from = 0;
    while let Some(found) = text[from..].find(secret) {
        let start = from + found;
        let end = start + secret.len();
        let joined = |side: &mut dyn Iterator<Item = char>, edge: Option<char>| {
            edge.is_some_and(is_word)
                && match side.next() {
                    Some(c) if is_word(c) => true,
                    Some('-' | '.') => side.next().is_some_and(is_word),
                    _ => false,
                }
        };
        let inside = joined(&mut text[..start].chars().rev(), secret.chars().next())
            || joined(&mut text[end..].chars(), secret.chars().last());
        if inside {
            from = start + secret.chars().next().map_or(1, char::len_utf8);
            continue;
        }
        out.push_str(&text[copied..start]);
        out.push_str(MASK);
        copied = end;
        from = end;
    }
    out.push_str(&text[copied..]);
    out
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

/// The `'key' = 'value'` pairs of `src` (statement text), as the byte ranges of the key and of
/// the value literal: in the statement itself and inside `/*+ OPTIONS(…) */` hints.
fn value_literals(src: &str) -> Vec<(Range<usize>, Range<usize>)> {
    let mut pairs = Vec::new();
    collect_value_literals(src, 0, false, &mut pairs);
    pairs.sort_by_key(|(_, value)| value.start);
    pairs
}

/// `in_hint`: a hint's keys may also be plain identifiers (`OPTIONS(k = 'v')`).
fn collect_value_literals(
    src: &str,
    base: usize,
    in_hint: bool,
    pairs: &mut Vec<(Range<usize>, Range<usize>)>,
) {
    let toks: Vec<_> = Lexer::new(src)
        .filter_map(Result::ok)
        .filter(|t| !matches!(t.kind, TokenKind::LineComment | TokenKind::BlockComment))
        .collect();
    for (i, tok) in toks.iter().enumerate() {
        if tok.kind == TokenKind::Hint && tok.end >= tok.start + 5 {
            let inner = tok.start + 3..tok.end - 2;
            collect_value_literals(&src[inner.clone()], base + inner.start, true, pairs);
            continue;
        }
        let is_value = tok.kind == TokenKind::String
            && i >= 2
            && toks[i - 1].kind == TokenKind::Eq
            && (toks[i - 2].kind == TokenKind::String
                || (in_hint && toks[i - 2].kind == TokenKind::Word));
        if is_value {
            let key = &toks[i - 2];
            pairs.push((
                base + key.start..base + key.end,
                base + tok.start..base + tok.end,
            ));
        }
    }
}

/// Rewrites the value literals (`'key' = 'value'`, also in hints) of one statement.
fn substitute_statement(stmt: &Statement, vars: &Vars, out: &mut Substituted) -> (String, String) {
    let src = stmt.text.as_str();
    let mut text = String::with_capacity(src.len());
    let mut redacted = String::with_capacity(src.len());
    let mut copied = 0;
    for (key, literal) in value_literals(src) {
        let key = src[key.clone()]
            .strip_prefix('\'')
            .and_then(|k| k.strip_suffix('\''))
            .map_or_else(|| src[key.clone()].to_string(), |k| k.replace("''", "'"));
        let secret_key = is_secret_key(&key);
        let (value, used) = replace_vars(&src[literal.clone()], stmt, literal.start, vars, out);
        if !used && !secret_key {
            continue;
        }
        text.push_str(&src[copied..literal.start]);
        redacted.push_str(&src[copied..literal.start]);
        text.push_str(&value);
        redacted.push_str(&format!("'{MASK}'"));
        copied = literal.end;
        out.masked
            .entry(stmt.source)
            .or_default()
            .push(stmt.range.start + literal.start..stmt.range.start + literal.end);
        let unquoted = value[1..value.len() - 1].replace("''", "'");
        out.redactor.add(&unquoted);
        if used {
            out.values
                .insert((stmt.index, stmt.range.start + literal.start), unquoted);
        }
    }
    text.push_str(&src[copied..]);
    redacted.push_str(&src[copied..]);
    (text, redacted)
}

/// Replaces each `${NAME}` in a quoted literal, escaping quotes in the values; records the
/// values as secrets, the undefined names and the malformed references as errors. Returns the
/// new literal and whether any variable was replaced.
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
        let start = stmt.range.start + offset + at + open;
        let Some(close) = rest[open..].find('}') else {
            out.malformed.push(Malformed {
                problem: "`${` without its closing `}`".to_string(),
                statement: stmt.index,
                span: start..stmt.range.start + offset + literal.len() - 1,
            });
            break;
        };
        let name = &rest[open + 2..open + close];
        let valid = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-');
        result.push_str(&rest[..open]);
        if !valid {
            out.malformed.push(Malformed {
                problem: if name.trim().is_empty() {
                    "`${}` names no variable".to_string()
                } else {
                    format!(
                        "`${{{name}}}` is not a variable: a name is letters, digits, `_`, `.` and `-`, without spaces"
                    )
                },
                statement: stmt.index,
                span: start..start + close + 1,
            });
            result.push_str(&rest[open..open + close + 1]);
        } else if let Some(value) = vars.get(name) {
            out.redactor.add(&value);
            result.push_str(&value.replace('\'', "''"));
            used = true;
        } else {
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

    #[test]
    fn secret_keys_are_recognised_as_connectors_spell_them() {
        for key in [
            "pulsar.client.authParams",
            "auth-params",
            "AUTH_PARAMS",
            "properties.sasl.jaas.config",
            "password",
            "properties.ssl.key.password",
            "Token",
            "client_secret",
            "credentials",
            "private-key",
            "privateKey",
            "properties.ssl.key",
            "properties.ssl.keystore.key",
            "basic-auth.user-info",
            "api.key",
        ] {
            assert!(is_secret_key(key), "{key}");
        }
        for key in [
            "topic",
            "key.format",
            "key.fields",
            "properties.ssl.keystore.location",
            "properties.bootstrap.servers",
            "pulsar.client.authPluginClassName",
            "scan.startup.mode",
        ] {
            assert!(!is_secret_key(key), "{key}");
        }
    }

    #[test]
    fn hint_options_are_substituted_and_masked() {
        let s = script(
            "INSERT INTO s SELECT * FROM t /*+ OPTIONS('topic'='${TOPIC}', \
             'pulsar.client.authParams'='token:abc123', password='p4ss') */ WHERE x > 0",
        );
        let vars = Vars::new([("TOPIC".to_string(), "orders".to_string())]);
        let out = substitute(&s, &vars);
        assert!(
            out.texts[0].contains("'topic'='orders'"),
            "{}",
            out.texts[0]
        );
        assert!(out.texts[0].contains("'token:abc123'"), "{}", out.texts[0]);
        assert!(
            out.redacted[0].contains(
                "OPTIONS('topic'='***', 'pulsar.client.authParams'='***', password='***')"
            ),
            "{}",
            out.redacted[0]
        );
    }

    #[test]
    fn masking_leaves_words_that_only_contain_a_secret() {
        let s = script("CREATE TABLE t (x INT) WITH ('password' = 'postgres')");
        let out = substitute(&s, &Vars::none());
        let redactor = &out.redactor;
        assert_eq!(
            redactor.redact("no connector named 'postgres-cdc'; see db.postgres.users"),
            "no connector named 'postgres-cdc'; see db.postgres.users"
        );
        assert_eq!(
            redactor.redact("login postgres:postgres@host failed: \"postgres\"."),
            "login ***:***@host failed: \"***\"."
        );
    }

    #[test]
    fn source_lines_are_shown_masked_with_offsets_moved() {
        let sql = "CREATE TABLE t (x INT) WITH ('password' = 'a-long-secret', 'topic' = 'x')";
        let out = substitute(&script(sql), &Vars::none());
        let masked = out.mask_source(0, sql);
        assert_eq!(
            masked.text,
            "CREATE TABLE t (x INT) WITH ('password' = '***', 'topic' = 'x')"
        );
        let topic = sql.find("'topic'").unwrap();
        assert_eq!(&masked.text[masked.range(&(topic..topic + 7))], "'topic'");
        let inside = sql.find("long").unwrap();
        assert_eq!(masked.offset(inside), sql.find("'a-long").unwrap());
    }

    #[test]
    fn a_source_that_cannot_be_split_shows_its_secrets_masked() {
        let text = "CREATE TABLE t (x INT) WITH ('password' = 'hunter2', 'a' = 'b');\n\
                    CREATE TABLE u (x INT) WITH ('token' = 'abc123, 'z' = 'y');\n";
        let masked = MaskedSource::secret_literals(text);
        assert!(!masked.text.contains("hunter2"), "{}", masked.text);
        assert!(!masked.text.contains("abc123"), "{}", masked.text);
        assert!(masked.text.contains("'a' = 'b'"), "{}", masked.text);
        let open = "CREATE TABLE v (x INT) WITH ('secret' = 'unclosed-hunter2);\nnext line";
        let masked = MaskedSource::secret_literals(open);
        assert_eq!(
            masked.text,
            "CREATE TABLE v (x INT) WITH ('secret' = '***'\nnext line"
        );
        let quote = open.find("'unclosed").unwrap();
        assert_eq!(masked.offset(quote), open.find("'unclosed").unwrap());
    }

    #[test]
    fn malformed_references_are_located() {
        let sql = "CREATE TABLE t (x INT) WITH ('a' = 'x-${OPEN', 'b' = '${ B }', 'c' = '${}')";
        let out = substitute(&script(sql), &Vars::new([]));
        let spans: Vec<&str> = out.malformed.iter().map(|m| &sql[m.span.clone()]).collect();
        assert_eq!(spans, ["${OPEN", "${ B }", "${}"]);
        assert!(out.undefined.is_empty());
    }

    #[test]
    fn a_job_name_showing_a_secret_is_masked_and_kept_apart() {
        let first = script("CREATE TABLE orders (x INT) WITH ('topic' = '${T}')");
        let second = script("CREATE TABLE orders (x INT) WITH ('topic' = '${U}')");
        let vars = Vars::new([
            ("T".to_string(), "orders".to_string()),
            ("U".to_string(), "orders".to_string()),
        ]);
        let a = substitute(&first, &vars).job_name("flinkit: orders, audit", &first);
        let b = substitute(&second, &vars).job_name("flinkit: orders, audit", &second);
        assert!(a.starts_with("flinkit: ***, audit #"), "{a}");
        assert_ne!(a, b);
        assert!(!a.contains("orders"));
        let plain = substitute(&first, &Vars::new([("T".to_string(), "x".to_string())]));
        assert_eq!(plain.job_name("flinkit: orders", &first), "flinkit: orders");
    }
}
