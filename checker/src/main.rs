//! `hugepunch`: check the hugetlbfs punch/fault model, export and render its traces, and
//! replay them on this host.

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    conformance::sys::process::default_sigpipe();
    checker::cli::main(checker::cli::Cli::parse())
}
