//! Split and validate a Flink SQL script with flinkit embedded in your own program.
//!
//! Reads a script (the path given as the first argument, else the user-count tutorial's Kafka
//! SQL), lists its statements with their kind, position and tables, prints the table graph's
//! deploy order, and checks every table's connector options offline — the same checks as
//! `flinkit validate`. Exits 1 when the script has errors. Needs no cluster:
//!
//! ```sh
//! cargo run --example split_validate -- sql/favorite-color-cheese/pulsar.sql
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

use flinkit::connectors::{self, Severity};
use flinkit::lineage::Graph;
use flinkit::sql::{Input, Script};
use flinkit::vars::{self, Vars};

fn main() -> ExitCode {
    run().unwrap_or_else(|err| {
        eprintln!("error: {err}");
        ExitCode::FAILURE
    })
}

fn run() -> Result<ExitCode, Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .map_or_else(|| PathBuf::from("sql/user-count/kafka.sql"), PathBuf::from);
    let script = Script::from_inputs(&[Input::Path(path.clone())])?;
    println!("{}: {} statements", path.display(), script.statements.len());
    for statement in &script.statements {
        let mut what = statement.kind.as_str().to_string();
        if let Some(name) = statement.name() {
            what.push_str(&format!(" {name}"));
        }
        for insert in statement.inserts() {
            what.push_str(&format!(
                " into {} from {}",
                insert.target,
                insert.sources.join(", ")
            ));
        }
        println!("  {}:{}  {what}", statement.line, statement.column);
    }
    println!(
        "deploy order: {}",
        Graph::build(&script)?.order.join(" -> ")
    );

    // `${VAR}` in options would come from the environment here, as with `--var`.
    let values = vars::substitute(&script, &Vars::new([]));
    let diagnostics = connectors::validate(&script, &values);
    for d in &diagnostics {
        let severity = match d.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        println!(
            "{severity}[{}] {}:{}: {}",
            d.code, d.line, d.column, d.message
        );
        if let Some(suggestion) = &d.suggestion {
            println!("  suggestion: {suggestion}");
        }
    }
    let errors = diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    println!(
        "{} error(s), {} warning(s)",
        errors,
        diagnostics.len() - errors
    );
    Ok(if errors > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
