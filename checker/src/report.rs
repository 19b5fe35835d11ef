//! Human-readable and JSON output of a check.

use crate::progress::Figures;
use crate::run::{Outcome, Stop, VariantReport};
use serde::Serialize;
use std::fmt::Write;

/// What `hugepunch check --json` prints: each variant's report, then the figures of the whole
/// command (as the progress line prints them: summed over the variants, the last RSS).
#[derive(Serialize)]
pub struct CheckJson<'a> {
    pub variants: &'a [VariantReport],
    /// Every search ran to its end (no bound stopped one).
    pub complete: bool,
    pub figures: Figures,
}

impl<'a> CheckJson<'a> {
    pub fn new(variants: &'a [VariantReport]) -> Self {
        let sum = |f: fn(&Figures) -> usize| variants.iter().map(|r| f(&r.figures)).sum();
        let seconds: f64 = variants.iter().map(|r| r.figures.seconds).sum();
        let states = sum(|f| f.states);
        let unique_states = sum(|f| f.unique_states);
        CheckJson {
            variants,
            complete: variants.iter().all(|r| !r.incomplete()),
            figures: Figures {
                states,
                unique_states,
                max_depth: variants
                    .iter()
                    .map(|r| r.figures.max_depth)
                    .max()
                    .unwrap_or(0),
                seconds,
                states_per_second: states as f64 / seconds.max(1e-9),
                unique_states_per_second: unique_states as f64 / seconds.max(1e-9),
                rss_bytes: variants.last().map_or(0, |r| r.figures.rss_bytes),
            },
        }
    }
}

/// One table per variant: the run's figures, then each property's verdict.
pub fn table(r: &VariantReport) -> String {
    let c = &r.config;
    let mut s = String::new();
    let _ = writeln!(s, "{c}");
    let _ = writeln!(
        s,
        "  {}: {} states, {} unique, max depth {}, {:.3} s, {:.0} states/s",
        r.search, r.states, r.unique_states, r.max_depth, r.seconds, r.states_per_second
    );
    match r.stop {
        Stop::Exhausted => {}
        Stop::MaxStates => {
            let _ = writeln!(
                s,
                "  INCOMPLETE: stopped by --max-states after {} states",
                r.states
            );
        }
        Stop::MaxSeconds => {
            let _ = writeln!(
                s,
                "  INCOMPLETE: stopped by --max-seconds after {:.1} s",
                r.seconds
            );
        }
    }
    let _ = writeln!(s, "  {}", r.figures.line());
    let _ = writeln!(
        s,
        "  {:<22} {:<11} {:<12}",
        "property", "expectation", "verdict"
    );
    for p in &r.properties {
        let mark = if p.verdict == Outcome::Decided(p.expected) || p.verdict == Outcome::Incomplete
        {
            String::new()
        } else {
            format!("  <- expected {}", p.expected.name())
        };
        let _ = writeln!(
            s,
            "  {:<22} {:<11} {:<12}{}",
            p.id,
            p.expectation,
            p.verdict.name(),
            mark
        );
    }
    s
}
