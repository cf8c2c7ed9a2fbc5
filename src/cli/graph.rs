//! `flinkit graph`: the table graph of a script or folder as a text tree, JSON, dot or Mermaid.

use clap::Args;
use flinkit::lineage::{Graph, LineageError};
use flinkit::sql::Script;

use super::args::SqlArgs;
use super::{Context, Format, output};

/// Flags of `flinkit graph`.
#[derive(Args, Debug)]
pub struct GraphArgs {
    #[command(flatten)]
    pub sql: SqlArgs,
}

/// Runs `flinkit graph`.
pub fn run(ctx: &Context<'_>, args: &GraphArgs) -> anyhow::Result<()> {
    let script = Script::from_inputs(&args.sql.inputs(ctx.matches))?;
    let graph = match Graph::build(&script) {
        Ok(graph) => graph,
        Err(err @ LineageError::Cycle { statement, .. }) => {
            let stmt = &script.statements[statement];
            let place = format!(
                "statement {statement} ({}:{}:{}) closes a loop",
                script.source_of(stmt).name(),
                stmt.line,
                stmt.column
            );
            return Err(anyhow::Error::from(err).context(place));
        }
        Err(err) => return Err(err.into()),
    };
    match ctx.format {
        Format::Json => output::print_json(&graph.to_json()),
        // `require_format` refuses html for graph before it runs.
        Format::Text | Format::Html => output::print(&graph.to_text()),
        Format::Dot => output::print(&graph.to_dot()),
        Format::Mermaid => output::print(&graph.to_mermaid()),
    }
}
