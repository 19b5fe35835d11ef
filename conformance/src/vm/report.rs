//! What `hugepunch vm` says: the same object as `hugepunch host`, each trace either replayed
//! (its `TraceReport` from the guest) or ended by the kernel (`hangs`, `oops`) or by a failed
//! replay (`error`), plus the guest's facts and a summary naming the traces that showed a bug.

use super::console::{Ending, Output, TraceLog};
use super::stacks::{self, AsTraced, Task};
use crate::report::{TraceReport, Verdict};
use crate::separation::{self, Separation};
use serde::Serialize;
use std::fmt::Write as _;
use traces::{Kind, Trace};

/// How the kernel or the replay ended a trace that has no `TraceReport` verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum GuestVerdict {
    /// No progress for the hang time, and the kernel's task dump shows replay tasks blocked
    /// in it (state `D`): their stacks are in `blocked` and `console`. (No progress with no
    /// task blocked is an `error`: the replay stalled, the kernel did not hang.)
    #[serde(rename = "hangs")]
    Hangs,
    /// The kernel oopsed, BUGged or panicked during the replay: the lines are in `console`.
    #[serde(rename = "oops")]
    Oops,
    /// The replay failed for another reason (see `stderr`).
    #[serde(rename = "error")]
    Error,
}

impl GuestVerdict {
    pub fn name(self) -> &'static str {
        match self {
            GuestVerdict::Hangs => "hangs",
            GuestVerdict::Oops => "oops",
            GuestVerdict::Error => "error",
        }
    }
}

/// A trace the kernel (or the replay) stopped.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Stopped {
    pub trace: String,
    pub variant: String,
    pub property: String,
    pub kind: String,
    pub verdict: GuestVerdict,
    /// The console lines that show it, verbatim.
    pub console: Vec<String>,
    /// The replay's own report, when it still finished (e.g. an oops in another process).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replay: Option<TraceReport>,
    /// `hangs`: the blocked tasks, read from the kernel's task dump.
    #[serde(flatten)]
    pub hang: Option<Box<HangStacks>>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub stderr: String,
    pub reproduce: String,
}

/// What the kernel's task dump shows of a hung replay.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct HangStacks {
    /// The replay's tasks blocked in the kernel (state `D`), with their stacks.
    pub blocked: Vec<Task>,
    /// For a trace that predicts a deadlock: whether those tasks are stuck where the trace
    /// leaves its threads.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub as_traced: Option<AsTraced>,
}

/// One trace's line in the report.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum VmTrace {
    Replayed(TraceReport),
    Stopped(Stopped),
}

impl VmTrace {
    pub fn name(&self) -> &str {
        match self {
            VmTrace::Replayed(r) => &r.trace,
            VmTrace::Stopped(s) => &s.trace,
        }
    }

    pub fn variant(&self) -> &str {
        match self {
            VmTrace::Replayed(r) => &r.variant,
            VmTrace::Stopped(s) => &s.variant,
        }
    }

    /// `conforms`, `diverges`, `not-achieved`, `hangs`, `oops` or `error`.
    pub fn verdict(&self) -> &'static str {
        match self {
            VmTrace::Replayed(r) => r.verdict.name(),
            VmTrace::Stopped(s) => s.verdict.name(),
        }
    }
}

/// The guest's facts.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct GuestInfo {
    /// The `--kernel` argument and the image booted.
    pub kernel_name: String,
    pub kernel_image: String,
    pub accel: String,
    /// qemu start to the init's first line, and the init's first line to its last, in s.
    pub boot_s: Option<f64>,
    pub replay_s: Option<f64>,
    pub cpus: Option<u32>,
    pub hugepages: Option<u64>,
    /// The guest's online NUMA nodes and each node's huge pages (`node0:N,node1:N`).
    pub numa_nodes: Option<String>,
    pub node_hugepages: Option<String>,
    /// Traces the guest never got to (it died or went silent first).
    pub not_run: Vec<String>,
    /// Why the guest stopped early, if it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
    /// The whole console, with `--keep`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub console_log: Option<String>,
    /// The guest went silent and did not answer sysrq (see `stopped`).
    pub frozen: bool,
}

/// Which traces showed what.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Summary {
    /// Counterexamples the kernel followed to the end: `trace (property)`.
    pub violation_observed: Vec<String>,
    /// Traces during which the kernel oopsed or BUGged, with the first such line.
    pub oops: Vec<String>,
    pub hangs: Vec<String>,
    /// Traces of variants with no counterexample (the fixed ones) that diverged. Information,
    /// not a bug: a witness of behaviour a later kernel changed diverges on that kernel (the
    /// `uffd_copy_enomem` witnesses of 4.11-5.12 on any kernel with 8cc5fcbb5be8).
    pub fixed_variant_diverges: Vec<String>,
    /// Variants with a counterexample (a bug) that the kernel conforms to.
    pub buggy_conformed: Vec<String>,
    /// Traces the guest could not replay (the harness failed): `trace: why`.
    pub errors: Vec<String>,
}

impl Summary {
    /// The kernel showed a bug: a violation, an oops or a hang.
    pub fn caught(&self) -> bool {
        !(self.violation_observed.is_empty() && self.oops.is_empty() && self.hangs.is_empty())
    }

    /// The kernel showed no bug, behaves like no buggy variant, and every trace was replayed.
    pub fn clean(&self) -> bool {
        !self.caught() && self.buggy_conformed.is_empty() && self.errors.is_empty()
    }

    /// One line per non-empty entry, as the text report and `--expect`'s failure print them.
    pub fn lines(&self) -> Vec<String> {
        [
            ("violation observed", &self.violation_observed),
            ("kernel oops/BUG", &self.oops),
            ("hangs", &self.hangs),
            (
                "fixed-variant traces diverging",
                &self.fixed_variant_diverges,
            ),
            ("buggy variants conformed to", &self.buggy_conformed),
            ("traces not replayed (harness errors)", &self.errors),
        ]
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(what, v)| format!("{what}: {}", v.join("; ")))
        .collect()
    }
}

/// The report of one guest run.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct VmReport {
    /// The guest's `uname -r`.
    pub kernel: String,
    /// `conforms_to`, `indistinguishable`, `pairs`, `not_claimed`, as `hugepunch host` says them.
    #[serde(flatten)]
    pub separation: Separation,
    pub traces: Vec<VmTrace>,
    /// Traces not replayed in a guest, and why (`replay::refusal`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub refused: Vec<String>,
    pub guest: GuestInfo,
    pub summary: Summary,
}

/// Builds one trace's entry from its console log and its data-channel output.
pub fn trace_entry(name: &str, t: &Trace, log: &TraceLog, out: Option<&Output>) -> VmTrace {
    let parsed = out
        .filter(|o| o.rc == 0)
        .map(|o| serde_json::from_str::<Vec<TraceReport>>(&o.stdout));
    let unreadable = match &parsed {
        Some(Err(e)) => Some(format!("the guest's replay report does not parse: {e}")),
        _ => None,
    };
    let replay: Option<TraceReport> = parsed.and_then(|p| p.ok()).and_then(|mut v| v.pop());
    // A hang is what the kernel's task dump shows: replay tasks blocked in it. A replay that
    // only made no progress (slow, or stuck in user space) is not a kernel hang.
    let blocked: Vec<Task> = stacks::tasks(&log.lines)
        .into_iter()
        .filter(|k| k.blocked() && k.replays())
        .collect();
    let hung = log.ending == Some(Ending::Hung);
    // An oops comes first: a replay that then hangs waits on what the dead task held.
    let verdict = match (log.oopsed(), hung, &replay) {
        (true, _, _) => GuestVerdict::Oops,
        (false, true, _) if !blocked.is_empty() => GuestVerdict::Hangs,
        (false, false, Some(r)) => return VmTrace::Replayed(r.clone()),
        (false, _, _) => GuestVerdict::Error,
    };
    let stalled = (hung && blocked.is_empty()).then(|| {
        "no progress for the hang time, but the kernel's task dump shows no replay task \
         blocked (state D): the replay stalled, the kernel did not hang"
            .to_string()
    });
    // A hung replay's stderr comes too (each attempt's lines), with no exit code.
    let stderr = match (verdict, out) {
        (_, Some(o)) => [
            stalled.as_deref().unwrap_or(""),
            o.stderr.trim(),
            unreadable.as_deref().unwrap_or(""),
        ]
        .join("\n")
        .trim()
        .to_string(),
        (GuestVerdict::Error, None) => {
            stalled.unwrap_or_else(|| "the guest died during this replay".into())
        }
        _ => String::new(),
    };
    let as_traced = (verdict == GuestVerdict::Hangs && t.meta.predicts_hang())
        .then(|| stacks::as_traced(t, &blocked));
    VmTrace::Stopped(Stopped {
        trace: name.into(),
        variant: t.meta.variant.name().into(),
        property: t.meta.property.clone(),
        kind: t.meta.kind.name().into(),
        verdict,
        console: log.evidence(400),
        replay,
        hang: (verdict == GuestVerdict::Hangs).then(|| Box::new(HangStacks { blocked, as_traced })),
        stderr,
        reproduce: format!("hugepunch replay corpus/{name} (in the guest)"),
    })
}

/// Variants every trace of which was replayed and conforms; the summary. `corpus` is every
/// trace loaded (a variant with a counterexample is a buggy one).
pub fn conclude(corpus: &[(String, &Trace)], traces: &[VmTrace]) -> (Separation, Summary) {
    let replayed: Vec<TraceReport> = traces
        .iter()
        .filter_map(|t| match t {
            VmTrace::Replayed(r) => Some(r.clone()),
            VmTrace::Stopped(_) => None,
        })
        .collect();
    let separation = separation::conclude(corpus, &replayed);
    let conforms_to = &separation.conforms_to;
    let buggy = |v: &str| {
        corpus
            .iter()
            .any(|(_, t)| t.meta.variant.name() == v && t.meta.kind == Kind::Counterexample)
    };
    let mut s = Summary {
        buggy_conformed: conforms_to.iter().filter(|v| buggy(v)).cloned().collect(),
        ..Summary::default()
    };
    for t in traces {
        match t {
            VmTrace::Replayed(r) => {
                if r.violation_observed {
                    s.violation_observed
                        .push(format!("{} ({})", r.trace, r.property));
                }
                if r.verdict == Verdict::Diverges && !buggy(&r.variant) {
                    s.fixed_variant_diverges.push(r.trace.clone());
                }
            }
            VmTrace::Stopped(st) => {
                let first = st.console.first().cloned().unwrap_or_default();
                match st.verdict {
                    GuestVerdict::Hangs => s.hangs.push(st.hang_line()),
                    GuestVerdict::Oops => s.oops.push(format!("{}: {}", st.trace, first.trim())),
                    GuestVerdict::Error => s.errors.push(format!(
                        "{}: {}",
                        st.trace,
                        st.stderr.lines().last().unwrap_or("")
                    )),
                }
            }
        }
    }
    (separation, s)
}

impl Stopped {
    /// A hung trace in the summary: its name, and for a trace that predicts a deadlock
    /// whether the blocked tasks are stuck as it predicts, and where.
    pub fn hang_line(&self) -> String {
        let Some(a) = self.hang.as_ref().and_then(|h| h.as_traced.as_ref()) else {
            return self.trace.clone();
        };
        let threads: Vec<String> = a
            .threads
            .iter()
            .map(|s| match (&s.task, &s.waits) {
                (Some(k), Some(w)) => format!("{} ({k}) in {} waits for {w}", s.thread, s.function),
                (Some(k), None) => format!("{} ({k}) in {}", s.thread, s.function),
                (None, _) => format!("{}: no blocked task in {}", s.thread, s.function),
            })
            .collect();
        let how = if a.shown {
            "stuck as the trace predicts"
        } else {
            "blocked, but not as the trace predicts"
        };
        format!("{} ({how}: {})", self.trace, threads.join("; "))
    }
}

impl VmReport {
    /// `--expect clean`: the summary is clean and the guest ran every trace (a guest that went
    /// silent or died part-way has not shown the rest clean).
    pub fn clean(&self) -> bool {
        self.summary.clean() && self.guest.not_run.is_empty()
    }

    /// Nothing but a frozen guest keeps this report from being clean: no violation, oops,
    /// hang or buggy variant, and the only trace not replayed is the one the guest froze in.
    /// Such a run says nothing about the traces it did not finish (`hugepunch vm` exits 4).
    pub fn only_frozen(&self) -> bool {
        let m = &self.summary;
        self.guest.frozen
            && !m.caught()
            && m.buggy_conformed.is_empty()
            && m.errors.len() <= 1
            && self.traces.iter().all(|t| match t {
                VmTrace::Stopped(st) => st.verdict == GuestVerdict::Error,
                VmTrace::Replayed(_) => true,
            })
    }

    /// What the report says, for a failed `--expect`: the summary's lines, the traces not
    /// run and why the guest stopped early.
    pub fn why(&self) -> Vec<String> {
        let mut v = self.summary.lines();
        if !self.guest.not_run.is_empty() {
            v.push(format!("not run: {}", self.guest.not_run.join(", ")));
        }
        v.extend(
            self.guest
                .stopped
                .iter()
                .map(|w| format!("the guest stopped early: {w}")),
        );
        v.extend(self.traces.iter().filter_map(|t| match t {
            VmTrace::Stopped(st) => Some(format!(
                "{}: {} {}",
                st.trace,
                st.verdict.name(),
                st.stderr.lines().last().unwrap_or("")
            )),
            VmTrace::Replayed(_) => None,
        }));
        v
    }

    /// The conformance table, as `hugepunch host` prints it, with the guest's lines.
    pub fn text(&self) -> String {
        let g = &self.guest;
        let mut s = format!(
            "guest kernel {} ({}), {}, boot {} s, replay {} s\n",
            self.kernel,
            g.kernel_name,
            g.accel,
            g.boot_s.map_or("?".into(), |v| format!("{v:.0}")),
            g.replay_s.map_or("?".into(), |v| format!("{v:.0}")),
        );
        let _ = writeln!(
            s,
            "{:<58} {:<13} {:>9} {:>10} {:>10}",
            "trace", "verdict", "achieved", "replay_us", "syscall_us"
        );
        for t in &self.traces {
            match t {
                VmTrace::Replayed(t) => {
                    let _ = writeln!(
                        s,
                        "{:<58} {:<13} {:>5}/{:<3} {:>10.0} {:>10.0}{}",
                        t.trace,
                        t.verdict.name(),
                        t.achieved,
                        t.attempts,
                        t.replay_us,
                        t.syscall_us,
                        if t.violation_observed {
                            "  violation observed"
                        } else {
                            ""
                        }
                    );
                }
                VmTrace::Stopped(t) => {
                    let _ = writeln!(s, "{:<58} {:<13}", t.trace, t.verdict.name());
                    for k in t.hang.iter().flat_map(|h| &h.blocked) {
                        let _ = writeln!(
                            s,
                            "    blocked: {} pid {}: {}",
                            k.comm,
                            k.pid,
                            k.stack.join(" <- ")
                        );
                    }
                    for l in t.console.iter().take(12) {
                        let _ = writeln!(s, "    | {l}");
                    }
                    if t.console.len() > 12 {
                        let _ = writeln!(s, "    | ... ({} lines in --json)", t.console.len());
                    }
                    if !t.stderr.is_empty() {
                        let _ =
                            writeln!(s, "    stderr: {}", t.stderr.lines().last().unwrap_or(""));
                    }
                }
            }
        }
        for n in &g.not_run {
            let _ = writeln!(s, "{n:<58} not run");
        }
        if let Some(why) = &g.stopped {
            let _ = writeln!(s, "the guest stopped early: {why}");
        }
        for l in self.summary.lines() {
            let _ = writeln!(s, "{l}");
        }
        s.push_str(&self.separation.text());
        let _ = writeln!(
            s,
            "this kernel conforms to: {}",
            self.separation.conforms_to.join(", ")
        );
        s
    }
}

/// `--matrix --markdown`: traces down, kernels across; each cell the verdict and the attempts
/// that achieved the trace's interleaving.
pub fn markdown(command: &str, reports: &[VmReport]) -> String {
    let mut s = String::from("# Kernel matrix\n\n");
    let _ = writeln!(
        s,
        "Written by `{command}`. Each cell: the trace's verdict in a guest running that kernel, \
         and the attempts that achieved its kernel interleaving (achieved/attempts). \
         `violation` marks a counterexample the kernel followed to the end.\n"
    );
    let _ = writeln!(
        s,
        "| kernel | guest `uname -r` | accel | boot s | replay s | conforms to |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|");
    for r in reports {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} |",
            r.guest.kernel_name,
            r.kernel,
            r.guest.accel,
            r.guest.boot_s.map_or("?".into(), |v| format!("{v:.0}")),
            r.guest.replay_s.map_or("?".into(), |v| format!("{v:.0}")),
            r.separation.conforms_to.join(", ")
        );
    }
    s.push_str("\n| trace |");
    for r in reports {
        let _ = write!(s, " {} |", r.guest.kernel_name);
    }
    s.push_str("\n|---|");
    for _ in reports {
        s.push_str("---|");
    }
    s.push('\n');
    let mut names: Vec<&str> = Vec::new();
    for r in reports {
        for t in &r.traces {
            if !names.contains(&t.name()) {
                names.push(t.name());
            }
        }
    }
    for n in names {
        let _ = write!(s, "| {} |", n.trim_end_matches(".json"));
        for r in reports {
            let cell = match r.traces.iter().find(|t| t.name() == n) {
                Some(VmTrace::Replayed(t)) => format!(
                    "{} {}/{}{}",
                    t.verdict.name(),
                    t.achieved,
                    t.attempts,
                    if t.violation_observed {
                        " **violation**"
                    } else {
                        ""
                    }
                ),
                Some(VmTrace::Stopped(t)) => format!("**{}**", t.verdict.name()),
                None => "not run".into(),
            };
            let _ = write!(s, " {cell} |");
        }
        s.push('\n');
    }
    for r in reports {
        let m = &r.summary;
        for (what, v) in [("oops", &m.oops), ("hangs", &m.hangs)] {
            if !v.is_empty() {
                let _ = writeln!(s, "\n{} {what}: {}", r.guest.kernel_name, v.join("; "));
            }
        }
        if let Some(why) = &r.guest.stopped {
            let _ = writeln!(s, "\n{}: {why}", r.guest.kernel_name);
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vm::console::Transcript;

    fn corpus_trace(name: &str) -> Trace {
        traces::load(std::path::PathBuf::from(format!(
            "{}/../traces/corpus/{name}",
            env!("CARGO_MANIFEST_DIR")
        )))
        .unwrap()
    }

    /// A guest's replay reports, as `hugepunch replay --json` printed them in a
    /// mutant-skip-mapped guest (a witness with no findings, window or mismatch: fields left
    /// out when empty), read back as replayed traces.
    #[test]
    fn guest_reports_read_back() {
        let data = std::fs::read_to_string(format!(
            "{}/tests/fixtures/console/data-mutant-skip-mapped.txt",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap();
        let outputs = crate::vm::console::parse_data(&data);
        assert_eq!(outputs.len(), 2);
        for (name, out) in &outputs {
            let trace = corpus_trace(name);
            let log = TraceLog {
                name: name.clone(),
                lines: vec![],
                ending: None,
            };
            match trace_entry(name, &trace, &log, Some(out)) {
                VmTrace::Replayed(r) => assert_eq!(r.verdict, Verdict::Conforms, "{name}"),
                e => panic!("{name}: {e:?}"),
            }
        }
    }

    /// No progress for the hang time with no replay task blocked in the kernel is not a
    /// hang: the recorded watchdog run (3 s, a slow replay) has a task dump with no task in D
    /// state, so the trace is an `error` saying so, not `hangs`, and its variant is not
    /// conformed to.
    #[test]
    fn a_stall_is_not_a_hang() {
        let text = std::fs::read_to_string(format!(
            "{}/tests/fixtures/console/hang-watchdog-control-6.1.log",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap();
        let t = Transcript::parse(&text);
        let name = "v4_5.race_window_fault.witness.json";
        let trace = corpus_trace(name);
        assert_eq!(t.traces[0].ending, Some(Ending::Hung));
        let e = trace_entry(name, &trace, &t.traces[0], None);
        let VmTrace::Stopped(s) = &e else {
            panic!("{e:?}")
        };
        assert_eq!(s.verdict, GuestVerdict::Error);
        assert!(s.hang.is_none());
        assert!(s.stderr.contains("no replay task blocked"), "{}", s.stderr);
        assert!(s
            .console
            .iter()
            .any(|l| l.contains("sysrq: Show Blocked State")));
        let (conforms, summary) = conclude(&[(name.into(), &trace)], &[e]);
        assert!(conforms.conforms_to.is_empty());
        assert!(summary.hangs.is_empty());
        assert_eq!(summary.errors.len(), 1);
        assert!(!summary.caught() && !summary.clean());
    }

    /// Debian 11's 5.10.262 deadlocked in a replay of the v5_10 trace (recorded console): a
    /// `hangs` verdict, the kernel's own stacks showing the punch blocked in
    /// `remove_inode_hugepages` on `i_mmap_rwsem` for write and mapper1's fault blocked in
    /// `hugetlb_fault` on the page lock (and the killed mapper's `exit_mmap` behind them on
    /// `i_mmap_rwsem`, the `munmap` the issue's reporter saw), as the trace leaves them.
    #[test]
    fn the_5_10_deadlock_hangs_as_traced() {
        let text = std::fs::read_to_string(format!(
            "{}/tests/fixtures/console/hang-deadlock-debian-5.10.log",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap();
        let t = Transcript::parse(&text);
        assert_eq!(t.fact("kernel"), Some("5.10.0-46-cloud-amd64"));
        let name = "v5_10.no_deadlock.counterexample.json";
        let trace = corpus_trace(name);
        let log = &t.traces[0];
        assert_eq!(log.ending, Some(Ending::Hung));
        let e = trace_entry(name, &trace, log, None);
        let VmTrace::Stopped(s) = &e else {
            panic!("{e:?}")
        };
        assert_eq!(s.verdict, GuestVerdict::Hangs);
        let hang = s.hang.as_ref().expect("the blocked tasks");
        let blocked: Vec<(&str, u32)> = hang.blocked.iter().map(|k| (&*k.comm, k.pid)).collect();
        assert_eq!(
            blocked,
            [("hp-manager", 697), ("hp-mapper", 710), ("hp-mapper", 712)]
        );
        assert!(hang.blocked[1].in_function("exit_mmap"));
        let a = hang
            .as_traced
            .as_ref()
            .expect("a trace that predicts a hang");
        assert!(a.shown, "{a:?}");
        let seen: Vec<(&str, &str, Option<&str>, Option<&str>)> = a
            .threads
            .iter()
            .map(|x| {
                (
                    &*x.thread,
                    &*x.function,
                    x.task.as_deref(),
                    x.waits.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            seen,
            [
                (
                    "manager",
                    "remove_inode_hugepages",
                    Some("hp-manager pid 697"),
                    Some("an rwsem for write (rwsem_down_write_slowpath)")
                ),
                (
                    "mapper1",
                    "hugetlb_fault",
                    Some("hp-mapper pid 712"),
                    Some("the page lock (wait_on_page_bit_common)")
                )
            ]
        );
        assert!(hang.blocked[2].in_function("pagecache_get_page"));
        let (conforms, summary) = conclude(&[(name.into(), &trace)], std::slice::from_ref(&e));
        assert!(conforms.conforms_to.is_empty());
        assert_eq!(summary.hangs.len(), 1);
        assert!(summary.hangs[0].starts_with(&format!("{name} (stuck as the trace predicts: ")));
        assert!(summary.caught());
        let json = serde_json::to_value(&e).unwrap();
        assert_eq!(json["verdict"], "hangs");
        assert_eq!(json["as_traced"]["shown"], true);
    }

    /// A replay that finished is the guest's own `TraceReport`, unchanged.
    #[test]
    fn finished_replay_is_the_guests_report() {
        let name = "v6_1.punch_frees_hole.witness.json";
        let trace = corpus_trace(name);
        let log = TraceLog {
            name: name.into(),
            lines: vec![format!("@@hugepunch-vm end {name} rc=0")],
            ending: Some(Ending::Exited(0)),
        };
        let stdout = r#"[{"trace":"v6_1.punch_frees_hole.witness.json","variant":"v6_1","property":"punch_frees_hole","kind":"witness","verdict":"conforms","achieved":1,"attempts":1,"violation_observed":false,"replay_us":1.0,"syscall_us":1.0,"padding":0,"reproduce":"x","kernel_events":0}]"#;
        let out = Output {
            rc: 0,
            stdout: stdout.into(),
            stderr: String::new(),
        };
        let e = trace_entry(name, &trace, &log, Some(&out));
        assert!(matches!(&e, VmTrace::Replayed(r) if r.verdict == Verdict::Conforms));
        let (conforms, summary) = conclude(&[(name.into(), &trace)], &[e]);
        assert_eq!(conforms.conforms_to, ["v6_1"]);
        assert!(!summary.caught());
        assert!(summary.clean());
    }

    /// A trace the guest could not replay keeps a kernel from being called clean: a harness
    /// that cannot observe must not pass.
    #[test]
    fn a_replay_error_is_not_clean() {
        let name = "v6_1.punch_frees_hole.witness.json";
        let trace = corpus_trace(name);
        let log = TraceLog {
            name: name.into(),
            lines: vec![format!("@@hugepunch-vm end {name} rc=1")],
            ending: Some(Ending::Exited(1)),
        };
        let out = Output {
            rc: 1,
            stdout: String::new(),
            stderr: "hugepunch replay: this kernel has no tracepoint syscalls/sys_enter_fallocate"
                .into(),
        };
        let e = trace_entry(name, &trace, &log, Some(&out));
        let (_, summary) = conclude(&[(name.into(), &trace)], &[e]);
        assert!(!summary.caught());
        assert!(!summary.clean());
        assert_eq!(summary.errors.len(), 1, "{summary:?}");
    }

    /// A guest that went silent part-way is not clean even when every trace it did run was:
    /// the rest were never shown. `--expect`'s failure names them.
    #[test]
    fn traces_not_run_are_not_clean() {
        let name = "v6_1.punch_frees_hole.witness.json";
        let trace = corpus_trace(name);
        let (separation, summary) = conclude(&[(name.into(), &trace)], &[]);
        let guest = |not_run: Vec<String>, frozen: bool| GuestInfo {
            kernel_name: "debian-6.1".into(),
            kernel_image: "bzImage".into(),
            accel: "tcg".into(),
            boot_s: None,
            replay_s: None,
            cpus: None,
            hugepages: None,
            numa_nodes: None,
            node_hugepages: None,
            not_run,
            stopped: Some("no console output for 600 s".into()),
            console_log: None,
            frozen,
        };
        let report = |not_run, frozen| VmReport {
            kernel: "6.1".into(),
            separation: separation.clone(),
            traces: vec![],
            refused: vec![],
            guest: guest(not_run, frozen),
            summary: summary.clone(),
        };
        assert!(summary.clean());
        assert!(report(vec![], false).clean());
        let silent = report(vec![name.into()], false);
        assert!(!silent.clean());
        assert!(
            !silent.only_frozen(),
            "it answered sysrq: a kernel that was alive"
        );
        let frozen = report(vec![name.into()], true);
        assert!(!frozen.clean());
        assert!(frozen.only_frozen());
        let mut caught_too = report(vec![name.into()], true);
        caught_too
            .summary
            .violation_observed
            .push("x (hole_freed_on_return)".into());
        assert!(
            !caught_too.only_frozen(),
            "a verdict is never excused by a freeze"
        );
        assert_eq!(
            silent.why(),
            [
                format!("not run: {name}"),
                "the guest stopped early: no console output for 600 s".to_string()
            ]
        );
    }

    /// A kernel BUG during a replay is an `oops` verdict with the lines verbatim, even though
    /// the replay then also hung waiting on the dead manager.
    #[test]
    fn bug_is_an_oops() {
        let text = std::fs::read_to_string(format!(
            "{}/tests/fixtures/console/bug-mutant-no-reunmap.log",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap();
        let t = Transcript::parse(&text);
        assert_eq!(t.traces.len(), 2);
        assert_eq!(t.traces[0].ending, Some(Ending::Exited(0)));
        assert!(!t.traces[0].oopsed());
        let log = &t.traces[1];
        let name = "hole_marker.hole_freed_on_return.counterexample.json";
        assert_eq!(log.name, name);
        assert_eq!(log.ending, Some(Ending::Hung));
        let trace = corpus_trace(name);
        let e = trace_entry(name, &trace, log, None);
        let VmTrace::Stopped(s) = &e else {
            panic!("{e:?}")
        };
        assert_eq!(s.verdict, GuestVerdict::Oops);
        assert!(s.console[0].contains("page dumped because: VM_BUG_ON_FOLIO(folio_mapped(folio))"));
        assert!(s
            .console
            .iter()
            .any(|l| l.contains("kernel BUG at mm/filemap.c:153!")));
        let (_, summary) = conclude(&[(name.into(), &trace)], &[e]);
        assert_eq!(summary.oops.len(), 1);
        assert!(summary.oops[0].contains("VM_BUG_ON_FOLIO(folio_mapped(folio))"));
        assert!(summary.caught());
    }
}
