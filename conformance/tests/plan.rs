//! The replay plans of a few corpus traces: what the driver starts, waits for and compares,
//! in which order. No host needed.

use conformance::plan::{plan, Act, Call};
use conformance::window::{page_lock_touches, window_touches};
use std::path::Path;
use traces::{Errno, Thread, Trace};

fn load(name: &str) -> Trace {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../traces/corpus")
        .join(name);
    traces::load(p).unwrap()
}

fn position(acts: &[Act], f: impl Fn(&Act) -> bool) -> usize {
    acts.iter().position(f).expect("act in plan")
}

#[test]
fn the_leak_aims_a_touch_at_the_race_window() {
    let t = load("v4_4.hole_freed_on_return.counterexample.json");
    assert_eq!(window_touches(&t).len(), 1);
    let p = plan(&t);
    assert_eq!(p.raced, Some(0));
    let touch = position(&p.acts, |a| {
        matches!(
            a,
            Act::Touch {
                window: true,
                page: 0,
                ..
            }
        )
    });
    let punch = position(&p.acts, |a| {
        matches!(
            a,
            Act::Start {
                call: Call::Punch { .. },
                ..
            }
        )
    });
    assert!(
        touch < punch,
        "the window touch is armed before the punch starts: {:#?}",
        p.acts
    );
    // The mapper's setup moves ahead of the punch with its touch.
    let mmap = position(&p.acts, |a| {
        matches!(
            a,
            Act::Start {
                call: Call::Mmap,
                ..
            }
        )
    });
    assert!(mmap < punch);
    // After everything returned, the host is compared with the leak: page 0 still there.
    let last = p.acts.last().unwrap();
    let Act::Observe { step, .. } = last else {
        panic!("ends with an observation: {last:?}")
    };
    assert_eq!(t.steps[*step].observed.file_pages(), 2);
}

#[test]
fn a_missing_event_is_waited_for_where_the_fault_raised_it() {
    let t = load("v4_5.hole_touch_missing.witness.json");
    assert!(window_touches(&t).is_empty());
    let p = plan(&t);
    let missing = position(&p.acts, |a| {
        matches!(
            a,
            Act::Missing {
                mapper: 0,
                page: 0,
                ..
            }
        )
    });
    let Act::Observe {
        missing: counts, ..
    } = p.acts.last().unwrap()
    else {
        panic!(
            "the trace ends with a touch asleep in handle_userfault, still compared: {:#?}",
            p.acts
        )
    };
    assert_eq!(counts, &vec![1, 0]);
    assert!(missing < p.acts.len() - 1);
}

#[test]
fn reuse_happens_after_the_missing_event_and_before_the_copy() {
    let t = load("v6_1.reuse_copy.uffd_copy_eexist.witness.json");
    let p = plan(&t);
    let missing = position(&p.acts, |a| matches!(a, Act::Missing { .. }));
    let reuse = position(&p.acts, |a| {
        matches!(
            a,
            Act::Start {
                call: Call::Fallocate { .. },
                ..
            }
        )
    });
    let copy = position(&p.acts, |a| {
        matches!(
            a,
            Act::Start {
                call: Call::Copy { .. },
                ..
            }
        )
    });
    let eexist = position(
        &p.acts,
        |a| matches!(a, Act::Return { thread, ret: Err(Errno::EEXIST), .. } if *thread == Thread::handler(0)),
    );
    assert!(missing < reuse, "{:#?}", p.acts);
    assert!(reuse < copy && copy < eexist, "{:#?}", p.acts);
    // The reuse's allocation is waited for before the copy starts.
    let allocated = p.acts[reuse..copy].iter().any(|a| {
        matches!(
            a,
            Act::Return {
                thread: Thread::MANAGER,
                ..
            }
        )
    });
    assert!(
        allocated,
        "the copy must find the page the reuse allocated: {:#?}",
        p.acts
    );
}

#[test]
#[ignore]
fn show() {
    let t = load(&std::env::var("TRACE").unwrap());
    for a in plan(&t).acts {
        eprintln!("{a:?}");
    }
}

/// The migrator's `move_pages` is armed before the punch starts (on the host it waits for the
/// window touch to have mapped the hole page: the model's migration isolates the page the fault
/// mapped), and is waited for after the window touch and before the punch returns: the
/// migration races the removal of that page.
#[test]
fn the_migration_races_the_removal_of_the_mapped_page() {
    for name in [
        "v6_1.migrator.no_bug_on.counterexample.json",
        "v6_17.migrator.migration_race_window.witness.json",
    ] {
        let t = load(name);
        let p = plan(&t);
        let migrator = Thread {
            process: traces::Role::Migrator,
            ctx: traces::Ctx::Main,
        };
        let is_migrator = |th: &Thread| *th == migrator;
        let start = position(
            &p.acts,
            |a| matches!(a, Act::Start { thread, call: Call::MovePages { page: 0 }, .. } if is_migrator(thread)),
        );
        let moved = position(
            &p.acts,
            |a| matches!(a, Act::Return { thread, .. } if is_migrator(thread)),
        );
        let armed = position(&p.acts, |a| matches!(a, Act::Touch { window: true, .. }));
        let touched = position(&p.acts, |a| matches!(a, Act::Touched { mapper: 0, .. }));
        let punch = position(&p.acts, |a| {
            matches!(
                a,
                Act::Start {
                    call: Call::Punch { .. },
                    ..
                }
            )
        });
        let punch_ret = p
            .acts
            .iter()
            .rposition(|a| matches!(a, Act::Return { thread, .. } if *thread == Thread::MANAGER))
            .unwrap();
        let order = [armed, start, punch, touched, moved, punch_ret];
        assert!(
            order.windows(2).all(|w| w[0] < w[1]),
            "{name}: {order:?} {:#?}",
            p.acts
        );
    }
}

/// 5.10's deadlock needs mapper 1's fault while the removal holds the raced page's lock: that
/// touch is armed before the punch, like the window touch, and no other corpus trace has one.
#[test]
fn the_deadlock_aims_the_second_fault_at_the_raced_page_lock() {
    let t = load("v5_10.no_deadlock.counterexample.json");
    assert_eq!(page_lock_touches(&t), [30]);
    let p = plan(&t);
    let punch = position(&p.acts, |a| {
        matches!(
            a,
            Act::Start {
                call: Call::Punch { .. },
                ..
            }
        )
    });
    for (mapper, window, page_lock) in [(0, true, false), (1, false, true)] {
        let touch = position(&p.acts, |a| {
            matches!(a, Act::Touch { mapper: m, window: w, page_lock: l, .. }
                if *m == mapper && *w == window && *l == page_lock)
        });
        assert!(
            touch < punch,
            "mapper {mapper}'s touch is armed before the punch"
        );
    }
    // The page-lock touch first: it sets up its mappings before the window touch spins at
    // real-time priority on the CPU they share, and the window touch is armed last.
    let order: Vec<(u8, bool)> = p
        .acts
        .iter()
        .filter_map(|a| match a {
            Act::Touch {
                mapper, page_lock, ..
            } => Some((*mapper, *page_lock)),
            _ => None,
        })
        .collect();
    assert_eq!(order, [(1, true), (0, false)]);
    assert!(matches!(p.acts[punch - 1], Act::Touch { window: true, .. }));
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../traces/corpus");
    for f in std::fs::read_dir(corpus).unwrap() {
        let name = f.unwrap().file_name().to_string_lossy().into_owned();
        if name.ends_with(".json") && !name.starts_with("v5_10.") {
            assert_eq!(page_lock_touches(&load(&name)), [] as [usize; 0], "{name}");
        }
    }
}
