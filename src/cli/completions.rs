//! `flinkit completions SHELL`: prints a completion script generated from the clap definition.

use clap::{Args, CommandFactory};
use clap_complete::Shell;

use super::{Cli, output};

/// Flags of `flinkit completions`.
#[derive(Args, Debug)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: Shell,
}

/// Runs `flinkit completions`.
pub fn run(args: &CompletionsArgs) -> anyhow::Result<()> {
    let mut buffer = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), "flinkit", &mut buffer);
    output::print(&String::from_utf8_lossy(&buffer))
}
