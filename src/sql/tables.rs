//! Which `CREATE TABLE` defines a table, by Flink's catalog rules: the first declaration stays
//! (a later `IF NOT EXISTS` one is skipped, a later plain one is rejected), `CREATE OR REPLACE`
//! and a `DROP TABLE` in between start over, and a `TEMPORARY` table shadows a permanent one of
//! the same name.

use std::collections::HashMap;

use super::lexer::{Lexer, TokenKind};
use super::{CreateTable, Script, Statement, StatementKind};

/// A `CREATE TABLE` of a name that already has one, which Flink rejects ("already exists").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Redeclared {
    /// The rejected statement's index.
    pub statement: usize,
    /// The index of the statement that declared the table first.
    pub first: usize,
}

/// The tables of a script as Flink's catalog holds them after running it.
#[derive(Debug, Clone, Default)]
pub struct Tables<'a> {
    /// By (name, temporary): the statement that defines it.
    defined: HashMap<(&'a str, bool), (&'a Statement, &'a CreateTable)>,
    redeclared: Vec<Redeclared>,
}

impl<'a> Tables<'a> {
    /// The table `name`: the temporary one if there is one, else the permanent one.
    pub fn get(&self, name: &str) -> Option<(&'a Statement, &'a CreateTable)> {
        self.defined
            .get(&(name, true))
            .or_else(|| self.defined.get(&(name, false)))
            .copied()
    }

    /// Every `CREATE TABLE` Flink rejects because the table exists, in statement order.
    pub fn redeclared(&self) -> &[Redeclared] {
        &self.redeclared
    }
}

impl Script {
    /// The tables the script defines, by Flink's rules (see [`Tables`]).
    pub fn tables(&self) -> Tables<'_> {
        let mut tables = Tables::default();
        for stmt in &self.statements {
            if stmt.kind == StatementKind::Drop {
                if let Some((name, temporary)) = dropped_table(&stmt.text) {
                    tables
                        .defined
                        .retain(|(n, t), _| !(*n == name.as_str() && *t == temporary));
                }
                continue;
            }
            let Some(table) = stmt.create_table() else {
                continue;
            };
            let key = (table.name.as_str(), table.temporary);
            match tables.defined.get(&key) {
                Some((first, _)) if !table.or_replace => {
                    if !table.if_not_exists {
                        tables.redeclared.push(Redeclared {
                            statement: stmt.index,
                            first: first.index,
                        });
                    }
                }
                _ => {
                    tables.defined.insert(key, (stmt, table));
                }
            }
        }
        tables
    }
}

/// The table a `DROP [TEMPORARY] TABLE [IF EXISTS] name` drops (written as in
/// [`CreateTable::name`]: parts joined by dots, without backticks), and whether it is temporary.
fn dropped_table(text: &str) -> Option<(String, bool)> {
    let mut toks = Lexer::new(text)
        .filter_map(Result::ok)
        .filter(|t| !t.kind.is_trivia());
    if !toks.next()?.is_keyword(text, "DROP") {
        return None;
    }
    let mut tok = toks.next()?;
    let temporary = tok.is_keyword(text, "TEMPORARY");
    if temporary {
        tok = toks.next()?;
    }
    if !tok.is_keyword(text, "TABLE") {
        return None;
    }
    tok = toks.next()?;
    if tok.is_keyword(text, "IF") {
        toks.next()?;
        tok = toks.next()?;
    }
    let mut parts = Vec::new();
    loop {
        match tok.kind {
            TokenKind::Word => parts.push(tok.text(text).to_string()),
            TokenKind::QuotedIdent => {
                let quoted = tok.text(text);
                parts.push(quoted[1..quoted.len() - 1].replace("``", "`"));
            }
            _ => return None,
        }
        match toks.next() {
            Some(dot) if dot.kind == TokenKind::Dot => tok = toks.next()?,
            _ => break,
        }
    }
    Some((parts.join("."), temporary))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_declaration_stays_and_redeclarations_are_found() {
        let script = Script::parse_str(
            "CREATE TABLE t (a INT) WITH ('connector' = 'datagen');\n\
             CREATE TABLE IF NOT EXISTS t (b INT) WITH ('connector' = 'print');\n\
             CREATE TABLE t (c INT) WITH ('connector' = 'blackhole');\n\
             CREATE TABLE u (a INT) WITH ('connector' = 'datagen');\n\
             DROP TABLE IF EXISTS u;\n\
             CREATE TABLE u (b INT) WITH ('connector' = 'print');\n\
             CREATE OR REPLACE TABLE v (a INT) WITH ('connector' = 'datagen');\n\
             CREATE OR REPLACE TABLE v (b INT) WITH ('connector' = 'print');\n\
             CREATE TEMPORARY TABLE w (a INT) WITH ('connector' = 'print');\n\
             CREATE TABLE w (b INT) WITH ('connector' = 'datagen');",
        )
        .unwrap();
        let tables = script.tables();
        let connector = |name: &str| tables.get(name).and_then(|(_, t)| t.connector());
        assert_eq!(connector("t"), Some("datagen"));
        assert_eq!(connector("u"), Some("print"));
        assert_eq!(connector("v"), Some("print"));
        assert_eq!(connector("w"), Some("print"), "the temporary table shadows");
        assert_eq!(
            tables.redeclared(),
            [Redeclared {
                statement: 2,
                first: 0
            }]
        );
    }

    #[test]
    fn drop_statements_name_their_table() {
        assert_eq!(dropped_table("DROP TABLE t"), Some(("t".into(), false)));
        assert_eq!(
            dropped_table("drop temporary table if exists `c`.db.`t2`"),
            Some(("c.db.t2".into(), true))
        );
        assert_eq!(dropped_table("DROP VIEW t"), None);
    }
}
