//! Model-checking benchmark: `cargo bench -p checker --bench model` (DESIGN.md section 7).
//!
//! Prints Markdown tables:
//! 1. every variant at its default configuration, searched five ways: BFS 1 thread, BFS
//!    2 threads, DFS 1 thread, DFS + symmetry 1 thread, DFS + symmetry 2 threads;
//! 2. the cost of the `no_deadlock` property (it calls `actions` and `next_state` on every
//!    state): each variant checked with every property, and with every property but that one;
//! 3. how the search grows with pages (2, 3, 4; hole of 1 and 2 pages) and with mappers (1, 2,
//!    3) and touches (1, 2), for v4_5 and v6_1, DFS 1 thread with and without symmetry.
//!
//! Each figure is the fastest of 3 runs when the first run took under a second, else of 1 run.
//! Times cover spawning the checker to joining it; they do not include building the model.
//! The checker is driven through the Stateright builder directly, not `checker::run::run`,
//! because that polls for completion every 20 ms, which is too coarse for sub-second runs.
//!
//! By default the run takes about a minute and a half on a 2-core machine and leaves out 3
//! mappers; `--full` (or `HUGEPUNCH_BENCH=full`) adds them, about three and a half minutes.
//! Either way a growth point is skipped when its estimated time (extrapolated from the smaller
//! points measured before it) exceeds 60 s, or when a smaller point did not finish; every run
//! is also stopped at 60 s and then reported as incomplete. Skips and stops say why.
//!
//! `-- --versus OLD_HUGEPUNCH` instead compares an older `hugepunch` binary with this one
//! (see `versus.rs`).

mod versus;

use spec::properties::HugeModel;
use spec::{ModelCfg, Variant};
use stateright::actor::{ActorModel, Network};
use stateright::{Checker, CheckerBuilder, Model};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// No single run may take longer than this; growth points estimated above it are skipped.
const LIMIT: Duration = Duration::from_secs(60);
/// Growth is not extrapolated from runs shorter than this.
const MIN_BASE: f64 = 0.05;
/// Runs shorter than this are repeated and the fastest kept.
const REPEAT_BELOW: f64 = 1.0;
const REPEATS: usize = 3;

#[derive(Clone, Copy, PartialEq)]
enum Search {
    Bfs,
    Dfs,
}

#[derive(Clone, Copy)]
struct Mode {
    search: Search,
    symmetry: bool,
    threads: usize,
}

impl Mode {
    const BFS1: Mode = Mode::new(Search::Bfs, false, 1);
    const BFS2: Mode = Mode::new(Search::Bfs, false, 2);
    const DFS1: Mode = Mode::new(Search::Dfs, false, 1);
    const SYM1: Mode = Mode::new(Search::Dfs, true, 1);
    const SYM2: Mode = Mode::new(Search::Dfs, true, 2);
    const DFS2: Mode = Mode::new(Search::Dfs, false, 2);

    const fn new(search: Search, symmetry: bool, threads: usize) -> Mode {
        Mode {
            search,
            symmetry,
            threads,
        }
    }

    fn name(self) -> String {
        let search = match (self.search, self.symmetry) {
            (Search::Bfs, _) => "BFS",
            (Search::Dfs, false) => "DFS",
            (Search::Dfs, true) => "DFS+symmetry",
        };
        format!("{search}, {} thread{}", self.threads, plural(self.threads))
    }
}

/// One measurement: the fastest of `runs` runs.
#[derive(Clone, Copy)]
struct Measure {
    states: usize,
    unique: usize,
    depth: usize,
    seconds: f64,
    runs: usize,
    /// The search finished (was not stopped at [`LIMIT`]).
    complete: bool,
    /// Repeated runs found different unique state counts (multi-threaded searches).
    unique_varied: bool,
}

impl Measure {
    fn rate(&self) -> f64 {
        self.states as f64 / self.seconds.max(1e-9)
    }
}

/// The model of `cfg`, with every property or with every property but `no_deadlock`.
fn model(cfg: &ModelCfg, with_no_deadlock: bool) -> HugeModel {
    if with_no_deadlock {
        return cfg.clone().into_model();
    }
    // As `ModelCfg::into_model` builds it, minus one property. `no_deadlock_cost` checks
    // that both explore the same states.
    cfg.validate().expect("benchmark configurations are valid");
    let mut model = ActorModel::new(cfg.clone(), ())
        .actors(spec::node::nodes(cfg))
        .init_network(Network::new_unordered_nonduplicating([]));
    for p in spec::properties::properties::<HugeModel>()
        .into_iter()
        .filter(|p| p.name != spec::properties::by_id("no_deadlock").unwrap().sentence)
    {
        model = model.property(p.expectation, p.name, p.condition);
    }
    model
}

/// One run, stopped at [`LIMIT`].
fn run_once(cfg: &ModelCfg, mode: Mode, with_no_deadlock: bool) -> Measure {
    let mut builder: CheckerBuilder<HugeModel> = model(cfg, with_no_deadlock)
        .checker()
        .threads(mode.threads)
        .timeout(LIMIT);
    if mode.symmetry {
        builder = builder.symmetry_fn(spec::symmetry::representative);
    }
    let start = Instant::now();
    let (states, unique, depth) = match mode.search {
        Search::Bfs => counts(builder.spawn_bfs().join()),
        Search::Dfs => counts(builder.spawn_dfs().join()),
    };
    let elapsed = start.elapsed();
    Measure {
        states,
        unique,
        depth,
        seconds: elapsed.as_secs_f64(),
        runs: 1,
        // A search stopped by the timeout returns at the deadline; one that finished
        // returned before it.
        complete: elapsed < LIMIT,
        unique_varied: false,
    }
}

fn counts(c: impl Checker<HugeModel>) -> (usize, usize, usize) {
    (c.state_count(), c.unique_state_count(), c.max_depth())
}

/// The fastest of 3 runs if the first takes under a second, else the first.
fn measure(cfg: &ModelCfg, mode: Mode, with_no_deadlock: bool) -> Measure {
    let mut best = run_once(cfg, mode, with_no_deadlock);
    if best.seconds < REPEAT_BELOW {
        for _ in 1..REPEATS {
            best = faster(best, run_once(cfg, mode, with_no_deadlock));
        }
    }
    best
}

/// With and without `no_deadlock`, run alternately so that a change in load hits both.
fn measure_pair(cfg: &ModelCfg, mode: Mode) -> (Measure, Measure) {
    let mut with = run_once(cfg, mode, true);
    let mut without = run_once(cfg, mode, false);
    if with.seconds.max(without.seconds) < REPEAT_BELOW {
        for _ in 1..REPEATS {
            with = faster(with, run_once(cfg, mode, true));
            without = faster(without, run_once(cfg, mode, false));
        }
    }
    (with, without)
}

/// Folds one more run into the best so far.
fn faster(best: Measure, m: Measure) -> Measure {
    let varied = best.unique_varied || m.unique != best.unique;
    let mut out = if m.seconds < best.seconds { m } else { best };
    out.runs = best.runs + 1;
    out.unique_varied = varied;
    out
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// `1234567` as `1,234,567`.
fn thousands(n: usize) -> String {
    checker::progress::thousands(n as u64)
}

fn runs(m: &Measure) -> String {
    let mut s = if m.runs == 1 {
        "1".to_string()
    } else {
        format!("best of {}", m.runs)
    };
    if m.unique_varied {
        s.push_str(", unique varied");
    }
    s
}

fn seconds(m: &Measure) -> String {
    if m.complete {
        format!("{:.3}", m.seconds)
    } else {
        format!("> {} (stopped)", LIMIT.as_secs())
    }
}

/// A count, marked as a lower bound when the search was stopped.
fn count(m: &Measure, n: usize) -> String {
    if m.complete {
        thousands(n)
    } else {
        format!(">= {}", thousands(n))
    }
}

/// The cells shared by every table: states, unique, max depth, s, states/s, runs.
fn cells(m: &Measure) -> String {
    format!(
        "{} | {} | {} | {} | {:.0} | {}",
        count(m, m.states),
        count(m, m.unique),
        m.depth,
        seconds(m),
        m.rate(),
        runs(m)
    )
}

fn file(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

fn load() -> String {
    let l = file("/proc/loadavg");
    l.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
}

fn machine() {
    let cpu = file("/proc/cpuinfo")
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|| "unknown".to_string());
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!(
        "machine: {cpus} CPUs, {cpu}, Linux {}; load average (1, 5, 15 min) at start: {}",
        file("/proc/sys/kernel/osrelease").trim(),
        load()
    );
    if cfg!(debug_assertions) {
        println!("WARNING: debug build; run with `cargo bench` for release figures");
    }
}

/// Part 1: every variant at its default configuration, five ways.
fn variants() {
    println!("\n## Every variant at the default configuration\n");
    let d = ModelCfg::default();
    println!(
        "Default: {} pages, hole [{}, {}), {} mappers x {} touch, uffd {:?}, {} fault mutex slots, hole reuse {}.\n",
        d.pages, d.hole_start, d.hole_end, d.mappers, d.touches, d.uffd, d.fault_mutex_slots, d.hole_reuse
    );
    println!("| variant | search | states | unique | max depth | s | states/s | runs |");
    println!("|---|---|--:|--:|--:|--:|--:|---|");
    for v in Variant::ALL {
        let cfg = ModelCfg::for_variant(v);
        for mode in [Mode::BFS1, Mode::BFS2, Mode::DFS1, Mode::SYM1, Mode::SYM2] {
            let m = measure(&cfg, mode, true);
            println!("| {v} | {} | {} |", mode.name(), cells(&m));
        }
    }
}

/// Part 1b: every variant with one migrator (no symmetry reduction: the migrator acts on
/// mapper 0), against the target of 5 s on 2 cores.
fn migrators() {
    println!("\n## Every variant with one migrator (default configuration otherwise)\n");
    println!("| variant | search | states | unique | max depth | s | states/s | runs |");
    println!("|---|---|--:|--:|--:|--:|--:|---|");
    for v in Variant::ALL {
        let cfg = ModelCfg {
            migrators: 1,
            ..ModelCfg::for_variant(v)
        };
        for mode in [Mode::BFS1, Mode::BFS2, Mode::DFS1, Mode::DFS2] {
            let m = measure(&cfg, mode, true);
            println!("| {v} | {} | {} |", mode.name(), cells(&m));
        }
    }
}

/// Part 2: what the `no_deadlock` property costs.
fn no_deadlock_cost() {
    println!("\n## Cost of the no_deadlock property (default configuration)\n");
    println!("| variant | search | unique | s, all properties | s, without no_deadlock | no_deadlock costs | runs |");
    println!("|---|---|--:|--:|--:|--:|---|");
    for v in Variant::ALL {
        let cfg = ModelCfg::for_variant(v);
        for mode in [Mode::DFS1, Mode::SYM1] {
            let (with, without) = measure_pair(&cfg, mode);
            assert_eq!(
                (with.states, with.unique),
                (without.states, without.unique),
                "{v}: the model without no_deadlock must explore the same states as into_model"
            );
            let cost = with.seconds - without.seconds;
            println!(
                "| {v} | {} | {} | {:.3} | {:.3} | {:.3} s ({:.0}%) | {} / {} |",
                mode.name(),
                thousands(with.unique),
                with.seconds,
                without.seconds,
                cost,
                100.0 * cost / with.seconds,
                runs(&with),
                runs(&without)
            );
        }
    }
}

/// A growth grid: points `(a, b)` with `a` the main axis (pages or mappers) and `b` the second
/// one (hole length or touches).
struct Grid {
    title: &'static str,
    a_name: &'static str,
    b_name: &'static str,
    a_values: [u8; 3],
    b_values: [u8; 2],
    cfg: fn(Variant, u8, u8) -> ModelCfg,
    /// Points left out unless `--full`.
    large: fn(u8, u8) -> bool,
}

enum Outcome {
    Measured(Measure),
    Skipped(String),
}

/// Extrapolates the time of `(a, b)` from points already measured: the product rule
/// `T(a-1,b) T(a,b-1) / T(a-1,b-1)` when those three exist, else geometric growth along the
/// main axis, `T(a-1,b)^2 / T(a-2,b)`; neither when its divisor is under [`MIN_BASE`] (too
/// noisy to extrapolate from). No estimate (0) means run it. `Err` says a smaller point did
/// not finish or was skipped.
fn estimate(done: &BTreeMap<(usize, usize), Outcome>, a: usize, b: usize) -> Result<f64, String> {
    for (&(i, j), o) in done {
        if i <= a && j <= b {
            match o {
                Outcome::Measured(m) if !m.complete => {
                    return Err(format!(
                        "a smaller point did not finish in {} s",
                        LIMIT.as_secs()
                    ))
                }
                Outcome::Skipped(_) => return Err("a smaller point was skipped".to_string()),
                Outcome::Measured(_) => {}
            }
        }
    }
    let t = |i: usize, j: usize| match done.get(&(i, j)) {
        Some(Outcome::Measured(m)) => Some(m.seconds),
        _ => None,
    };
    let prev = |i: Option<usize>| i.filter(|&i| i > 0).map(|i| i - 1);
    let (a1, a2, b1) = (prev(Some(a)), prev(prev(Some(a))), prev(Some(b)));
    let product = a1.zip(b1).and_then(|(a1, b1)| {
        let base = t(a1, b1)?;
        (base >= MIN_BASE).then_some(t(a1, b)? * t(a, b1)? / base)
    });
    let along_a = a1.zip(a2).and_then(|(a1, a2)| {
        let base = t(a2, b)?;
        (base >= MIN_BASE).then_some(t(a1, b)?.powi(2) / base)
    });
    Ok(product.or(along_a).unwrap_or(0.0))
}

fn growth(grid: &Grid, full: bool) {
    println!("\n## Growth with {}\n", grid.title);
    println!(
        "| variant | {} | {} | search | states | unique | x default | max depth | s | states/s | runs |",
        grid.a_name, grid.b_name
    );
    println!("|---|--:|--:|---|--:|--:|--:|--:|--:|--:|---|");
    for v in [Variant::V4_5, Variant::V6_1] {
        for mode in [Mode::SYM1, Mode::DFS1] {
            let mut done: BTreeMap<(usize, usize), Outcome> = BTreeMap::new();
            let mut default_unique = None;
            for (i, &a) in grid.a_values.iter().enumerate() {
                for (j, &b) in grid.b_values.iter().enumerate() {
                    let cfg = (grid.cfg)(v, a, b);
                    let outcome = if (grid.large)(a, b) && !full {
                        Outcome::Skipped("large; run with `--full`".to_string())
                    } else {
                        match estimate(&done, i, j) {
                            Err(why) => Outcome::Skipped(why),
                            Ok(est) if est > LIMIT.as_secs_f64() => {
                                Outcome::Skipped(format!("estimated {est:.0} s"))
                            }
                            Ok(_) => Outcome::Measured(measure(&cfg, mode, true)),
                        }
                    };
                    if let Outcome::Measured(m) = &outcome {
                        if cfg == ModelCfg::for_variant(v) {
                            default_unique = Some(m.unique);
                        }
                    }
                    done.insert((i, j), outcome);
                }
            }
            for ((i, j), outcome) in &done {
                let (a, b) = (grid.a_values[*i], grid.b_values[*j]);
                let lead = format!("| {v} | {a} | {b} | {}", mode.name());
                match outcome {
                    Outcome::Measured(m) => {
                        let ratio = default_unique
                            .map(|d| format!("{:.2}", m.unique as f64 / d as f64))
                            .unwrap_or_default();
                        let ratio = if m.complete {
                            ratio
                        } else {
                            format!(">= {ratio}")
                        };
                        println!(
                            "{lead} | {} | {} | {ratio} | {} | {} | {:.0} | {} |",
                            count(m, m.states),
                            count(m, m.unique),
                            m.depth,
                            seconds(m),
                            m.rate(),
                            runs(m)
                        );
                    }
                    Outcome::Skipped(why) => println!("{lead} | skipped: {why} | | | | | | |"),
                }
            }
        }
    }
}

fn main() {
    // `cargo bench` passes `--bench`; other arguments are ignored.
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--versus") {
        let old = args.get(i + 1).expect("--versus OLD_HUGEPUNCH");
        println!("# hugepunch model-checking benchmark: old build against new\n");
        machine();
        versus::versus(old);
        println!("\nload average: {}", load());
        versus::reduced();
        println!("\nload average at end: {}", load());
        return;
    }
    let full = std::env::args().any(|a| a == "--full")
        || std::env::var("HUGEPUNCH_BENCH").is_ok_and(|v| v == "full");
    let start = Instant::now();
    println!("# hugepunch model-checking benchmark\n");
    machine();
    println!(
        "mode: {}; each figure is the fastest of {REPEATS} runs when the first took under {REPEAT_BELOW} s, \
         else of 1 run; every run is stopped at {} s",
        if full { "full" } else { "default (no 3-mapper points; `--full` adds them)" },
        LIMIT.as_secs()
    );
    variants();
    migrators();
    no_deadlock_cost();
    growth(
        &Grid {
            title: "pages (default config otherwise: 2 mappers x 1 touch, 2 fault mutex slots; hole starts at page 0)",
            a_name: "pages",
            b_name: "hole pages",
            a_values: [2, 3, 4],
            b_values: [1, 2],
            cfg: |variant, pages, hole| ModelCfg {
                pages,
                hole_start: 0,
                hole_end: hole,
                ..ModelCfg::for_variant(variant)
            },
            large: |_, _| false,
        },
        full,
    );
    growth(
        &Grid {
            title: "mappers and touches (default config otherwise: 2 pages, hole [0, 1))",
            a_name: "mappers",
            b_name: "touches",
            a_values: [1, 2, 3],
            b_values: [1, 2],
            cfg: |variant, mappers, touches| ModelCfg {
                mappers,
                touches,
                ..ModelCfg::for_variant(variant)
            },
            large: |mappers, _| mappers >= 3,
        },
        full,
    );
    println!(
        "\ntotal {:.0} s; load average at end: {}",
        start.elapsed().as_secs_f64(),
        load()
    );
}
