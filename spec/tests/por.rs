//! Partial-order reduction (`spec::engine::Engine::reduced`, argued in `spec/src/engine/por.rs`)
//! changes nothing a property can see: for every variant and every configuration family small
//! enough to search both ways, the reduced and the full model have the same verdicts and the
//! same set of reachable abstract states (the kernel without its locks, thread slots and
//! userfaultfd registrations: page cache, PTEs, pool and reservations, VMAs, ghost flags). What the argument rests on holds in
//! every reachable state of the full model: invariant (I), and the lock sets of
//! `Engine::takes` (every acquisition a pure one must not race is in its thread's set, and no
//! set grows along a transition). The reduction must also reduce.

use spec::engine::{Engine, Sys};
use spec::kernel::Kernel;
use spec::locks::{Mutex, RwSem};
use spec::pinned;
use spec::verdict::Verdict;
use spec::{Variant, PROPERTIES};
use stateright::{Checker, Model};
use std::collections::{HashSet, VecDeque};
use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};

/// The kernel as another process can see it: without its locks and thread slots, and without
/// each VMA's userfaultfd registration (only its own mapper's faults read it).
fn abstract_state(k: &Kernel) -> Kernel {
    let mut a = k.clone();
    a.fault_mutex.iter_mut().for_each(|l| *l = Mutex::default());
    a.page_lock.iter_mut().for_each(|l| *l = Mutex::default());
    a.i_mmap = RwSem::default();
    a.mms.iter_mut().for_each(|mm| {
        mm.vma_lock = RwSem::default();
        mm.uffd_missing = false;
    });
    a.threads.iter_mut().for_each(|t| *t = None);
    a
}

/// Every reachable abstract state, and how many states in all; checks what the reduction's
/// argument rests on, on the way, if asked.
fn kernels(m: &Engine, check_invariant: bool) -> (HashSet<Kernel>, usize) {
    let fp = |s: &Sys| BuildHasherDefault::<DefaultHasher>::default().hash_one(s);
    let mut queue: VecDeque<Sys> = m.init_states().into();
    let mut seen: HashSet<u64> = queue.iter().map(fp).collect();
    let mut ks = HashSet::new();
    let mut actions = Vec::new();
    while let Some(s) = queue.pop_front() {
        if check_invariant {
            if let Err(e) = m.check_local_invariant(&s) {
                panic!("{}: invariant (I) fails: {e}", m.cfg);
            }
            if let Err(e) = m.check_takes(&s) {
                panic!("{}: a lock set misses an acquisition: {e}\n{s:?}", m.cfg);
            }
        }
        ks.insert(abstract_state(&s.kernel));
        m.actions(&s, &mut actions);
        for a in actions.drain(..) {
            if let Some(n) = m.next_state(&s, a) {
                if check_invariant {
                    for t in s.kernel.tids() {
                        let (before, after) = (m.takes(&s, t), m.takes(&n, t));
                        assert!(
                            after.within(before),
                            "{}: {t:?}'s lock set grows from {before:?} to {after:?}\n{s:?}\n{n:?}",
                            m.cfg
                        );
                    }
                }
                if seen.insert(fp(&n)) {
                    queue.push_back(n);
                }
            }
        }
    }
    (ks, seen.len())
}

/// Each property's verdict by depth-first search (with symmetry reduction if asked).
fn verdicts(m: Engine, symmetry: bool) -> Vec<(&'static str, Verdict)> {
    let b = m.checker();
    let b = if symmetry {
        b.symmetry_fn(spec::symmetry::representative_sys)
    } else {
        b
    };
    let c = b.spawn_dfs().join();
    PROPERTIES
        .iter()
        .map(|p| {
            let found = c.discovery(p.sentence).is_some();
            (p.id, Verdict::of(&p.expectation, found))
        })
        .collect()
}

/// One variant: every family, full against reduced.
fn equivalent(v: Variant) {
    let mut errors = Vec::new();
    // Three mappers: too many states to keep every kernel state of twice, so only the verdicts
    // are compared (full and reduced, both with symmetry reduction).
    let cfg = pinned::three_mappers(v);
    let want = verdicts(Engine::new(&cfg), true);
    let got = verdicts(Engine::reduced(&cfg), true);
    if got != want {
        errors.push(format!("{cfg}: reduced + symmetry: {got:?}, not {want:?}"));
    }
    for cfg in pinned::small_families(v) {
        let (full, n_full) = kernels(&Engine::new(&cfg), true);
        let (reduced, n_reduced) = kernels(&Engine::reduced(&cfg), false);
        if full != reduced {
            errors.push(format!(
                "{cfg}: {} abstract states only without the reduction, {} only with it",
                full.difference(&reduced).count(),
                reduced.difference(&full).count()
            ));
        }
        if n_reduced >= n_full && n_full > 100 {
            errors.push(format!("{cfg}: {n_reduced} states reduced from {n_full}"));
        }
        let want = verdicts(Engine::new(&cfg), false);
        for (what, got) in [
            ("reduced", verdicts(Engine::reduced(&cfg), false)),
            ("reduced + symmetry", verdicts(Engine::reduced(&cfg), true)),
        ] {
            if got != want {
                errors.push(format!("{cfg}: {what}: {got:?}, not {want:?}"));
            }
        }
    }
    assert!(errors.is_empty(), "{v}:\n{}", errors.join("\n"));
}

spec::per_variant_tests!(equivalent);
