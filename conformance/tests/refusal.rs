//! Which traces a host refuses: a migrator's needs two NUMA nodes with free huge pages; a
//! deadlock's needs `--allow-hang`. No host needed: the node pools are given.

use conformance::replay::{refusal_on, Options};
use conformance::sys::numa::NodePool;
use std::path::Path;
use traces::Trace;

fn load(name: &str) -> Trace {
    traces::load(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../traces/corpus")
            .join(name),
    )
    .unwrap()
}

fn pool(node: u32, total: u64, free: u64) -> NodePool {
    NodePool { node, total, free }
}

const MIGRATOR: &str = "v6_1.migrator.no_bug_on.counterexample.json";

#[test]
fn a_migrator_needs_two_nodes_with_free_huge_pages() {
    let t = load(MIGRATOR);
    let o = Options::default();
    let one = refusal_on(&t, &o, &Ok(vec![pool(0, 1200, 1200)])).expect("refused");
    assert!(one.contains("has 1 NUMA node"), "{one}");
    assert!(one.contains("two NUMA nodes with free huge pages"), "{one}");
    let no_numa = refusal_on(&t, &o, &Ok(vec![])).expect("refused");
    assert!(no_numa.contains("has 1 NUMA node"), "{no_numa}");
    let empty = refusal_on(&t, &o, &Ok(vec![pool(0, 1200, 1200), pool(1, 0, 0)])).expect("refused");
    assert!(empty.contains("node1 0 of 0"), "{empty}");
    let unreadable = refusal_on(&t, &o, &Err("EACCES".into())).expect("refused");
    assert!(unreadable.contains("EACCES"), "{unreadable}");
    assert_eq!(
        refusal_on(&t, &o, &Ok(vec![pool(0, 1040, 1040), pool(1, 1040, 3)])),
        None
    );
}

#[test]
fn nodes_do_not_matter_without_a_migrator() {
    let t = load("v6_17.race_window_fault.witness.json");
    assert_eq!(refusal_on(&t, &Options::default(), &Ok(vec![])), None);
}

#[test]
fn a_deadlock_needs_allow_hang_whatever_the_nodes() {
    let t = load("v5_10.no_deadlock.counterexample.json");
    let two = Ok(vec![pool(0, 10, 10), pool(1, 10, 10)]);
    assert!(refusal_on(&t, &Options::default(), &two).is_some());
    let allow = Options {
        allow_hang: true,
        ..Options::default()
    };
    assert_eq!(refusal_on(&t, &allow, &two), None);
}
