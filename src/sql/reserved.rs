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
