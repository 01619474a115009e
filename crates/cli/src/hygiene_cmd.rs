//! `govmesh hygiene`: the command-line face of crates/hygiene.

use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum HygieneCommand {
    /// Check a repository against the clause 5.2.5 rules.
    Check {
        /// The repository to check.
        #[arg(default_value = ".")]
        path: std::path::PathBuf,
    },
}

/// Runs a hygiene command; returns the process exit code.
pub fn run(cmd: HygieneCommand) -> anyhow::Result<i32> {
    match cmd {
        HygieneCommand::Check { path } => {
            anyhow::bail!("hygiene check of {} is not built yet", path.display())
        }
    }
}
