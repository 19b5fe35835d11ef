//! Human-readable and JSON output of a check.

use crate::run::VariantReport;
use serde::Serialize;
use std::fmt::Write;

/// What `hugepunch check --json` prints.
#[derive(Serialize)]
pub struct CheckJson<'a> {
    pub variants: &'a [VariantReport],
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
    let _ = writeln!(
        s,
        "  {:<22} {:<11} {:<12}",
        "property", "expectation", "verdict"
    );
    for p in &r.properties {
        let mark = if p.verdict == p.expected {
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
