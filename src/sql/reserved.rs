//! The words Flink's SQL parser reserves: as an unquoted table or column name, Flink refuses
//! them (`Encountered "value"`), and a backquoted `` `value` `` is the fix.

/// The words both Flink lines (1.20 and 2.x) reserve, upper case, sorted: generated from their
/// parsers by `scripts/reserved-words.sh`.
const RESERVED: &str = include_str!("reserved.txt");

/// Whether `word` (an unquoted identifier, any case) is reserved by Flink's SQL parser.
pub fn is_reserved(word: &str) -> bool {
    let upper = word.to_ascii_uppercase();
    RESERVED
        .lines()
        .filter(|line| !line.starts_with('#'))
        .any(|line| line == upper)
}

/// The unquoted parts of a name as written (`cat.db.t`, `` `my db`.t ``), each with its byte
/// offset in `written`.
pub fn unquoted_parts(written: &str) -> Vec<(usize, &str)> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut quoted = false;
    for (i, c) in written.char_indices() {
        match c {
            '`' => quoted = !quoted,
            '.' if !quoted => {
                parts.push((start, &written[start..i]));
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push((start, &written[start..]));
    parts
        .into_iter()
        .map(|(at, part)| {
            let trimmed = part.trim_start();
            (at + part.len() - trimmed.len(), trimmed.trim_end())
        })
        .filter(|(_, part)| !part.starts_with('`') && !part.is_empty())
        .collect()
}

/// The unquoted field names of the `ROW<…>` / `ROW(…)` types in a column's type text, nested
/// ones included (`ARRAY<ROW<value INT>>`), each with its byte offset in `type_text`.
pub fn unquoted_row_fields(type_text: &str) -> Vec<(usize, &str)> {
    use super::lexer::{TokenKind, tokenize};
    let Ok(tokens) = tokenize(type_text) else {
        return Vec::new();
    };
    let tokens: Vec<_> = tokens.iter().filter(|t| !t.kind.is_trivia()).collect();
    // One entry per open bracket: whether it opened a ROW's fields.
    let mut rows: Vec<bool> = Vec::new();
    let mut fields = Vec::new();
    let mut name_next = false;
    for (i, token) in tokens.iter().enumerate() {
        if std::mem::take(&mut name_next) && token.kind == TokenKind::Word {
            fields.push((token.start, token.text(type_text)));
        }
        match token.kind {
            TokenKind::LParen | TokenKind::Lt => {
                let row = i > 0 && tokens[i - 1].is_keyword(type_text, "ROW");
                rows.push(row);
                name_next = row;
            }
            TokenKind::RParen | TokenKind::Gt => {
                rows.pop();
            }
            TokenKind::Comma => name_next = rows.last() == Some(&true),
            _ => {}
        }
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_words_are_flinks() {
        for word in ["value", "USER", "Timestamp", "out", "count"] {
            assert!(is_reserved(word), "{word}");
        }
        // Keywords Flink takes as names unquoted.
        for word in ["data", "name", "key", "a", "topic", "status", ""] {
            assert!(!is_reserved(word), "{word}");
        }
        let words: Vec<&str> = RESERVED.lines().filter(|l| !l.starts_with('#')).collect();
        assert!(words.len() > 300, "{}", words.len());
        assert!(words.is_sorted(), "sorted, one per line");
    }

    #[test]
    fn row_fields_are_found_at_any_depth() {
        let text = "ROW<value INT, `user` STRING, d DECIMAL(10, 2), r ROW(year INT) 'doc', \
                    a ARRAY<ROW<at TIMESTAMP(3)>>, m MAP<STRING, INT>>";
        let fields: Vec<&str> = unquoted_row_fields(text)
            .into_iter()
            .map(|(_, f)| f)
            .collect();
        assert_eq!(fields, ["value", "d", "r", "year", "a", "at", "m"]);
        let (at, name) = unquoted_row_fields("ARRAY<ROW<value INT>>")[0];
        assert_eq!((at, name), (10, "value"));
        assert!(unquoted_row_fields("DECIMAL(10, 2)").is_empty());
        assert!(unquoted_row_fields("ROW<>").is_empty());
        assert!(unquoted_row_fields("ROW<'unterminated").is_empty());
    }

    #[test]
    fn names_are_split_outside_backquotes() {
        assert_eq!(
            unquoted_parts("cat.db.out"),
            [(0, "cat"), (4, "db"), (7, "out")]
        );
        assert_eq!(unquoted_parts("`my.db`.value"), [(8, "value")]);
        assert_eq!(unquoted_parts("`value`"), []);
        assert_eq!(unquoted_parts("db . t"), [(0, "db"), (5, "t")]);
    }
}
