//! The punch's race window in a trace: which touches must land in it, and how the plan
//! orders them so the host can make that happen.

use crate::plan::{Act, Call, Thread};
use traces::Trace;

/// The punch's progress as the trace tells it.
#[derive(Default)]
struct PunchView {
    in_flight: bool,
    vmdeleted: bool,
    /// Pages the removal loop has reached.
    reached: Vec<u8>,
}

/// Moves each window touch, with the setup its mapper does between the punch call and the
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
    let windows: Vec<u8> = acts
        .iter()
        .filter_map(|(_, a)| match a {
            Act::Touch {
                mapper,
                window: true,
                ..
            } => Some(*mapper),
            _ => None,
        })
        .collect();
    for m in windows {
        let w = acts
            .iter()
            .position(|(_, a)| matches!(a, Act::Touch { mapper, window: true, .. } if *mapper == m))
            .expect("the window touch");
        if w > punch {
            let moving: Vec<usize> = (punch + 1..=w)
                .filter(|&i| match &acts[i].1 {
                    Act::Start {
                        thread: Thread::Mapper(x),
                        call: Call::Mmap | Call::Register,
                        ..
                    } => *x == m,
                    Act::Return {
                        thread: Thread::Mapper(x),
                        ..
                    } => *x == m,
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
}

/// Touches (by `touch` step index and page) whose fault maps a hole page after the punch's
/// `hugetlb_vmdelete_list` and before `remove_inode_hugepages` reaches the page.
pub fn window_touches(t: &Trace) -> Vec<(usize, u8)> {
    let mut out = Vec::new();
    let mut punch = PunchView::default();
    let mut open_touch: Vec<(u8, usize, u8)> = Vec::new();
    let c = &t.meta.config;
    for (i, s) in t.steps.iter().enumerate() {
        let page = s.args.page;
        match (s.thread.as_str(), s.action.as_str()) {
            ("manager", "punch_hole") => {
                punch = PunchView {
                    in_flight: true,
                    ..PunchView::default()
                }
            }
            ("manager", "return") if s.args.call.as_deref() == Some("punch_hole") => {
                punch.in_flight = false
            }
            ("manager", "hugetlb_vmdelete_list:i_mmap_lock_write") => punch.vmdeleted = true,
            ("manager", "remove_inode_hugepages:mutex_lock") => punch.reached.extend(page),
            (th, "touch") => {
                if let (Some(Thread::Mapper(m)), Some(p)) = (Thread::parse(th), page) {
                    open_touch.push((m, i, p));
                }
            }
            (th, "hugetlb_no_page") => {
                let Some(Thread::Mapper(m)) = Thread::parse(th) else {
                    continue;
                };
                let Some(p) = page else { continue };
                let before = i
                    .checked_sub(1)
                    .map(|j| &t.steps[j].observed.mapped[m as usize]);
                let mapped_now = s.observed.mapped[m as usize].contains(&p)
                    && !before.is_some_and(|b| b.contains(&p));
                let in_window = punch.in_flight
                    && punch.vmdeleted
                    && !punch.reached.contains(&p)
                    && (c.hole_start..c.hole_end).contains(&p);
                if mapped_now && in_window {
                    if let Some(&(_, ti, tp)) =
                        open_touch.iter().find(|&&(om, _, op)| om == m && op == p)
                    {
                        out.push((ti, tp));
                    }
                }
            }
            (th, "touched" | "sigbus") => {
                if let Some(Thread::Mapper(m)) = Thread::parse(th) {
                    open_touch.retain(|&(om, _, _)| om != m);
                }
            }
            _ => {}
        }
    }
    out
}
