//! Command-line arguments and the commands' top level.

use crate::progress::Progress;
use crate::report::{table, CheckJson};
use crate::run::{run, SearchOpts};
use clap::{Args, Parser, Subcommand, ValueEnum};
use spec::{ModelCfg, UffdPolicy, Variant};
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
}

/// The model configuration, on top of `ModelCfg::default()`.
#[derive(Args, Clone)]
pub struct CfgArgs {
    /// Kernel variant, or `all`.
    #[arg(long, default_value = "all")]
    pub variant: String,
    /// Huge pages in the file.
    #[arg(long)]
    pub pages: Option<u8>,
    /// First page of the hole.
    #[arg(long)]
    pub hole_start: Option<u8>,
    /// One past the last page of the hole.
    #[arg(long)]
    pub hole_end: Option<u8>,
    /// Mapping processes (1 to 3).
    #[arg(long)]
    pub mappers: Option<u8>,
    /// Touches per mapper.
    #[arg(long)]
    pub touches: Option<u8>,
    /// Touches may write.
    #[arg(long)]
    pub writes: bool,
    /// Mappers touch only outside the hole.
    #[arg(long)]
    pub outside_hole: bool,
    /// userfaultfd policy.
    #[arg(long, value_enum)]
    pub uffd: Option<UffdArg>,
    /// Fault mutex table size (fewer than pages makes hash collisions).
    #[arg(long)]
    pub slots: Option<u8>,
    /// Do not allocate the hole again after the punch.
    #[arg(long)]
    pub no_reuse: bool,
    /// Migrator processes (0 or 1): `move_pages(2)` of the hole's first page in mapper 0.
    #[arg(long)]
    pub migrators: Option<u8>,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum UffdArg {
    None,
    Sigbus,
    Copy,
}

impl CfgArgs {
    /// The configurations selected, one per variant; an error names the bad argument.
    pub fn configs(&self) -> Result<Vec<ModelCfg>, String> {
        let variants = if self.variant == "all" {
            Variant::ALL.to_vec()
        } else {
            vec![self.variant.parse::<Variant>()?]
        };
        variants
            .into_iter()
            .map(|variant| {
                let d = ModelCfg::for_variant(variant);
                let cfg = ModelCfg {
                    pages: self.pages.unwrap_or(d.pages),
                    hole_start: self.hole_start.unwrap_or(d.hole_start),
                    hole_end: self.hole_end.unwrap_or(d.hole_end),
                    mappers: self.mappers.unwrap_or(d.mappers),
                    touches: self.touches.unwrap_or(d.touches),
                    writes: self.writes || d.writes,
                    touch_area: if self.outside_hole {
                        spec::TouchArea::OutsideHole
                    } else {
                        d.touch_area
                    },
                    uffd: match self.uffd {
                        None => d.uffd,
                        Some(UffdArg::None) => UffdPolicy::None,
                        Some(UffdArg::Sigbus) => UffdPolicy::Sigbus,
                        Some(UffdArg::Copy) => UffdPolicy::Copy,
                    },
                    fault_mutex_slots: self.slots.unwrap_or(d.fault_mutex_slots),
                    hole_reuse: d.hole_reuse && !self.no_reuse,
                    migrators: self.migrators.unwrap_or(d.migrators),
                    ..d
                };
                cfg.validate().map(|()| cfg)
            })
            .collect()
    }
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
