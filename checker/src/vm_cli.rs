//! `hugepunch vm`: replay the corpus in a qemu guest running another kernel.

use clap::{Args, ValueEnum};
use conformance::vm::qemu::Accel;
use conformance::vm::report::{markdown, VmReport};
use conformance::vm::{self, hitrate, kernels, VmError, VmOptions};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Clone, Copy, ValueEnum)]
pub enum AccelArg {
    /// KVM if a short probe boot works, else TCG.
    Auto,
    Kvm,
    Tcg,
}

/// What a run must show for `--expect` (CI's gate).
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Expect {
    /// No violation, oops or hang; no fixed-variant trace diverges.
    Clean,
    /// The kernel is caught: a violation observed, an oops/BUG, or a hang.
    Caught,
}

#[derive(Args)]
pub struct VmArgs {
    /// A bzImage, or a name from --list (debian-6.1, debian-6.12, debian-5.10, control-6.1,
    /// mutant-skip-mapped, mutant-no-reunmap).
    #[arg(long, required_unless_present_any = ["list", "matrix"])]
    pub kernel: Option<String>,
    /// Print the kernel names and which are cached.
    #[arg(long)]
    pub list: bool,
    /// Run several kernels and print a kernels x traces table.
    #[arg(long, num_args = 1..)]
    pub matrix: Vec<String>,
    /// With --matrix: the table in Markdown (docs/kernel-matrix.md).
    #[arg(long)]
    pub markdown: bool,
    /// Print JSON: `hugepunch host`'s object plus "guest" and "summary".
    #[arg(long)]
    pub json: bool,
    /// Attempts at each race trace.
    #[arg(long, default_value_t = 5)]
    pub attempts: u32,
    /// Keep the initramfs and the console log under target/vm/.
    #[arg(long)]
    pub keep: bool,
    /// The trace corpus.
    #[arg(long, default_value = "traces/corpus")]
    pub corpus: PathBuf,
    /// A replay making no progress for this long is a hang.
    #[arg(long, default_value_t = 120)]
    pub hang_secs: u64,
    #[arg(long, value_enum, default_value = "auto")]
    pub accel: AccelArg,
    /// Where kernels and guest files go.
    #[arg(long, default_value = "target")]
    pub work_dir: PathBuf,
    /// Do not copy the guest's console to stderr.
    #[arg(long)]
    pub quiet: bool,
    /// NUMA nodes of the guest, 1 or 2 (one vCPU each, the whole pool on each). Default: 2 when
    /// the corpus has a trace with a migrator (move_pages needs a node to move the page to),
    /// else 1. With 1, migrator traces are refused.
    #[arg(long, value_parser = clap::value_parser!(u8).range(1..=2))]
    pub numa: Option<u8>,
    /// Exit 1 unless the run shows this.
    #[arg(long, value_enum)]
    pub expect: Option<Expect>,
    /// The guests' `hugepunch replay --window-delay-us` (default: the replay's own, 30).
    #[arg(long)]
    pub window_delay_us: Option<u64>,
    /// The guests' race window in time: each guest sizes a raced page's padding from its own
    /// measured punch speed so the window stays open this long (`hugepunch replay
    /// --window-us`; at most 2048 pages, 1024 with two NUMA nodes). 0: the fixed 512 pages.
    #[arg(long, value_name = "US", default_value_t = 4000)]
    pub window_us: u64,
    /// Benchmark: print each race trace's window hit rate (timing, kernel-confirmed,
    /// achieved) with the host's load average before and after, as Markdown.
    #[arg(long)]
    pub bench: bool,
}

/// Exit 0 with a report, 2 on bad input (a kernel that is not a bzImage, no qemu, a failed
/// download or build), 1 when the guest could not be run or `--expect` is not met.
pub fn command(args: VmArgs) -> ExitCode {
    if args.list {
        for l in kernels::list(&args.work_dir) {
            println!("{l}");
        }
        return ExitCode::SUCCESS;
    }
    let o = VmOptions {
        work: args.work_dir.clone(),
        corpus: args.corpus.clone(),
        attempts: args.attempts,
        hang_secs: args.hang_secs,
        accel: match args.accel {
            AccelArg::Auto => None,
            AccelArg::Kvm => Some(Accel::Kvm),
            AccelArg::Tcg => Some(Accel::Tcg),
        },
        keep: args.keep,
        stream: !args.quiet,
        numa_nodes: args.numa,
        window_delay_us: args.window_delay_us,
        window_us: (args.window_us > 0).then_some(args.window_us),
    };
    let kernels: Vec<String> = if args.matrix.is_empty() {
        args.kernel.iter().cloned().collect()
    } else {
        args.matrix.clone()
    };
    let mut reports = Vec::new();
    let mut loads = Vec::new();
    for k in &kernels {
        let before = hitrate::load_average();
        let run = vm::run(k, &o);
        loads.push((before, hitrate::load_average()));
        match run {
            Ok(r) => reports.push(r),
            Err(VmError::Input(e)) => {
                eprintln!("hugepunch vm: {e}");
                return ExitCode::from(2);
            }
            Err(VmError::Guest(e)) => {
                eprintln!("hugepunch vm: {k}: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    if args.bench {
        let padding = if args.window_us > 0 {
            format!("padding for a {} µs window", args.window_us)
        } else {
            format!("{} padding pages", conformance::aim::DEFAULT_PADDING)
        };
        let window = format!(
            "window delay {} µs, {padding}",
            args.window_delay_us
                .unwrap_or(conformance::replay::Options::default().window_delay_us)
        );
        for (r, (before, after)) in reports.iter().zip(&loads) {
            print!("{}", hitrate::table(r, (before, after), &window));
        }
    } else {
        print(&args, &reports);
    }
    let unmet: Vec<&VmReport> = reports
        .iter()
        .filter(|r| match args.expect {
            None => false,
            Some(Expect::Caught) => !r.summary.caught(),
            Some(Expect::Clean) => !r.clean(),
        })
        .collect();
    for r in &unmet {
        eprintln!(
            "hugepunch vm: {}: expected {} but the report says otherwise",
            r.guest.kernel_name,
            if args.expect == Some(Expect::Caught) {
                "the kernel to be caught (a violation observed, an oops or a hang)"
            } else {
                "a clean kernel (no violation, oops or hang; no buggy variant conformed to; every trace \
                 replayed)"
            }
        );
        for l in r.why() {
            eprintln!("hugepunch vm: {}: {l}", r.guest.kernel_name);
        }
    }
    if unmet.is_empty() {
        ExitCode::SUCCESS
    } else if unmet.iter().all(|r| r.only_frozen()) {
        eprintln!(
            "hugepunch vm: the guest froze (no console output, no answer to sysrq) and nothing \
             else is wrong: the traces it did not finish are unknown (exit 4)"
        );
        ExitCode::from(4)
    } else {
        ExitCode::FAILURE
    }
}

fn print(args: &VmArgs, reports: &[VmReport]) {
    if args.markdown {
        let mut cmd = format!(
            "hugepunch vm --matrix {} --markdown --attempts {}",
            args.matrix.join(" "),
            args.attempts
        );
        if args.corpus != std::path::Path::new("traces/corpus") {
            cmd.push_str(&format!(" --corpus {}", args.corpus.display()));
        }
        print!("{}", markdown(&cmd, reports));
    } else if args.json {
        let v = if reports.len() == 1 {
            serde_json::to_string_pretty(&reports[0])
        } else {
            serde_json::to_string_pretty(reports)
        };
        println!("{}", v.expect("serializes"));
    } else {
        for r in reports {
            print!("{}", r.text());
        }
    }
}
