//! Which tables a query reads: names after FROM / JOIN / a comma in a FROM list, and `TABLE t`
//! (window table functions, explicit tables) — through joins, subqueries, set operations, CTEs
//! (whose names are not tables), temporal joins and hints; never the `FROM` inside a function
//! call (`EXTRACT`, `TRIM`, `SUBSTRING`, `OVERLAY`), `IS [NOT] DISTINCT FROM`, `UNNEST` or
//! `LATERAL TABLE(…)` aliases.

use std::collections::HashSet;

use super::cursor::{ident_text, is_ident_token};
use super::lexer::{Token, TokenKind};

/// Words that make a query windowed (window TVFs and their columns): its DISTINCT and GROUP BY
/// emit final rows, not updates.
const WINDOW_WORDS: [&str; 6] = [
    "window_start",
    "window_end",
    "TUMBLE",
    "HOP",
    "SESSION",
    "CUMULATE",
];

/// Words after which `(` opens a group or subquery rather than a function call's arguments.
const NOT_FUNCTIONS: &[&str] = &[
    "ALL",
    "AND",
    "ANY",
    "AS",
    "BETWEEN",
    "BY",
    "CASE",
    "DISTINCT",
    "ELSE",
    "END",
    "ESCAPE",
    "EXCEPT",
    "EXISTS",
    "FETCH",
    "FROM",
    "HAVING",
    "IN",
    "INTERSECT",
    "INTO",
    "IS",
    "JOIN",
    "LATERAL",
    "LIKE",
    "LIMIT",
    "MINUS",
    "NOT",
    "OFFSET",
    "ON",
    "OR",
    "RETURN",
    "SELECT",
    "SET",
    "SOME",
    "THEN",
    "UNION",
    "USING",
    "VALUES",
    "WHEN",
    "WHERE",
    "WITH",
];

/// Words that can follow a table reference and are never its alias.
const NOT_ALIASES: &[&str] = &[
    "AS",
    "CROSS",
    "END",
    "EXCEPT",
    "FETCH",
    "FOR",
    "FROM",
    "FULL",
    "GROUP",
    "HAVING",
    "INNER",
    "INTERSECT",
    "JOIN",
    "LATERAL",
    "LEFT",
    "LIMIT",
    "MATCH_RECOGNIZE",
    "MINUS",
    "NATURAL",
    "OFFSET",
    "ON",
    "ORDER",
    "OUTER",
    "RIGHT",
    "SELECT",
    "TABLESAMPLE",
    "UNION",
    "USING",
    "VALUES",
    "WHERE",
    "WINDOW",
];

/// Words that end the expression of `FOR SYSTEM_TIME AS OF expr` at depth 0.
const AFTER_TEMPORAL: &[&str] = &[
    "AS",
    "CROSS",
    "EXCEPT",
    "FULL",
    "GROUP",
    "HAVING",
    "INNER",
    "INTERSECT",
    "JOIN",
    "LEFT",
    "LIMIT",
    "NATURAL",
    "ON",
    "ORDER",
    "RIGHT",
    "UNION",
    "USING",
    "WHERE",
    "WINDOW",
];

fn is_one_of(src: &str, tok: &Token, words: &[&str]) -> bool {
    tok.kind == TokenKind::Word && words.iter().any(|w| tok.text(src).eq_ignore_ascii_case(w))
}

/// Words that end a FROM clause at their level: after them a comma no longer separates tables.
const AFTER_FROM: &[&str] = &[
    "EXCEPT",
    "FETCH",
    "GROUP",
    "HAVING",
    "INTERSECT",
    "LIMIT",
    "MINUS",
    "OFFSET",
    "ORDER",
    "QUALIFY",
    "SELECT",
    "UNION",
    "VALUES",
    "WHERE",
    "WINDOW",
];

#[derive(Debug)]
struct Group {
    /// The parentheses hold a function call's arguments (no table FROM inside).
    function: bool,
    /// The group is a table reference in a FROM list (subquery, join, `TABLE(…)`, `UNNEST(…)`).
    from_item: bool,
    /// The group is the body of this CTE.
    cte: Option<String>,
    /// A FROM clause is open at this level: a comma starts the next table reference.
    in_from: bool,
}

/// How a FROM-list item opened with `(` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Item {
    /// `(…)`: a subquery or a parenthesised join of table references.
    Parenthesised,
    /// `TABLE(…)` or `UNNEST(…)`: a function call.
    Function,
}

struct Scanner<'a> {
    src: &'a str,
    toks: &'a [Token],
    ctes: HashSet<String>,
    seen: HashSet<String>,
    sources: Vec<String>,
    groups: Vec<Group>,
    /// The `(` at this index opens a FROM-list item.
    from_item_at: Option<(usize, Item)>,
    /// A FROM clause is open at the top level (outside every group).
    top_in_from: bool,
    /// The `(` at this index opens the body of this CTE.
    cte_at: Option<(usize, String)>,
}

/// The distinct tables read by the query tokens `toks` (comments and hints removed), in
/// first-appearance order.
pub(crate) fn query_sources(src: &str, toks: &[Token]) -> Vec<String> {
    let mut scanner = Scanner {
        src,
        toks,
        ctes: HashSet::new(),
        seen: HashSet::new(),
        sources: Vec::new(),
        groups: Vec::new(),
        from_item_at: None,
        top_in_from: false,
        cte_at: None,
    };
    scanner.run();
    scanner.sources
}

impl Scanner<'_> {
    fn kw(&self, at: usize, kw: &str) -> bool {
        self.toks
            .get(at)
            .is_some_and(|t| t.is_keyword(self.src, kw))
    }

    fn kind(&self, at: usize, kind: TokenKind) -> bool {
        self.toks.get(at).is_some_and(|t| t.kind == kind)
    }

    /// Whether a FROM clause is open at the current level.
    fn in_from(&mut self) -> &mut bool {
        match self.groups.last_mut() {
            Some(group) => &mut group.in_from,
            None => &mut self.top_in_from,
        }
    }

    /// One pass over the tokens; every step moves forward and nothing recurses, so the cost is
    /// linear and the stack flat however long the FROM list or deep the nesting.
    fn run(&mut self) {
        let mut i = 0;
        while i < self.toks.len() {
            let tok = self.toks[i];
            i = match tok.kind {
                TokenKind::LParen => self.open(i),
                TokenKind::RParen => self.close(i),
                TokenKind::Word => self.word(i),
                TokenKind::Comma if *self.in_from() => self.table_ref(i + 1),
                _ => i + 1,
            };
        }
    }

    fn open(&mut self, i: usize) -> usize {
        let query_inside = ["SELECT", "WITH", "VALUES"]
            .iter()
            .any(|kw| self.kw(i + 1, kw));
        let function = !query_inside
            && i.checked_sub(1).is_some_and(|p| {
                let prev = &self.toks[p];
                prev.kind == TokenKind::QuotedIdent
                    || (prev.kind == TokenKind::Word && !is_one_of(self.src, prev, NOT_FUNCTIONS))
            });
        let cte = match self.cte_at.take() {
            Some((at, name)) if at == i => Some(name),
            other => {
                self.cte_at = other;
                None
            }
        };
        let item = self
            .from_item_at
            .take_if(|(at, _)| *at == i)
            .map(|(_, item)| item);
        let join_inside = item == Some(Item::Parenthesised) && !query_inside;
        self.groups.push(Group {
            function: function && item.is_none(),
            from_item: item.is_some(),
            cte,
            in_from: join_inside,
        });
        if join_inside {
            return self.table_ref(i + 1);
        }
        i + 1
    }

    fn close(&mut self, i: usize) -> usize {
        let Some(group) = self.groups.pop() else {
            return i + 1;
        };
        if let Some(name) = group.cte {
            self.ctes.insert(name);
            if self.kind(i + 1, TokenKind::Comma) {
                return self.cte_header(i + 2).unwrap_or(i + 1);
            }
        }
        if group.from_item {
            return self.after_item(i + 1);
        }
        i + 1
    }

    fn word(&mut self, i: usize) -> usize {
        let tok = self.toks[i];
        if tok.is_keyword(self.src, "WITH") {
            return self.cte_header(i + 1).unwrap_or(i + 1);
        }
        if tok.is_keyword(self.src, "FROM") {
            let in_function = self.groups.last().is_some_and(|g| g.function);
            let distinct_from = i >= 2
                && self.kw(i - 1, "DISTINCT")
                && (self.kw(i - 2, "IS") || self.kw(i - 2, "NOT"));
            if in_function || distinct_from {
                return i + 1;
            }
            *self.in_from() = true;
            return self.table_ref(i + 1);
        }
        if is_one_of(self.src, &tok, AFTER_FROM) {
            *self.in_from() = false;
        }
        if tok.is_keyword(self.src, "JOIN") {
            return self.table_ref(i + 1);
        }
        if tok.is_keyword(self.src, "TABLE")
            && self.toks.get(i + 1).is_some_and(is_ident_token)
            && !self.kind(i + 2, TokenKind::LParen)
        {
            let (name, next) = self.name_at(i + 1);
            self.add(name);
            return next;
        }
        i + 1
    }

    /// `name [(columns)] AS (` at `at`: remembers the CTE and returns the index of its `(`.
    fn cte_header(&mut self, at: usize) -> Option<usize> {
        let name = ident_text(self.src, self.toks.get(at)?)?;
        let mut j = at + 1;
        if self.kind(j, TokenKind::LParen) {
            j = self.skip_group(j);
        }
        if !self.kw(j, "AS") || !self.kind(j + 1, TokenKind::LParen) {
            return None;
        }
        self.cte_at = Some((j + 1, name));
        Some(j + 1)
    }

    /// A table reference after FROM, JOIN or a FROM-list comma.
    fn table_ref(&mut self, at: usize) -> usize {
        let mut j = at;
        if self.kw(j, "LATERAL") {
            j += 1;
        }
        if self.kind(j, TokenKind::LParen) {
            self.from_item_at = Some((j, Item::Parenthesised));
            return j;
        }
        if (self.kw(j, "TABLE") || self.kw(j, "UNNEST")) && self.kind(j + 1, TokenKind::LParen) {
            self.from_item_at = Some((j + 1, Item::Function));
            return j + 1;
        }
        match self.toks.get(j) {
            Some(tok) if is_ident_token(tok) && !is_one_of(self.src, tok, NOT_ALIASES) => {
                let (name, next) = self.name_at(j);
                self.add(name);
                self.after_item(next)
            }
            _ => j,
        }
    }

    /// Skips what may follow a table reference (temporal clause, alias, column aliases); a
    /// comma after it is the FROM list's, seen by [`Self::run`].
    fn after_item(&mut self, at: usize) -> usize {
        let mut j = at;
        if self.kw(j, "FOR") && self.kw(j + 1, "SYSTEM_TIME") {
            j += 2;
            if self.kw(j, "AS") && self.kw(j + 1, "OF") {
                j += 2;
            }
            let mut depth = 0usize;
            while let Some(tok) = self.toks.get(j) {
                match tok.kind {
                    TokenKind::LParen => depth += 1,
                    TokenKind::RParen if depth == 0 => break,
                    TokenKind::RParen => depth -= 1,
                    TokenKind::Comma | TokenKind::Semicolon if depth == 0 => break,
                    TokenKind::Word if depth == 0 && is_one_of(self.src, tok, AFTER_TEMPORAL) => {
                        break;
                    }
                    _ => {}
                }
                j += 1;
            }
        }
        if self.kw(j, "AS") {
            j += 1;
        }
        if let Some(tok) = self.toks.get(j)
            && is_ident_token(tok)
            && !is_one_of(self.src, tok, NOT_ALIASES)
        {
            j += 1;
            if self.kind(j, TokenKind::LParen) {
                j = self.skip_group(j);
            }
        }
        j
    }

    fn name_at(&self, at: usize) -> (String, usize) {
        let mut name = ident_text(self.src, &self.toks[at]).unwrap_or_default();
        let mut j = at + 1;
        while self.kind(j, TokenKind::Dot) && self.toks.get(j + 1).is_some_and(is_ident_token) {
            name.push('.');
            name.push_str(&ident_text(self.src, &self.toks[j + 1]).unwrap_or_default());
            j += 2;
        }
        (name, j)
    }

    fn skip_group(&self, open: usize) -> usize {
        let mut depth = 0usize;
        for (k, tok) in self.toks[open..].iter().enumerate() {
            match tok.kind {
                TokenKind::LParen => depth += 1,
                TokenKind::RParen => {
                    depth -= 1;
                    if depth == 0 {
                        return open + k + 1;
                    }
                }
                _ => {}
            }
        }
        self.toks.len()
    }

    fn add(&mut self, name: String) {
        if !self.ctes.contains(&name) && self.seen.insert(name.clone()) {
            self.sources.push(name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::lexer::tokenize;

    fn sources(sql: &str) -> Vec<String> {
        let toks: Vec<Token> = tokenize(sql)
            .unwrap()
            .into_iter()
            .filter(|t| !t.kind.is_trivia())
            .collect();
        query_sources(sql, &toks)
    }

    #[test]
    fn joins_subqueries_and_unions() {
        assert_eq!(
            sources(
                "SELECT * FROM a JOIN b ON a.x = b.x LEFT JOIN (SELECT * FROM c) AS cc ON TRUE \
                 UNION ALL SELECT * FROM a WHERE x IN (SELECT y FROM d)"
            ),
            ["a", "b", "c", "d"]
        );
    }

    #[test]
    fn comma_joins_and_qualified_names() {
        assert_eq!(
            sources("SELECT 1 FROM cat.db.a AS x, `b` y, (SELECT 1 FROM c) z, d WHERE TRUE"),
            ["cat.db.a", "b", "c", "d"]
        );
    }

    #[test]
    fn ctes_are_not_tables() {
        assert_eq!(
            sources(
                "WITH t1 AS (SELECT * FROM base), t2 (a) AS (SELECT a FROM t1 JOIN other ON TRUE) \
                 SELECT * FROM t2"
            ),
            ["base", "other"]
        );
        assert_eq!(
            sources("WITH t AS (SELECT * FROM t) SELECT * FROM t"),
            ["t"],
            "a CTE's own body reads the real table"
        );
    }

    #[test]
    fn from_inside_functions_is_not_a_table() {
        assert_eq!(
            sources(
                "SELECT EXTRACT(YEAR FROM ts), TRIM(BOTH ' ' FROM s), SUBSTRING(s FROM 2 FOR 3), \
                 OVERLAY(s PLACING 'x' FROM 2), COALESCE((SELECT MAX(v) FROM m), 0) \
                 FROM t WHERE a IS NOT DISTINCT FROM b AND c IS DISTINCT FROM d"
            ),
            ["m", "t"]
        );
    }

    #[test]
    fn table_functions_unnest_and_lateral() {
        assert_eq!(
            sources(
                "SELECT * FROM TABLE(TUMBLE(TABLE clicks, DESCRIPTOR(ts), INTERVAL '1' MINUTE)) \
                 CROSS JOIN UNNEST(tags) AS t (tag), LATERAL TABLE(split(s)) AS T(w) \
                 JOIN TABLE(HOP(DATA => TABLE views, TIMECOL => DESCRIPTOR(ts), \
                 SLIDE => INTERVAL '1' MINUTE, SIZE => INTERVAL '5' MINUTE)) h ON TRUE"
            ),
            ["clicks", "views"]
        );
    }

    #[test]
    fn temporal_joins_and_hints() {
        assert_eq!(
            sources(
                "SELECT * FROM orders /*+ OPTIONS('a'='b') */ o \
                 JOIN rates FOR SYSTEM_TIME AS OF o.proc - INTERVAL '1' SECOND AS r ON o.c = r.c \
                 JOIN dim FOR SYSTEM_TIME AS OF o.proc ON TRUE"
            ),
            ["orders", "rates", "dim"]
        );
    }

    #[test]
    fn from_lists_through_joins_and_parentheses() {
        for (sql, want) in [
            (
                "SELECT * FROM a JOIN b ON a.k = f(b.k, 1), c",
                &["a", "b", "c"][..],
            ),
            ("SELECT * FROM (a JOIN b ON a.k = b.k)", &["a", "b"]),
            ("SELECT * FROM (a), b", &["a", "b"]),
            ("SELECT * FROM ((a))", &["a"]),
            (
                "SELECT * FROM ((a AS x LEFT JOIN b ON TRUE) CROSS JOIN c), (SELECT 1 FROM d) e, f",
                &["a", "b", "c", "d", "f"],
            ),
            (
                "SELECT * FROM ${SRC} JOIN db_${ENV}.t ON TRUE",
                &["${SRC}", "db_${ENV}.t"],
            ),
            (
                "SELECT a, b FROM t WHERE x IN (1, 2) GROUP BY a, b ORDER BY a, b",
                &["t"],
            ),
        ] {
            assert_eq!(sources(sql), want, "{sql}");
        }
    }

    #[test]
    fn a_long_from_list_is_linear_and_flat() {
        let sql = format!(
            "SELECT 1 FROM {}",
            (0..100_000)
                .map(|i| format!("t{i}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let got = sources(&sql);
        assert_eq!(got.len(), 100_000);
        assert_eq!(got[99_999], "t99999");
    }

    #[test]
    fn values_read_nothing() {
        assert!(sources("VALUES (1, 'a'), (2, 'b')").is_empty());
        assert_eq!(sources("TABLE t"), ["t"]);
    }
}

/// What a query's shape says about its output, read from its tokens alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct QueryShape {
    /// How many columns the first SELECT (or VALUES row) produces; `None` with `*`.
    pub arity: Option<usize>,
    /// It aggregates with a GROUP BY that is not over a window: its result updates.
    pub grouped: bool,
    /// It has an outer join that is neither temporal nor an interval join: its result updates.
    pub outer_join: bool,
    /// It has a `SELECT DISTINCT` that is not over a window: its result updates.
    pub distinct: bool,
}

impl QueryShape {
    /// Whether the query's result has updates or deletes (not only inserts).
    pub fn produces_updates(&self) -> bool {
        self.grouped || self.outer_join || self.distinct
    }
}

/// The shape of the query in `toks`.
pub(crate) fn query_shape(src: &str, toks: &[Token]) -> QueryShape {
    let kw = |i: usize, w: &str| toks.get(i).is_some_and(|t| t.is_keyword(src, w));
    let mut shape = QueryShape {
        arity: arity(src, toks),
        ..QueryShape::default()
    };
    let is_window = |t: &&Token| WINDOW_WORDS.iter().any(|w| t.is_keyword(src, w));
    let windowed_query = toks.iter().any(|t| is_window(&t));
    for i in 0..toks.len() {
        shape.distinct |= kw(i, "SELECT") && kw(i + 1, "DISTINCT") && !windowed_query;
        if kw(i, "GROUP") && kw(i + 1, "BY") {
            let windowed = toks[i + 2..]
                .iter()
                .take_while(|t| {
                    !["HAVING", "ORDER", "LIMIT", "UNION", "EXCEPT", "INTERSECT"]
                        .iter()
                        .any(|w| t.is_keyword(src, w))
                        && t.kind != TokenKind::Semicolon
                })
                .any(|t| is_window(&t));
            shape.grouped |= !windowed;
        }
        let outer = (kw(i, "LEFT") || kw(i, "RIGHT") || kw(i, "FULL"))
            && (kw(i + 1, "JOIN") || (kw(i + 1, "OUTER") && kw(i + 2, "JOIN")));
        if outer {
            let clause = toks[i + 1..].iter().skip(1).take_while(|t| {
                !["JOIN", "WHERE", "GROUP", "UNION"]
                    .iter()
                    .any(|w| t.is_keyword(src, w))
            });
            let mut temporal_or_interval = false;
            for t in clause {
                temporal_or_interval |= ["SYSTEM_TIME", "BETWEEN", "INTERVAL"]
                    .iter()
                    .any(|w| t.is_keyword(src, w));
            }
            shape.outer_join |= !temporal_or_interval;
        }
    }
    shape
}

/// The column count of the first SELECT list or VALUES row.
fn arity(src: &str, toks: &[Token]) -> Option<usize> {
    let mut i = 0;
    while toks.get(i).is_some_and(|t| t.kind == TokenKind::LParen) {
        i += 1;
    }
    let first = toks.get(i)?;
    if first.is_keyword(src, "VALUES") {
        if toks.get(i + 1)?.kind != TokenKind::LParen {
            return None;
        }
        return count_items(src, &toks[i + 2..], |t, depth| {
            depth == 0 && t.kind == TokenKind::RParen
        });
    }
    if !first.is_keyword(src, "SELECT") {
        return None;
    }
    i += 1;
    if toks
        .get(i)
        .is_some_and(|t| t.is_keyword(src, "DISTINCT") || t.is_keyword(src, "ALL"))
    {
        i += 1;
    }
    count_items(src, &toks[i..], |t, depth| {
        depth == 0 && (t.is_keyword(src, "FROM") || t.kind == TokenKind::RParen)
    })
}

/// Counts depth-0 comma-separated items until `end`; `None` if an item is `*` or `t.*`.
fn count_items(src: &str, toks: &[Token], end: impl Fn(&Token, usize) -> bool) -> Option<usize> {
    let mut depth = 0usize;
    let mut items = 0;
    let mut item_start = true;
    for (k, t) in toks.iter().enumerate() {
        if end(t, depth) {
            break;
        }
        match t.kind {
            TokenKind::LParen => depth += 1,
            TokenKind::RParen => depth = depth.saturating_sub(1),
            TokenKind::Op if t.text(src) == "[" => depth += 1,
            TokenKind::Op if t.text(src) == "]" => depth = depth.saturating_sub(1),
            TokenKind::Comma if depth == 0 => {
                item_start = true;
                continue;
            }
            TokenKind::Op if t.text(src) == "*" && depth == 0 => {
                let star_item = item_start || (k >= 1 && toks[k - 1].kind == TokenKind::Dot);
                if star_item {
                    return None;
                }
            }
            _ => {}
        }
        if item_start {
            items += 1;
            item_start = false;
        }
    }
    Some(items)
}

#[cfg(test)]
mod shape_tests {
    use super::*;
    use crate::sql::lexer::tokenize;

    fn shape(sql: &str) -> QueryShape {
        let toks: Vec<Token> = tokenize(sql)
            .unwrap()
            .into_iter()
            .filter(|t| !t.kind.is_trivia())
            .collect();
        query_shape(sql, &toks)
    }

    #[test]
    fn arity_of_select_lists_and_values() {
        assert_eq!(
            shape("SELECT a, f(b, c), CAST(d AS INT) AS e FROM t").arity,
            Some(3)
        );
        assert_eq!(shape("SELECT DISTINCT a, b * 2 FROM t").arity, Some(2));
        assert_eq!(
            shape("SELECT MAP['k', v], ARRAY[1, 2] FROM t").arity,
            Some(2)
        );
        assert_eq!(shape("SELECT * FROM t").arity, None);
        assert_eq!(shape("SELECT t.*, a FROM t").arity, None);
        assert_eq!(
            shape("VALUES (1, 'a', ROW(1, 2)), (2, 'b', NULL)").arity,
            Some(3)
        );
        assert_eq!(shape("(SELECT a FROM t)").arity, Some(1));
    }

    #[test]
    fn updates_from_aggregates_and_outer_joins() {
        assert!(shape("SELECT a, COUNT(*) FROM t GROUP BY a").produces_updates());
        assert!(
            !shape(
                "SELECT window_start, COUNT(*) FROM TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), INTERVAL '1' MINUTE)) \
                 GROUP BY window_start, window_end"
            )
            .produces_updates()
        );
        assert!(shape("SELECT * FROM a LEFT JOIN b ON a.k = b.k").produces_updates());
        assert!(
            !shape("SELECT * FROM a LEFT JOIN r FOR SYSTEM_TIME AS OF a.p ON a.k = r.k")
                .produces_updates()
        );
        assert!(!shape("SELECT * FROM a JOIN b ON a.k = b.k").produces_updates());
    }
}
