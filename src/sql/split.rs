//! The splitter: cuts a token stream into statements at top-level `;` (or the end of input),
//! drops empty statements, and keeps statement sets together as one unit holding their inner
//! statements: `EXECUTE STATEMENT SET BEGIN … END`, `BEGIN STATEMENT SET; … END` (the SQL
//! client's form) and the sets that `EXPLAIN …`, `COMPILE PLAN … FOR` and `COMPILE AND EXECUTE
//! PLAN … FOR` take (`… STATEMENT SET BEGIN … END`). Inside a set Flink's grammar takes only
//! `INSERT` statements, each ended by `;`.

use std::fmt;
use std::ops::Range;

use super::lexer::{Token, TokenKind};

/// One statement found by the splitter, as ranges of indices into the significant tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Piece {
    /// The statement's tokens (no `;`).
    pub tokens: Range<usize>,
    /// For a statement set: each inner statement's tokens.
    pub inner: Option<Vec<Range<usize>>>,
}

/// What is wrong with a statement set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SplitErrorKind {
    /// A statement set never closed with `END`.
    UnclosedSet,
    /// A statement other than INSERT inside a statement set.
    NotAnInsert,
    /// `END` right after an INSERT, without the `;` that ends the INSERT.
    MissingSemicolonBeforeEnd,
}

impl SplitErrorKind {
    /// How to fix it, in one sentence.
    pub fn help(self) -> &'static str {
        match self {
            Self::UnclosedSet => "end the statement set with END; after its INSERT statements",
            Self::NotAnInsert => {
                "a statement set holds only INSERT statements: move this statement before the set"
            }
            Self::MissingSemicolonBeforeEnd => {
                "end each INSERT of the statement set with `;`, then close the set with END;"
            }
        }
    }
}

impl fmt::Display for SplitErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::UnclosedSet => "unterminated statement set",
            Self::NotAnInsert => "only INSERT statements are allowed in a statement set",
            Self::MissingSemicolonBeforeEnd => "missing `;` before the END of the statement set",
        })
    }
}

/// A statement set the splitter cannot take, at one of its tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{kind}")]
pub struct SplitError {
    /// What is wrong.
    pub kind: SplitErrorKind,
    /// Index of the token where it is wrong: the set's first token (unclosed), the offending
    /// statement's first token, or the `END` missing its `;`.
    pub token: usize,
}

/// Splits significant tokens (comments and hints removed) into statements.
pub fn split_tokens(src: &str, toks: &[Token]) -> Result<Vec<Piece>, SplitError> {
    let kw = |i: usize, word: &str| toks.get(i).is_some_and(|t| t.is_keyword(src, word));
    let semi = |i: usize| toks.get(i).is_some_and(|t| t.kind == TokenKind::Semicolon);
    let next_semi = |from: usize| {
        toks[from.min(toks.len())..]
            .iter()
            .position(|t| t.kind == TokenKind::Semicolon)
            .map_or(toks.len(), |rel| from + rel)
    };
    let mut pieces = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        if semi(i) {
            i += 1;
            continue;
        }
        let start = i;
        let end = next_semi(i);
        let Some(mut j) = set_body(src, toks, i, end) else {
            pieces.push(Piece {
                tokens: start..end,
                inner: None,
            });
            i = end + 1;
            continue;
        };
        let mut inner: Vec<Range<usize>> = Vec::new();
        loop {
            while semi(j) {
                j += 1;
            }
            if j >= toks.len() {
                let last = inner
                    .last()
                    .and_then(|r| unbalanced_end(src, &toks[r.clone()]));
                return Err(match (last, inner.last()) {
                    (Some(at), Some(r)) => SplitError {
                        kind: SplitErrorKind::MissingSemicolonBeforeEnd,
                        token: r.start + at,
                    },
                    _ => SplitError {
                        kind: SplitErrorKind::UnclosedSet,
                        token: start,
                    },
                });
            }
            if kw(j, "END") && (j + 1 == toks.len() || semi(j + 1)) {
                pieces.push(Piece {
                    tokens: start..j + 1,
                    inner: Some(inner),
                });
                i = j + 2;
                break;
            }
            if !kw(j, "INSERT") {
                return Err(SplitError {
                    kind: SplitErrorKind::NotAnInsert,
                    token: j,
                });
            }
            let end = next_semi(j);
            inner.push(j..end);
            j = end;
        }
    }
    Ok(pieces)
}

/// The first token of a set's body, if the statement starting at token `i` (whose first `;`
/// is at `end`) opens a statement set.
fn set_body(src: &str, toks: &[Token], i: usize, end: usize) -> Option<usize> {
    let kw = |i: usize, word: &str| toks.get(i).is_some_and(|t| t.is_keyword(src, word));
    if kw(i, "BEGIN") && kw(i + 1, "STATEMENT") && kw(i + 2, "SET") {
        let semi = toks
            .get(i + 3)
            .is_some_and(|t| t.kind == TokenKind::Semicolon);
        return Some(if semi { i + 4 } else { i + 3 });
    }
    if !(kw(i, "EXECUTE") || kw(i, "EXPLAIN") || kw(i, "COMPILE")) {
        return None;
    }
    (i + 1..end.saturating_sub(2))
        .find(|&k| kw(k, "STATEMENT") && kw(k + 1, "SET") && kw(k + 2, "BEGIN"))
        .map(|k| k + 3)
}

/// Says when a growing buffer of significant tokens ends on whole statements, so a script is
/// split one statement (or one statement set) at a time and its tokens never all held at once.
#[derive(Debug, Default)]
pub struct Chunker {
    /// The buffer's first `;` has been seen.
    first_semicolon: bool,
    /// The buffer opens a statement set whose body starts at this token.
    body: Option<usize>,
}

impl Chunker {
    /// A chunker for an empty buffer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Call after pushing each token onto `buf`: whether `buf` now ends on whole statements (a
    /// top-level `;`, or the `END ;` of a statement set). Then split it with [`split_tokens`]
    /// and start a new buffer.
    pub fn complete(&mut self, src: &str, buf: &[Token]) -> bool {
        let Some(last) = buf.last() else {
            return false;
        };
        if last.kind != TokenKind::Semicolon {
            return false;
        }
        let end = buf.len() - 1;
        if !self.first_semicolon {
            self.first_semicolon = true;
            let start = buf
                .iter()
                .position(|t| t.kind != TokenKind::Semicolon)
                .unwrap_or(end);
            self.body = set_body(src, buf, start, end);
        }
        let done = match self.body {
            None => true,
            Some(body) => {
                end >= 1
                    && buf[end - 1].is_keyword(src, "END")
                    && (end - 1 == body
                        || (end >= 2
                            && buf[end - 2].kind == TokenKind::Semicolon
                            && end - 1 > body))
            }
        };
        if done {
            *self = Self::default();
        }
        done
    }
}

/// The index of an `END` in `toks` that no `CASE` opened (the set's own `END`, written without
/// the `;` before it), if any.
fn unbalanced_end(src: &str, toks: &[Token]) -> Option<usize> {
    let mut open = 0usize;
    for (k, tok) in toks.iter().enumerate() {
        if tok.is_keyword(src, "CASE") {
            open += 1;
        } else if tok.is_keyword(src, "END") {
            if open == 0 {
                return Some(k);
            }
            open -= 1;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::lexer::tokenize;

    fn texts(src: &str) -> Result<Vec<(String, usize)>, SplitError> {
        let toks: Vec<Token> = tokenize(src)
            .unwrap()
            .into_iter()
            .filter(|t| !t.kind.is_trivia())
            .collect();
        Ok(split_tokens(src, &toks)?
            .into_iter()
            .map(|p| {
                let text = &src[toks[p.tokens.start].start..toks[p.tokens.end - 1].end];
                (text.to_string(), p.inner.map_or(0, |v| v.len()))
            })
            .collect())
    }

    #[test]
    fn splits_on_top_level_semicolons_only() {
        let got = texts("a 'x;y' `b;c`; ;; d /* ; */ e -- ;\n ; f").unwrap();
        let want = [("a 'x;y' `b;c`", 0), ("d /* ; */ e", 0), ("f", 0)];
        assert_eq!(got, want.map(|(t, n)| (t.to_string(), n)).to_vec());
    }

    #[test]
    fn statement_sets_are_one_unit() {
        let got = texts(
            "execute  statement\nset begin insert into a select 1; insert into b select 2; end; x",
        )
        .unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].1, 2);
        assert!(got[0].0.ends_with("end"));
        let got =
            texts("BEGIN STATEMENT SET;\nINSERT INTO a SELECT CASE WHEN x THEN 1 END FROM t;\nEND")
                .unwrap();
        assert_eq!(got, vec![(got[0].0.clone(), 1)]);
    }

    #[test]
    fn an_unclosed_set_is_an_error_at_its_start() {
        assert_eq!(
            texts("SELECT 1; BEGIN STATEMENT SET; INSERT INTO a SELECT 1;"),
            Err(SplitError {
                kind: SplitErrorKind::UnclosedSet,
                token: 3
            })
        );
    }

    #[test]
    fn explain_and_compile_take_a_whole_set() {
        let got = texts(
            "EXPLAIN STATEMENT SET BEGIN INSERT INTO a SELECT 1; INSERT INTO b SELECT 2; END; \
             COMPILE PLAN 'p.json' FOR STATEMENT SET BEGIN INSERT INTO c SELECT 3; END",
        )
        .unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].1, 2);
        assert_eq!(got[1].1, 1);
    }

    #[test]
    fn only_inserts_inside_a_set() {
        for (sql, token) in [
            (
                "EXECUTE STATEMENT SET BEGIN CREATE TABLE t (a INT); END;",
                4,
            ),
            (
                "BEGIN STATEMENT SET; INSERT INTO a SELECT 1; SELECT 1; END;",
                10,
            ),
            (
                "EXECUTE STATEMENT SET BEGIN BEGIN STATEMENT SET; INSERT INTO a SELECT 1; END; END;",
                4,
            ),
        ] {
            assert_eq!(
                texts(sql),
                Err(SplitError {
                    kind: SplitErrorKind::NotAnInsert,
                    token
                }),
                "{sql}"
            );
        }
    }

    #[test]
    fn end_without_its_semicolon_is_located() {
        let got = texts(
            "EXECUTE STATEMENT SET BEGIN INSERT INTO a SELECT CASE WHEN x THEN 1 END FROM t END;",
        );
        assert_eq!(
            got,
            Err(SplitError {
                kind: SplitErrorKind::MissingSemicolonBeforeEnd,
                token: 16
            })
        );
    }
}
