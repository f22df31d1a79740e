//! `graph-comms completions SHELL`.

use std::process::ExitCode;

/// Arguments of `graph-comms completions`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  graph-comms completions bash > /etc/bash_completion.d/graph-comms
  graph-comms completions zsh > \"${fpath[1]}/_graph-comms\"")]
pub(crate) struct Args {
    /// The shell to generate completions for.
    shell: clap_complete::Shell,
}

/// Prints completions for the chosen shell on stdout.
pub(crate) fn run<C: clap::CommandFactory>(args: Args) -> ExitCode {
    let mut cmd = C::command();
    clap_complete::generate(args.shell, &mut cmd, "graph-comms", &mut std::io::stdout());
    ExitCode::SUCCESS
}
