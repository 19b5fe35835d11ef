//! Command-line arguments and the commands' top level.

pub use crate::cfg_args::{CfgArgs, UffdArg};
use crate::progress::Progress;
use crate::report::{table, CheckJson};
use crate::run::{run, SearchOpts};
use clap::{Args, Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "hugepunch",
    version,
    about = "Model-check hugetlbfs hole punch against page faults"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Explore the model exhaustively and print each property's verdict per variant.
    Check(CheckArgs),
    /// Write the trace corpus: every counterexample and witness, as JSON.
    Traces(crate::corpus::TracesArgs),
    /// Render a trace as a sequence diagram (Mermaid, SVG or text).
    Render(crate::render::RenderArgs),
    /// Serve Stateright's Explorer over the model on localhost.
    Explore(crate::explore::ExploreArgs),
    /// Replay traces on this host and compare it with the model, step by step.
    Replay(crate::conformance_cli::ReplayArgs),
    /// Check this host, or replay the whole corpus and say which variants it conforms to.
    Host(crate::conformance_cli::HostArgs),
    /// Replay the corpus in a qemu guest running another kernel (a bzImage, a Debian kernel or
    /// a mutant).
    Vm(crate::vm_cli::VmArgs),
}

#[derive(Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub cfg: CfgArgs,
    /// Checker threads.
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// Depth-first search with symmetry reduction over mappers (default: breadth-first,
    /// which finds the shortest counterexamples).
    #[arg(long)]
    pub dfs: bool,
    /// With --dfs, do not reduce by symmetry.
    #[arg(long)]
    pub no_symmetry: bool,
    /// Print one JSON object instead of tables.
    #[arg(long)]
    pub json: bool,
}

/// Runs a parsed command line.
pub fn main(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Check(args) => check(args),
        Command::Traces(args) => crate::corpus::command(args),
        Command::Render(args) => crate::render::command(args),
        Command::Explore(args) => crate::explore::command(args),
        Command::Replay(args) => crate::conformance_cli::replay(args),
        Command::Host(args) => crate::conformance_cli::host_cmd(args),
        Command::Vm(args) => crate::vm_cli::command(args),
    }
}

/// `hugepunch check`: exit 0 when every verdict is the expected one, 1 when one is not,
/// 2 on bad arguments.
pub fn check(args: CheckArgs) -> ExitCode {
    let cfgs = match args.cfg.configs() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("hugepunch check: {e}");
            return ExitCode::from(2);
        }
    };
    let opts = SearchOpts {
        dfs: args.dfs,
        symmetry: !args.no_symmetry,
        threads: args.threads,
    };
    let progress = Progress::stderr(args.json);
    let mut reports = Vec::new();
    for cfg in &cfgs {
        let r = run(cfg, opts, &progress).report;
        if !args.json {
            println!("{}", table(&r));
        }
        reports.push(r);
    }
    if args.json {
        let out = CheckJson { variants: &reports };
        println!(
            "{}",
            serde_json::to_string_pretty(&out).expect("report serializes")
        );
    }
    let ok = reports.iter().all(|r| r.as_expected());
    if !args.json {
        println!(
            "{}",
            if ok {
                "every verdict is as expected"
            } else {
                "SOME VERDICTS DIFFER FROM THE EXPECTED ONES (marked <-)"
            }
        );
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
