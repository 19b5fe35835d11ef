//! `hugepunch`: check the hugetlbfs punch/fault model, export and render its traces, and
//! replay them on this host.

mod cli;
mod progress;
mod report;
mod run;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match cli.command {
        cli::Command::Check(args) => cli::check(args),
    }
}
