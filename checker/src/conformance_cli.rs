//! `hugepunch replay` and `hugepunch host`: the conformance harness's front end.

use clap::Args;
use conformance::aim::Padding;
use conformance::evidence::view;
use conformance::host;
use conformance::replay::Options;
use conformance::report::HostReport;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// How replays run.
#[derive(Args, Clone)]
pub struct ReplayOpts {
    /// Attempts at a trace whose kernel interleaving must be made to happen. The default is
    /// the fewest confirmed windows that bound a rate by 15% at 95% confidence (19).
    #[arg(long, default_value_t = conformance::evidence::confidence::default_attempts())]
    pub attempts: u32,
    /// Padding pages put in front of a raced page to widen the race window (with
    /// --window-us: at most this many).
    #[arg(long, default_value_t = conformance::aim::DEFAULT_PADDING)]
    pub padding: usize,
    /// Size the padding from the punch's speed, measured before the attempts, so that the
    /// window stays open about this long (at least 512 pages, at most --padding): a slow
    /// kernel or guest gets the same window in time.
    #[arg(long, value_name = "US")]
    pub window_us: Option<u64>,
    /// Use a hugetlbfs mount in a private mount namespace instead of memfd_create(MFD_HUGETLB).
    #[arg(long)]
    pub private_mount: bool,
    /// Raise the huge page pool as needed, and restore it afterwards.
    #[arg(long)]
    pub setup: bool,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    /// Also replay traces that predict a kernel deadlock. On a kernel with the bug the punch
    /// hangs unkillably until a reboot: use it in a guest.
    #[arg(long)]
    pub allow_hang: bool,
    /// Do not record the actors' kernel events (tracefs) nor check the pool's counters.
    #[arg(long)]
    pub no_kernel_events: bool,
    /// How long after the punch started a window touch goes in, in µs.
    #[arg(long, default_value_t = 30)]
    pub window_delay_us: u64,
    /// Keep the recordings' tracepoints enabled in the top-level tracefs instance (recording
    /// off) from the first replay on, until reboot, so that each attempt's recording patches
    /// no kernel text: for a guest (`hugepunch vm` passes it), not for a host you keep.
    #[arg(long)]
    pub hold_events: bool,
    /// Keep each attempt's recorded kernel events as text files in this directory.
    #[arg(long, value_name = "DIR")]
    pub keep_events: Option<PathBuf>,
    /// Print a line on stderr as each attempt starts (a guest's watchdog counts it as progress).
    #[arg(long)]
    pub progress: bool,
}

impl ReplayOpts {
    fn options(&self) -> Options {
        Options {
            attempts: self.attempts,
            padding: match self.window_us {
                Some(window_us) => Padding::Window {
                    window_us,
                    max: self.padding,
                },
                None => Padding::Pages(self.padding),
            },
            private_mount: self.private_mount,
            allow_hang: self.allow_hang,
            timeout: Duration::from_secs(2),
            kernel_events: !self.no_kernel_events,
            window_delay_us: self.window_delay_us,
            hold_events: self.hold_events,
            keep_events: self.keep_events.clone(),
            progress: self.progress,
        }
    }
}

#[derive(Args)]
pub struct ReplayArgs {
    /// Trace files.
    #[arg(required = true)]
    pub traces: Vec<PathBuf>,
    /// `summary`: a few lines per trace; `text`: also the kernel events observed beside the
    /// trace steps that predict them. `--json` overrides both.
    #[arg(long, value_enum, default_value_t = Format::Summary)]
    pub format: Format,
    #[command(flatten)]
    pub opts: ReplayOpts,
}

/// How `hugepunch replay` prints a report.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Summary,
    Text,
}

#[derive(Args)]
pub struct HostArgs {
    /// Only say what the host has and lacks, with the commands that fix it.
    #[arg(long)]
    pub check: bool,
    /// The trace corpus to replay.
    #[arg(long, default_value = "traces/corpus")]
    pub corpus: PathBuf,
    #[command(flatten)]
    pub opts: ReplayOpts,
}

fn fail(cmd: &str, e: &dyn std::fmt::Display) -> ExitCode {
    eprintln!("hugepunch {cmd}: {e}");
    ExitCode::from(2)
}

/// `hugepunch replay`: exit 0 when every trace was replayed (whatever its verdict), 2 on a bad
/// trace, a host that lacks what the replay needs, or a trace refused because it predicts a
/// deadlock (without `--allow-hang`), 1 if a replay itself failed.
pub fn replay(args: ReplayArgs) -> ExitCode {
    let opts = args.opts.options();
    let traces = match host::load_all(&args.traces) {
        Ok(t) => t,
        Err(e) => return fail("replay", &e),
    };
    let _pool = match host::pool_for(host::pages_for(&traces, &opts), args.opts.setup) {
        Ok(p) => p,
        Err(e) => return fail("replay", &e),
    };
    match host::conformance(&traces, &opts) {
        Ok(r) => {
            if args.opts.json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&r.traces).expect("serializes")
                );
            } else {
                for t in &r.traces {
                    let trace = traces.iter().find(|(p, _)| {
                        p.file_name()
                            .is_some_and(|f| f.to_string_lossy() == t.trace)
                    });
                    match (args.format, trace) {
                        (Format::Text, Some((_, trace))) => print!("{}", view::text(trace, t)),
                        _ => print!("{}", t.text()),
                    }
                }
            }
            // A trace that predicts a deadlock is refused without --allow-hang: exit 2.
            for why in &r.refused {
                eprintln!("hugepunch replay: {why}");
            }
            if r.refused.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(2)
            }
        }
        Err(e) => {
            eprintln!("hugepunch replay: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `hugepunch host`: check the host, or replay the corpus and print which variants it
/// conforms to. Exit 0 when done, 2 when the host lacks something (the message says what).
pub fn host_cmd(args: HostArgs) -> ExitCode {
    let opts = args.opts.options();
    let files = match host::corpus_files(&args.corpus) {
        Ok(f) => f,
        Err(e) => return fail("host", &e),
    };
    let traces = match host::load_all(&files) {
        Ok(t) => t,
        Err(e) => return fail("host", &e),
    };
    let needed = host::pages_for(&traces, &opts);
    if args.check {
        let (ok, lines) = host::check(needed);
        for l in lines {
            println!("{l}");
        }
        return if ok {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(2)
        };
    }
    let _pool = match host::pool_for(needed, args.opts.setup) {
        Ok(p) => p,
        Err(e) => return fail("host", &e),
    };
    match host::conformance(&traces, &opts) {
        Ok(r) => {
            print_host(&r, args.opts.json);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("hugepunch host: {e}");
            ExitCode::FAILURE
        }
    }
}

fn print_host(r: &HostReport, json: bool) {
    if json {
        println!("{}", serde_json::to_string_pretty(r).expect("serializes"));
    } else {
        print!("{}", r.text());
    }
}
