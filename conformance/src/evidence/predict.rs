//! What a trace predicts for the kernel events, in host pages: the page-cache order around
//! the punch, the lock kinds each thread may wait on, and the file's pages at quiet points.
//!
//! Read from the typed steps; the lock each kernel step takes is the model's
//! (`spec::steps::Step::acquires`).

use super::blocking::{Expected, Role};
use super::events::LockKind;
use super::pagecache::Predicted;
use crate::layout::Layout;
use crate::window::window_touches;
use std::collections::BTreeSet;
use traces::{Acquire, Action, Call, Syscall, Thread, Trace, Wait};

/// The lock kind a step's acquisition shows up as in `lock:contention_*`, from the model's
/// [`traces::Acquire`]. The page lock is a bit wait, not a contention event.
fn lock_of(action: &Action) -> Option<LockKind> {
    match action.kernel_step()?.acquires()? {
        Acquire::Mutex => Some(LockKind::Mutex),
        Acquire::RwsemRead => Some(LockKind::RwsemRead),
        Acquire::RwsemWrite => Some(LockKind::RwsemWrite),
        Acquire::PageLock => None,
    }
}

/// The punch: its `punch_hole` step and its return step.
fn punch_steps(t: &Trace) -> Option<(usize, usize, u8, u8)> {
    let (i, start, end) = t
        .steps
        .iter()
        .enumerate()
        .find_map(|(i, s)| match s.action {
            Action::Call(Syscall::PunchHole { start, end }) => Some((i, start, end)),
            _ => None,
        })?;
    let thread = t.steps[i].thread;
    let r = (i + 1..t.steps.len()).find(|&j| {
        t.steps[j].thread == thread
            && matches!(
                t.steps[j].action,
                Action::Return {
                    call: Call::PunchHole,
                    ..
                }
            )
    })?;
    Some((i, r, start, end))
}

/// The page-cache events the trace predicts, in host pages (padding included: it is
/// pre-allocated and inside the hole, so the punch deletes it, in index order).
pub fn pagecache(t: &Trace, layout: &Layout) -> Option<Predicted> {
    let (i, r, start, end) = punch_steps(t)?;
    let (first, count) = layout.host_range(start, end);
    let hole = first as u64..(first + count) as u64;
    let changes = |from: usize, to: usize, gone: bool| {
        let mut out = Vec::new();
        for j in from..=to.min(t.steps.len() - 1) {
            let (before, now) = (&t.steps[j - 1].observed.file, &t.steps[j].observed.file);
            for p in start..end {
                let (b, n) = (before[p as usize].is_some(), now[p as usize].is_some());
                if (gone && b && !n) || (!gone && !b && n) {
                    out.push(layout.host(p) as u64);
                }
            }
        }
        out
    };
    let mut deletes = changes(i + 1, r, true);
    let pad: Vec<u64> = layout
        .padding()
        .map(|h| h as u64)
        .filter(|h| hole.contains(h))
        .collect();
    if let Some(&p0) = pad.first() {
        let at = deletes
            .iter()
            .position(|&d| d > p0)
            .unwrap_or(deletes.len());
        deletes.splice(at..at, pad);
    }
    Some(Predicted {
        deletes,
        added_after: changes(r + 1, t.steps.len() - 1, false),
        hole,
        trace_pages: (0..t.meta.config.pages)
            .map(|p| (layout.host(p) as u64, p))
            .collect(),
    })
}

/// The lock kind of a certain wait as `lock:contention_begin` shows it, for the manager or a
/// mapper (a page-lock wait is a bit wait, with no contention event).
fn certain(w: &Wait) -> Option<(Role, LockKind)> {
    let role = match w.thread.mapper_number() {
        Some(m) => Role::Mapper(m),
        None if w.thread == Thread::MANAGER => Role::Manager,
        None => return None,
    };
    let kind = match w.lock {
        Acquire::Mutex => LockKind::Mutex,
        Acquire::RwsemRead => LockKind::RwsemRead,
        Acquire::RwsemWrite => LockKind::RwsemWrite,
        Acquire::PageLock => return None,
    };
    Some((role, kind))
}

/// The lock kinds the manager takes during the punch and each window fault's mapper takes in
/// that fault (plus `mmap_lock` for reading, which every fault takes first), and the waits
/// the trace makes certain (`meta.waits`, those that never end).
pub fn waits(t: &Trace) -> Expected {
    let mut allowed: Vec<(Role, BTreeSet<LockKind>)> = Vec::new();
    if let Some((i, r, _, _)) = punch_steps(t) {
        let kinds = t.steps[i..=r]
            .iter()
            .filter(|s| s.thread == t.steps[i].thread)
            .filter_map(|s| lock_of(&s.action))
            .collect();
        allowed.push((Role::Manager, kinds));
    }
    for (touch, _) in window_touches(t) {
        let thread = t.steps[touch].thread;
        let Some(m) = thread.mapper_number() else {
            continue;
        };
        let end = (touch + 1..t.steps.len())
            .find(|&j| {
                t.steps[j].thread == thread
                    && matches!(
                        t.steps[j].action,
                        Action::Touched { .. } | Action::Sigbus { .. }
                    )
            })
            .unwrap_or(t.steps.len() - 1);
        let mut kinds: BTreeSet<LockKind> = t.steps[touch..=end]
            .iter()
            .filter(|s| s.thread == thread)
            .filter_map(|s| lock_of(&s.action))
            .collect();
        kinds.insert(LockKind::RwsemRead);
        allowed.push((Role::Mapper(m), kinds));
    }
    Expected {
        allowed,
        certain: t
            .meta
            .waits
            .iter()
            .filter(|w| w.certain)
            .filter_map(certain)
            .collect(),
    }
}
