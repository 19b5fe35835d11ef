//! One attempt's kernel evidence: the race window as the kernel shows it, beside the timing
//! heuristic's verdict; the page cache's order; lock waits.

use super::blocking::{self, Expected, Role};
use super::events::Event;
use super::pagecache::{self, PageCache, Predicted};
use super::window::{self, punch, KernelWindow, Subject, Touch, Verdict};
use serde::{Deserialize, Serialize};

/// What the kernel's events say about one attempt.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AttemptEvidence {
    /// Events recorded for the actors.
    pub kernel_events: usize,
    /// Race traces: whether the timing heuristic says the window was hit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timing_window: Option<bool>,
    /// Race traces: the kernel's verdict on the window.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kernel_window: Option<KernelWindow>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page_cache: Option<PageCache>,
    /// Lock waits the trace does not allow, or certain waits the host did not show.
    pub blocking: Vec<String>,
    /// Race traces, in a confirmed window, on a kernel with `lock:contention_*`: whether the
    /// window touch's fault waited on an rw_semaphore for read (the observable of
    /// `meta.window_wait_shown_by`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_waited: Option<bool>,
}

impl AttemptEvidence {
    /// The kernel confirms the race window.
    pub fn confirmed(&self) -> bool {
        self.kernel_window
            .as_ref()
            .is_some_and(|w| w.verdict == Verdict::Confirmed)
    }

    /// Timing and kernel disagree about the window (a finding about the heuristic).
    pub fn disagreement(&self) -> Option<String> {
        let (t, k) = (self.timing_window?, self.kernel_window.as_ref()?);
        match (t, k.verdict == Verdict::Confirmed) {
            (true, false) => Some(format!(
                "timing says the window was hit; the kernel says: {}",
                k.verdict.name()
            )),
            (false, true) => {
                Some("the kernel confirms the window; the timing heuristic missed it".to_string())
            }
            _ => None,
        }
    }
}

/// What to judge an attempt's events against.
pub struct Inputs<'a> {
    pub subject: Subject,
    /// The window touch and whether timing says it hit, for race traces.
    pub touch: Option<(Touch, bool)>,
    pub page_cache: Option<&'a Predicted>,
    pub waits: &'a Expected,
    /// Each actor process's role and pid.
    pub actors: &'a [(Role, i32)],
}

/// Judges one attempt's events.
pub fn judge(events: &[Event], i: &Inputs) -> AttemptEvidence {
    let kernel_window = i
        .touch
        .as_ref()
        .map(|(t, _)| window::confirm(events, &i.subject, t));
    let page_cache = i
        .page_cache
        .map(|p| pagecache::check(events, &i.subject, p));
    let mut seen = Vec::new();
    let mut window_waited = None;
    if let Some((p0, p1)) = punch(events, &i.subject) {
        seen.extend(blocking::contentions(
            events,
            Role::Manager,
            i.subject.manager,
            p0,
            p1.unwrap_or(u64::MAX),
        ));
    }
    if let (Some((t, _)), Some(w)) = (&i.touch, &kernel_window) {
        if let Some((f0, f1)) = w.fault_ns {
            let role = i
                .actors
                .iter()
                .find(|(_, pid)| *pid == t.mapper)
                .map_or(Role::Mapper(0), |(r, _)| *r);
            let fault = blocking::contentions(events, role, t.mapper, f0, f1);
            if w.verdict == window::Verdict::Confirmed {
                window_waited = Some(blocking::waited_for_read(&fault, w.fault_tid));
            }
            seen.extend(fault);
        }
    }
    AttemptEvidence {
        kernel_events: events.len(),
        timing_window: i.touch.as_ref().map(|(_, hit)| *hit),
        kernel_window,
        page_cache,
        blocking: blocking::check(&seen, i.waits),
        window_waited,
    }
}
