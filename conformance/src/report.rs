//! What a replay says: per trace, and for the host as a whole.

use crate::evidence::attempt::AttemptEvidence;
use crate::evidence::confidence::Confidence;
use crate::separation::Separation;
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;

/// A trace's verdict on this host.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Verdict {
    /// Every observable as predicted, and the trace's kernel interleaving was achieved.
    #[serde(rename = "conforms")]
    Conforms,
    /// The interleaving was achieved but an observable differs (see the mismatch).
    #[serde(rename = "diverges")]
    Diverges,
    /// The trace's kernel interleaving was never achieved in the attempts made.
    #[serde(rename = "not-achieved")]
    NotAchieved,
}

impl Verdict {
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Conforms => "conforms",
            Verdict::Diverges => "diverges",
            Verdict::NotAchieved => "not-achieved",
        }
    }
}

/// The first place the host differs from the trace.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mismatch {
    /// The trace step whose prediction the host does not meet.
    pub step: usize,
    /// That step's action.
    pub action: String,
    /// What differs, e.g. `file[0]`, `mapped[mapper0]`, `ret`.
    pub field: String,
    pub predicted: String,
    pub host: String,
}

/// How the race window was hit (window traces).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WindowHit {
    /// How long the punch ran, in µs.
    pub punch_us: f64,
    /// When the window touch started and finished, in µs after the punch started.
    pub touch_start_us: f64,
    pub touch_end_us: f64,
}

/// One trace replayed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TraceReport {
    /// The trace's file name.
    pub trace: String,
    pub variant: String,
    pub property: String,
    pub kind: String,
    pub verdict: Verdict,
    /// Attempts in which the trace's kernel interleaving was achieved.
    pub achieved: u32,
    pub attempts: u32,
    /// Counterexamples: the host followed the trace to its end, violation included.
    pub violation_observed: bool,
    /// Wall time of one achieved attempt (or the last), actor start-up included, in µs.
    pub replay_us: f64,
    /// Time the host spent in the trace's system calls and touches, in µs.
    pub syscall_us: f64,
    /// Padding pages put in front of the raced page.
    pub padding: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window: Option<WindowHit>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mismatch: Option<Mismatch>,
    /// The command that replays this trace again.
    pub reproduce: String,
    /// Race traces with kernel events: attempts whose window the kernel's events confirm.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub windows_confirmed: Option<u32>,
    /// Race traces on a kernel with `lock:contention_*`: counted attempts (confirmed windows)
    /// whose window fault waited on an rw_semaphore for read; with `conforms`, a variant not
    /// in `meta.window_wait_shown_by` is ruled out when this is above 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_waits: Option<u32>,
    /// Kernel events recorded for the actors, over all attempts.
    pub kernel_events: usize,
    /// `conforms` or `diverges`: the pool's counters and `st_blocks` at every quiet point.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accounting: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accounting_difference: Option<String>,
    /// Race traces: what the attempts allow one to say.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confidence: Option<Confidence>,
    /// Race traces: how the window touch was aimed (`None`: a fixed delay).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aim: Option<crate::aim::Aim>,
    /// Each attempt's kernel evidence.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub evidence: Vec<AttemptEvidence>,
    /// Where the kernel's events disagree with the timing heuristic or the trace.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub findings: Vec<String>,
}

impl TraceReport {
    /// A human-readable account, a few lines.
    pub fn text(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{}: {} ({}/{} attempts achieved the interleaving){}",
            self.trace,
            self.verdict.name(),
            self.achieved,
            self.attempts,
            if self.violation_observed {
                ", VIOLATION OBSERVED"
            } else {
                ""
            }
        );
        let _ = writeln!(
            s,
            "  {} {} of {}: replay {:.0} us, of which system calls and touches {:.0} us{}",
            self.kind,
            self.property,
            self.variant,
            self.replay_us,
            self.syscall_us,
            if self.padding > 0 {
                format!(", {} padding pages", self.padding)
            } else {
                String::new()
            }
        );
        if let Some(w) = &self.window {
            let _ = writeln!(
                s,
                "  race window: touch at {:.0}-{:.0} us into a {:.0} us punch",
                w.touch_start_us, w.touch_end_us, w.punch_us
            );
        }
        if let Some(n) = self.windows_confirmed {
            let _ = writeln!(
                s,
                "  kernel: {n}/{} windows confirmed by the kernel's events ({} events)",
                self.attempts, self.kernel_events
            );
        }
        if let Some(n) = self.window_waits {
            let _ = writeln!(
                s,
                "  lock waits: the window fault waited on an rwsem (read) in {n} of {} counted windows",
                self.achieved
            );
        }
        if let Some(c) = &self.confidence {
            let _ = writeln!(s, "  {}", c.sentence);
        }
        if let Some(a) = &self.accounting {
            let _ = writeln!(
                s,
                "  pool accounting: {a}{}",
                self.accounting_difference
                    .as_ref()
                    .map_or(String::new(), |d| format!(" ({d})"))
            );
        }
        for f in &self.findings {
            let _ = writeln!(s, "  finding: {f}");
        }
        if let Some(m) = &self.mismatch {
            let _ = writeln!(s, "  step {} ({}): {} differs", m.step, m.action, m.field);
            let _ = writeln!(s, "    - spec: {}", m.predicted);
            let _ = writeln!(s, "    + host: {}", m.host);
            let _ = writeln!(s, "  reproduce: {}", self.reproduce);
        }
        s
    }
}

/// The host's conformance.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct HostReport {
    /// `uname -r`.
    pub kernel: String,
    /// `conforms_to`, `indistinguishable`, `pairs`, `not_claimed`.
    #[serde(flatten)]
    pub separation: Separation,
    pub traces: Vec<TraceReport>,
    /// Traces not replayed, each with why (a predicted kernel hang, a migrator).
    pub refused: Vec<String>,
}

impl HostReport {
    /// The conformance table.
    pub fn text(&self) -> String {
        let mut s = format!("host kernel {}\n", self.kernel);
        let _ = writeln!(
            s,
            "{:<58} {:<13} {:>9} {:>9} {:<10} {:>10} {:>10}",
            "trace", "verdict", "achieved", "confirmed", "accounting", "replay_us", "syscall_us"
        );
        for t in &self.traces {
            let confirmed = t
                .windows_confirmed
                .map_or("-".to_string(), |n| n.to_string());
            let _ = writeln!(
                s,
                "{:<58} {:<13} {:>5}/{:<3} {:>9} {:<10} {:>10.0} {:>10.0}{}",
                t.trace,
                t.verdict.name(),
                t.achieved,
                t.attempts,
                confirmed,
                t.accounting.as_deref().unwrap_or("-"),
                t.replay_us,
                t.syscall_us,
                if t.violation_observed {
                    "  violation observed"
                } else {
                    ""
                }
            );
        }
        for r in &self.refused {
            let _ = writeln!(s, "{r}");
        }
        s.push_str(&self.separation.text());
        let _ = writeln!(
            s,
            "this host conforms to: {}",
            self.separation.conforms_to.join(", ")
        );
        s
    }
}
