//! `hugepunch replay --format text`: the kernel events a replay observed, beside the trace
//! steps that predict them.
//!
//! One attempt is shown: the first whose race window the kernel confirms, else the first. The
//! punch's steps are listed from its call to its return, with the raced faults; where a step
//! predicts something the events show (the punch entering and leaving `fallocate`, the window
//! fault finding the page, the raced page leaving the page cache), the observation stands on
//! its line, in µs after the punch started (kernel clock).

use super::attempt::AttemptEvidence;
use crate::report::TraceReport;
use std::fmt::Write as _;
use traces::{Action, Call, Trace};

/// The text view of one replayed trace.
pub fn text(t: &Trace, r: &TraceReport) -> String {
    let mut s = r.text();
    let shown = r
        .evidence
        .iter()
        .enumerate()
        .find(|(_, e)| e.confirmed())
        .or_else(|| r.evidence.iter().enumerate().next());
    let Some((n, e)) = shown else {
        s.push_str("  no kernel events were recorded (root and tracefs are needed)\n");
        return s;
    };
    let _ = writeln!(
        s,
        "  {:<62} observed in attempt {n} ({} events)",
        "predicted step", e.kernel_events
    );
    for (i, line) in lines(t, e) {
        let step = &t.steps[i];
        let page = step
            .action
            .page()
            .map_or(String::new(), |p| format!(" page {p}"));
        let left = format!(
            "{i:>4} {:<16} {}{page}",
            step.thread.to_string(),
            step.action.name()
        );
        let _ = writeln!(s, "{}", format!("  {left:<62} {line}").trim_end());
    }
    if let Some(p) = &e.page_cache {
        let _ = writeln!(
            s,
            "  page cache: {} deletes predicted, {} observed{}",
            p.deletes_predicted,
            p.deletes_observed,
            if p.added_after.is_empty() {
                String::new()
            } else {
                format!("; added after the punch: {:?}", p.added_after)
            }
        );
        for d in &p.differences {
            let _ = writeln!(s, "    {d}");
        }
    }
    if e.blocking.is_empty() {
        s.push_str("  lock waits: none the trace does not allow\n");
    }
    for b in &e.blocking {
        let _ = writeln!(s, "  lock waits: {b}");
    }
    if let Some(waited) = e.window_waited {
        let _ = writeln!(
            s,
            "  lock waits: the window fault {} on an rwsem (read){}",
            if waited { "waited" } else { "did not wait" },
            match &t.meta.window_wait_shown_by {
                Some(vs) if waited => format!(
                    ", which only these models can show: {}",
                    vs.iter().map(|v| v.name()).collect::<Vec<_>>().join(", ")
                ),
                _ => String::new(),
            }
        );
    }
    for w in &t.meta.waits {
        let _ = writeln!(s, "  predicted wait: {}", wait_line(w));
    }
    s
}

/// A wait of the trace's interleaving, one line (the host need not show it unless certain).
fn wait_line(w: &traces::Wait) -> String {
    let end = w
        .step
        .map_or("for good".to_string(), |i| format!("until step {i}"));
    format!(
        "{} on a {:?} from step {} {end}{}",
        w.thread,
        w.lock,
        w.since,
        if w.certain {
            " (certain)"
        } else {
            " (timing: not required)"
        }
    )
}

/// The punch's steps and the raced faults, each with what the events show for it ("" when
/// the step predicts nothing they record).
fn lines(t: &Trace, e: &AttemptEvidence) -> Vec<(usize, String)> {
    let Some(w) = &t.meta.race_window else {
        return Vec::new();
    };
    let punch_thread = t.steps[w.punch].thread;
    let end = (w.punch + 1..t.steps.len()).find(|&i| {
        t.steps[i].thread == punch_thread
            && matches!(
                t.steps[i].action,
                Action::Return {
                    call: Call::PunchHole,
                    ..
                }
            )
    });
    let last = end.unwrap_or(t.steps.len() - 1);
    let kw = e.kernel_window.as_ref();
    let us = |v: Option<f64>| v.map_or("?".to_string(), |v| format!("{v:.1}"));
    let mut out = Vec::new();
    for i in w.punch..=last {
        let step = &t.steps[i];
        let raced = w.faults.iter().any(|f| f.step == i);
        if step.thread != punch_thread && !raced {
            continue;
        }
        let seen = if i == w.punch {
            "fallocate(PUNCH_HOLE) entered at 0.0".to_string()
        } else if Some(i) == end {
            match kw {
                Some(k) => format!("fallocate returned at {}", us(k.punch_end_us)),
                None => String::new(),
            }
        } else if raced {
            match kw {
                Some(k) => format!(
                    "fault {}-{}: {}",
                    us(k.fault_us),
                    us(k.fault_end_us),
                    k.verdict.name()
                ),
                None => "no window judged".to_string(),
            }
        } else if Some(i) == w.close {
            match kw.and_then(|k| k.delete_us) {
                Some(d) => format!("raced page left the page cache at {d:.1}"),
                None => "raced page's delete not in the events".to_string(),
            }
        } else {
            String::new()
        };
        out.push((i, seen));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trace(name: &str) -> Trace {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../traces/corpus");
        traces::load(dir.join(name)).unwrap()
    }

    /// A report as `replay --json` writes it, with two attempts: the window missed, then
    /// confirmed.
    fn report(trace: &str) -> TraceReport {
        serde_json::from_value(serde_json::json!({
            "trace": trace, "variant": "v4_5", "property": "race_window_fault",
            "kind": "witness", "verdict": "conforms", "achieved": 1, "attempts": 2,
            "violation_observed": false, "replay_us": 1.0, "syscall_us": 1.0, "padding": 512,
            "reproduce": "x", "windows_confirmed": 1, "kernel_events": 3000,
            "evidence": [
                {"kernel_events": 1400, "timing_window": false,
                 "kernel_window": {"verdict": "no_fault"}, "blocking": []},
                {"kernel_events": 1600, "timing_window": true,
                 "kernel_window": {"verdict": "confirmed", "fault_us": 26.0,
                    "fault_end_us": 70.0, "delete_us": 575.0, "punch_end_us": 581.0},
                 "page_cache": {"deletes_predicted": 513, "deletes_observed": 513,
                    "added_after": [], "differences": []},
                 "blocking": ["Mapper(0) (thread 7) waited on a mutex the trace does not take there"]}
            ]
        }))
        .unwrap()
    }

    #[test]
    fn observed_events_stand_beside_the_steps_that_predict_them() {
        let name = "v4_5.race_window_fault.witness.json";
        let t = trace(name);
        let w = t.meta.race_window.clone().unwrap();
        let v = text(&t, &report(name));
        assert!(v.contains("observed in attempt 1 (1600 events)"), "{v}");
        let line = |step: usize| {
            v.lines()
                .find(|l| l.trim_start().starts_with(&format!("{step} ")))
                .unwrap_or_else(|| panic!("no line for step {step}:\n{v}"))
                .to_string()
        };
        assert!(
            line(w.punch).ends_with("fallocate(PUNCH_HOLE) entered at 0.0"),
            "{v}"
        );
        let fault = line(w.fault().unwrap().step);
        assert!(fault.contains("hugetlb_no_page page 0"), "{fault}");
        assert!(fault.ends_with("fault 26.0-70.0: confirmed"), "{fault}");
        assert!(line(w.close.unwrap()).ends_with("raced page left the page cache at 575.0"));
        assert!(v.contains("fallocate returned at 581.0"), "{v}");
        assert!(
            v.contains("page cache: 513 deletes predicted, 513 observed"),
            "{v}"
        );
        assert!(
            v.contains("lock waits: Mapper(0) (thread 7) waited on a mutex"),
            "{v}"
        );
    }

    #[test]
    fn without_events_it_says_so() {
        let name = "v4_5.race_window_fault.witness.json";
        let mut r = report(name);
        r.evidence.clear();
        assert!(text(&trace(name), &r).contains("no kernel events were recorded"));
    }
}
