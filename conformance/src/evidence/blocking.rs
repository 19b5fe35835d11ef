//! Lock waits: `lock:contention_begin`/`end` of the actor threads against the trace.
//!
//! Only waits inside the operations the trace orders are judged: the manager's punch and a
//! mapper's window fault. There a thread may wait only on a lock kind it takes in the trace
//! (plus `mmap_lock` for reading, which every fault takes before `hugetlb_fault`); a wait the
//! trace makes certain (`traces::Wait::certain`: one that never ends, in a trace that
//! predicts a hang) must show up as a contention of that thread and kind.
//!
//! These are findings, never a verdict: the only certain waits come with a hang, which the
//! replay already judges by the punch not returning, and every other wait of a trace's
//! interleaving depends on timing the replay does not force (see `traces::Wait`). What a
//! wait the host did show says about the variants goes through `meta.window_wait_shown_by`
//! instead ([`waited_for_read`]).

use super::events::{Event, Kind, LockKind};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// A process of the replay.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Manager,
    Mapper(u8),
}

/// A wait the host showed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contention {
    pub role: Role,
    pub tid: i32,
    pub kind: LockKind,
    pub begin_ns: u64,
    pub end_ns: Option<u64>,
}

/// What the trace says about waits, per role, within the judged operation.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Expected {
    /// Lock kinds each role takes there.
    pub allowed: Vec<(Role, BTreeSet<LockKind>)>,
    /// Waits the trace makes certain.
    pub certain: Vec<(Role, LockKind)>,
}

/// Contentions of `role`'s process (thread group `tgid`) within `[from, to]`, spinlocks and
/// other kinds the model has no counterpart for left out.
pub fn contentions(events: &[Event], role: Role, tgid: i32, from: u64, to: u64) -> Vec<Contention> {
    let mut out: Vec<Contention> = Vec::new();
    for e in events.iter().filter(|e| e.tgid == Some(tgid)) {
        match &e.kind {
            Kind::ContentionBegin { kind, .. }
                if *kind != LockKind::Other && (from..=to).contains(&e.ts_ns) =>
            {
                out.push(Contention {
                    role,
                    tid: e.tid,
                    kind: *kind,
                    begin_ns: e.ts_ns,
                    end_ns: None,
                })
            }
            Kind::ContentionEnd { .. } => {
                if let Some(c) = out
                    .iter_mut()
                    .rev()
                    .find(|c| c.tid == e.tid && c.end_ns.is_none())
                {
                    c.end_ns = Some(e.ts_ns);
                }
            }
            _ => {}
        }
    }
    out
}

/// Whether thread `tid` (the window touch's faulting thread) waited on an rw_semaphore for
/// read among `seen`. Its other threads (the uffd handler) do not count.
pub fn waited_for_read(seen: &[Contention], tid: Option<i32>) -> bool {
    seen.iter()
        .any(|c| Some(c.tid) == tid && c.kind == LockKind::RwsemRead)
}

/// Differences between the waits the host showed and the trace, one sentence each.
pub fn check(seen: &[Contention], expected: &Expected) -> Vec<String> {
    let mut out = Vec::new();
    for c in seen {
        let allowed = expected
            .allowed
            .iter()
            .find(|(r, _)| *r == c.role)
            .map(|(_, k)| k);
        if !allowed.is_some_and(|k| k.contains(&c.kind)) {
            out.push(format!(
                "{:?} (thread {}) waited on a {} the trace does not take there",
                c.role,
                c.tid,
                c.kind.name()
            ));
        }
    }
    for (role, kind) in &expected.certain {
        if !seen.iter().any(|c| c.role == *role && c.kind == *kind) {
            out.push(format!(
                "the trace makes {role:?} wait on a {}; the host shows no such contention",
                kind.name()
            ));
        }
    }
    out
}
