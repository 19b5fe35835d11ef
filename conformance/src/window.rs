//! The punch's race window in a trace: which touches must land in it (the model says, in
//! `meta.race_window`), and how the plan orders them so the host can make that happen.

use crate::act::{Act, Call};
use traces::{Action, KernelStep, Trace};

/// Moves each window touch (and each page-lock touch, [`page_lock_touches`]), with the setup its mapper does between the punch call and the
/// touch (mmap, register and their returns), to just before the punch call, and the wait for
/// its result to after it. They do not
/// depend on the punch, and the touch then waits on the host for the punch to start, so it
/// can aim at the window however short the padding makes it; the round trips of a setup
/// made during the punch would eat the window.
pub(crate) fn hoist_window_touches(acts: &mut Vec<(usize, Act)>) {
    let is_punch = |a: &(usize, Act)| {
        matches!(
            a.1,
            Act::Start {
                call: Call::Punch { .. },
                ..
            }
        )
    };
    let punch = acts.iter().position(is_punch);
    let Some(mut punch) = punch else { return };
    let aimed = |a: &Act| {
        matches!(
            a,
            Act::Touch { window: true, .. }
                | Act::Touch {
                    page_lock: true,
                    ..
                }
        )
    };
    let windows: Vec<u8> = acts
        .iter()
        .filter_map(|(_, a)| match a {
            Act::Touch { mapper, .. } if aimed(a) => Some(*mapper),
            _ => None,
        })
        .collect();
    for m in windows {
        let w = acts
            .iter()
            .position(|(_, a)| matches!(a, Act::Touch { mapper, .. } if *mapper == m && aimed(a)))
            .expect("the aimed touch");
        if w > punch {
            let moving: Vec<usize> = (punch + 1..=w)
                .filter(|&i| match &acts[i].1 {
                    Act::Start {
                        thread,
                        call: Call::Mmap | Call::Register,
                        ..
                    } => *thread == traces::Thread::mapper(m),
                    Act::Return { thread, .. } => *thread == traces::Thread::mapper(m),
                    Act::Touch { .. } => i == w,
                    _ => false,
                })
                .collect();
            let punch_pos = acts[punch].0;
            for (k, i) in moving.into_iter().enumerate() {
                let (_, a) = acts.remove(i);
                acts.insert(punch + k, (punch_pos, a));
            }
            punch = acts.iter().position(is_punch).expect("still there");
        }
        // The touch waits on the host for the punch to start: its result cannot be waited
        // for before the punch is started.
        let early_wait = acts[..punch]
            .iter()
            .position(|(_, a)| matches!(a, Act::Touched { mapper, .. } if *mapper == m));
        if let Some(i) = early_wait {
            let (_, a) = acts.remove(i);
            punch -= 1;
            acts.insert(punch + 1, (acts[punch].0, a));
        }
    }
    // With a page-lock touch, window touches are armed last, just before the punch: the
    // page-lock touch sets up (many mappings) before it is armed, and it must not do that while
    // a window touch already spins at real-time priority on the CPU they share.
    if !acts[..punch].iter().any(|(_, a)| {
        matches!(
            a,
            Act::Touch {
                page_lock: true,
                ..
            }
        )
    }) {
        return;
    }
    let window_starts: Vec<usize> = (0..punch)
        .filter(|&i| matches!(acts[i].1, Act::Touch { window: true, .. }))
        .collect();
    for (k, i) in window_starts.into_iter().enumerate() {
        let a = acts.remove(i - k);
        acts.insert(punch - 1, a);
    }
}

/// Touches (by `touch` step index and page) whose fault maps a hole page inside the punch's
/// race window.
pub fn window_touches(t: &Trace) -> Vec<(usize, u8)> {
    let Some(w) = &t.meta.race_window else {
        return Vec::new();
    };
    w.faults.iter().map(|f| (f.touch, f.page)).collect()
}

/// Touches (by `touch` step index) that the trace has fault while the removal loop holds the
/// race window's page locked: the window has a raced fault, and the touch comes after the
/// punch's `remove_inode_hugepages:lock_page` of that page while the window is still open. In 5.10.262 such
/// a fault takes `i_mmap_rwsem` for read and waits for the page lock while the removal, still
/// holding it, waits for `i_mmap_lock_write` (the deadlock); the replayer aims it at the
/// removal's arrival at that page.
///
/// The host cannot see the removal's `lock_page`, so it repeats the touch
/// ([`crate::protocol::Pace::Repeat`]): from a little before the removal reaches the page
/// until the page is gone, the mapper faults it again and again, each time in a fresh
/// one-page mapping (made before the punch). That is still this trace's interleaving and adds
/// none it does not have: a try that ends before the removal takes the fault mutex is one
/// more fault mapping the page in the race window (what the trace's window fault does; the
/// page is mapped already, and the removal's `hugetlb_vmdelete_list(idx, idx + 1)` unmaps
/// every such mapping with the rest); a try that holds the fault mutex when the removal
/// wants it only delays the removal's `mutex_lock`, as the model lets any fault; the one try
/// that takes `i_mmap_rwsem` before the removal's `i_mmap_lock_write` and the fault mutex
/// after its `lock_page` is the trace's touch, and the kernel then deadlocks as the trace
/// ends. A try after the removal freed the page gets SIGBUS (its mapping has userfaultfd with
/// `UFFD_FEATURE_SIGBUS`) and ends the repetition: no page goes back into the hole. No `mmap`
/// or `munmap` runs during the punch (the model's `munmap` note: it would only add blocked
/// tasks).
pub fn page_lock_touches(t: &Trace) -> Vec<usize> {
    let Some((w, page)) = t.meta.race_window.as_ref().and_then(|w| Some((w, w.page?))) else {
        return Vec::new();
    };
    if w.faults.is_empty() {
        return Vec::new();
    }
    let locked = t.steps.iter().position(|s| {
        s.action
            == Action::Kernel {
                step: KernelStep::RemoveLockPage,
                page: Some(page),
            }
    });
    let Some(locked) = locked else {
        return Vec::new();
    };
    let returned = t.steps[locked..]
        .iter()
        .position(|s| {
            matches!(
                s.action,
                Action::Return {
                    call: traces::Call::PunchHole,
                    ..
                }
            )
        })
        .map_or(t.steps.len(), |i| locked + i);
    // Not once the removal is done with the page (the window closed).
    let open_until = w.close.map_or(returned, |c| c.min(returned));
    (locked + 1..open_until)
        .filter(|&i| matches!(t.steps[i].action, Action::Touch { .. }))
        .filter(|&i| !w.faults.iter().any(|f| f.touch == i))
        .collect()
}
