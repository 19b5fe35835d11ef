//! What a replay does, derived from a trace: which user-level steps to start, which to wait
//! for, where the host can be compared with the prediction, and which touch must land in the
//! punch's race window.
//!
//! Kernel steps cannot be run from user space. Calls, touches and handler ioctls start in trace
//! order and run concurrently on the host; returns, touch results and MISSING events are
//! waited for in trace order. Where nothing is in flight in the trace, the whole host state is
//! compared with the step's prediction.

pub use crate::act::{Act, Call, Outcome};
use crate::window::{hoist_window_touches, page_lock_touches, window_touches};
use traces::{Action, KernelStep, Level, Syscall, Thread, Trace};

/// A trace turned into driver actions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    pub acts: Vec<Act>,
    /// The page a window touch races on (the one the padding goes in front of).
    pub raced: Option<u8>,
}

/// One user-level operation of the trace, with where it starts and ends among the steps.
struct Op {
    /// The step that names it (the call, the touch, the MISSING read).
    named: usize,
    /// Where the host may start it: its first kernel step (nothing observable happens before).
    start: usize,
    /// Where the host must have finished it: its last kernel step that changes what a host
    /// can see (what follows is bookkeeping), `None` if it never finishes in the trace.
    done: Option<usize>,
    start_act: Option<Act>,
    done_act: Option<Act>,
}

/// Whether the host-visible file or mappings change at step `i`.
fn changes(t: &Trace, i: usize) -> bool {
    match i.checked_sub(1) {
        None => true,
        Some(j) => !t.steps[j].observed.diff(&t.steps[i].observed).is_empty(),
    }
}

/// Kernel steps of `thread` in `(from, to)`.
fn kernel_steps(t: &Trace, thread: Thread, from: usize, to: usize) -> Vec<usize> {
    (from + 1..to)
        .filter(|&i| t.steps[i].level() == Level::Kernel && t.steps[i].thread == thread)
        .collect()
}

/// Where an operation of `thread` named at `from` and completed at `to` starts and is done:
/// at its first and its last kernel step that change what a host can see, or, if none does,
/// at its last kernel step (a MISSING event raised, an `EEXIST`), or at the step that names it.
fn span(t: &Trace, thread: Thread, from: usize, to: Option<usize>) -> (usize, Option<usize>) {
    let end = to.unwrap_or(t.steps.len());
    let ks = kernel_steps(t, thread, from, end);
    let changing: Vec<usize> = ks.iter().copied().filter(|&k| changes(t, k)).collect();
    let (start, done) = match (changing.first(), changing.last(), ks.last()) {
        (Some(&a), Some(&b), _) => (a, b),
        (_, _, Some(&k)) => (k, k),
        _ => (from, to.unwrap_or(from)),
    };
    (start, to.map(|_| done))
}

/// Builds the plan of a (validated) trace.
///
/// Each operation starts at its first kernel step that changes what a host can see and is
/// waited for at its last: the host cannot hold a system call between two of its kernel steps,
/// but it can start it as late and wait for it as early as that, which keeps every other
/// thread's operations on the side of it the trace puts them (steps nobody can see, lock
/// acquisitions, checks, may run at another time on the host). Where nothing is in flight, the
/// host is compared with the prediction.
pub fn plan(t: &Trace) -> Plan {
    let windows = window_touches(t);
    let page_locks = page_lock_touches(t);
    let raced = windows.iter().map(|&(_, p)| p).min();
    let mut ops: Vec<Op> = Vec::new();
    let mut punched_before = false;
    for (i, s) in t.steps.iter().enumerate() {
        let thread = s.thread;
        let completion = |want: &dyn Fn(&Action) -> bool| {
            (i + 1..t.steps.len())
                .find(|&j| t.steps[j].thread == thread && want(&t.steps[j].action))
        };
        match s.action {
            Action::Start
            | Action::Return { .. }
            | Action::Kernel { .. }
            | Action::Mmu { .. }
            | Action::Touched { .. }
            | Action::Sigbus { .. } => {}
            Action::Call(sc) => {
                let call = match sc {
                    Syscall::Fallocate { .. } if !punched_before => Call::Prealloc,
                    Syscall::Fallocate { start, end } => Call::Fallocate { start, end },
                    Syscall::PunchHole { start, end } => {
                        punched_before = true;
                        Call::Punch { start, end }
                    }
                    Syscall::Mmap => Call::Mmap,
                    Syscall::UffdioRegister => Call::Register,
                    Syscall::UffdioCopy { page } => Call::Copy { page },
                    Syscall::UffdioWake { page } => Call::Wake { page },
                    Syscall::MovePages { page } => Call::MovePages { page },
                };
                let ret = completion(&|a| matches!(a, Action::Return { .. }));
                let (start, done) = span(t, thread, i, ret);
                ops.push(Op {
                    named: i,
                    start,
                    done,
                    start_act: Some(Act::Start {
                        step: i,
                        thread,
                        call,
                    }),
                    done_act: ret.map(|r| {
                        let Action::Return { call, ret } = t.steps[r].action else {
                            unreachable!("found a return")
                        };
                        Act::Return {
                            step: r,
                            thread,
                            call,
                            ret,
                        }
                    }),
                });
            }
            Action::Touch { page, write } => {
                let m = thread.mapper_number().expect("mappers touch");
                let end =
                    completion(&|a| matches!(a, Action::Touched { .. } | Action::Sigbus { .. }));
                let mmu = (i + 1..end.unwrap_or(t.steps.len())).find(|&j| {
                    t.steps[j].thread == thread && matches!(t.steps[j].action, Action::Mmu { .. })
                });
                let hit = mmu.and_then(|j| match t.steps[j].action {
                    Action::Mmu { hit, .. } => Some(hit),
                    _ => None,
                });
                let from = mmu.unwrap_or(i);
                // A fault acts in hugetlb_no_page (maps, allocates, raises MISSING or SIGBUS);
                // what comes before it are locks and checks.
                let acts_at = kernel_steps(t, thread, from, end.unwrap_or(t.steps.len()))
                    .into_iter()
                    .find(|&k| t.steps[k].action.kernel_step() == Some(KernelStep::HugetlbNoPage));
                let (start, done) = match hit {
                    Some(true) => (from, end.map(|_| from)),
                    _ => {
                        let (start, done) = span(t, thread, from, end);
                        (acts_at.unwrap_or(start).min(start), done)
                    }
                };
                let window = windows.contains(&(i, page));
                let page_lock = page_locks.contains(&i);
                ops.push(Op {
                    named: i,
                    start: if window || page_lock { i } else { start },
                    done,
                    start_act: Some(Act::Touch {
                        step: i,
                        mapper: m,
                        page,
                        write,
                        window,
                        page_lock,
                    }),
                    done_act: end.map(|d| Act::Touched {
                        step: d,
                        mapper: m,
                        page,
                        outcome: match t.steps[d].action {
                            Action::Touched { value, .. } => Outcome::Value(value),
                            _ => Outcome::Sigbus,
                        },
                        hit,
                    }),
                });
            }
            Action::UffdMissing { page, .. } => {
                let m = thread.mapper_number().expect("mapper");
                let main = thread.main();
                let raised = (0..i)
                    .rev()
                    .find(|&j| {
                        let s = &t.steps[j];
                        s.thread == main
                            && s.action
                                == Action::Kernel {
                                    step: KernelStep::HugetlbNoPage,
                                    page: Some(page),
                                }
                    })
                    .unwrap_or(i);
                ops.push(Op {
                    named: i,
                    start: raised,
                    done: Some(raised),
                    start_act: None,
                    done_act: Some(Act::Missing {
                        step: i,
                        mapper: m,
                        page,
                    }),
                });
            }
        }
    }
    // (position, 0 = start / 1 = done, operation order) orders the acts.
    let mut keyed: Vec<((usize, u8, usize), Act)> = Vec::new();
    for op in ops {
        if let Some(a) = op.start_act {
            keyed.push(((op.start, 0, op.named), a));
        }
        if let (Some(d), Some(a)) = (op.done, op.done_act) {
            keyed.push(((d.max(op.start), 1, op.named), a));
        }
    }
    keyed.sort_by_key(|(k, _)| *k);
    let mut acts: Vec<(usize, Act)> = keyed.into_iter().map(|(k, a)| (k.0, a)).collect();
    hoist_window_touches(&mut acts);
    migrate_during_punch(&mut acts);
    Plan {
        acts: with_observations(t, acts),
        raced,
    }
}

/// A `move_pages` the trace calls after the punch started (its migration races the removal
/// loop) is armed just before the punch starts, like a window touch: the migrator waits on the
/// host for the window touch to have mapped its page (the migration moves the page a fault
/// mapped in the window) and then goes at once; the round trip of a start sent after the
/// touch's report would eat the window. It is waited for after the window touches' results
/// (before the punch returns). Ordered by first changing step alone, it would start and end
/// before the punch, whose first such step is its removal of the page.
fn migrate_during_punch(acts: &mut Vec<(usize, Act)>) {
    let is_punch = |a: &Act| {
        matches!(
            a,
            Act::Start {
                call: Call::Punch { .. },
                ..
            }
        )
    };
    let Some(punch) = acts.iter().position(|(_, a)| is_punch(a)) else {
        return;
    };
    let Act::Start {
        step: punch_step, ..
    } = acts[punch].1
    else {
        unreachable!("found the punch")
    };
    let moves: Vec<usize> = acts
        .iter()
        .filter_map(|(_, a)| match a {
            Act::Start {
                call: Call::MovePages { .. },
                step,
                ..
            } if *step > punch_step => Some(*step),
            _ => None,
        })
        .collect();
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
    for m in moves {
        let i = acts
            .iter()
            .position(|(_, a)| matches!(a, Act::Start { step, .. } if *step == m))
            .expect("still there");
        let (_, start) = acts.remove(i);
        let Act::Start { thread, .. } = start else {
            unreachable!("a start")
        };
        let ret = acts
            .iter()
            .position(|(_, a)| matches!(a, Act::Return { thread: t, .. } if *t == thread))
            .map(|j| acts.remove(j).1);
        let punch = acts
            .iter()
            .position(|(_, a)| is_punch(a))
            .expect("the punch");
        acts.insert(punch, (acts[punch].0, start));
        let punch = punch + 1;
        let anchor = acts
            .iter()
            .rposition(
                |(_, a)| matches!(a, Act::Touched { mapper, .. } if windows.contains(mapper)),
            )
            .unwrap_or(punch)
            .max(punch);
        if let Some(r) = ret {
            acts.insert(anchor + 1, (acts[anchor].0, r));
        }
    }
}

/// Adds a comparison of the whole host state after every wait that leaves nothing in flight,
/// and at the end if what is still in flight are only faults asleep in `handle_userfault`.
/// Each act comes with its position among the trace steps.
fn with_observations(t: &Trace, acts: Vec<(usize, Act)>) -> Vec<Act> {
    let mappers = t.meta.config.mappers as usize;
    let (mut missing, mut sigbus) = (vec![0u32; mappers], vec![0u32; mappers]);
    let mut out = Vec::new();
    let mut in_flight: Vec<(Thread, bool)> = Vec::new();
    let mut asleep: Vec<u8> = Vec::new();
    for (pos, a) in acts {
        let mut done = None;
        match &a {
            Act::Start { thread, .. } => in_flight.push((*thread, false)),
            Act::Touch { mapper, .. } => in_flight.push((Thread::mapper(*mapper), true)),
            Act::Missing { mapper, .. } => {
                asleep.push(*mapper);
                missing[*mapper as usize] += 1;
            }
            Act::Return { thread, .. } => done = Some(*thread),
            Act::Touched {
                mapper, outcome, ..
            } => {
                asleep.retain(|m| m != mapper);
                if *outcome == Outcome::Sigbus {
                    sigbus[*mapper as usize] += 1;
                }
                done = Some(Thread::mapper(*mapper));
            }
            Act::Observe { .. } => {}
        }
        out.push(a);
        if let Some(thread) = done {
            if let Some(i) = in_flight.iter().position(|(th, _)| *th == thread) {
                in_flight.remove(i);
            }
            if in_flight.is_empty() {
                out.push(Act::Observe {
                    step: pos,
                    missing: missing.clone(),
                    sigbus: sigbus.clone(),
                });
            }
        }
    }
    let sleepers_only = in_flight
        .iter()
        .all(|(th, touch)| *touch && th.mapper_number().is_some_and(|m| asleep.contains(&m)));
    if !in_flight.is_empty() && sleepers_only {
        out.push(Act::Observe {
            step: t.steps.len() - 1,
            missing,
            sigbus,
        });
    }
    out
}
