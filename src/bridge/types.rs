//! Flink SQL data types as the bridge needs them: parsed from a column's type text, and checked
//! against JSON values the way Flink's `json` format will read them.

use std::fmt;

use serde_json::Value;
use serde_json::value::RawValue;

/// A Flink logical type with its nullability.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataType {
    /// The type.
    pub kind: TypeKind,
    /// False for `NOT NULL`.
    pub nullable: bool,
}

/// The kinds of Flink types the bridge understands.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TypeKind {
    /// `BOOLEAN`.
    Boolean,
    /// `TINYINT`.
    TinyInt,
    /// `SMALLINT`.
    SmallInt,
    /// `INT` / `INTEGER`.
    Int,
    /// `BIGINT`.
    BigInt,
    /// `FLOAT`.
    Float,
    /// `DOUBLE` / `DOUBLE PRECISION`.
    Double,
    /// `DECIMAL(p, s)` / `DEC` / `NUMERIC`.
    Decimal {
        /// Total digits.
        precision: u32,
        /// Digits after the point.
        scale: u32,
    },
    /// `CHAR(n)`, `VARCHAR(n)`, `STRING` (`None` length: unbounded).
    String {
        /// The declared length, if any.
        length: Option<u32>,
    },
    /// `BINARY(n)`, `VARBINARY(n)`, `BYTES` (JSON: base64 text).
    Bytes {
        /// The declared length, if any.
        length: Option<u32>,
    },
    /// `DATE` (JSON: `yyyy-MM-dd`).
    Date,
    /// `TIME(p)` (JSON: `HH:mm:ss[.fff]`).
    Time,
    /// `TIMESTAMP(p)` (JSON: `yyyy-MM-dd HH:mm:ss[.fff]`).
    Timestamp,
    /// `TIMESTAMP_LTZ(p)` / `TIMESTAMP WITH LOCAL TIME ZONE` (JSON: `yyyy-MM-dd HH:mm:ss[.fff]Z`).
    TimestampLtz,
    /// `ARRAY<T>` / `T ARRAY`.
    Array(Box<DataType>),
    /// `MULTISET<T>` (JSON: an object from element to count).
    Multiset(Box<DataType>),
    /// `MAP<K, V>` (JSON: an object).
    Map(Box<DataType>, Box<DataType>),
    /// `ROW<name T, …>` (JSON: an object).
    Row(Vec<Field>),
    /// A type the bridge does not check (`RAW`, `INTERVAL`, user-defined, …): any JSON.
    Other(String),
}

/// A field of a `ROW` type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// The field name.
    pub name: String,
    /// Its type.
    pub data_type: DataType,
}

impl fmt::Display for DataType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.kind)?;
        if !self.nullable {
            f.write_str(" NOT NULL")?;
        }
        Ok(())
    }
}

impl fmt::Display for TypeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Boolean => f.write_str("BOOLEAN"),
            Self::TinyInt => f.write_str("TINYINT"),
            Self::SmallInt => f.write_str("SMALLINT"),
            Self::Int => f.write_str("INT"),
            Self::BigInt => f.write_str("BIGINT"),
            Self::Float => f.write_str("FLOAT"),
            Self::Double => f.write_str("DOUBLE"),
            Self::Decimal { precision, scale } => write!(f, "DECIMAL({precision}, {scale})"),
            Self::String { length: None } => f.write_str("STRING"),
            Self::String { length: Some(n) } => write!(f, "VARCHAR({n})"),
            Self::Bytes { length: None } => f.write_str("BYTES"),
            Self::Bytes { length: Some(n) } => write!(f, "VARBINARY({n})"),
            Self::Date => f.write_str("DATE"),
            Self::Time => f.write_str("TIME"),
            Self::Timestamp => f.write_str("TIMESTAMP"),
            Self::TimestampLtz => f.write_str("TIMESTAMP_LTZ"),
            Self::Array(t) => write!(f, "ARRAY<{t}>"),
            Self::Multiset(t) => write!(f, "MULTISET<{t}>"),
            Self::Map(k, v) => write!(f, "MAP<{k}, {v}>"),
            Self::Row(fields) => {
                f.write_str("ROW<")?;
                for (i, field) in fields.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{} {}", field.name, field.data_type)?;
                }
                f.write_str(">")
            }
            Self::Other(text) => f.write_str(text),
        }
    }
}

impl DataType {
    /// Parses a Flink type as written in a column definition (`DECIMAL(10, 2) NOT NULL`,
    /// `ROW<a INT, b ARRAY<STRING>>`, `TIMESTAMP(3) WITH LOCAL TIME ZONE`).
    pub fn parse(text: &str) -> Result<Self, String> {
        let tokens = tokenize(text)?;
        let mut parser = TypeParser {
            tokens,
            pos: 0,
            depth: 0,
        };
        let data_type = parser.data_type()?;
        if let Some(token) = parser.tokens.get(parser.pos) {
            return Err(format!("unexpected `{}` in type `{text}`", token.text()));
        }
        Ok(data_type)
    }

    /// Whether Flink's raw format can carry this type (one column, no nesting).
    pub fn is_scalar(&self) -> bool {
        !matches!(
            self.kind,
            TypeKind::Array(_) | TypeKind::Multiset(_) | TypeKind::Map(..) | TypeKind::Row(_)
        )
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Number(u32),
    Punct(char),
}

impl Token {
    fn text(&self) -> String {
        match self {
            Self::Word(w) => w.clone(),
            Self::Number(n) => n.to_string(),
            Self::Punct(c) => c.to_string(),
        }
    }
}

fn tokenize(text: &str) -> Result<Vec<Token>, String> {
    let mut tokens = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some((start, c)) = chars.next() {
        if c.is_whitespace() {
            continue;
        }
        if c == '`' {
            let mut name = String::new();
            loop {
                match chars.next() {
                    Some((_, '`')) if chars.peek().map(|p| p.1) == Some('`') => {
                        chars.next();
                        name.push('`');
                    }
                    Some((_, '`')) => break,
                    Some((_, ch)) => name.push(ch),
                    None => return Err(format!("unterminated `…` in type `{text}`")),
                }
            }
            tokens.push(Token::Word(name));
        } else if c == '\'' {
            // A field comment: skipped.
            loop {
                match chars.next() {
                    Some((_, '\'')) if chars.peek().map(|p| p.1) == Some('\'') => {
                        chars.next();
                    }
                    Some((_, '\'')) => break,
                    Some(_) => {}
                    None => return Err(format!("unterminated string in type `{text}`")),
                }
            }
        } else if c.is_ascii_digit() {
            let mut end = start + c.len_utf8();
            while let Some(&(i, d)) = chars.peek() {
                if !d.is_ascii_digit() {
                    break;
                }
                end = i + d.len_utf8();
                chars.next();
            }
            let n = text[start..end]
                .parse()
                .map_err(|_| format!("number too large in type `{text}`"))?;
            tokens.push(Token::Number(n));
        } else if c.is_alphanumeric() || c == '_' || c == '$' {
            let mut end = start + c.len_utf8();
            while let Some(&(i, d)) = chars.peek() {
                if !(d.is_alphanumeric() || d == '_' || d == '$') {
                    break;
                }
                end = i + d.len_utf8();
                chars.next();
            }
            tokens.push(Token::Word(text[start..end].to_string()));
        } else {
            tokens.push(Token::Punct(c));
        }
    }
    Ok(tokens)
}

/// How deep types may nest (`ARRAY<ARRAY<…>>`, `ROW<a ROW<…>>`): far beyond any real schema,
/// and shallow enough that parsing, checking and encoding a type never exhaust the stack.
pub const MAX_TYPE_DEPTH: usize = 100;

struct TypeParser {
    tokens: Vec<Token>,
    pos: usize,
    /// How many types enclose the one being parsed.
    depth: usize,
}

impl TypeParser {
    fn peek_word(&self) -> Option<String> {
        match self.tokens.get(self.pos) {
            Some(Token::Word(w)) => Some(w.to_ascii_uppercase()),
            _ => None,
        }
    }

    fn eat_word(&mut self, word: &str) -> bool {
        if self.peek_word().as_deref() == Some(word) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn eat_punct(&mut self, c: char) -> bool {
        if self.tokens.get(self.pos) == Some(&Token::Punct(c)) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect_punct(&mut self, c: char) -> Result<(), String> {
        if self.eat_punct(c) {
            Ok(())
        } else {
            Err(format!(
                "expected `{c}`, found {}",
                self.tokens
                    .get(self.pos)
                    .map_or("the end".to_string(), |t| format!("`{}`", t.text()))
            ))
        }
    }

    /// `(n)` or `(p, s)`, each number optional as a whole.
    fn numbers(&mut self) -> Result<Vec<u32>, String> {
        let mut out = Vec::new();
        if self.eat_punct('(') {
            loop {
                match self.tokens.get(self.pos) {
                    Some(Token::Number(n)) => {
                        out.push(*n);
                        self.pos += 1;
                    }
                    _ => return Err("expected a number".into()),
                }
                if !self.eat_punct(',') {
                    break;
                }
            }
            self.expect_punct(')')?;
        }
        Ok(out)
    }

    fn data_type(&mut self) -> Result<DataType, String> {
        if self.depth >= MAX_TYPE_DEPTH {
            return Err(format!(
                "the type nests deeper than {MAX_TYPE_DEPTH} levels (at token {})",
                self.pos + 1
            ));
        }
        self.depth += 1;
        let parsed = self.nested_type();
        self.depth -= 1;
        parsed
    }

    fn nested_type(&mut self) -> Result<DataType, String> {
        let mut kind = self.base()?;
        let mut nullable = self.nullability();
        // Postfix collection syntax: `INT ARRAY`, `STRING MULTISET`.
        loop {
            if self.eat_word("ARRAY") {
                kind = TypeKind::Array(Box::new(DataType { kind, nullable }));
            } else if self.eat_word("MULTISET") {
                kind = TypeKind::Multiset(Box::new(DataType { kind, nullable }));
            } else {
                break;
            }
            nullable = self.nullability();
        }
        Ok(DataType { kind, nullable })
    }

    fn nullability(&mut self) -> bool {
        if self.eat_word("NOT") {
            self.eat_word("NULL");
            false
        } else {
            self.eat_word("NULL");
            true
        }
    }

    fn base(&mut self) -> Result<TypeKind, String> {
        let Some(word) = self.peek_word() else {
            return Err(match self.tokens.get(self.pos) {
                Some(t) => format!("expected a type, found `{}`", t.text()),
                None => "expected a type".into(),
            });
        };
        self.pos += 1;
        let kind = match word.as_str() {
            "BOOLEAN" => TypeKind::Boolean,
            "TINYINT" => TypeKind::TinyInt,
            "SMALLINT" => TypeKind::SmallInt,
            "INT" | "INTEGER" => TypeKind::Int,
            "BIGINT" => TypeKind::BigInt,
            "FLOAT" | "REAL" => TypeKind::Float,
            "DOUBLE" => {
                self.eat_word("PRECISION");
                TypeKind::Double
            }
            "DECIMAL" | "DEC" | "NUMERIC" => {
                let n = self.numbers()?;
                TypeKind::Decimal {
                    precision: n.first().copied().unwrap_or(10),
                    scale: n.get(1).copied().unwrap_or(0),
                }
            }
            "STRING" => TypeKind::String { length: None },
            "CHAR" | "CHARACTER" | "VARCHAR" => {
                self.eat_word("VARYING");
                let n = self.numbers()?;
                let default = if word == "VARCHAR" { None } else { Some(1) };
                TypeKind::String {
                    length: n.first().copied().or(default),
                }
            }
            "BYTES" => TypeKind::Bytes { length: None },
            "BINARY" | "VARBINARY" => {
                let n = self.numbers()?;
                let default = if word == "VARBINARY" { None } else { Some(1) };
                TypeKind::Bytes {
                    length: n.first().copied().or(default),
                }
            }
            "DATE" => TypeKind::Date,
            "TIME" => {
                self.numbers()?;
                self.time_zone_suffix();
                TypeKind::Time
            }
            "TIMESTAMP" => {
                self.numbers()?;
                if self.time_zone_suffix() {
                    TypeKind::TimestampLtz
                } else {
                    TypeKind::Timestamp
                }
            }
            "TIMESTAMP_LTZ" => {
                self.numbers()?;
                TypeKind::TimestampLtz
            }
            "ARRAY" | "MULTISET" => {
                self.expect_punct('<')?;
                let element = self.data_type()?;
                self.expect_punct('>')?;
                if word == "ARRAY" {
                    TypeKind::Array(Box::new(element))
                } else {
                    TypeKind::Multiset(Box::new(element))
                }
            }
            "MAP" => {
                self.expect_punct('<')?;
                let key = self.data_type()?;
                self.expect_punct(',')?;
                let value = self.data_type()?;
                self.expect_punct('>')?;
                TypeKind::Map(Box::new(key), Box::new(value))
            }
            "ROW" => TypeKind::Row(self.row_fields()?),
            _ => {
                let mut text = word;
                let start = self.pos;
                let mut depth = 0usize;
                while let Some(token) = self.tokens.get(self.pos) {
                    match token {
                        Token::Punct('<' | '(') => depth += 1,
                        Token::Punct('>' | ')') if depth > 0 => depth -= 1,
                        Token::Punct(',' | '>' | ')') if depth == 0 => break,
                        Token::Word(w)
                            if depth == 0
                                && matches!(w.to_ascii_uppercase().as_str(), "NOT" | "NULL") =>
                        {
                            break;
                        }
                        _ => {}
                    }
                    self.pos += 1;
                }
                for token in &self.tokens[start..self.pos] {
                    text.push(' ');
                    text.push_str(&token.text());
                }
                TypeKind::Other(text)
            }
        };
        Ok(kind)
    }

    /// `WITH [LOCAL] TIME ZONE` / `WITHOUT TIME ZONE`; true for `WITH LOCAL TIME ZONE`.
    fn time_zone_suffix(&mut self) -> bool {
        if self.eat_word("WITHOUT") {
            self.eat_word("TIME");
            self.eat_word("ZONE");
            false
        } else if self.eat_word("WITH") {
            let local = self.eat_word("LOCAL");
            self.eat_word("TIME");
            self.eat_word("ZONE");
            local
        } else {
            false
        }
    }

    fn row_fields(&mut self) -> Result<Vec<Field>, String> {
        let close = if self.eat_punct('<') {
            '>'
        } else {
            self.expect_punct('(')?;
            ')'
        };
        let mut fields = Vec::new();
        if self.eat_punct(close) {
            return Ok(fields);
        }
        loop {
            let name = match self.tokens.get(self.pos) {
                Some(Token::Word(w)) => w.clone(),
                _ => return Err("expected a ROW field name".into()),
            };
            self.pos += 1;
            let data_type = self.data_type()?;
            fields.push(Field { name, data_type });
            if self.eat_punct(close) {
                return Ok(fields);
            }
            self.expect_punct(',')?;
        }
    }
}

/// Why a JSON value does not fit a type: where (a path like `address.zip` or `tags[2]`), what
/// was expected and what was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// The path below the checked value (empty for the value itself).
    pub path: String,
    /// The expected type, as Flink writes it.
    pub expected: String,
    /// What was wrong with the value.
    pub problem: String,
}

/// How TIMESTAMP and TIMESTAMP_LTZ values are written as text: the `timestamp-format.standard`
/// option of Flink's `json` format and of its changelog formats (`debezium-json`, `canal-json`,
/// `maxwell-json`). The other formats the bridge reads rows for take `SQL` text.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum TimestampFormat {
    /// `SQL`, Flink's default: `yyyy-MM-dd HH:mm:ss[.fff]` (with a trailing `Z` for
    /// TIMESTAMP_LTZ).
    #[default]
    Sql,
    /// `ISO-8601`: `yyyy-MM-ddTHH:mm:ss[.fff]` (with a trailing `Z` for TIMESTAMP_LTZ).
    Iso8601,
}

impl TimestampFormat {
    /// The option's value as Flink takes it (`SQL` or `ISO-8601`, exactly), `None` for any other.
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "SQL" => Some(Self::Sql),
            "ISO-8601" => Some(Self::Iso8601),
            _ => None,
        }
    }

    /// The option's value for this standard.
    pub fn name(self) -> &'static str {
        match self {
            Self::Sql => "SQL",
            Self::Iso8601 => "ISO-8601",
        }
    }

    /// What stands between the date and the time.
    pub fn separator(self) -> char {
        match self {
            Self::Sql => ' ',
            Self::Iso8601 => 'T',
        }
    }

    fn pattern(self, ltz: bool) -> &'static str {
        match (self, ltz) {
            (Self::Sql, false) => "yyyy-MM-dd HH:mm:ss[.fff]",
            (Self::Sql, true) => "yyyy-MM-dd HH:mm:ss[.fff]Z",
            (Self::Iso8601, false) => "yyyy-MM-ddTHH:mm:ss[.fff]",
            (Self::Iso8601, true) => "yyyy-MM-ddTHH:mm:ss[.fff]Z",
        }
    }
}

/// Checks `value` against `data_type` the way Flink's `json` format decodes it, its
/// timestamps written as `timestamps` says. Stricter than Flink in two places, both of which
/// Flink would silently turn into wrong data: a BOOLEAN must be `true`/`false` (Flink reads any
/// other text as false) and a ROW field that the type does not have is an error.
pub fn check(
    value: &Value,
    data_type: &DataType,
    timestamps: TimestampFormat,
) -> Result<(), Mismatch> {
    check_at(value, data_type, &mut String::new(), timestamps)
}

/// Whether the JSON text of one value fits `data_type`: exactly what [`check`] accepts for the
/// value `raw` parses to, decided from the text itself for the common scalars (text, numbers,
/// booleans, whole numbers in range) so that no tree is built for them.
pub fn fits_raw(raw: &RawValue, data_type: &DataType, timestamps: TimestampFormat) -> bool {
    let text = raw.get();
    if text == "null" {
        return data_type.nullable;
    }
    let first = text.as_bytes().first().copied().unwrap_or(b' ');
    let number = first == b'-' || first.is_ascii_digit();
    let range = match &data_type.kind {
        // Text with a `\u` escape is parsed below: serde_json skips a lone surrogate in a raw
        // value but refuses it in a parsed one.
        TypeKind::String { .. }
            if first == b'"' && !text.contains("\\u")
                || number
                || text == "true"
                || text == "false" =>
        {
            return true;
        }
        TypeKind::Boolean if text == "true" || text == "false" => return true,
        TypeKind::Float | TypeKind::Double if number => return true,
        TypeKind::TinyInt => Some((i8::MIN.into(), i8::MAX.into())),
        TypeKind::SmallInt => Some((i16::MIN.into(), i16::MAX.into())),
        TypeKind::Int => Some((i32::MIN.into(), i32::MAX.into())),
        TypeKind::BigInt => Some((i64::MIN, i64::MAX)),
        _ => None,
    };
    if let Some((min, max)) = range
        && let Ok(n) = text.parse::<i64>()
    {
        return (min..=max).contains(&n);
    }
    serde_json::from_str::<Value>(text)
        .is_ok_and(|value| check(&value, data_type, timestamps).is_ok())
}

fn check_at(
    value: &Value,
    data_type: &DataType,
    path: &mut String,
    timestamps: TimestampFormat,
) -> Result<(), Mismatch> {
    let fail = |path: &str, problem: String| {
        Err(Mismatch {
            path: path.to_string(),
            expected: data_type.to_string(),
            problem,
        })
    };
    if value.is_null() {
        if data_type.nullable {
            return Ok(());
        }
        return fail(path, "null for a NOT NULL type".into());
    }
    match &data_type.kind {
        TypeKind::Boolean => match value {
            Value::Bool(_) => Ok(()),
            Value::String(s) if matches!(s.trim(), "true" | "false") => Ok(()),
            _ => fail(path, format!("{} is not true or false", show(value))),
        },
        TypeKind::TinyInt => {
            integer(value, i8::MIN.into(), i8::MAX.into()).or_else(|p| fail(path, p))
        }
        TypeKind::SmallInt => {
            integer(value, i16::MIN.into(), i16::MAX.into()).or_else(|p| fail(path, p))
        }
        TypeKind::Int => {
            integer(value, i32::MIN.into(), i32::MAX.into()).or_else(|p| fail(path, p))
        }
        TypeKind::BigInt => {
            integer(value, i64::MIN.into(), i64::MAX.into()).or_else(|p| fail(path, p))
        }
        TypeKind::Float | TypeKind::Double => match value {
            Value::Number(_) => Ok(()),
            Value::String(s) if s.trim().parse::<f64>().is_ok() => Ok(()),
            _ => fail(path, format!("{} is not a number", show(value))),
        },
        TypeKind::Decimal { precision, scale } => {
            let text = match value {
                Value::Number(n) => n.to_string(),
                Value::String(s) => s.trim().to_string(),
                _ => return fail(path, format!("{} is not a number", show(value))),
            };
            decimal_fits(&text, *precision, *scale).or_else(|p| fail(path, p))
        }
        TypeKind::String { .. } => match value {
            Value::String(_) | Value::Number(_) | Value::Bool(_) => Ok(()),
            _ => fail(path, format!("{} is not text", show(value))),
        },
        TypeKind::Bytes { .. } => match value {
            Value::String(s) => {
                use base64::Engine as _;
                base64::engine::general_purpose::STANDARD
                    .decode(s)
                    .map(|_| ())
                    .or_else(|_| fail(path, format!("{} is not base64", show(value))))
            }
            _ => fail(path, format!("{} is not base64 text", show(value))),
        },
        TypeKind::Date => text_matching(value, is_date, "yyyy-MM-dd").or_else(|p| fail(path, p)),
        TypeKind::Time => {
            text_matching(value, is_time, "HH:mm:ss[.fff]").or_else(|p| fail(path, p))
        }
        TypeKind::Timestamp => text_matching(
            value,
            |s| is_timestamp(s, timestamps),
            timestamps.pattern(false),
        )
        .or_else(|p| fail(path, p)),
        TypeKind::TimestampLtz => text_matching(
            value,
            |s| is_timestamp_ltz(s, timestamps),
            timestamps.pattern(true),
        )
        .or_else(|p| fail(path, p)),
        TypeKind::Array(element) => match value {
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    let len = path.len();
                    path.push_str(&format!("[{i}]"));
                    check_at(item, element, path, timestamps)?;
                    path.truncate(len);
                }
                Ok(())
            }
            _ => fail(path, format!("{} is not an array", show(value))),
        },
        TypeKind::Multiset(element) => match value {
            Value::Object(map) => {
                for (k, count) in map {
                    let len = path.len();
                    path.push_str(&format!("[{k:?}]"));
                    check_at(&Value::String(k.clone()), element, path, timestamps)?;
                    if !count.is_u64() {
                        return fail(path, format!("count {} is not a whole number", show(count)));
                    }
                    path.truncate(len);
                }
                Ok(())
            }
            _ => fail(path, format!("{} is not an object of counts", show(value))),
        },
        TypeKind::Map(key_type, value_type) => match value {
            Value::Object(map) => {
                for (k, v) in map {
                    let len = path.len();
                    path.push_str(&format!("[{k:?}]"));
                    check_at(&Value::String(k.clone()), key_type, path, timestamps)?;
                    check_at(v, value_type, path, timestamps)?;
                    path.truncate(len);
                }
                Ok(())
            }
            _ => fail(path, format!("{} is not an object", show(value))),
        },
        TypeKind::Row(fields) => match value {
            Value::Object(map) => check_object(map, fields, path, timestamps),
            _ => fail(path, format!("{} is not an object", show(value))),
        },
        TypeKind::Other(_) => Ok(()),
    }
}

/// Checks a JSON object against named fields: each field's value (absent means null), and no
/// field the fields do not name (with the nearest name suggested); timestamps as [`check`].
pub fn check_object(
    map: &serde_json::Map<String, Value>,
    fields: &[Field],
    path: &mut String,
    timestamps: TimestampFormat,
) -> Result<(), Mismatch> {
    for (name, _) in map {
        if !fields.iter().any(|f| &f.name == name) {
            let nearest = fields
                .iter()
                .map(|f| (strsim::jaro_winkler(&f.name, name), &f.name))
                .filter(|(score, _)| *score > 0.8)
                .max_by(|a, b| a.0.total_cmp(&b.0));
            let names: Vec<&str> = fields.iter().map(|f| f.name.as_str()).collect();
            let full = join(path, name);
            return Err(Mismatch {
                expected: if path.is_empty() {
                    format!("one of the columns {}", names.join(", "))
                } else {
                    format!("`{path}` has fields {}", names.join(", "))
                },
                problem: match nearest {
                    Some((_, near)) => {
                        format!(
                            "unknown field `{full}` (did you mean `{}`?)",
                            join(path, near)
                        )
                    }
                    None => format!("unknown field `{full}`"),
                },
                path: full,
            });
        }
    }
    for field in fields {
        let len = path.len();
        if len > 0 {
            path.push('.');
        }
        path.push_str(&field.name);
        check_at(
            map.get(&field.name).unwrap_or(&Value::Null),
            &field.data_type,
            path,
            timestamps,
        )?;
        path.truncate(len);
    }
    Ok(())
}

fn join(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_string()
    } else {
        format!("{path}.{name}")
    }
}

/// A short rendering of a JSON value for messages.
pub fn show(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() > 40 {
        let cut: String = text.chars().take(37).collect();
        format!("{cut}…")
    } else {
        text
    }
}

fn integer(value: &Value, min: i128, max: i128) -> Result<(), String> {
    let n: Option<i128> = match value {
        Value::Number(n) => n
            .as_i64()
            .map(i128::from)
            .or_else(|| n.as_u64().map(i128::from)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    };
    match n {
        Some(n) if n >= min && n <= max => Ok(()),
        Some(n) => Err(format!("{n} is out of range ({min} to {max})")),
        None => Err(format!("{} is not a whole number", show(value))),
    }
}

fn decimal_fits(text: &str, precision: u32, scale: u32) -> Result<(), String> {
    let digits = text.trim_start_matches(['-', '+']);
    let (mantissa, exponent) = match digits.find(['e', 'E']) {
        Some(i) => (
            &digits[..i],
            digits[i + 1..]
                .parse::<i64>()
                .map_err(|_| format!("{text} is not a number"))?,
        ),
        None => (digits, 0),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if int.is_empty() && frac.is_empty()
        || !int.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(format!("{text} is not a number"));
    }
    // Flink's DecimalData.fromBigDecimal: round to the scale (HALF_UP), then NULL when the
    // unscaled value has more digits than the precision — that is, when the rounded value has
    // more than precision - scale digits before the point.
    let all: Vec<u8> = int.bytes().chain(frac.bytes()).map(|b| b - b'0').collect();
    let zeros = all.iter().take_while(|&&d| d == 0).count();
    let significant = &all[zeros..];
    if significant.is_empty() {
        return Ok(());
    }
    let mut point = (int.len() as i64)
        .saturating_add(exponent)
        .saturating_sub(zeros as i64);
    let keep = point.saturating_add(i64::from(scale));
    let rounds_up = usize::try_from(keep).ok().is_some_and(|keep| {
        significant.get(keep).is_some_and(|&d| d >= 5)
            && significant[..keep].iter().all(|&d| d == 9)
    });
    if rounds_up {
        point = point.saturating_add(1);
    }
    let max_int = i64::from(precision) - i64::from(scale);
    if point.max(0) > max_int {
        return Err(if rounds_up {
            format!(
                "{text} rounds to {scale} decimal(s) with more than {max_int} digits before the point (Flink would read NULL)"
            )
        } else {
            format!("{text} has more than {max_int} digits before the point")
        });
    }
    Ok(())
}

fn text_matching(value: &Value, ok: impl Fn(&str) -> bool, format: &str) -> Result<(), String> {
    match value {
        Value::String(s) if ok(s) => Ok(()),
        _ => Err(format!("{} is not `{format}`", show(value))),
    }
}

fn digits(s: &str, n: usize) -> bool {
    s.len() == n && s.bytes().all(|b| b.is_ascii_digit())
}

fn is_date(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    if parts.len() != 3 || !digits(parts[0], 4) || !digits(parts[1], 2) || !digits(parts[2], 2) {
        return false;
    }
    let (y, m, d): (u32, u32, u32) = (
        parts[0].parse().unwrap_or(0),
        parts[1].parse().unwrap_or(0),
        parts[2].parse().unwrap_or(0),
    );
    let leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&d)
}

fn is_time(s: &str) -> bool {
    let (hms, frac) = s.split_once('.').unwrap_or((s, ""));
    if frac.len() > 9 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    if s.ends_with('.') {
        return false;
    }
    let parts: Vec<&str> = hms.split(':').collect();
    parts.len() == 3
        && parts.iter().all(|p| digits(p, 2))
        && parts[0] < "24"
        && parts[1] < "60"
        && parts[2] < "60"
}

fn is_timestamp(s: &str, timestamps: TimestampFormat) -> bool {
    s.split_once(timestamps.separator())
        .is_some_and(|(date, time)| {
            // ISO-8601's time (Java's `ISO_LOCAL_TIME`) may stop at the minutes; SQL's may not.
            is_date(date)
                && (is_time(time) || timestamps == TimestampFormat::Iso8601 && is_hm(time))
        })
}

/// `HH:mm`.
fn is_hm(s: &str) -> bool {
    s.split_once(':')
        .is_some_and(|(h, m)| digits(h, 2) && digits(m, 2) && h < "24" && m < "60")
}

fn is_timestamp_ltz(s: &str, timestamps: TimestampFormat) -> bool {
    s.strip_suffix('Z')
        .is_some_and(|s| is_timestamp(s, timestamps))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// [`super::check`] with Flink's default timestamps.
    fn check(value: &Value, data_type: &DataType) -> Result<(), Mismatch> {
        super::check(value, data_type, TimestampFormat::Sql)
    }

    fn t(text: &str) -> DataType {
        DataType::parse(text).unwrap()
    }

    #[test]
    fn parses_scalar_and_nested_types() {
        assert_eq!(t("INT NOT NULL").to_string(), "INT NOT NULL");
        assert_eq!(t("decimal(10, 2)").to_string(), "DECIMAL(10, 2)");
        assert_eq!(
            t("TIMESTAMP(3) WITH LOCAL TIME ZONE").kind,
            TypeKind::TimestampLtz
        );
        assert_eq!(t("TIMESTAMP_LTZ(3)").kind, TypeKind::TimestampLtz);
        assert_eq!(
            t("TIMESTAMP(3) WITHOUT TIME ZONE").kind,
            TypeKind::Timestamp
        );
        assert_eq!(
            t("ROW<a INT, `b c` ARRAY<STRING NOT NULL> 'doc'>").to_string(),
            "ROW<a INT, b c ARRAY<STRING NOT NULL>>"
        );
        assert_eq!(t("MAP<STRING, BIGINT>").to_string(), "MAP<STRING, BIGINT>");
        assert_eq!(t("INT ARRAY").to_string(), "ARRAY<INT>");
        assert_eq!(t("ROW(x DOUBLE)").to_string(), "ROW<x DOUBLE>");
        assert!(matches!(t("INTERVAL DAY").kind, TypeKind::Other(_)));
        assert!(DataType::parse("ARRAY<INT").is_err());
        let deep = |n: usize| format!("{}INT{}", "ARRAY<".repeat(n), ">".repeat(n));
        assert!(DataType::parse(&deep(MAX_TYPE_DEPTH - 1)).is_ok());
        let err = DataType::parse(&deep(30_000)).unwrap_err();
        assert!(err.contains("deeper than 100 levels"), "{err}");
        let rows = format!("{}INT{}", "ROW<a ".repeat(30_000), ">".repeat(30_000));
        assert!(DataType::parse(&rows).is_err());
    }

    #[test]
    fn numbers_are_checked_like_flink_reads_them() {
        assert!(check(&json!(5), &t("INT")).is_ok());
        assert!(check(&json!("5"), &t("INT")).is_ok());
        let err = check(&json!("five"), &t("INT")).unwrap_err();
        assert_eq!(err.problem, "\"five\" is not a whole number");
        assert_eq!(err.expected, "INT");
        assert!(check(&json!(300), &t("TINYINT")).is_err());
        assert!(check(&json!(1.5), &t("BIGINT")).is_err());
        assert!(check(&json!(1.5), &t("DOUBLE")).is_ok());
        assert!(check(&json!("123.45"), &t("DECIMAL(5, 2)")).is_ok());
        assert!(check(&json!(1234.5), &t("DECIMAL(5, 2)")).is_err());
        assert!(check(&json!(1e2), &t("DECIMAL(3, 0)")).is_ok());
        // Flink rounds to the scale first (HALF_UP) and reads NULL when that overflows.
        for (value, ty) in [
            ("999.995", "DECIMAL(5, 2)"),
            ("-999.995", "DECIMAL(5, 2)"),
            ("9.5", "DECIMAL(1, 0)"),
            ("0.0999999e2", "DECIMAL(3, 2)"),
        ] {
            let err = check(&json!(value), &t(ty)).unwrap_err();
            assert!(
                err.problem.contains("Flink would read NULL"),
                "{value} {ty}: {err:?}"
            );
        }
        for (value, ty) in [
            ("999.994", "DECIMAL(5, 2)"),
            ("99.995", "DECIMAL(5, 2)"),
            ("0.005", "DECIMAL(2, 2)"),
            ("0.000", "DECIMAL(1, 0)"),
            ("9.4", "DECIMAL(1, 0)"),
        ] {
            assert!(check(&json!(value), &t(ty)).is_ok(), "{value} {ty}");
        }
    }

    #[test]
    fn text_dates_and_nulls() {
        assert!(check(&json!(7), &t("STRING")).is_ok());
        assert!(check(&json!({"a": 1}), &t("STRING")).is_err());
        assert!(check(&json!("2024-02-29"), &t("DATE")).is_ok());
        assert!(check(&json!("2023-02-29"), &t("DATE")).is_err());
        assert!(check(&json!("2024-01-01 10:00:00.123"), &t("TIMESTAMP(3)")).is_ok());
        assert!(check(&json!("2024-01-01T10:00:00"), &t("TIMESTAMP(3)")).is_err());
        assert!(check(&json!("2024-01-01 10:00:00Z"), &t("TIMESTAMP_LTZ(3)")).is_ok());
        // `timestamp-format.standard` = 'ISO-8601': a `T` between the date and the time, in
        // nested values too, and the SQL form refused with the pattern expected.
        let iso = |value: Value, ty: &str| super::check(&value, &t(ty), TimestampFormat::Iso8601);
        assert!(iso(json!("2024-01-01T10:00:00.123"), "TIMESTAMP(3)").is_ok());
        assert!(iso(json!("2024-01-01T10:00:00Z"), "TIMESTAMP_LTZ(3)").is_ok());
        assert!(iso(json!("2024-01-01T10:00"), "TIMESTAMP(3)").is_ok());
        assert!(iso(json!("2024-01-01T10:00Z"), "TIMESTAMP_LTZ(3)").is_ok());
        assert!(iso(json!("2024-01-01T24:00"), "TIMESTAMP(3)").is_err());
        assert!(check(&json!("2024-01-01 10:00"), &t("TIMESTAMP(3)")).is_err());
        assert!(
            iso(
                json!({"at": ["2024-01-01T10:00:00"]}),
                "ROW<at ARRAY<TIMESTAMP>>"
            )
            .is_ok()
        );
        let err = iso(json!("2024-01-01 10:00:00"), "TIMESTAMP(3)").unwrap_err();
        assert_eq!(
            err.problem,
            "\"2024-01-01 10:00:00\" is not `yyyy-MM-ddTHH:mm:ss[.fff]`"
        );
        assert!(iso(json!("2024-01-01T10:00:00"), "TIMESTAMP_LTZ(3)").is_err());
        let raw = |text: &str, timestamps| {
            let raw = serde_json::from_str::<Box<RawValue>>(text).unwrap();
            fits_raw(&raw, &t("TIMESTAMP(3)"), timestamps)
        };
        assert!(raw("\"2024-01-01T10:00:00\"", TimestampFormat::Iso8601));
        assert!(!raw("\"2024-01-01T10:00:00\"", TimestampFormat::Sql));
        assert!(raw("\"2024-01-01 10:00:00\"", TimestampFormat::Sql));
        assert_eq!(
            TimestampFormat::parse("ISO-8601"),
            Some(TimestampFormat::Iso8601)
        );
        assert_eq!(TimestampFormat::parse("iso-8601"), None);
        assert!(check(&json!(null), &t("INT")).is_ok());
        assert!(check(&json!(null), &t("INT NOT NULL")).is_err());
        assert!(check(&json!("aGk="), &t("BYTES")).is_ok());
        assert!(check(&json!("yes"), &t("BOOLEAN")).is_err());
    }

    #[test]
    fn nested_paths_name_the_field() {
        let ty = t("ROW<name STRING, tags ARRAY<INT>, address ROW<zip INT>>");
        let err = check(&json!({"name": "a", "tags": [1, "x"]}), &ty).unwrap_err();
        assert_eq!(err.path, "tags[1]");
        let err = check(&json!({"address": {"zip": "abc"}}), &ty).unwrap_err();
        assert_eq!(err.path, "address.zip");
        let err = check(&json!({"nmae": "a"}), &ty).unwrap_err();
        assert_eq!(err.problem, "unknown field `nmae` (did you mean `name`?)");
        let err = check(&json!({"address": {"zip": 1, "zipp": 2}}), &ty).unwrap_err();
        assert_eq!(err.path, "address.zipp");
        assert_eq!(
            err.problem,
            "unknown field `address.zipp` (did you mean `address.zip`?)"
        );
        let deep = t("ROW<a ROW<b ROW<c INT>>>");
        let err = check(&json!({"a": {"b": {"c": 1, "d": 2}}}), &deep).unwrap_err();
        assert_eq!(err.problem, "unknown field `a.b.d`");
        assert_eq!(err.expected, "`a.b` has fields c");
        assert!(check(&json!({"m": {"k": 1}}), &t("ROW<m MAP<STRING, INT>>")).is_ok());
    }
}
