//! Command-line arguments and the commands' top level.

pub use crate::cfg_args::{CfgArgs, UffdArg};
use crate::progress::Progress;
use crate::report::table;
use crate::run::{run, SearchOpts};
use clap::{Args, Parser, Subcommand};
use std::process::ExitCode;
use std::time::Duration;

/// `hugepunch check`'s exit code when a bound stopped a search and every decided verdict is
/// the expected one.
pub const EXIT_INCOMPLETE: u8 = 3;

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
    /// Partial-order reduction: take a thread's step ahead of the others' where none can tell
    /// (a process step, a system call entry, an uncontended lock acquisition): same verdicts
    /// and reachable abstract states, far fewer states, counterexamples valid but not the
    /// shortest. See spec/src/engine/por.rs.
    #[arg(long)]
    pub por: bool,
    /// Print one JSON object instead of tables.
    #[arg(long)]
    pub json: bool,
    /// Print progress on stderr (states, unique states, depth, states/s, memory, elapsed)
    /// even when stderr is not a terminal, and with --json. On a terminal it is on anyway
    /// (without --json).
    #[arg(long)]
    pub progress: bool,
    /// Stop each search after it has generated this many states (duplicates included). An
    /// undecided property is then reported "incomplete", never "holds" or "unreachable".
    #[arg(long, value_name = "N")]
    pub max_states: Option<usize>,
    /// Stop each search after this many seconds (fractions allowed), with the same
    /// "incomplete" verdicts as --max-states.
    #[arg(long, value_name = "S", value_parser = parse_seconds)]
    pub max_seconds: Option<Duration>,
}

fn parse_seconds(s: &str) -> Result<Duration, String> {
    let v: f64 = s.parse().map_err(|e| format!("'{s}': {e}"))?;
    Duration::try_from_secs_f64(v)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| format!("'{s}' is not a positive number of seconds"))
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

/// `hugepunch check`: exit 0 when every search ran to its end and every verdict is the
/// expected one, 1 when a verdict is not the expected one, 2 on bad arguments, 3
/// ([`EXIT_INCOMPLETE`]) when `--max-states` or `--max-seconds` stopped a search and every
/// verdict it did decide is the expected one.
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
        por: args.por,
        threads: args.threads,
        max_states: args.max_states,
        max_time: args.max_seconds,
    };
    let progress = Progress::stderr(args.json, args.progress);
    let mut reports = Vec::new();
    for cfg in &cfgs {
        let r = run(cfg, opts, &progress).report;
        if !args.json {
            println!("{}", table(&r));
        }
        reports.push(r);
    }
    if args.json {
        let out = crate::report::CheckJson::new(&reports);
        println!(
            "{}",
            serde_json::to_string_pretty(&out).expect("report serializes")
        );
    }
    let wrong = !reports.iter().all(|r| r.decided_as_expected());
    let incomplete = reports.iter().any(|r| r.incomplete());
    if !args.json {
        println!(
            "{}",
            match (wrong, incomplete) {
                (true, _) => "SOME VERDICTS DIFFER FROM THE EXPECTED ONES (marked <-)",
                (false, true) => {
                    "INCOMPLETE: a bound stopped the search; every verdict it decided is as expected"
                }
                (false, false) => "every verdict is as expected",
            }
        );
    }
    match (wrong, incomplete) {
        (true, _) => ExitCode::FAILURE,
        (false, true) => ExitCode::from(EXIT_INCOMPLETE),
        (false, false) => ExitCode::SUCCESS,
    }
}
