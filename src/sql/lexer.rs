//! The Flink SQL lexer: turns text into tokens with byte spans, following the rules of Flink's
//! Calcite-based parser (single-quoted strings with `''` escapes, backtick identifiers with
//! doubled backtick escapes that cannot span lines, `--` and `//` line comments, non-nesting
//! `/* … */` comments, `/*+ … */` hints) plus double-quoted text, CRLF and the UTF-8 byte order
//! mark (skipped as white space, also where concatenated files leave one mid-text).
//!
//! The lexer never allocates per token and never panics: it works on bytes and only ever cuts
//! the input at ASCII boundaries, so every span is a valid `str` range.

use std::fmt;
use std::ops::Range;

/// The UTF-8 byte order mark, skipped at the start of the input.
pub const BOM: &str = "\u{feff}";

/// What a token is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenKind {
    /// An unquoted identifier or keyword (letters, digits, `_`, `$`, any non-ASCII character).
    Word,
    /// A backtick-quoted identifier, backticks included.
    QuotedIdent,
    /// A single-quoted string literal, quotes included.
    String,
    /// Double-quoted text, quotes included.
    DoubleQuoted,
    /// A numeric literal.
    Number,
    /// `;`
    Semicolon,
    /// `(`
    LParen,
    /// `)`
    RParen,
    /// `,`
    Comma,
    /// `.`
    Dot,
    /// `<`
    Lt,
    /// `>`
    Gt,
    /// `=`
    Eq,
    /// Any other punctuation or operator character.
    Op,
    /// A `--` or `//` comment, up to (not including) the end of the line.
    LineComment,
    /// A `/* … */` comment.
    BlockComment,
    /// A `/*+ … */` hint.
    Hint,
}

impl TokenKind {
    /// Comments and hints carry no statement structure.
    pub fn is_trivia(self) -> bool {
        matches!(self, Self::LineComment | Self::BlockComment | Self::Hint)
    }
}

/// One token: its kind and its byte range in the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token {
    /// What the token is.
    pub kind: TokenKind,
    /// Byte offset of the first byte.
    pub start: usize,
    /// Byte offset just past the last byte.
    pub end: usize,
}

impl Token {
    /// The byte range of the token.
    pub fn range(&self) -> Range<usize> {
        self.start..self.end
    }

    /// The token's text in `src`.
    pub fn text<'a>(&self, src: &'a str) -> &'a str {
        &src[self.start..self.end]
    }

    /// Whether this is the unquoted word `kw`, compared case-insensitively.
    pub fn is_keyword(&self, src: &str, kw: &str) -> bool {
        self.kind == TokenKind::Word && self.text(src).eq_ignore_ascii_case(kw)
    }
}

/// What went wrong while lexing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LexErrorKind {
    /// A `'` string that is never closed.
    UnterminatedString,
    /// A `"` text that is never closed.
    UnterminatedDoubleQuoted,
    /// A backtick identifier that is not closed on its line.
    UnterminatedIdentifier,
    /// A `/*` comment or `/*+` hint that is never closed.
    UnterminatedComment,
    /// A character Flink's lexer rejects outside quotes and comments (a control character such
    /// as NUL, or a non-ASCII character that is neither a letter nor a digit to Calcite, such as
    /// a full-width `；`).
    UnexpectedCharacter(char),
}

impl LexErrorKind {
    /// How to fix it, in one sentence.
    pub fn help(self) -> &'static str {
        match self {
            Self::UnterminatedString => {
                "close the string with a single quote; write '' for a quote inside a string"
            }
            Self::UnterminatedDoubleQuoted => "close the text with a double quote",
            Self::UnterminatedIdentifier => {
                "close the identifier with a backtick on the same line; write `` for a backtick inside it"
            }
            Self::UnterminatedComment => "close the comment with */ (comments do not nest)",
            Self::UnexpectedCharacter(_) => {
                "Flink's SQL lexer rejects this character outside quotes and comments: remove it, \
                 or replace it with its ASCII counterpart"
            }
        }
    }
}

impl fmt::Display for LexErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::UnterminatedString => "unterminated string literal",
            Self::UnterminatedDoubleQuoted => "unterminated double-quoted text",
            Self::UnterminatedIdentifier => "unterminated quoted identifier",
            Self::UnterminatedComment => "unterminated comment",
            Self::UnexpectedCharacter(c) => {
                return write!(f, "unexpected character {c:?} (U+{:04X})", u32::from(*c));
            }
        })
    }
}

/// A lexing error at the byte offset where the unterminated construct opened (or of the
/// rejected character).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{kind}")]
pub struct LexError {
    /// What went wrong.
    pub kind: LexErrorKind,
    /// Byte offset of the opening quote or comment.
    pub offset: usize,
}

/// An iterator over the tokens of a text (whitespace skipped, comments and hints included).
///
/// After an error it yields nothing more.
#[derive(Debug, Clone)]
pub struct Lexer<'a> {
    src: &'a str,
    pos: usize,
    failed: bool,
}

impl<'a> Lexer<'a> {
    /// A lexer over `src`, skipping a leading byte order mark.
    pub fn new(src: &'a str) -> Self {
        let pos = if src.starts_with(BOM) { BOM.len() } else { 0 };
        Self {
            src,
            pos,
            failed: false,
        }
    }

    fn byte(&self, at: usize) -> Option<u8> {
        self.src.as_bytes().get(at).copied()
    }

    /// Finds the closing `quote` of a literal that opened at `open`, honouring doubled quotes.
    /// `single_line` stops at the first line break (backtick identifiers).
    fn quoted(&self, open: usize, quote: u8, single_line: bool) -> Option<usize> {
        let bytes = self.src.as_bytes();
        let mut at = open + 1;
        loop {
            let rel = if single_line {
                memchr::memchr3(quote, b'\n', b'\r', &bytes[at..])?
            } else {
                memchr::memchr(quote, &bytes[at..])?
            };
            let hit = at + rel;
            if bytes[hit] != quote {
                return None;
            }
            if bytes.get(hit + 1) == Some(&quote) {
                at = hit + 2;
            } else {
                return Some(hit + 1);
            }
        }
    }

    fn lex_one(&mut self) -> Option<Result<Token, LexError>> {
        let bytes = self.src.as_bytes();
        while let Some(&b) = bytes.get(self.pos) {
            if matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0c) {
                self.pos += 1;
            } else if bytes[self.pos..].starts_with(BOM.as_bytes()) {
                self.pos += BOM.len();
            } else {
                break;
            }
        }
        let start = self.pos;
        let b = *bytes.get(start)?;
        let next = self.byte(start + 1);
        let (kind, end) = match b {
            b'\'' | b'"' | b'`' => {
                let (kind, error, single_line) = match b {
                    b'\'' => (TokenKind::String, LexErrorKind::UnterminatedString, false),
                    b'"' => (
                        TokenKind::DoubleQuoted,
                        LexErrorKind::UnterminatedDoubleQuoted,
                        false,
                    ),
                    _ => (
                        TokenKind::QuotedIdent,
                        LexErrorKind::UnterminatedIdentifier,
                        true,
                    ),
                };
                match self.quoted(start, b, single_line) {
                    Some(end) => (kind, end),
                    None => {
                        return Some(Err(LexError {
                            kind: error,
                            offset: start,
                        }));
                    }
                }
            }
            b'-' if next == Some(b'-') => (TokenKind::LineComment, self.line_end(start)),
            b'/' if next == Some(b'/') => (TokenKind::LineComment, self.line_end(start)),
            b'/' if next == Some(b'*') => {
                let hint = self.byte(start + 2) == Some(b'+');
                let body = start + if hint { 3 } else { 2 };
                match memchr::memmem::find(&bytes[body..], b"*/") {
                    Some(rel) => (
                        if hint {
                            TokenKind::Hint
                        } else {
                            TokenKind::BlockComment
                        },
                        body + rel + 2,
                    ),
                    None => {
                        return Some(Err(LexError {
                            kind: LexErrorKind::UnterminatedComment,
                            offset: start,
                        }));
                    }
                }
            }
            b';' => (TokenKind::Semicolon, start + 1),
            b'(' => (TokenKind::LParen, start + 1),
            b')' => (TokenKind::RParen, start + 1),
            b',' => (TokenKind::Comma, start + 1),
            b'.' => (TokenKind::Dot, start + 1),
            b'<' => (TokenKind::Lt, start + 1),
            b'>' => (TokenKind::Gt, start + 1),
            b'=' => (TokenKind::Eq, start + 1),
            b'0'..=b'9' => (TokenKind::Number, self.number_end(start)),
            _ if is_word_byte(b) && !b.is_ascii_digit() => match self.word_end(start) {
                Ok(end) => (TokenKind::Word, end),
                Err(offset) => return Some(Err(unexpected(self.src, offset))),
            },
            _ if b < 0x20 || b == 0x7f => return Some(Err(unexpected(self.src, start))),
            _ => (TokenKind::Op, start + 1),
        };
        self.pos = end;
        Some(Ok(Token { kind, start, end }))
    }

    /// The end of the unquoted word starting at `start`; `Err` with the offset of a non-ASCII
    /// character Calcite does not take in identifiers. A `${NAME}` variable reference belongs to
    /// the word (a table name may be a variable).
    fn word_end(&self, start: usize) -> Result<usize, usize> {
        let bytes = self.src.as_bytes();
        let mut end = start;
        while let Some(&c) = bytes.get(end) {
            if c.is_ascii_alphanumeric() || c == b'_' {
                end += 1;
            } else if c == b'$' {
                end += 1 + variable_len(&bytes[end + 1..]);
            } else if c < 0x80 || bytes[end..].starts_with(BOM.as_bytes()) {
                break;
            } else {
                let ch = self.src[end..].chars().next().unwrap_or_default();
                if !is_calcite_letter_or_digit(ch) {
                    return Err(end);
                }
                end += ch.len_utf8();
            }
        }
        Ok(end)
    }

    fn line_end(&self, start: usize) -> usize {
        let rest = &self.src.as_bytes()[start..];
        memchr::memchr2(b'\n', b'\r', rest).map_or(self.src.len(), |rel| start + rel)
    }

    fn number_end(&self, start: usize) -> usize {
        let bytes = self.src.as_bytes();
        let digits = |mut at: usize| {
            while bytes.get(at).is_some_and(u8::is_ascii_digit) {
                at += 1;
            }
            at
        };
        let mut end = digits(start);
        if bytes.get(end) == Some(&b'.') {
            end = digits(end + 1);
        }
        if matches!(bytes.get(end), Some(b'e' | b'E')) {
            let mut exp = end + 1;
            if matches!(bytes.get(exp), Some(b'+' | b'-')) {
                exp += 1;
            }
            if bytes.get(exp).is_some_and(u8::is_ascii_digit) {
                end = digits(exp);
            }
        }
        end
    }
}

/// Bytes that may start an unquoted word (non-ASCII ones are checked as characters).
fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80
}

/// The length of `{NAME}` at the start of `rest` (after a `$`), or 0: a variable name is ASCII
/// letters, digits, `_`, `.` and `-`, as `vars` substitutes them.
fn variable_len(rest: &[u8]) -> usize {
    if rest.first() != Some(&b'{') {
        return 0;
    }
    let name = rest[1..]
        .iter()
        .take_while(|&&c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
        .count();
    if name > 0 && rest.get(1 + name) == Some(&b'}') {
        name + 2
    } else {
        0
    }
}

/// The error for the character at `offset`.
fn unexpected(src: &str, offset: usize) -> LexError {
    LexError {
        kind: LexErrorKind::UnexpectedCharacter(src[offset..].chars().next().unwrap_or_default()),
        offset,
    }
}

/// Whether Calcite's lexer (and so Flink's) takes this non-ASCII character in an unquoted
/// identifier: the `LETTER` and `DIGIT` ranges of Calcite's `Parser.jj`.
fn is_calcite_letter_or_digit(c: char) -> bool {
    const RANGES: &[(char, char)] = &[
        ('\u{c0}', '\u{d6}'),
        ('\u{d8}', '\u{f6}'),
        ('\u{f8}', '\u{ff}'),
        ('\u{100}', '\u{1fff}'),
        ('\u{3040}', '\u{318f}'),
        ('\u{3300}', '\u{337f}'),
        ('\u{3400}', '\u{3d2d}'),
        ('\u{4e00}', '\u{9fff}'),
        ('\u{f900}', '\u{faff}'),
    ];
    RANGES.iter().any(|&(lo, hi)| (lo..=hi).contains(&c))
}

impl Iterator for Lexer<'_> {
    type Item = Result<Token, LexError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let item = self.lex_one();
        if matches!(item, Some(Err(_))) {
            self.failed = true;
        }
        item
    }
}

/// Lexes the whole of `src`, keeping comments and hints.
pub fn tokenize(src: &str) -> Result<Vec<Token>, LexError> {
    Lexer::new(src).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Vec<(TokenKind, &str)> {
        tokenize(src)
            .unwrap()
            .into_iter()
            .map(|t| (t.kind, t.text(src)))
            .collect()
    }

    #[test]
    fn strings_with_doubled_quotes_and_newlines() {
        use TokenKind::*;
        assert_eq!(
            kinds("'it''s;\nfine' x"),
            vec![(String, "'it''s;\nfine'"), (Word, "x")]
        );
        assert_eq!(kinds("''''"), vec![(String, "''''")]);
    }

    #[test]
    fn backslash_is_not_an_escape() {
        assert_eq!(
            kinds(r"'C:\' ;"),
            vec![(TokenKind::String, r"'C:\'"), (TokenKind::Semicolon, ";")]
        );
    }

    #[test]
    fn backtick_identifiers() {
        use TokenKind::*;
        assert_eq!(
            kinds("`a``b;c`.x"),
            vec![(QuotedIdent, "`a``b;c`"), (Dot, "."), (Word, "x")]
        );
        let err = tokenize("x `ab\ncd`").unwrap_err();
        assert_eq!(err.kind, LexErrorKind::UnterminatedIdentifier);
        assert_eq!(err.offset, 2);
    }

    #[test]
    fn comments_and_hints() {
        use TokenKind::*;
        assert_eq!(
            kinds("a -- c;\r\nb // d;\n/* e; /* f; */ g /*+ OPTIONS('k'='v') */"),
            vec![
                (Word, "a"),
                (LineComment, "-- c;"),
                (Word, "b"),
                (LineComment, "// d;"),
                (BlockComment, "/* e; /* f; */"),
                (Word, "g"),
                (Hint, "/*+ OPTIONS('k'='v') */"),
            ]
        );
        assert_eq!(kinds("/**/"), vec![(BlockComment, "/**/")]);
        assert_eq!(
            tokenize("/*/").unwrap_err().kind,
            LexErrorKind::UnterminatedComment
        );
    }

    #[test]
    fn numbers_words_and_unicode() {
        use TokenKind::*;
        assert_eq!(
            kinds("1.5e-3 12 3.x $a_1 näme 名前"),
            vec![
                (Number, "1.5e-3"),
                (Number, "12"),
                (Number, "3."),
                (Word, "x"),
                (Word, "$a_1"),
                (Word, "näme"),
                (Word, "名前")
            ]
        );
    }

    #[test]
    fn a_bom_inside_the_text_is_white_space() {
        assert_eq!(
            kinds("a\u{feff}b \u{feff}"),
            vec![(TokenKind::Word, "a"), (TokenKind::Word, "b")]
        );
    }

    #[test]
    fn bom_is_skipped() {
        let src = "\u{feff}SELECT 1";
        let toks = tokenize(src).unwrap();
        assert_eq!(toks[0].start, 3);
        assert_eq!(toks[0].text(src), "SELECT");
    }

    #[test]
    fn errors_point_at_the_opening() {
        let err = tokenize("SELECT 'abc").unwrap_err();
        assert_eq!(
            (err.kind, err.offset),
            (LexErrorKind::UnterminatedString, 7)
        );
        let err = tokenize("a \"b").unwrap_err();
        assert_eq!(err.kind, LexErrorKind::UnterminatedDoubleQuoted);
        let err = tokenize("a /*+ b").unwrap_err();
        assert_eq!(
            (err.kind, err.offset),
            (LexErrorKind::UnterminatedComment, 2)
        );
    }

    #[test]
    fn characters_flink_rejects_are_located() {
        for (src, offset, c) in [
            ("SELECT 1；", 8, '；'),
            ("a\0b", 1, '\0'),
            ("x = 1 \u{a0}", 6, '\u{a0}'),
            ("näme😀", 5, '😀'),
        ] {
            let err = tokenize(src).unwrap_err();
            assert_eq!(
                (err.kind, err.offset),
                (LexErrorKind::UnexpectedCharacter(c), offset),
                "{src:?}"
            );
        }
        assert!(kinds("'；' `；` -- ；\n/* \0 */").len() == 4);
    }

    #[test]
    fn variables_belong_to_words() {
        use TokenKind::*;
        assert_eq!(
            kinds("${SRC} db_${ENV}.t ${ x} $"),
            vec![
                (Word, "${SRC}"),
                (Word, "db_${ENV}"),
                (Dot, "."),
                (Word, "t"),
                (Word, "$"),
                (Op, "{"),
                (Word, "x"),
                (Op, "}"),
                (Word, "$")
            ]
        );
    }
}
