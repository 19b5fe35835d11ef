//! The punch's race window in a trace: which touches must land in it (the model says, in
//! `meta.race_window`), and how the plan orders them so the host can make that happen.

use crate::act::{Act, Call};
use traces::Trace;

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
}

/// Touches (by `touch` step index and page) whose fault maps a hole page inside the punch's
/// race window.
pub fn window_touches(t: &Trace) -> Vec<(usize, u8)> {
    let Some(w) = &t.meta.race_window else {
        return Vec::new();
    };
    w.faults.iter().map(|f| (f.touch, f.page)).collect()
}
