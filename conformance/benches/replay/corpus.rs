//! Part 2: every corpus trace replayed, one attempt per `replay` call.

use crate::stats::{f, load_line, timed, Res, Stats};
use conformance::layout::Layout;
use conformance::plan::{plan, Act, Call};
use conformance::replay::{replay, Options};
use conformance::report::TraceReport;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;
use traces::Trace;

// ---------------------------------------------------------------------------------------------
// Part 2: the corpus.
// ---------------------------------------------------------------------------------------------

pub struct TraceRun {
    pub name: String,
    pub trace: Trace,
    pub raced: bool,
    pub layout: Layout,
    pub acts: usize,
    pub observes: usize,
    pub has_prealloc: bool,
    pub reports: Vec<TraceReport>,
    /// Wall time of each `replay` call, teardown included, µs.
    pub call_us: Vec<f64>,
}

impl TraceRun {
    pub fn achieved(&self) -> usize {
        self.reports.iter().filter(|r| r.achieved > 0).count()
    }

    pub fn replay_us(&self) -> Vec<f64> {
        self.reports.iter().map(|r| r.replay_us).collect()
    }

    pub fn syscall_us(&self) -> Vec<f64> {
        self.reports.iter().map(|r| r.syscall_us).collect()
    }

    pub fn verdicts(&self) -> String {
        let mut n: BTreeMap<&str, usize> = BTreeMap::new();
        for r in &self.reports {
            *n.entry(r.verdict.name()).or_default() += 1;
        }
        n.iter()
            .map(|(v, c)| {
                if *c == self.reports.len() {
                    v.to_string()
                } else {
                    format!("{v} {c}")
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Why attempts missed the window, grouped.
    pub fn misses(&self) -> Vec<(String, usize)> {
        let mut why: BTreeMap<String, usize> = BTreeMap::new();
        for r in self.reports.iter().filter(|r| r.achieved == 0) {
            let reason = match &r.mismatch {
                Some(m) if m.host.contains("WindowMissed") => {
                    let late = m
                        .host
                        .split("late_us: ")
                        .nth(1)
                        .and_then(|s| s.split(|c: char| !c.is_ascii_digit()).next())
                        .unwrap_or("?");
                    format!("window touch too late (WindowMissed, {late} us after punch start)")
                }
                Some(m) => {
                    let mut h = m.host.clone();
                    h.truncate(90);
                    format!("step {} {}: {}", m.step, m.field, h)
                }
                None => "the window touch ran but not inside the window".into(),
            };
            *why.entry(reason).or_default() += 1;
        }
        let mut v: Vec<_> = why.into_iter().collect();
        v.sort_by_key(|b| std::cmp::Reverse(b.1));
        v
    }
}

fn run_corpus(traces: &[(PathBuf, Trace)], attempts: u32) -> Res<Vec<TraceRun>> {
    let opts = Options {
        attempts: 1,
        // The figures are the replay's own cost, as before kernel events were recorded.
        kernel_events: false,
        ..Options::default()
    };
    let mut runs = Vec::new();
    for (path, t) in traces {
        let name = path
            .file_name()
            .map_or_else(String::new, |f| f.to_string_lossy().into_owned());
        let p = plan(t);
        let layout = Layout::new(t.meta.config.pages, p.raced, opts.padding.most());
        let has_prealloc = p.acts.iter().any(|a| {
            matches!(
                a,
                Act::Start {
                    call: Call::Prealloc,
                    ..
                }
            )
        });
        let t_start = Instant::now();
        let mut run = TraceRun {
            name: name.clone(),
            trace: t.clone(),
            raced: p.raced.is_some(),
            layout,
            acts: p.acts.len(),
            observes: p
                .acts
                .iter()
                .filter(|a| matches!(a, Act::Observe { .. }))
                .count(),
            has_prealloc,
            reports: Vec::new(),
            call_us: Vec::new(),
        };
        for _ in 0..attempts {
            let reproduce = format!("hugepunch replay {}", path.display());
            let (r, t) = timed(|| replay(t, &name, &reproduce, &opts));
            run.reports
                .push(r.map_err(|e| format!("{}: {e}", path.display()))?);
            run.call_us.push(t);
        }
        eprintln!(
            "  {name}: {} replays in {:.1} s, {} achieved, load {}",
            attempts,
            t_start.elapsed().as_secs_f64(),
            run.achieved(),
            load_line()
        );
        runs.push(run);
    }
    Ok(runs)
}

/// Replays and prints part 2.
pub fn part2(traces: &[(PathBuf, Trace)], attempts: u32) -> Res<Vec<TraceRun>> {
    eprintln!("replaying {} traces x {attempts}...", traces.len());
    let runs = run_corpus(traces, attempts)?;

    println!("## 2. Corpus replays ({attempts} replays each, medians, us)\n");
    println!(
        "| trace | kind | verdicts | replay_us | p90 | syscall_us | replay/syscall | call_us |"
    );
    println!("|---|---|---|---:|---:|---:|---:|---:|");
    for r in &runs {
        let (rp, sc) = (Stats::of(&r.replay_us()), Stats::of(&r.syscall_us()));
        let (rp, sc) = (rp.expect("replays"), sc.expect("replays"));
        println!(
            "| {} | {} | {} | {} | {} | {} | {:.2} | {} |",
            r.name,
            r.trace.meta.kind.name(),
            r.verdicts(),
            f(rp.median),
            f(rp.p90),
            f(sc.median),
            rp.median / sc.median,
            f(Stats::median_of(&r.call_us))
        );
    }
    println!(
        "\n`call_us`: wall time of the whole `replay` call, teardown of the actors and the file \
         included (`replay_us` stops before it).\n"
    );

    println!("### Race window (traces with a window touch)\n");
    println!(
        "| trace | achieved | touch_start_us min / med / max | touch_end_us med / max | \
         punch_us med | slack min (punch - touch end) |"
    );
    println!("|---|---:|---|---|---:|---:|");
    for r in runs.iter().filter(|r| r.raced) {
        let hits: Vec<_> = r.reports.iter().filter_map(|x| x.window.clone()).collect();
        let st = Stats::of(&hits.iter().map(|w| w.touch_start_us).collect::<Vec<_>>());
        let en = Stats::of(&hits.iter().map(|w| w.touch_end_us).collect::<Vec<_>>());
        let pu = Stats::of(&hits.iter().map(|w| w.punch_us).collect::<Vec<_>>());
        let slack = hits
            .iter()
            .map(|w| w.punch_us - w.touch_end_us)
            .fold(f64::INFINITY, f64::min);
        let o = |s: Option<Stats>, g: fn(&Stats) -> f64| s.as_ref().map_or(f64::NAN, g);
        println!(
            "| {} | {}/{} | {} / {} / {} | {} / {} | {} | {} |",
            r.name,
            r.achieved(),
            r.reports.len(),
            f(o(st, |s| s.min)),
            f(o(st, |s| s.median)),
            f(o(st, |s| s.max)),
            f(o(en, |s| s.median)),
            f(o(en, |s| s.max)),
            f(o(pu, |s| s.median)),
            f(if hits.is_empty() { f64::NAN } else { slack })
        );
    }
    let missed: Vec<_> = runs
        .iter()
        .filter(|r| r.raced && r.achieved() < r.reports.len())
        .collect();
    if !missed.is_empty() {
        println!("\nWhy attempts missed the window:\n");
        for r in &missed {
            for (why, n) in r.misses() {
                println!("- {}: {n}x {why}", r.name);
            }
        }
    }

    Ok(runs)
}
