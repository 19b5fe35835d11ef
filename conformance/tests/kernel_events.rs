//! The kernel-event matcher on event logs recorded on this host (Linux 6.18) while replaying
//! `v4_5.race_window_fault`: a confirmed window, a missed one, a fault that came too late, and
//! a contention the trace does not allow. No root needed: the logs are fixtures.

use conformance::evidence::attempt::{judge, Inputs};
use conformance::evidence::blocking::{self, Expected, Role};
use conformance::evidence::events::{parse, Event};
use conformance::evidence::window::{confirm, Subject, Touch, Verdict};
use conformance::evidence::{pagecache, predict, LockKind};
use conformance::layout::Layout;
use conformance::plan::plan;
use std::path::Path;
use traces::Trace;

fn fixture(name: &str) -> (Vec<Event>, Subject, Touch) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/kernel_events")
        .join(format!("{name}.events"));
    let text = std::fs::read_to_string(&path).unwrap();
    let (s, t) = Subject::from_header(&text).expect("a subject header");
    (parse(&text).unwrap(), s, t.expect("a window touch"))
}

fn race_trace() -> (Trace, Layout) {
    let t = traces::load(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../traces/corpus/v4_5.race_window_fault.witness.json"),
    )
    .unwrap();
    let layout = Layout::new(t.meta.config.pages, plan(&t).raced, 512);
    (t, layout)
}

#[test]
fn a_confirmed_window() {
    let (ev, s, touch) = fixture("confirmed");
    let w = confirm(&ev, &s, &touch);
    assert_eq!(w.verdict, Verdict::Confirmed, "{w:?}");
    let (f0, f1, del) = (
        w.fault_us.unwrap(),
        w.fault_end_us.unwrap(),
        w.delete_us.unwrap(),
    );
    assert!(0.0 < f0 && f0 < f1 && f1 < del, "{w:?}");
    assert!(del <= w.punch_end_us.unwrap());

    // Every page of the hole, padding first, deleted once, in index order.
    let (t, layout) = race_trace();
    let predicted = predict::pagecache(&t, &layout).unwrap();
    assert_eq!(predicted.deletes, (0..513).collect::<Vec<u64>>());
    let pc = pagecache::check(&ev, &s, &predicted);
    assert_eq!(pc.differences, Vec::<String>::new());
    assert_eq!((pc.deletes_predicted, pc.deletes_observed), (513, 513));

    // The lock waits of this recording (the fault waits on a rwsem for reading, the punch on
    // a mutex) are ones the trace's threads take.
    let waits = predict::waits(&t);
    let actors = [(Role::Manager, s.manager), (Role::Mapper(0), touch.mapper)];
    let e = judge(
        &ev,
        &Inputs {
            subject: s,
            touch: Some((touch, true)),
            page_cache: Some(&predicted),
            waits: &waits,
            actors: &actors,
        },
    );
    assert!(e.confirmed());
    assert_eq!(e.blocking, Vec::<String>::new());
    assert_eq!(e.disagreement(), None);
    // The window fault's thread waited on an rwsem for read: what 4.5's model cannot show.
    assert_eq!(e.window_waited, Some(true));
    assert!(!t
        .meta
        .window_wait_shown_by
        .as_ref()
        .unwrap()
        .contains(&t.meta.variant));

    // The timing heuristic saying "missed" on the same events is a finding.
    let e = judge(
        &ev,
        &Inputs {
            subject: s,
            touch: Some((touch, false)),
            page_cache: Some(&predicted),
            waits: &waits,
            actors: &actors,
        },
    );
    assert_eq!(
        e.disagreement().as_deref(),
        Some("the kernel confirms the window; the timing heuristic missed it")
    );
}

#[test]
fn a_missed_window() {
    let (ev, s, touch) = fixture("missed");
    let w = confirm(&ev, &s, &touch);
    assert_eq!(w.verdict, Verdict::NoFault, "{w:?}");
    assert!(w.delete_us.is_some());
}

#[test]
fn a_fault_that_came_too_late() {
    let (ev, s, touch) = fixture("too_late");
    let w = confirm(&ev, &s, &touch);
    assert_eq!(w.verdict, Verdict::TooLate, "{w:?}");
    assert!(w.fault_us.unwrap() >= w.delete_us.unwrap(), "{w:?}");
    // Timing said hit (say): the report names the disagreement.
    let (t, layout) = race_trace();
    let predicted = predict::pagecache(&t, &layout).unwrap();
    let e = judge(
        &ev,
        &Inputs {
            subject: s,
            touch: Some((touch, true)),
            page_cache: Some(&predicted),
            waits: &predict::waits(&t),
            actors: &[],
        },
    );
    assert_eq!(
        e.disagreement().as_deref(),
        Some("timing says the window was hit; the kernel says: the fault began after the page's delete, or was not over before it")
    );
    // No confirmed window, so nothing said about its fault's waits.
    assert_eq!(e.window_waited, None);
}

/// Only the faulting thread's waits count: the same contention on another thread of the
/// mapper (its uffd handler) is not the window fault waiting.
#[test]
fn a_window_wait_is_the_faulting_threads() {
    let (ev, s, touch) = fixture("confirmed");
    let w = confirm(&ev, &s, &touch);
    let (f0, f1) = w.fault_ns.unwrap();
    let seen = blocking::contentions(&ev, Role::Mapper(0), touch.mapper, f0, f1);
    assert!(blocking::waited_for_read(&seen, w.fault_tid));
    assert!(!blocking::waited_for_read(&seen, Some(-1)));
    assert!(!blocking::waited_for_read(&seen, None));
}

/// The certain waits of the 5.10 deadlock (the punch waiting for `i_mmap_rwsem` for write,
/// the fault for the page lock, which has no contention event) against recorded events: the
/// 6.18 recording has no such wait of the manager, a recording with one has.
#[test]
fn certain_waits_against_recorded_contentions() {
    let t = traces::load(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../traces/corpus/v5_10.no_deadlock.counterexample.json"),
    )
    .unwrap();
    let expected = predict::waits(&t);
    assert_eq!(
        expected.certain,
        vec![(Role::Manager, LockKind::RwsemWrite)]
    );
    let (ev, s, _) = fixture("confirmed");
    let p = conformance::evidence::window::punch(&ev, &s).unwrap();
    let manager = blocking::contentions(&ev, Role::Manager, s.manager, p.0, p.1.unwrap());
    let missing =
        "the trace makes Manager wait on a rwsem write; the host shows no such contention";
    assert!(
        blocking::check(&manager, &expected)
            .iter()
            .any(|f| f == missing),
        "{manager:?}"
    );
    let hung = vec![blocking::Contention {
        role: Role::Manager,
        tid: s.manager,
        kind: LockKind::RwsemWrite,
        begin_ns: p.0 + 1,
        end_ns: None,
    }];
    assert!(
        !blocking::check(&hung, &expected)
            .iter()
            .any(|f| f == missing),
        "the certain wait is shown"
    );
}

#[test]
fn a_contention_the_trace_does_not_allow() {
    let (ev, s, touch) = fixture("confirmed");
    let w = confirm(&ev, &s, &touch);
    let (f0, f1) = w.fault_ns.unwrap();
    let seen: Vec<_> = blocking::contentions(&ev, Role::Mapper(0), touch.mapper, f0, f1);
    assert_eq!(
        seen.iter().map(|c| c.kind).collect::<Vec<_>>(),
        vec![LockKind::RwsemRead]
    );
    assert!(seen[0].end_ns.unwrap() > seen[0].begin_ns);
    let manager = {
        let p = conformance::evidence::window::punch(&ev, &s).unwrap();
        blocking::contentions(&ev, Role::Manager, s.manager, p.0, p.1.unwrap())
    };
    assert!(
        manager.iter().all(|c| c.kind == LockKind::Mutex),
        "{manager:?}"
    );
    assert!(!manager.is_empty());
    let all: Vec<_> = seen.into_iter().chain(manager).collect();
    // A trace whose punch takes only rwsems for writing (no fault mutex) does not allow the
    // manager's wait on a mutex; one that makes the mapper wait for writing misses a wait.
    let strict = Expected {
        allowed: vec![
            (Role::Manager, [LockKind::RwsemWrite].into()),
            (Role::Mapper(0), [LockKind::RwsemRead].into()),
        ],
        certain: vec![(Role::Mapper(0), LockKind::RwsemWrite)],
    };
    let found = blocking::check(&all, &strict);
    assert!(
        found[0].starts_with("Manager (thread ")
            && found[0].ends_with("waited on a mutex the trace does not take there"),
        "{found:?}"
    );
    assert_eq!(
        found.last().unwrap(),
        "the trace makes Mapper(0) wait on a rwsem write; the host shows no such contention"
    );
}

#[test]
fn a_page_cache_order_the_trace_does_not_predict() {
    let (ev, s, _) = fixture("confirmed");
    let (t, layout) = race_trace();
    let mut predicted = predict::pagecache(&t, &layout).unwrap();
    predicted.deletes.swap(511, 512);
    let pc = pagecache::check(&ev, &s, &predicted);
    assert_eq!(
        pc.differences,
        vec![
            "the punch deleted 513 pages, 513 predicted; at position 511: predicted page 512 (trace page 0), host page 511 (padding)"
                .to_string()
        ]
    );
}

#[test]
fn the_4_5_fix_seen_in_the_page_cache_against_the_4_4_prediction() {
    // 4.4 skips the page the fault mapped: the trace predicts 512 deletes, padding only. This
    // host's kernel (with the 4.5 fix) deletes the raced page too.
    let (ev, s, _) = fixture("confirmed");
    let t = traces::load(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../traces/corpus/v4_4.hole_freed_on_return.counterexample.json"),
    )
    .unwrap();
    let layout = Layout::new(t.meta.config.pages, plan(&t).raced, 512);
    let predicted = predict::pagecache(&t, &layout).unwrap();
    assert_eq!(predicted.deletes, (0..512).collect::<Vec<u64>>());
    assert_eq!(
        pagecache::check(&ev, &s, &predicted).differences,
        vec![
            "the punch deleted 513 pages, 512 predicted; at position 512: predicted nothing, host page 512 (trace page 0)"
                .to_string()
        ]
    );
}
