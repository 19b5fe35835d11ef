//! `hugepunch`: check the hugetlbfs punch/fault model, export and render its traces, and
//! replay them on this host.

use clap::Parser;
use std::process::ExitCode;

/// The model checker allocates and frees a few small blocks per generated state (Stateright's
/// actor state, the kernel's vectors): glibc's malloc and free took about a quarter of a run's
/// time (perf profile in docs/benchmarks.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    conformance::sys::process::default_sigpipe();
    checker::cli::main(checker::cli::Cli::parse())
}
