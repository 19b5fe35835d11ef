//! The 2015 bug, step by step: v4_4's shortest counterexample of `hole_freed_on_return`,
//! written out as a literal table and compared with the search, the exported trace, the
//! model's final state and Stateright's own check of the action sequence. Then, for every
//! variant, the shortest-path search against Stateright's breadth-first search.

use checker::run::{Action, Discovery};
use checker::{export, shortest};
use spec::ids::{mapper_of, Ctx};
use spec::kernel::Step as KStep;
use spec::msg::{Msg, Syscall};
use spec::node::Role;
use spec::page::{Data, Origin, Page, PageId};
use spec::properties::{by_id, kernel, HugeModel};
use spec::{ModelCfg, Variant, PROPERTIES};
use stateright::actor::{ActorModelAction, Id};
use stateright::{Checker, Expectation, Model};
use std::collections::BTreeSet;
use traces::{Action as TAction, Call, Kind, Thread, Value};

const PROP: &str = "hole_freed_on_return";

/// The counterexample, one row per action: who acts (`kernel:<thread>` for a kernel step),
/// the action's name in traces, and the page it works on.
///
/// Every step is needed; 22 is the fewest (checked below by a depth-bounded search):
/// the manager's pre-allocation (entry, one step per page, the loop's exit, the return: 5),
/// starting a mapper (1), the punch's entry, `inode_lock` and `hugetlb_vmdelete_list` (3),
/// the mapper's mmap and userfaultfd registration (entry, kernel step, return: 6), its touch
/// of page 0 (choice, MMU miss, fault mutex, `hugetlb_no_page` maps the cached page: 4), and
/// the removal loop on page 0 (fault mutex, page lock: skipped as mapped) and its exit, where
/// the punch returns (3). The race: the fault maps page 0 (step 18) after
/// `hugetlb_vmdelete_list` (step 9) and before the removal loop takes page 0's fault mutex
/// (step 19); v4_4 then sees a mapped page and leaves it in the file.
const EXPECTED: [(&str, &str, Option<u8>); 22] = [
    ("manager", "fallocate", None),
    ("kernel:manager", "hugetlbfs_fallocate:mutex_lock", Some(0)),
    ("kernel:manager", "hugetlbfs_fallocate:mutex_lock", Some(1)),
    ("kernel:manager", "hugetlbfs_fallocate:mutex_lock", None),
    ("manager", "return", None),
    ("mapper0", "start", None),
    ("manager", "punch_hole", None),
    ("mapper0", "mmap", None),
    ("kernel:manager", "hugetlbfs_punch_hole:inode_lock", None),
    (
        "kernel:manager",
        "hugetlb_vmdelete_list:i_mmap_lock_write",
        None,
    ),
    ("kernel:mapper0", "hugetlbfs_file_mmap", None),
    ("mapper0", "return", None),
    ("mapper0", "uffdio_register", None),
    ("kernel:mapper0", "userfaultfd_register", None),
    ("mapper0", "return", None),
    ("mapper0", "touch", Some(0)),
    ("mapper0", "mmu", Some(0)),
    ("kernel:mapper0", "hugetlb_fault:mutex_lock", Some(0)),
    ("kernel:mapper0", "hugetlb_no_page", Some(0)),
    (
        "kernel:manager",
        "remove_inode_hugepages:mutex_lock",
        Some(0),
    ),
    (
        "kernel:manager",
        "remove_inode_hugepages:lock_page",
        Some(0),
    ),
    ("kernel:manager", "remove_inode_hugepages:mutex_lock", None),
];

fn v4_4() -> ModelCfg {
    ModelCfg::for_variant(Variant::V4_4)
}

fn sentence(id: &str) -> &'static str {
    by_id(id).expect("a property").sentence
}

/// A process's name, written here independently of `checker::export`.
fn process(cfg: &ModelCfg, id: Id) -> String {
    match mapper_of(id, cfg.mappers) {
        Some(m) => format!("mapper{m}"),
        None if usize::from(id) == 0 => "manager".into(),
        None if cfg.migrators > 0 && id == spec::ids::migrator_id(cfg.mappers) => "migrator".into(),
        None => "kernel".into(),
    }
}

fn syscall(sc: Syscall) -> &'static str {
    match sc {
        Syscall::Fallocate { .. } => "fallocate",
        Syscall::PunchHole { .. } => "punch_hole",
        Syscall::Mmap => "mmap",
        Syscall::UffdioRegister => "uffdio_register",
        Syscall::UffdioCopy { .. } => "uffdio_copy",
        Syscall::UffdioWake { .. } => "uffdio_wake",
        Syscall::MovePages { .. } => "move_pages",
    }
}

/// A model action's (actor, name), and the page of a touch or MMU access.
fn name(cfg: &ModelCfg, a: &Action) -> (String, String, Option<u8>) {
    match a {
        ActorModelAction::SelectRandom { actor, random, .. } => {
            (process(cfg, *actor), "touch".into(), Some(random.page))
        }
        ActorModelAction::Deliver { src, dst, msg } => match *msg {
            Msg::Start => (process(cfg, *dst), "start".into(), None),
            Msg::Syscall(sc) => (process(cfg, *src), syscall(sc).into(), None),
            Msg::Step(t, step) => {
                let handler = if t.ctx == Ctx::Handler {
                    ".handler"
                } else {
                    ""
                };
                let who = format!("kernel:{}{handler}", process(cfg, t.pid()));
                (who, step.name().into(), None)
            }
            Msg::Return(..) => (process(cfg, *dst), "return".into(), None),
            Msg::Access { page, .. } => (process(cfg, *src), "mmu".into(), Some(page)),
            Msg::Touched { page, .. } => (process(cfg, *dst), "touched".into(), Some(page)),
            Msg::Sigbus { page } => (process(cfg, *dst), "sigbus".into(), Some(page)),
            Msg::UffdMissing { page, .. } => {
                (process(cfg, *dst), "uffd_missing".into(), Some(page))
            }
        },
        other => panic!("the model has no {other:?}"),
    }
}

/// The literal table as model actions: at each state, the one enabled action with that name
/// (and page, for a touch or an access).
fn resolve(cfg: &ModelCfg, model: &HugeModel) -> Vec<Action> {
    let mut state = model.init_states().remove(0);
    let mut out = Vec::new();
    for (i, &(actor, action, page)) in EXPECTED.iter().enumerate() {
        let mut enabled = Vec::new();
        model.actions(&state, &mut enabled);
        let mut matching: Vec<_> = enabled
            .into_iter()
            .filter_map(|a| {
                let (who, what, p) = name(cfg, &a);
                let page_ok = p.is_none() || p == page;
                let next = model.next_state(&state, a.clone())?;
                (who == actor && what == action && page_ok).then_some((a, next))
            })
            .collect();
        assert_eq!(
            matching.len(),
            1,
            "step {i} ({actor}, {action}, {page:?}) names one enabled action"
        );
        let (a, next) = matching.remove(0);
        out.push(a);
        state = next;
    }
    out
}

fn shortest_counterexample() -> (HugeModel, Discovery) {
    let model = v4_4().into_model();
    let found = shortest::discoveries(&model);
    let path = found.get(PROP).expect("v4_4 leaks the hole").clone();
    (model, path)
}

/// The exported trace of the shortest counterexample is the literal table, step by step.
#[test]
fn v4_4_counterexample_trace_is_the_table() {
    let cfg = v4_4();
    let (_, path) = shortest_counterexample();
    let n = path.clone().into_actions().len();
    let t = export::trace(&cfg, PROP, Kind::Counterexample, &path, n);
    assert_eq!(t.meta.property, PROP);
    assert_eq!(t.meta.variant, spec::Variant::V4_4);
    assert_eq!(t.meta.kind, Kind::Counterexample);
    assert_eq!(t.meta.discovered_at, EXPECTED.len());
    let got: Vec<(String, String, Option<u8>)> = t
        .steps
        .iter()
        .map(|s| {
            let who = if s.actor() == Role::Kernel {
                format!("kernel:{}", s.thread)
            } else {
                s.actor().to_string()
            };
            (who, s.action.name().to_string(), s.action.page())
        })
        .collect();
    let want: Vec<(String, String, Option<u8>)> = EXPECTED
        .iter()
        .map(|&(a, b, p)| (a.to_string(), b.to_string(), p))
        .collect();
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        assert_eq!(g, w, "step {i}");
    }
    assert_eq!(got.len(), want.len(), "trace length");
    for (i, s) in t.steps.iter().enumerate() {
        assert_eq!(s.index, i);
    }

    // The race, whatever the order of the steps around it: mapper0's fault maps page 0 after
    // hugetlb_vmdelete_list and before the removal loop takes page 0's fault mutex.
    let at = |who: &str, action: &str, page: Option<u8>| {
        got.iter()
            .position(|(w, a, p)| w == who && a == action && *p == page)
            .unwrap_or_else(|| panic!("no ({who}, {action}, {page:?}) step"))
    };
    let vmdelete = at(
        "kernel:manager",
        "hugetlb_vmdelete_list:i_mmap_lock_write",
        None,
    );
    let mapped = at("kernel:mapper0", "hugetlb_no_page", Some(0));
    let removal = at(
        "kernel:manager",
        "remove_inode_hugepages:mutex_lock",
        Some(0),
    );
    assert!(vmdelete < mapped && mapped < removal);
    assert_eq!(t.steps[mapped - 1].observed.mapped[0], Vec::<u8>::new());
    assert_eq!(t.steps[mapped].observed.mapped[0], vec![0u8]);

    // Arguments the table leaves out: the ranges, the touch, the returns.
    let action = |i: usize| t.steps[i].action;
    assert_eq!(
        action(0),
        TAction::Call(Syscall::Fallocate { start: 0, end: 2 })
    );
    assert_eq!(
        action(6),
        TAction::Call(Syscall::PunchHole { start: 0, end: 1 })
    );
    assert!(matches!(action(15), TAction::Touch { write: false, .. }));
    assert!(
        matches!(action(16), TAction::Mmu { hit: false, .. }),
        "the touch faults"
    );
    for i in [4, 11, 14] {
        assert!(
            matches!(action(i), TAction::Return { ret: Ok(()), .. }),
            "step {i}"
        );
    }
    assert!(action(4).returns(Call::Fallocate));
    assert!(action(11).returns(Call::Mmap));

    // What a host would see: both pages still in the file with the manager's marker, page 0
    // mapped by mapper0, before the removal loop ran (step 18) and after the punch (step 21).
    let marker = vec![Some(Value::Marker), Some(Value::Marker)];
    for i in [18, 21] {
        let o = &t.steps[i].observed;
        assert_eq!(o.file, marker, "step {i}");
        assert_eq!(o.mapped, vec![vec![0u8], vec![]], "step {i}");
        assert_eq!(
            o.missing,
            vec![0, 0],
            "no MISSING event: the page was cached"
        );
    }
    // Before the fault, nobody maps anything.
    assert_eq!(t.steps[17].observed.mapped, vec![Vec::<u8>::new(), vec![]]);
}

/// The last state of the counterexample, read from the model: the punch has returned, and
/// page 0 is the very page that was in the file before the punch, still cached and mapped.
#[test]
fn v4_4_counterexample_final_state() {
    let (model, path) = shortest_counterexample();
    let s = path.last_state();
    let k = kernel(s);
    let original = PageId { idx: 0, gen: 0 };
    assert_eq!(
        k.cache[0],
        Some(Page {
            id: original,
            data: Data::Marker,
            origin: Origin::Fallocate,
            pre_punch: true,
        }),
        "page 0 keeps its pre-punch identity"
    );
    assert_eq!(k.mms[0].ptes[0], Some(original), "mapper0 maps it");
    assert_eq!(*k.mms[1].ptes, [None, None], "mapper1 never started");
    assert!(k.ghost.punched, "the punch returned");
    assert!(k.ghost.race_window_fault);
    assert!(!k.ghost.punch_frees_hole);
    assert!(k.threads[0].is_none(), "the punch thread left the kernel");
    let returned = s.network.iter_all().any(|e| {
        usize::from(e.dst) == 0
            && matches!(
                e.msg,
                Msg::Return(Syscall::PunchHole { start: 0, end: 1 }, Ok(()))
            )
    });
    assert!(returned, "punch_hole's return is on its way to the manager");
    // The manager did not get its page back: both pool pages are in the file.
    assert_eq!(k.free_huge_pages, 0);
    assert_eq!(k.i_blocks, 2);
    // Every other property this trace could break still holds at its end.
    for id in ["no_stale_mapping", "accounting", "no_bug_on", "no_deadlock"] {
        let p = by_id(id).unwrap();
        assert!(p.holds(&model, s), "{id} holds at the end");
    }
    let p = by_id(PROP).unwrap();
    assert!(!p.holds(&model, s));
    // One step earlier, before the punch returned, the property still held.
    let states = path.clone().into_states();
    assert!(p.holds(&model, &states[states.len() - 2]));
}

/// The literal table, resolved to model actions, is the search's path and a counterexample
/// Stateright accepts (`Checker::assert_discovery`: the path is valid from the initial state
/// and ends in a state that violates the property).
#[test]
fn v4_4_counterexample_is_a_stateright_discovery() {
    let cfg = v4_4();
    let (model, path) = shortest_counterexample();
    let actions = resolve(&cfg, &model);
    assert_eq!(actions, path.clone().into_actions());
    let c = cfg.clone().into_model().checker().spawn_bfs().join();
    c.assert_discovery(sentence(PROP), actions.clone());

    // Any strict prefix is not a counterexample.
    let prefix = Discovery::from_actions(&model, model.init_states().remove(0), &actions[..21])
        .expect("a valid prefix");
    assert!(by_id(PROP).unwrap().holds(&model, prefix.last_state()));

    // And no shorter one exists: breadth-first search bounded to 21 actions finds none,
    // bounded to 22 finds one. (A state after `n` actions is at depth `n + 1`; a bound of
    // `d` checks states at depth below `d`.)
    let bounded = |actions: usize| {
        cfg.clone()
            .into_model()
            .checker()
            .target_max_depth(actions + 2)
            .spawn_bfs()
            .join()
            .discovery(sentence(PROP))
    };
    assert!(
        bounded(21).is_none(),
        "a counterexample shorter than 22 steps"
    );
    let found = bounded(22).expect("a counterexample of 22 steps");
    assert_eq!(found.into_actions().len(), 22);
}

/// Finishing what is in flight after the discovery extends the trace without changing it,
/// and only lets started work end: the manager receives the punch's return.
#[test]
fn v4_4_counterexample_completed() {
    let cfg = v4_4();
    let (model, path) = shortest_counterexample();
    let n = path.clone().into_actions().len();
    let short = export::trace(&cfg, PROP, Kind::Counterexample, &path, n);
    let full = shortest::complete_in_flight(&model, path);
    let long = export::trace(&cfg, PROP, Kind::Counterexample, &full, n);
    assert_eq!(long.meta.discovered_at, n);
    assert_eq!(long.steps[..n], short.steps[..]);
    let after = &long.steps[n..];
    assert!(
        after
            .iter()
            .any(|s| s.thread == Thread::MANAGER && s.action.returns(Call::PunchHole)),
        "the manager sees the punch return"
    );
    for s in after {
        assert!(
            s.actor() == Role::Kernel
                || matches!(
                    s.action,
                    TAction::Return { .. } | TAction::Touched { .. } | TAction::Sigbus { .. }
                ),
            "step {} ({} {}) starts something new",
            s.index,
            s.actor(),
            s.action.name()
        );
    }
    // Nothing after the discovery frees the page: the last state still leaks it.
    assert_eq!(
        long.steps.last().unwrap().observed.file,
        vec![Some(Value::Marker), Some(Value::Marker)]
    );
}

/// For every variant's default configuration, the shortest-path search discovers the same
/// properties as Stateright's breadth-first search, never with a longer path, and each of its
/// paths is a discovery Stateright accepts.
#[test]
fn shortest_matches_stateright_bfs() {
    for v in Variant::ALL {
        let cfg = ModelCfg::for_variant(v);
        let model = cfg.clone().into_model();
        let ours = shortest::discoveries(&model);
        let c = cfg.clone().into_model().checker().spawn_bfs().join();
        assert!(c.is_done());
        let theirs: BTreeSet<&str> = PROPERTIES
            .iter()
            .filter(|p| c.discovery(p.sentence).is_some())
            .map(|p| p.id)
            .collect();
        let ours_ids: BTreeSet<&str> = ours.keys().copied().collect();
        assert_eq!(ours_ids, theirs, "{v}: properties discovered");
        for (id, path) in &ours {
            let p = by_id(id).unwrap();
            let mine = path.clone().into_actions();
            let stateright = c.discovery(p.sentence).unwrap().into_actions();
            assert!(
                mine.len() <= stateright.len(),
                "{v}/{id}: shortest path of {} actions, Stateright's {}",
                mine.len(),
                stateright.len()
            );
            if p.expectation != Expectation::Eventually {
                c.assert_discovery(p.sentence, mine);
            }
        }
    }
}

/// The shortest-path search's paths are the shortest: for each of v4_4's discoveries of `n`
/// actions, Stateright's breadth-first search bounded to `n - 1` actions finds nothing, and
/// bounded to `n` finds one.
#[test]
fn shortest_paths_are_minimal_in_v4_4() {
    let cfg = v4_4();
    let model = cfg.clone().into_model();
    let ours = shortest::discoveries(&model);
    assert!(ours.len() >= 6, "v4_4 has discoveries: {:?}", ours.keys());
    let bounded = |actions: usize, id: &str| {
        cfg.clone()
            .into_model()
            .checker()
            .target_max_depth(actions + 2)
            .spawn_bfs()
            .join()
            .discovery(sentence(id))
            .map(|p| p.into_actions().len())
    };
    for (id, path) in &ours {
        let n = path.clone().into_actions().len();
        assert_eq!(
            bounded(n - 1, id),
            None,
            "{id}: a discovery shorter than {n} actions"
        );
        assert!(
            bounded(n, id).is_some(),
            "{id}: no discovery within {n} actions"
        );
    }
    // The step names the table uses are the model's kernel steps.
    for (actor, action, _) in EXPECTED {
        if actor.starts_with("kernel:") {
            assert!(KStep::from_name(action).is_some(), "{action}");
        }
    }
}
