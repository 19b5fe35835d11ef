//! A Stateright path (counterexample or witness) as a trace: each action by name and
//! arguments, with the host-observable state after it, and the race window as the model
//! defines it.

use crate::run::{Action as ModelAction, Discovery};
use spec::ids::{mapper_of, Tid};
use spec::kernel::{Kernel, Op, Step as KStep};
use spec::msg::Msg;
use spec::node::Role;
use spec::properties::{by_id, kernel, HugeState};
use spec::ModelCfg;
use stateright::actor::{ActorModelAction, Id};
use traces::{
    Action, Call, Config, Kind, Meta, Observed, RaceWindow, RacedFault, Step, Thread, Trace, Wait,
};

/// The trace of a discovery of property `id` in configuration `cfg`; the property is violated
/// (or reached) after the first `discovered_at` actions of `path`.
pub fn trace(
    cfg: &ModelCfg,
    id: &'static str,
    kind: Kind,
    path: &Discovery,
    discovered_at: usize,
) -> Trace {
    let prop = by_id(id).expect("a known property");
    let pairs = path.clone().into_vec();
    let mut counts = Counts::new(cfg.mappers);
    let mut steps = Vec::new();
    let mut states = Vec::new();
    let mut kernel_steps = Vec::new();
    for w in pairs.windows(2) {
        let (before, Some(action)) = (&w[0].0, &w[0].1) else {
            continue;
        };
        let after = &w[1].0;
        let (thread, action) = step(cfg, before, after, action);
        counts.count(thread, &action);
        steps.push(Step {
            index: steps.len(),
            thread,
            action,
            observed: observe(cfg, after, &counts),
        });
        states.push((kernel(before), kernel(after)));
        kernel_steps.push(match w[0].1.as_ref().expect("an action") {
            ActorModelAction::Deliver {
                msg: Msg::Step(t, s),
                ..
            } => Some((*t, *s)),
            _ => None,
        });
    }
    let mut t = Trace {
        meta: Meta {
            format: traces::FORMAT_VERSION,
            variant: cfg.variant,
            config: Config::from(cfg),
            property: id.to_string(),
            sentence: prop.sentence.to_string(),
            kind,
            discovered_at,
            description: crate::export_text::description(cfg, id, kind),
            expected_host_outcome: crate::export_text::host_outcome(cfg, id, kind),
            race_window: race_window(cfg, &steps, &states),
            shown_by: Vec::new(),
            waits: waits(cfg, &states, &kernel_steps),
            window_wait_shown_by: None,
        },
        steps,
    };
    t.meta.shown_by = crate::separate::shown_by(&t);
    t.meta.window_wait_shown_by = crate::separate::window_wait_shown_by(&t);
    t
}

/// The acquisitions that wait in the path (`traces::Wait`): a kernel thread standing at a step
/// that the model's `Kernel::blocked` says would block now. `kernel_steps[i]` is step `i`'s
/// kernel thread and step, if it is a kernel step.
fn waits(
    cfg: &ModelCfg,
    states: &[(&Kernel, &Kernel)],
    kernel_steps: &[Option<(Tid, KStep)>],
) -> Vec<Wait> {
    let n = states.len();
    // The state before step `k` (`n`: the end).
    let at = |k: usize| if k < n { states[k].0 } else { states[n - 1].1 };
    // `t` stands at `s` in state `k`, blocked.
    let waiting = |k: usize, t: Tid, s: KStep| {
        let kk = at(k);
        kk.threads[Kernel::slot(t)].is_some_and(|th| th.pc == s) && kk.blocked(cfg, t) == Some(true)
    };
    let releaser = |from: usize, to: usize, t: Tid, s: KStep| {
        (from..to)
            .rev()
            .find(|&k| waiting(k, t, s) && !waiting(k + 1, t, s))
            .and_then(|k| kernel_steps[k].map(|(h, _)| thread(cfg, h)))
    };
    let mut out = Vec::new();
    for (i, ks) in kernel_steps.iter().enumerate() {
        let Some((t, s)) = *ks else { continue };
        let Some(lock) = s.acquires() else { continue };
        let ready = (0..i)
            .rev()
            .find(|&j| {
                kernel_steps[j].is_some_and(|(u, _)| u == t)
                    || at(j + 1).threads[Kernel::slot(t)].is_none()
            })
            .map_or(0, |j| j + 1);
        if let Some(k) = (ready..i).find(|&k| waiting(k, t, s)) {
            out.push(Wait {
                thread: thread(cfg, t),
                lock,
                since: k.saturating_sub(1),
                step: Some(i),
                held_by: releaser(k, i, t, s),
                certain: false,
            });
        }
    }
    // Threads still waiting when the path ends: the trace predicts a hang.
    let end = at(n);
    for slot in 0..end.threads.len() {
        let t = end.tid_of_slot(slot);
        let Some(th) = end.threads[slot] else {
            continue;
        };
        let (s, Some(lock)) = (th.pc, th.pc.acquires()) else {
            continue;
        };
        if !waiting(n, t, s) {
            continue;
        }
        let k = (0..n)
            .rev()
            .take_while(|&k| waiting(k, t, s))
            .last()
            .unwrap_or(n);
        out.push(Wait {
            thread: thread(cfg, t),
            lock,
            since: k.saturating_sub(1),
            step: None,
            held_by: None,
            certain: true,
        });
    }
    out.sort_by_key(|w| (w.since, w.step));
    out
}

/// The race window of the trace's punch, from the model's own definition
/// (`Kernel::race_window_open`): it opens when the punch has run `hugetlb_vmdelete_list`; a
/// fault that maps a page while the window is open for it is a raced fault; the window closes
/// at the step after which it is no longer open for the (first) raced page.
fn race_window(
    cfg: &ModelCfg,
    steps: &[Step],
    states: &[(&Kernel, &Kernel)],
) -> Option<RaceWindow> {
    let vmdeleted = |k: &Kernel| k.punch_in_progress().is_some_and(|p| p.vmdeleted);
    let open = states
        .iter()
        .position(|(b, a)| !vmdeleted(b) && vmdeleted(a))?;
    let punch = steps[..open]
        .iter()
        .rposition(|s| matches!(s.action, Action::Call(sc) if Call::of(sc) == Call::PunchHole))?;
    let mut faults = Vec::new();
    for (i, s) in steps.iter().enumerate().skip(open + 1) {
        let (before, after) = states[i];
        if let Some(page) = raced_fault(cfg, before, after, s.thread, &s.action) {
            let touch = steps[..i]
                .iter()
                .rposition(|t| t.thread == s.thread && matches!(t.action, Action::Touch { .. }))
                .expect("a fault follows its touch");
            faults.push(RacedFault {
                step: i,
                touch,
                thread: s.thread,
                page,
            });
        }
    }
    let from = faults.first().map_or(open + 1, |f| f.step + 1);
    let closes = |i: usize, p: u8| {
        let (b, a) = states[i];
        b.race_window_open(cfg, p) && !a.race_window_open(cfg, p)
    };
    let (close, page) = match faults.first() {
        Some(f) => (
            (from..steps.len()).find(|&i| closes(i, f.page)),
            Some(f.page),
        ),
        None => (from..steps.len())
            .find_map(|i| {
                (cfg.hole_start..cfg.hole_end)
                    .find(|&p| closes(i, p))
                    .map(|p| (Some(i), Some(p)))
            })
            .unwrap_or((None, None)),
    };
    Some(RaceWindow {
        punch,
        open,
        close,
        page,
        faults,
    })
}

/// The page a kernel step maps for a mapper while the punch's race window is open for it
/// (`Kernel::race_window_open`): the step is a raced fault.
pub(crate) fn raced_fault(
    cfg: &ModelCfg,
    before: &Kernel,
    after: &Kernel,
    thread: Thread,
    action: &Action,
) -> Option<u8> {
    if action.kernel_step() != Some(KStep::HugetlbNoPage) {
        return None;
    }
    let (m, page) = (thread.mapper_number()?, action.page()?);
    let pte = |k: &Kernel| k.mms[m as usize].ptes[page as usize];
    (pte(before).is_none() && pte(after).is_some() && before.race_window_open(cfg, page))
        .then_some(page)
}

/// MISSING events read and SIGBUS raised so far, per mapper.
struct Counts {
    missing: Vec<u32>,
    sigbus: Vec<u32>,
}

impl Counts {
    fn new(mappers: u8) -> Self {
        Counts {
            missing: vec![0; mappers as usize],
            sigbus: vec![0; mappers as usize],
        }
    }

    fn count(&mut self, thread: Thread, a: &Action) {
        let m = || thread.mapper_number().expect("a mapper's event") as usize;
        match a {
            Action::UffdMissing { .. } => self.missing[m()] += 1,
            Action::Sigbus { .. } => self.sigbus[m()] += 1,
            _ => {}
        }
    }
}

/// The actor an id stands for, as the model lays its actors out (`spec::node::nodes`).
pub fn role(cfg: &ModelCfg, id: Id) -> Role {
    spec::node::nodes(cfg)[usize::from(id)].role
}

fn thread(cfg: &ModelCfg, t: Tid) -> Thread {
    Thread {
        process: role(cfg, t.pid()),
        ctx: t.ctx,
    }
}

/// The page a kernel step works on, for the trace. The removal loop's head looks its page up,
/// so that one comes from the state after the step.
fn step_page(before: &Kernel, after: &Kernel, t: Tid, step: KStep) -> Option<u8> {
    let slot = Kernel::slot(t);
    match before.threads[slot]?.op {
        Op::Fault { page, .. } | Op::UffdioCopy { page } | Op::UffdioWake { page } => Some(page),
        Op::Fallocate { next, end, .. } if next < end => Some(next),
        Op::MovePages(mg) => Some(mg.idx),
        Op::PunchHole(p) => match step {
            KStep::HugetlbfsPunchHole | KStep::HugetlbVmdeleteList => None,
            KStep::RemoveInodeHugepages => match after.threads[slot]?.op {
                Op::PunchHole(p) => Some(p.cur),
                _ => None,
            },
            _ => Some(p.cur),
        },
        _ => None,
    }
}

/// One model action as a trace step's thread and action.
pub(crate) fn step(
    cfg: &ModelCfg,
    before: &HugeState,
    after: &HugeState,
    action: &ModelAction,
) -> (Thread, Action) {
    let k = kernel(before);
    let main = |id: Id| thread(cfg, Tid::main(id));
    match action {
        ActorModelAction::SelectRandom { actor, random, .. } => (
            main(*actor),
            Action::Touch {
                page: random.page,
                write: random.write,
            },
        ),
        ActorModelAction::Deliver { src, dst, msg } => match *msg {
            Msg::Start => (main(*dst), Action::Start),
            Msg::Syscall(sc) => (thread(cfg, Tid::new(*src, sc.ctx())), Action::Call(sc)),
            Msg::Step(t, step) => (
                thread(cfg, t),
                Action::Kernel {
                    step,
                    page: step_page(k, kernel(after), t, step),
                },
            ),
            Msg::Return(sc, ret) => (
                thread(cfg, Tid::new(*dst, sc.ctx())),
                Action::Return {
                    call: Call::of(sc),
                    ret,
                },
            ),
            Msg::Access { page, write } => {
                let m = mapper_of(*src, cfg.mappers).expect("a mapper touches");
                let hit = k.mms[m as usize].ptes[page as usize].is_some();
                (main(*src), Action::Mmu { page, write, hit })
            }
            Msg::Touched {
                page,
                write,
                value: v,
            } => (
                main(*dst),
                Action::Touched {
                    page,
                    write,
                    value: v,
                },
            ),
            Msg::Sigbus { page } => (main(*dst), Action::Sigbus { page }),
            Msg::UffdMissing { page, write } => (
                thread(cfg, Tid::handler(*dst)),
                Action::UffdMissing { page, write },
            ),
        },
        other => panic!("the model has no {other:?} actions"),
    }
}

/// What a host can see of a model state.
fn observe(cfg: &ModelCfg, s: &HugeState, counts: &Counts) -> Observed {
    let (file, mapped) = view(cfg, s);
    let k = kernel(s);
    Observed {
        file,
        mapped,
        missing: counts.missing.clone(),
        sigbus: counts.sigbus.clone(),
        pool: traces::Pool {
            taken: cfg.pool_pages() - k.free_huge_pages,
            reserved: k.resv_huge_pages,
            i_blocks: k.i_blocks,
        },
    }
}

/// The file's pages and each mapper's mapped pages in a model state.
pub(crate) type View = (Vec<Option<traces::Value>>, Vec<Vec<u8>>);

/// The file and the mappings of a model state, as a host reads them.
pub(crate) fn view(cfg: &ModelCfg, s: &HugeState) -> View {
    let k = kernel(s);
    let file = k.cache.iter().map(|p| p.map(|p| p.data)).collect();
    let mapped = k
        .mms
        .iter()
        .map(|mm| {
            (0..cfg.pages)
                .filter(|&i| mm.ptes[i as usize].is_some())
                .collect()
        })
        .collect();
    (file, mapped)
}
