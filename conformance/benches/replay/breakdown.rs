//! Part 2, continued: where a witness replay's time goes, against the bare costs.

use crate::actors::{prealloc, startup, Prealloc};
use crate::bare::BareRow;
use crate::corpus::TraceRun;
use crate::stats::{f, Res, Stats};
use conformance::layout::Layout;
use std::collections::btree_map::Entry;
use std::collections::BTreeMap;
use traces::Kind;

/// One witness replay against its bound.
pub struct Check {
    pub name: String,
    pub ok: bool,
    pub replay: f64,
    pub bound: f64,
    pub startup: f64,
    pub prealloc: f64,
    pub observe: f64,
    pub remainder: f64,
    pub syscall: f64,
    pub acts: usize,
}

/// Measures start-up and pre-allocation apart and prints where each witness replay's time
/// goes; returns each witness's check against `3 x syscalls + start-up`.
pub fn witness_time(runs: &[TraceRun], bare_rows: &[BareRow]) -> Res<Vec<Check>> {
    eprintln!("breakdown: start-up and pre-allocation...");
    let mut starts: BTreeMap<u8, Stats> = BTreeMap::new();
    // (trace pages, padding) -> the manager's pre-allocation of that layout.
    let mut preallocs: BTreeMap<(u8, usize), Prealloc> = BTreeMap::new();
    for r in runs.iter().filter(|r| r.trace.meta.kind == Kind::Witness) {
        let m = r.trace.meta.config.mappers;
        if let Entry::Vacant(e) = starts.entry(m) {
            e.insert(startup(m, 30)?);
        }
        if !r.has_prealloc {
            continue;
        }
        let pages = r.layout.pages;
        if let Entry::Vacant(e) = preallocs.entry((pages, 0)) {
            e.insert(prealloc(&Layout::new(pages, None, 0), 30)?);
        }
        if let Entry::Vacant(e) = preallocs.entry((pages, r.layout.pad)) {
            e.insert(prealloc(&r.layout, 15)?);
        }
    }
    // One observation of the host, estimated from the bare costs: fstat, a pread per trace
    // page, a pagemap read of each mapper's whole mapping (linear between 2 and 514 pages).
    let bare_med = |prefix: &str| {
        bare_rows
            .iter()
            .find(|r| r.what.starts_with(prefix))
            .map(|r| r.stats.median)
    };
    let observe_cost = |r: &TraceRun| -> Option<f64> {
        let (fstat, pread) = (bare_med("fstat")?, bare_med("pread")?);
        let (pm2, pm514) = (bare_med("pagemap of a 2-")?, bare_med("pagemap of a 514")?);
        let n = r.layout.host_pages() as f64;
        let pagemap = pm2 + (n - 2.0) * (pm514 - pm2) / 512.0;
        let one = fstat
            + r.trace.meta.config.pages as f64 * pread
            + r.trace.meta.config.mappers as f64 * pagemap;
        Some(r.observes as f64 * one)
    };
    println!("\n### Where a witness replay's time goes (medians, us)\n");
    println!(
        "- syscall_us, and in it the pre-allocation: the manager's `Prealloc` of the trace \
         pages, and of the padding (full layout minus trace pages only), as the manager times \
         it, measured apart (30 / 15 reps); in brackets the padding's `fallocate` (zeroing) + \
         marker writes, re-done in the bench process;\n\
         - outside syscalls: median over the replays of replay_us - syscall_us (concurrent \
         calls both count in syscall_us, and a touch blocked in uffd counts its wait);\n\
         - in it, start-up: memfd + shared words + fork of the manager and the mappers \
         as `Attempt::run` does it (`actors::Cast::start`), measured apart (30 reps);\n\
         - in it, observations: the host comparisons (fstat, a pread per trace page, a pagemap \
         read per mapper and trace page), estimated from part 1;\n\
         - remainder: outside syscalls - start-up - observations: driver round trips over \
         the sockets, thread wake-ups in the actors, first-touch costs in fresh processes;\n\
         - check: replay_us <= 3 x syscall_us + start-up.\n"
    );
    println!(
        "| trace | mappers | host pages | acts (observes) | replay_us | syscall_us | prealloc \
         trace pages | prealloc padding (fallocate + markers) | outside syscalls | start-up | \
         observations | remainder | remainder per act | 3 x syscall + start-up | ok |"
    );
    println!("|---|---:|---:|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---|");
    let mut checks = Vec::new();
    for r in runs.iter().filter(|r| r.trace.meta.kind == Kind::Witness) {
        let replay_med = Stats::median_of(&r.replay_us());
        let sys_med = Stats::median_of(&r.syscall_us());
        let outside = Stats::median_of(
            &r.reports
                .iter()
                .map(|x| x.replay_us - x.syscall_us)
                .collect::<Vec<_>>(),
        );
        let st = starts[&r.trace.meta.config.mappers].median;
        let pages = r.layout.pages;
        let trace_only = preallocs.get(&(pages, 0)).filter(|_| r.has_prealloc);
        let full = preallocs
            .get(&(pages, r.layout.pad))
            .filter(|_| r.has_prealloc && r.layout.pad > 0);
        let pre_trace = trace_only.map_or(0.0, |p| p.manager.median);
        let (pre_pad, pad_split) = match (trace_only, full) {
            (Some(t), Some(fl)) => {
                let pad = fl.manager.median - t.manager.median;
                let split = format!(
                    "{} ({} + {})",
                    f(pad),
                    f(fl.fallocate.median - t.fallocate.median),
                    f(fl.markers.median - t.markers.median)
                );
                (pad, split)
            }
            _ => (0.0, "-".into()),
        };
        let observe = observe_cost(r);
        let remainder = outside - st - observe.unwrap_or(0.0);
        let bound = 3.0 * sys_med + st;
        let ok = replay_med <= bound;
        println!(
            "| {} | {} | {} | {} ({}) | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            r.name,
            r.trace.meta.config.mappers,
            r.layout.host_pages(),
            r.acts,
            r.observes,
            f(replay_med),
            f(sys_med),
            f(pre_trace),
            pad_split,
            f(outside),
            f(st),
            observe.map_or("-".into(), f),
            f(remainder),
            f(remainder / r.acts as f64),
            f(bound),
            if ok { "yes" } else { "NO" }
        );
        checks.push(Check {
            name: r.name.clone(),
            ok,
            replay: replay_med,
            bound,
            startup: st,
            prealloc: pre_trace + pre_pad,
            observe: observe.unwrap_or(f64::NAN),
            remainder,
            syscall: sys_med,
            acts: r.acts,
        });
    }
    println!("\nStart-up by number of mappers:\n");
    println!("| mappers | processes | median | p90 |");
    println!("|---:|---:|---:|---:|");
    for (m, s) in &starts {
        println!("| {m} | {} | {} | {} |", m + 1, f(s.median), f(s.p90));
    }
    println!(
        "\nPre-allocation by layout (as the manager times it; fallocate and markers redone \
         here):\n"
    );
    println!(
        "| trace pages | padding | manager median | p90 | fallocate median | markers median |"
    );
    println!("|---:|---:|---:|---:|---:|---:|");
    for ((pages, pad), p) in &preallocs {
        println!(
            "| {pages} | {pad} | {} | {} | {} | {} |",
            f(p.manager.median),
            f(p.manager.p90),
            f(p.fallocate.median),
            f(p.markers.median)
        );
    }

    Ok(checks)
}
