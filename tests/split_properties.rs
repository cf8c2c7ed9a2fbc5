//! Property tests of the splitter: it never panics, errors point inside the input, and
//! re-joining a script's statements with `;` and splitting again gives the same statements.

use flinkit::sql::Script;
use proptest::prelude::*;

/// Fragments that exercise every lexer state, glued together at random.
fn fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("SELECT".to_string()),
        Just("INSERT INTO t".to_string()),
        Just("CREATE TABLE x (a INT) WITH ('k' = 'v')".to_string()),
        Just("EXECUTE STATEMENT SET BEGIN".to_string()),
        Just("BEGIN STATEMENT SET;".to_string()),
        Just("END".to_string()),
        Just(";".to_string()),
        Just("'a;''b'".to_string()),
        Just("`c;``d`".to_string()),
        Just("\"e;f\"".to_string()),
        Just("-- g;\n".to_string()),
        Just("// h;\r\n".to_string()),
        Just("/* i; */".to_string()),
        Just("/*+ OPTIONS('j'=';') */".to_string()),
        Just("(".to_string()),
        Just(")".to_string()),
        Just("FROM a JOIN b".to_string()),
        Just("名前".to_string()),
        Just("\u{feff}".to_string()),
        "[ \t\r\n]{1,3}",
        "[a-z0-9_]{1,6}",
        any::<char>().prop_map(String::from),
    ]
}

fn script() -> impl Strategy<Value = String> {
    prop::collection::vec(fragment(), 0..40).prop_map(|parts| parts.join(" "))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn never_panics_on_arbitrary_text(text in any::<String>()) {
        let _ = Script::parse_str(&text);
    }

    #[test]
    fn never_panics_and_errors_are_located(text in script()) {
        match Script::parse_str(&text) {
            Ok(script) => {
                for stmt in &script.statements {
                    let calcite_space = |c: char| matches!(c, ' ' | '\t' | '\n' | '\r' | '\u{c}');
                    prop_assert!(!stmt.text.trim_matches(calcite_space).is_empty());
                    prop_assert_eq!(stmt.text.trim_matches(calcite_space), stmt.text.as_str());
                    prop_assert_eq!(&text[stmt.range.clone()], stmt.text.as_str());
                }
            }
            Err(err) => {
                let syntax = err.syntax().expect("only syntax errors from text");
                prop_assert!(syntax.range.start < text.len());
                prop_assert!(syntax.line >= 1 && syntax.column >= 1);
            }
        }
    }

    #[test]
    fn rejoining_and_splitting_again_is_stable(text in script()) {
        if let Ok(script) = Script::parse_str(&text) {
            let texts: Vec<&str> = script.statements.iter().map(|s| s.text.as_str()).collect();
            let joined = texts.join(";\n");
            let again = Script::parse_str(&joined).expect("re-joined statements split again");
            let texts_again: Vec<&str> = again.statements.iter().map(|s| s.text.as_str()).collect();
            prop_assert_eq!(&texts, &texts_again);
            let kinds: Vec<_> = script.statements.iter().map(|s| s.kind).collect();
            let kinds_again: Vec<_> = again.statements.iter().map(|s| s.kind).collect();
            prop_assert_eq!(kinds, kinds_again);
        }
    }
}
