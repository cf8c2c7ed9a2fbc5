//! The `flinkit` binary: parses flags, runs one subcommand, maps failures to exit codes.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
