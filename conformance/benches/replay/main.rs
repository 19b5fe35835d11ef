//! Replay benchmark: the bare cost of each kind of system call a replay makes on this host,
//! what replaying each corpus trace costs against those, and how often a race trace achieves
//! its kernel interleaving.
//!
//! `cargo bench -p conformance --bench replay` (root: it raises the huge page pool itself with
//! [`PoolReservation`] and puts it back at the end). Figures are printed as Markdown tables.
//!
//! Environment:
//! - `HP_BENCH_ATTEMPTS` (default 20): replays of each trace. Each is one call of
//!   [`replay`] with `attempts: 1`, so every attempt's race window is seen, not only the first
//!   achieved one.
//! - `HP_BENCH_TRACES`: only corpus files whose name contains this string.
//! - `HP_BENCH_BARE=0`: skip the bare costs (part 1).

mod actors;
mod bare;
mod breakdown;
mod corpus;
mod stats;
mod summary;

use conformance::host::{corpus_files, load_all, pages_for};
use conformance::replay::Options;
use conformance::sys::host::{userfaultfd_available, HugePool, PoolReservation};
use conformance::sys::require_free_huge_pages;
use stats::{env_u32, err, load_line, Res};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Huge pages the bare-cost measurements need at most at once (the 512-page punch, with room).
pub const BARE_PAGES: u64 = 600;

fn main() {
    if let Err(e) = run() {
        eprintln!("replay bench: {e}");
        std::process::exit(1);
    }
}

/// Sets the host up, then runs and prints the three parts.
fn run() -> Res<()> {
    let t_bench = Instant::now();
    let attempts = env_u32("HP_BENCH_ATTEMPTS", 20).max(1);
    let filter = std::env::var("HP_BENCH_TRACES").unwrap_or_default();
    let bare = std::env::var("HP_BENCH_BARE").map_or(true, |v| v != "0");

    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../traces/corpus");
    let files: Vec<PathBuf> = corpus_files(&corpus)
        .map_err(|e| e.to_string())?
        .into_iter()
        .filter(|p| p.to_string_lossy().contains(&filter))
        .collect();
    let traces = load_all(&files).map_err(|e| e.to_string())?;
    let opts = Options::default();
    let need = pages_for(&traces, &opts).max(BARE_PAGES);

    userfaultfd_available().map_err(|e| format!("no userfaultfd: {e}"))?;
    let _pool = match PoolReservation::ensure(need) {
        Ok(p) => p,
        Err(e) => {
            let msg = require_free_huge_pages(need)
                .err()
                .unwrap_or_else(|| e.to_string());
            return Err(format!("cannot get {need} free huge pages ({e}); {msg}"));
        }
    };
    let pool = HugePool::read().map_err(err("pool"))?;

    let uname = rustix::system::uname();
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|l| l.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_else(|| "?".into());
    let ncpu = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!("# hugepunch replay benchmark\n");
    println!(
        "host: Linux {}, {ncpu} CPUs, {cpu}; huge page pool: nr_hugepages={} (free {}) \
         for {need} needed, previous {} restored at exit",
        uname.release().to_string_lossy(),
        pool.nr_hugepages,
        pool.free,
        _pool.previous_nr_hugepages()
    );
    println!("load average at start: {}", load_line());
    println!(
        "replays per trace: {attempts} (HP_BENCH_ATTEMPTS), Options::default() otherwise \
         (padding {}, window delay {} us, timeout {:?})\n",
        opts.padding, opts.window_delay_us, opts.timeout
    );

    let bare_rows = if bare { bare::part1()? } else { Vec::new() };
    let runs = corpus::part2(&traces, attempts)?;
    let checks = breakdown::witness_time(&runs, &bare_rows)?;
    summary::part3(&runs, &checks, &bare_rows);
    println!(
        "\nload average at end: {}; bench took {:.0} s",
        load_line(),
        t_bench.elapsed().as_secs_f64()
    );
    Ok(())
}
