//! `hugepunch vm --bench`: how often each race trace achieved its window in a guest, with the
//! host's load, as a Markdown table (the benchmark behind the README's hit rates).

use super::report::{VmReport, VmTrace};
use crate::report::TraceReport;
use std::fmt::Write;

/// One race trace's attempts, as the replay counted them.
#[derive(Clone, Debug, PartialEq)]
pub struct HitRate {
    pub trace: String,
    pub attempts: u32,
    /// Attempts the timing heuristic calls hits.
    pub timing: u32,
    /// Attempts whose window the kernel's events confirm.
    pub kernel: u32,
    /// Attempts that count for the verdict (both, with kernel events).
    pub achieved: u32,
}

impl HitRate {
    /// `None` for a trace without a race window.
    pub fn of(r: &TraceReport) -> Option<HitRate> {
        let timing: Vec<bool> = r.evidence.iter().filter_map(|e| e.timing_window).collect();
        if r.window.is_none() && timing.is_empty() && r.aim.is_none() {
            return None;
        }
        Some(HitRate {
            trace: r.trace.clone(),
            attempts: r.attempts,
            timing: timing.iter().filter(|&&t| t).count() as u32,
            kernel: r.evidence.iter().filter(|e| e.confirmed()).count() as u32,
            achieved: r.achieved,
        })
    }

    pub fn rate(&self) -> f64 {
        self.achieved as f64 / self.attempts.max(1) as f64
    }
}

/// The host's `/proc/loadavg` (1, 5 and 15 minutes).
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg").map_or_else(
        |e| format!("? ({e})"),
        |l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "),
    )
}

/// The table for one guest run; `load` is the host's load average before and after it.
pub fn table(r: &VmReport, load: (&str, &str), window: &str) -> String {
    let mut s = String::new();
    let g = &r.guest;
    let _ = writeln!(
        s,
        "Race windows in a `{}` guest ({}, {}), {window}; host load average (1/5/15 min) \
         {} before, {} after; guest replay {:.0} s.\n",
        g.kernel_name,
        r.kernel,
        g.accel,
        load.0,
        load.1,
        g.replay_s.unwrap_or(0.0)
    );
    let _ = writeln!(
        s,
        "| trace | attempts | timing hits | kernel-confirmed | achieved | rate | µs per page | window µs |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|---|---|");
    let (mut n, mut hit, mut low) = (0, 0, Vec::new());
    for t in &r.traces {
        let VmTrace::Replayed(tr) = t else {
            let _ = writeln!(
                s,
                "| {} | not replayed ({}) | | | | | | |",
                t.name(),
                t.verdict()
            );
            continue;
        };
        let Some(h) = HitRate::of(tr) else { continue };
        let (page, win) = tr.aim.map_or_else(
            || ("-".to_string(), "-".to_string()),
            |a| {
                (
                    format!("{:.2}", a.page_removal_ns as f64 / 1e3),
                    a.window_us.to_string(),
                )
            },
        );
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {:.0}% | {page} | {win} |",
            h.trace,
            h.attempts,
            h.timing,
            h.kernel,
            h.achieved,
            100.0 * h.rate()
        );
        n += h.attempts;
        hit += h.achieved;
        if h.rate() < 0.8 {
            low.push(h.trace.clone());
        }
    }
    let _ = writeln!(
        s,
        "\nAll race traces: {hit} of {n} attempts achieved; below 80%: {}.",
        if low.is_empty() {
            "none".to_string()
        } else {
            low.join(", ")
        }
    );
    s
}
