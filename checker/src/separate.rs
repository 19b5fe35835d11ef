//! Which variants' models can show what a replay of a trace observes: the fact behind a
//! trace's `meta.shown_by`, and so behind which variants a host can be told apart from.
//!
//! A replay drives a trace's user-level operations in the order of its plan
//! (`conformance::plan`): it starts calls and touches in plan order, waits for returns, touch
//! results and MISSING events in plan order, compares the file and the mappings where nothing
//! is in flight, and makes a window touch fault inside the punch's race window (the kernel's
//! events confirm it). It sees nothing of the kernel's internal order besides that window.
//! Variant `B` *shows* trace `T` when some path of `B`'s model, in `T`'s configuration, lets
//! that driver run `T`'s plan to its end with every observation as `T` predicts:
//!
//! - a call or touch enters the model only when the driver starts it (the plan's next act);
//! - a return, touch result (value read, SIGBUS, whether the MMU faulted) or MISSING event may
//!   come whenever `B` produces it, but must be the next one the plan waits for on that
//!   thread, with the predicted value (a `B` event the plan has no wait for kills the path);
//! - at each of the plan's comparisons, `B`'s file and mappings equal `T`'s (the counts of
//!   MISSING and SIGBUS agree already, every event having been matched);
//! - a window touch's fault maps its page while `B`'s race window is open for it
//!   (`Kernel::race_window_open`, the model's one definition of the window);
//! - kernel steps are free: the replay cannot order them, and the lock waits and page-cache
//!   events it records are findings, not part of the verdict.
//! - for `meta.window_wait_shown_by` only: the window touch the replay judges (the plan's
//!   first) must, during its fault, stand at an rw_semaphore read acquisition that *may wait*
//!   ([`may_wait_for_read`]), as a host shows when that fault has a `contention_begin` with
//!   `READ`. A fault's only other read rwsem is `mmap_lock`, and no actor takes a mapper's
//!   `mmap_lock` for write while its window touch is in flight (its mmap and register come
//!   before; nothing unmaps), so such a contention is on `i_mmap_rwsem` or the vma_lock.
//! - a trace that predicts a deadlock (its punch never returns) is shown only where `B`, once
//!   the plan has run out, can reach a state in which no thread can move.
//!
//! Assumptions: the model's paths over-approximate what the kernel can do in each variant, and
//! the replay observes exactly the plan (so a host that conforms to `T` showed `T`'s plan). Then
//! a host that conforms to `T` is not a `B` kernel for any `B` that does not show `T`. The
//! converse is not claimed: `B` showing `T` does not mean a `B` kernel always does, so a trace
//! that diverges rules nothing out.
//!
//! A migrator's `move_pages` is a call like any other: the plan starts it and waits for its
//! return.

use crate::export::{raced_fault, step, view};
use crate::run::Action as ModelAction;
use conformance::plan::{plan, Act};
use spec::ids::{mapper_id, Tid};
use spec::kernel::{Kernel, Op};
use spec::msg::Msg;
use spec::properties::{kernel, HugeModel, HugeState};
use spec::steps::Acquire;
use spec::{ModelCfg, Variant};
use stateright::actor::ActorModelAction;
use stateright::Model;
use std::collections::HashSet;
use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
use traces::{Action, Thread, Trace};

/// The variants, in [`Variant::ALL`] order, whose model shows `t` (see the module comment).
pub fn shown_by(t: &Trace) -> Vec<Variant> {
    Variant::ALL.into_iter().filter(|&v| shows(t, v)).collect()
}

/// Race traces: the variants, in [`Variant::ALL`] order, whose model shows `t` with the
/// judged window touch's fault waiting on an rw_semaphore for read; `None` without a window
/// touch.
pub fn window_wait_shown_by(t: &Trace) -> Option<Vec<Variant>> {
    let acts = plan(t).acts;
    acts.iter()
        .any(|a| matches!(a, Act::Touch { window: true, .. }))
        .then(|| {
            Variant::ALL
                .into_iter()
                .filter(|&v| search(t, v, true))
                .collect()
        })
}

/// Whether thread `t`, a fault at a step that takes an rw_semaphore for read, may have to wait
/// there in state `s`: the model blocks it now (`Kernel::blocked`), or some other kernel
/// thread's next step does not commute with it (run first, it blocks `t`'s step or changes what
/// it does; run second, it is blocked or does something else). `t`'s step does nothing but take
/// the lock, so such a step takes that rwsem for write, or trylocks it, within one model step:
/// in real time `t` can arrive while it holds it. This is how the model's atomic
/// `hugetlb_vmdelete_list` (one step from `i_mmap_lock_write` to `i_mmap_unlock_write`) can
/// show a fault waiting on it.
pub fn may_wait_for_read(model: &HugeModel, s: &HugeState, t: Tid) -> bool {
    let k = kernel(s);
    let cfg = &model.cfg;
    let Some(th) = k.threads[Kernel::slot(t)] else {
        return false;
    };
    if !matches!(th.op, Op::Fault { .. }) || th.pc.acquires() != Some(Acquire::RwsemRead) {
        return false;
    }
    if k.blocked(cfg, t) == Some(true) {
        return true;
    }
    let mut actions = Vec::new();
    model.actions(s, &mut actions);
    let step_of = |a: &ModelAction| match a {
        ActorModelAction::Deliver {
            msg: Msg::Step(u, _),
            ..
        } => Some(*u),
        _ => None,
    };
    let Some(mine) = actions.iter().find(|a| step_of(a) == Some(t)).cloned() else {
        return false;
    };
    let Some(me_first) = model.next_state(s, mine.clone()) else {
        return true;
    };
    actions
        .iter()
        .filter(|a| step_of(a).is_some_and(|u| u != t))
        .any(|other| {
            let Some(other_first) = model.next_state(s, other.clone()) else {
                return false;
            };
            let a = model.next_state(&other_first, mine.clone());
            let b = model.next_state(&me_first, other.clone());
            a.is_none() || b.is_none() || a != b
        })
}

/// Where the driver is, and what `B` has already produced ahead of it.
#[derive(Clone, PartialEq, Eq, Hash)]
struct Driver {
    /// The next act of the plan.
    next: usize,
    /// Wait acts already matched by an event of `B`.
    matched: Vec<bool>,
    /// Per mapper: the current touch's fault was a raced one; the MMU found the page mapped.
    raced: Vec<bool>,
    hit: Vec<Option<bool>>,
    /// Per mapper: the current touch's fault may have waited on an rwsem for read (tracked
    /// only when the search asks for it).
    waited: Vec<bool>,
}

/// The trace-side facts the search needs, computed once.
struct Guide<'a> {
    t: &'a Trace,
    acts: Vec<Act>,
    cfg: ModelCfg,
    /// The judged window touch (act index) must have waited on an rwsem for read.
    wait_at: Option<usize>,
}

/// Whether variant `v`'s model shows `t`.
pub fn shows(t: &Trace, v: Variant) -> bool {
    search(t, v, false)
}

/// Whether variant `v`'s model shows `t`, with the judged window touch's fault waiting on an
/// rwsem for read if `window_wait`.
fn search(t: &Trace, v: Variant, window_wait: bool) -> bool {
    let cfg = t.meta.config.model_cfg(v);
    let model: HugeModel = cfg.clone().into_model();
    let acts = plan(t).acts;
    let wait_at = window_wait
        .then(|| {
            acts.iter()
                .position(|a| matches!(a, Act::Touch { window: true, .. }))
        })
        .flatten();
    let g = Guide {
        t,
        acts,
        cfg,
        wait_at,
    };
    let mappers = t.meta.config.mappers as usize;
    let fp = |s: &HugeState| BuildHasherDefault::<DefaultHasher>::default().hash_one(s);
    let mut seen: HashSet<(u64, Driver)> = HashSet::new();
    let mut stack: Vec<(HugeState, Driver)> = Vec::new();
    for s in model.init_states() {
        let mut d = Driver {
            next: 0,
            matched: vec![false; g.acts.len()],
            raced: vec![false; mappers],
            hit: vec![None; mappers],
            waited: vec![false; mappers],
        };
        if g.advance(&s, &mut d) && seen.insert((fp(&s), d.clone())) {
            stack.push((s, d));
        }
    }
    // A trace that predicts a deadlock ends with the punch blocked for good: `B` shows it only
    // if it can get stuck there too, not merely run the plan's acts (the punch's return is
    // absent from the plan).
    let hang = t.meta.predicts_hang();
    let mut actions = Vec::new();
    while let Some((s, mut d)) = stack.pop() {
        if d.next == g.acts.len() && (!hang || stuck(&model, &s)) {
            return true;
        }
        if g.wait_at.is_some() {
            for m in 0..mappers {
                let t = Tid::main(mapper_id(m as u8));
                if !d.waited[m] && may_wait_for_read(&model, &s, t) {
                    d.waited[m] = true;
                }
            }
        }
        model.actions(&s, &mut actions);
        for a in actions.drain(..) {
            let Some(next) = model.next_state(&s, a.clone()) else {
                continue;
            };
            let mut d2 = d.clone();
            if g.take(&s, &next, &a, &mut d2)
                && g.advance(&next, &mut d2)
                && seen.insert((fp(&next), d2.clone()))
            {
                stack.push((next, d2));
            }
        }
    }
    false
}

impl Guide<'_> {
    /// The trace step an act names.
    fn named(&self, i: usize) -> &traces::Step {
        let step = match &self.acts[i] {
            Act::Start { step, .. }
            | Act::Return { step, .. }
            | Act::Touch { step, .. }
            | Act::Touched { step, .. }
            | Act::Missing { step, .. }
            | Act::Observe { step, .. } => *step,
        };
        &self.t.steps[step]
    }

    /// The first wait act of `thread` not matched yet, if every start of that thread before it
    /// has been driven (else `B`'s event belongs to no operation the driver started).
    fn wait_of(&self, thread: Thread, d: &Driver) -> Option<usize> {
        let mine = |i: &usize| self.named(*i).thread == thread;
        let w = (0..self.acts.len()).filter(mine).find(|&i| {
            matches!(
                self.acts[i],
                Act::Return { .. } | Act::Touched { .. } | Act::Missing { .. }
            ) && !d.matched[i]
        })?;
        let starts_driven = (0..w)
            .filter(mine)
            .filter(|&i| matches!(self.acts[i], Act::Start { .. } | Act::Touch { .. }))
            .all(|i| i < d.next);
        starts_driven.then_some(w)
    }

    /// Takes one model action; false if the driver would not let it happen or the host would
    /// see something else.
    fn take(&self, before: &HugeState, after: &HugeState, a: &ModelAction, d: &mut Driver) -> bool {
        let (thread, action) = step(&self.cfg, before, after, a);
        let mapper = thread.mapper_number().map(usize::from);
        match action {
            Action::Start => true,
            Action::Call(_) | Action::Touch { .. } => {
                let driven = d.next < self.acts.len()
                    && matches!(self.acts[d.next], Act::Start { .. } | Act::Touch { .. })
                    && self.named(d.next).thread == thread
                    && self.named(d.next).action == action;
                if driven {
                    if let (Action::Touch { .. }, Some(m)) = (&action, mapper) {
                        d.raced[m] = false;
                        d.hit[m] = None;
                        d.waited[m] = false;
                    }
                    d.next += 1;
                }
                driven
            }
            Action::Mmu { hit, .. } => {
                if let Some(m) = mapper {
                    d.hit[m] = Some(hit);
                }
                true
            }
            Action::Kernel { .. } => {
                let raced = raced_fault(&self.cfg, kernel(before), kernel(after), thread, &action);
                if let (Some(_), Some(m)) = (raced, mapper) {
                    d.raced[m] = true;
                }
                true
            }
            Action::Return { .. }
            | Action::Touched { .. }
            | Action::Sigbus { .. }
            | Action::UffdMissing { .. } => {
                let Some(w) = self.wait_of(thread, d) else {
                    return false;
                };
                if !self.waited(w, &action, d) {
                    return false;
                }
                d.matched[w] = true;
                true
            }
        }
    }

    /// Whether `B`'s event is what wait act `w` expects.
    fn waited(&self, w: usize, event: &Action, d: &Driver) -> bool {
        match (&self.acts[w], event) {
            (Act::Return { .. }, Action::Return { .. }) => self.named(w).action == *event,
            (Act::Missing { page, .. }, Action::UffdMissing { page: p, .. }) => page == p,
            (Act::Touched { .. }, Action::Touched { .. } | Action::Sigbus { .. }) => {
                let Act::Touched {
                    mapper, hit, step, ..
                } = &self.acts[w]
                else {
                    unreachable!("matched a Touched act")
                };
                let m = *mapper as usize;
                let value_ok = self.t.steps[*step].action == *event;
                // The replay checks the MMU's hit only for a touch that read or wrote.
                let hit_ok =
                    hit.is_none() || matches!(event, Action::Sigbus { .. }) || d.hit[m] == *hit;
                let judged = self
                    .wait_at
                    .is_some_and(|a| matches!(self.acts[a], Act::Touch { step: s, .. } if self.touch_of(*mapper, *step) == s));
                value_ok
                    && hit_ok
                    && (!self.window(*mapper, *step) || d.raced[m])
                    && (!judged || d.waited[m])
            }
            _ => false,
        }
    }

    /// The touch step of mapper `m` that ends at step `end`.
    fn touch_of(&self, m: u8, end: usize) -> usize {
        (0..end)
            .rev()
            .find(|&i| {
                self.t.steps[i].thread == Thread::mapper(m)
                    && matches!(self.t.steps[i].action, Action::Touch { .. })
            })
            .expect("a touch before its end")
    }

    /// Whether the touch that ends at step `end` of mapper `m` is a window touch.
    fn window(&self, m: u8, end: usize) -> bool {
        let touch = self.touch_of(m, end);
        self.acts
            .iter()
            .any(|a| matches!(a, Act::Touch { step, window: true, .. } if *step == touch))
    }

    /// Moves the driver past every act already satisfied: matched waits and comparisons that
    /// hold; false if a comparison fails.
    fn advance(&self, s: &HugeState, d: &mut Driver) -> bool {
        while d.next < self.acts.len() {
            match &self.acts[d.next] {
                Act::Return { .. } | Act::Touched { .. } | Act::Missing { .. } => {
                    if !d.matched[d.next] {
                        return true;
                    }
                }
                Act::Observe { step, .. } => {
                    let o = &self.t.steps[*step].observed;
                    let (file, mapped) = view(&self.cfg, s);
                    if file != o.file || mapped != o.mapped {
                        return false;
                    }
                }
                Act::Start { .. } | Act::Touch { .. } => return true,
            }
            d.next += 1;
        }
        true
    }
}

/// Whether no action of the model can change `s` (a deadlock or the end of every thread;
/// the driver asks only once the plan, which never sees the punch return, has run out).
fn stuck(model: &HugeModel, s: &HugeState) -> bool {
    let mut actions = Vec::new();
    model.actions(s, &mut actions);
    actions
        .into_iter()
        .all(|a| model.next_state(s, a).is_none())
}

#[cfg(test)]
mod tests {
    use super::*;
    use spec::{McopyOrder, Verdict};

    fn corpus() -> Vec<(String, Trace)> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../traces/corpus");
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        files
            .into_iter()
            .map(|f| {
                let name = f.file_name().unwrap().to_string_lossy().into_owned();
                (name, traces::load(&f).unwrap())
            })
            .collect()
    }

    /// The driver over the trace's own model reaches the end of its plan: the projection loses
    /// nothing the trace itself does.
    #[test]
    fn every_trace_is_shown_by_its_own_variant() {
        for (name, t) in corpus() {
            assert!(shows(&t, t.meta.variant), "{name}");
        }
    }

    /// UFFDIO_COPY's `EEXIST` on a page back in the cache is shown exactly by the variants that
    /// check the page cache before allocating; the 4.4 leak exactly by those that skip a
    /// mapped page.
    #[test]
    fn what_separates_follows_the_features() {
        let corpus = corpus();
        let by = |name: &str| {
            let (_, t) = corpus.iter().find(|(n, _)| n == name).expect(name);
            shown_by(t)
        };
        let eexist = by("v6_1.uffd_copy_eexist.witness.json");
        for v in Variant::ALL {
            let check_first = v.features().mcopy == McopyOrder::CheckFirst;
            assert_eq!(eexist.contains(&v), check_first, "{v}");
        }
        let leak = by("v4_4.hole_freed_on_return.counterexample.json");
        for v in Variant::ALL {
            assert_eq!(leak.contains(&v), v.features().skips_mapped_page(), "{v}");
        }
    }

    /// The window fault can be seen waiting on an rwsem for read exactly in the variants whose
    /// fault takes one the punch takes for write (5.7's `i_mmap_rwsem`, 6.1's vma_lock), for
    /// every race trace the fixed variants show: the observable that tells 5.7 and 6.1 from
    /// 4.5.
    #[test]
    fn a_window_fault_waits_on_an_rwsem_only_where_the_fault_takes_one() {
        let mut checked = 0;
        for (name, t) in corpus() {
            let Some(waits) = &t.meta.window_wait_shown_by else {
                continue;
            };
            if t.meta.config.migrators > 0 {
                continue;
            }
            for v in t.meta.shown_by.iter().copied() {
                let f = v.features();
                let rwsem = f.fault_i_mmap_read || f.vma_lock;
                assert_eq!(waits.contains(&v), rwsem, "{name} in {v}");
                checked += 1;
            }
            assert!(waits.iter().all(|v| t.meta.shown_by.contains(v)), "{name}");
        }
        assert!(checked > 20, "{checked}");
    }

    /// The exported waits: 5.7's window fault waits on nothing in its own interleaving (its
    /// `i_mmap_lock_read` comes after the vmdelete step), so nothing about it is certain,
    /// while its removal loop waits for the fault mutex the window fault holds; 4.5's window
    /// fault takes no rwsem at all; the 5.10 deadlock's two waits never end and are certain.
    #[test]
    fn the_exported_waits() {
        let corpus = corpus();
        let by = |name: &str| &corpus.iter().find(|(n, _)| n == name).expect(name).1;
        let m0 = Thread::mapper(0);
        for name in [
            "v5_7.race_window_fault.witness.json",
            "v4_5.race_window_fault.witness.json",
        ] {
            let t = by(name);
            let fault = t.meta.race_window.as_ref().unwrap().faults[0].step;
            assert!(t.meta.waits.iter().all(|w| !w.certain), "{name}");
            assert!(
                !t.meta
                    .waits
                    .iter()
                    .any(|w| w.thread == m0 && w.step <= Some(fault)),
                "{name}: {:?}",
                t.meta.waits
            );
            let removal = t
                .meta
                .waits
                .iter()
                .find(|w| w.thread == Thread::MANAGER)
                .expect("the removal loop waits");
            assert_eq!(
                (removal.lock, removal.held_by),
                (Acquire::Mutex, Some(m0)),
                "{name}"
            );
        }
        let v5_7 = by("v5_7.race_window_fault.witness.json");
        let fault_read = v5_7.steps.iter().position(|s| {
            s.thread == m0
                && s.action.kernel_step() == Some(traces::KernelStep::HugetlbFaultIMmapRead)
        });
        let vmdelete = v5_7.meta.race_window.as_ref().unwrap().open;
        assert!(
            fault_read > Some(vmdelete),
            "the fault takes i_mmap_rwsem after vmdelete"
        );
        let deadlock = by("v5_10.no_deadlock.counterexample.json");
        let certain: Vec<(Thread, Acquire)> = deadlock
            .meta
            .waits
            .iter()
            .filter(|w| w.certain)
            .map(|w| (w.thread, w.lock))
            .collect();
        assert_eq!(
            certain,
            [
                (Thread::MANAGER, Acquire::RwsemWrite),
                (Thread::mapper(1), Acquire::PageLock)
            ]
        );
        assert!(deadlock
            .meta
            .waits
            .iter()
            .all(|w| w.certain == w.step.is_none()));
    }

    /// A trace that predicts a deadlock is shown exactly by the variants whose model can
    /// violate its property in its configuration (the expected-verdict rules, from features).
    #[test]
    fn a_deadlock_is_shown_only_where_the_model_deadlocks() {
        let hangs: Vec<_> = corpus()
            .into_iter()
            .filter(|(_, t)| t.meta.predicts_hang())
            .collect();
        assert!(!hangs.is_empty(), "the corpus has deadlock traces");
        for (name, t) in hangs {
            for v in Variant::ALL {
                let violated = spec::verdict::expected(&t.meta.config.model_cfg(v))
                    .iter()
                    .any(|(id, verdict)| *id == t.meta.property && *verdict == Verdict::Violated);
                assert_eq!(shows(&t, v), violated, "{name} in {v}");
            }
        }
    }

    /// A trace whose observables are changed is shown by no variant: the search compares
    /// what the replay compares.
    #[test]
    fn a_trace_with_a_wrong_prediction_is_shown_by_none() {
        let (_, mut t) = corpus()
            .into_iter()
            .find(|(n, _)| n == "v4_5.punch_frees_hole.witness.json")
            .unwrap();
        let observed = plan(&t)
            .acts
            .iter()
            .rev()
            .find_map(|a| match a {
                Act::Observe { step, .. } => Some(*step),
                _ => None,
            })
            .expect("a comparison");
        // From there to the end, so the plan (which reads where the file changes) stays.
        for s in &mut t.steps[observed..] {
            let page = &mut s.observed.file[0];
            *page = match page {
                Some(_) => None,
                None => Some(traces::Value::Marker),
            };
        }
        assert_eq!(shown_by(&t), []);
    }
}
