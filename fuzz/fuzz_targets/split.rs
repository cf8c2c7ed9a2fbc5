//! Fuzzes the lexer, splitter, statement parsers and lineage graph: any input must either split
//! into statements whose text is their own byte range, or fail with an error located inside it;
//! the graph's renderings must not panic.
#![no_main]

use flinkit::lineage::Graph;
use flinkit::sql::Script;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match Script::parse_str(text) {
        Ok(script) => {
            for stmt in &script.statements {
                assert_eq!(&text[stmt.range.clone()], stmt.text);
                assert!(stmt.line >= 1 && stmt.column >= 1);
            }
            if let Ok(graph) = Graph::build(&script) {
                let _ = (graph.to_text(), graph.to_dot(), graph.to_mermaid());
            }
        }
        Err(err) => {
            let syntax = err.syntax().expect("text input only fails on syntax");
            assert!(syntax.range.start < text.len());
            assert!(syntax.line >= 1 && syntax.column >= 1);
        }
    }
});
