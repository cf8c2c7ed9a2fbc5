//! A cursor over the significant tokens of one statement, with the small look-ahead helpers the
//! statement parsers share (keywords, identifiers, qualified names, balanced groups).

use super::lexer::{Token, TokenKind};

/// A position in a slice of significant tokens (no comments, no hints).
#[derive(Debug, Clone)]
pub(crate) struct Cursor<'a> {
    pub src: &'a str,
    pub toks: &'a [Token],
    pub pos: usize,
}

impl<'a> Cursor<'a> {
    pub fn new(src: &'a str, toks: &'a [Token]) -> Self {
        Self { src, toks, pos: 0 }
    }

    pub fn peek(&self) -> Option<&'a Token> {
        self.toks.get(self.pos)
    }

    pub fn peek_at(&self, ahead: usize) -> Option<&'a Token> {
        self.toks.get(self.pos + ahead)
    }

    pub fn at_end(&self) -> bool {
        self.pos >= self.toks.len()
    }

    pub fn bump(&mut self) -> Option<&'a Token> {
        let tok = self.toks.get(self.pos)?;
        self.pos += 1;
        Some(tok)
    }

    pub fn is_kind(&self, kind: TokenKind) -> bool {
        self.peek().is_some_and(|t| t.kind == kind)
    }

    pub fn eat_kind(&mut self, kind: TokenKind) -> Option<&'a Token> {
        if self.is_kind(kind) {
            self.bump()
        } else {
            None
        }
    }

    pub fn is_kw(&self, kw: &str) -> bool {
        self.peek().is_some_and(|t| t.is_keyword(self.src, kw))
    }

    pub fn is_kw_at(&self, ahead: usize, kw: &str) -> bool {
        self.peek_at(ahead)
            .is_some_and(|t| t.is_keyword(self.src, kw))
    }

    pub fn eat_kw(&mut self, kw: &str) -> bool {
        let hit = self.is_kw(kw);
        if hit {
            self.pos += 1;
        }
        hit
    }

    /// Eats the whole keyword sequence, or nothing.
    pub fn eat_kws(&mut self, kws: &[&str]) -> bool {
        let hit = kws.iter().enumerate().all(|(i, kw)| self.is_kw_at(i, kw));
        if hit {
            self.pos += kws.len();
        }
        hit
    }

    /// One identifier part: an unquoted word or a backtick identifier (unescaped).
    pub fn ident(&mut self) -> Option<String> {
        let tok = self.peek()?;
        let name = ident_text(self.src, tok)?;
        self.pos += 1;
        Some(name)
    }

    /// A dotted name, parts joined by `.` without backticks.
    pub fn qualified_name(&mut self) -> Option<String> {
        let mut name = self.ident()?;
        while self.is_kind(TokenKind::Dot) && self.peek_at(1).is_some_and(is_ident_token) {
            self.pos += 1;
            name.push('.');
            name.push_str(&self.ident()?);
        }
        Some(name)
    }

    /// A single-quoted string literal, unescaped.
    pub fn string(&mut self) -> Option<String> {
        let tok = self.eat_kind(TokenKind::String)?;
        Some(unquote(tok.text(self.src), '\''))
    }

    /// With the cursor on `(`, the index just past its matching `)` (or the end).
    pub fn matching_paren_end(&self) -> usize {
        let mut depth = 0usize;
        for (i, tok) in self.toks[self.pos..].iter().enumerate() {
            match tok.kind {
                TokenKind::LParen => depth += 1,
                TokenKind::RParen => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        return self.pos + i + 1;
                    }
                }
                _ => {}
            }
        }
        self.toks.len()
    }

    /// A parenthesised, comma-separated list of identifiers: `(a, `b`, c)`.
    pub fn ident_list(&mut self) -> Option<Vec<String>> {
        self.eat_kind(TokenKind::LParen)?;
        let mut names = Vec::new();
        loop {
            names.push(self.ident()?);
            if self.eat_kind(TokenKind::Comma).is_none() {
                break;
            }
        }
        self.eat_kind(TokenKind::RParen)?;
        Some(names)
    }

    /// The source text from token `from` to token `to` (exclusive), or `""` when empty.
    pub fn text_between(&self, from: usize, to: usize) -> &'a str {
        if from >= to || from >= self.toks.len() {
            return "";
        }
        &self.src[self.toks[from].start..self.toks[to - 1].end]
    }
}

pub(crate) fn is_ident_token(tok: &Token) -> bool {
    matches!(tok.kind, TokenKind::Word | TokenKind::QuotedIdent)
}

/// The name an identifier token stands for: a word as written, a backtick identifier unescaped.
pub(crate) fn ident_text(src: &str, tok: &Token) -> Option<String> {
    match tok.kind {
        TokenKind::Word => Some(tok.text(src).to_string()),
        TokenKind::QuotedIdent => Some(unquote(tok.text(src), '`')),
        _ => None,
    }
}

/// Strips the surrounding quotes and undoubles inner ones.
pub(crate) fn unquote(text: &str, quote: char) -> String {
    let inner = &text[quote.len_utf8()..text.len() - quote.len_utf8()];
    let doubled = [quote, quote].iter().collect::<String>();
    inner.replace(&doubled, &quote.to_string())
}
