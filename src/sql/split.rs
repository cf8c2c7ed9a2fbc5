//! The splitter: cuts a token stream into statements at top-level `;` (or the end of input),
//! drops empty statements, and keeps `EXECUTE STATEMENT SET BEGIN … END` and
//! `BEGIN STATEMENT SET; … END` together as one unit holding their inner statements.

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

/// A statement set opened at this token and never closed with `END`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnclosedSet {
    /// Index of the set's first token.
    pub token: usize,
}

/// Splits significant tokens (comments and hints removed) into statements.
pub fn split_tokens(src: &str, toks: &[Token]) -> Result<Vec<Piece>, UnclosedSet> {
    let kw = |i: usize, word: &str| toks.get(i).is_some_and(|t| t.is_keyword(src, word));
    let semi = |i: usize| toks.get(i).is_some_and(|t| t.kind == TokenKind::Semicolon);
    let next_semi = |from: usize| (from..toks.len()).find(|&i| semi(i)).unwrap_or(toks.len());

    let mut pieces = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        if semi(i) {
            i += 1;
            continue;
        }
        let start = i;
        let body =
            if kw(i, "EXECUTE") && kw(i + 1, "STATEMENT") && kw(i + 2, "SET") && kw(i + 3, "BEGIN")
            {
                Some(i + 4)
            } else if kw(i, "BEGIN") && kw(i + 1, "STATEMENT") && kw(i + 2, "SET") {
                Some(if semi(i + 3) { i + 4 } else { i + 3 })
            } else {
                None
            };
        let Some(mut j) = body else {
            let end = next_semi(i);
            pieces.push(Piece {
                tokens: start..end,
                inner: None,
            });
            i = end + 1;
            continue;
        };
        let mut inner = Vec::new();
        loop {
            while semi(j) {
                j += 1;
            }
            if j >= toks.len() {
                return Err(UnclosedSet { token: start });
            }
            if kw(j, "END") && (j + 1 == toks.len() || semi(j + 1)) {
                pieces.push(Piece {
                    tokens: start..j + 1,
                    inner: Some(inner),
                });
                i = j + 2;
                break;
            }
            let end = next_semi(j);
            inner.push(j..end);
            j = end;
        }
    }
    Ok(pieces)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::lexer::tokenize;

    fn texts(src: &str) -> Result<Vec<(String, usize)>, UnclosedSet> {
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
            Err(UnclosedSet { token: 3 })
        );
    }
}
