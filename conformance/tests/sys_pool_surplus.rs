//! The free surplus pages the kernel keeps (README, "Surplus pages the kernel keeps"): lowering
//! `nr_hugepages` while a file's pages are being freed can leave pages that are free and
//! counted as surplus, which nothing frees. `restore_pool` must put the pool back exactly as
//! found whether the kernel kept some or not. Its own test binary: it changes the global pool.
//!
//! Needs root and 1000 huge pages' worth of `MemAvailable`; fails (never skips) without them.

use conformance::sys::host::{write_nr_hugepages, HugePool};
use conformance::sys::janitor::{Chore, Janitor};
use conformance::sys::pool_restore::{kept_free_surplus, restore_pool};
use conformance::sys::HugeFile;
use std::time::{Duration, Instant};

/// Pages held by the file, and free pages around them (their freeing is the kernel's window).
const HELD: usize = 200;
const FREE: u64 = 800;
const ATTEMPTS: u64 = 20;

#[test]
fn restore_pool_releases_the_free_surplus_pages_the_kernel_keeps() {
    let outer = HugePool::read().expect("reading the pool");
    write_nr_hugepages(outer.nr_hugepages)
        .unwrap_or_else(|e| panic!("this test sets /proc/sys/vm/nr_hugepages and needs root: {e}"));
    let keeper = Janitor::spawn().unwrap();
    keeper.register(&Chore::RestorePool(outer)).unwrap();

    let mut kept_in = 0;
    for attempt in 0..ATTEMPTS {
        write_nr_hugepages(0).unwrap();
        let start = HugePool::read().unwrap();
        assert_eq!(
            (start.total, start.surplus),
            (0, 0),
            "another process holds huge pages: {start}"
        );
        write_nr_hugepages(HELD as u64 + FREE).unwrap();
        let raised = HugePool::read().unwrap();
        assert!(
            raised.free >= HELD as u64 + FREE,
            "could not raise the pool to {} pages: {raised}",
            HELD as u64 + FREE
        );
        let file = HugeFile::memfd("hugepunch-surplus").unwrap();
        file.set_len_pages(HELD).unwrap();
        file.allocate(0, HELD).unwrap();

        // Lower the pool to 0 while the file's pages are freed, at varying offsets into the
        // kernel's freeing of the other 800.
        let lower = std::thread::spawn(|| write_nr_hugepages(0));
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_micros(attempt * 50) {
            std::hint::spin_loop();
        }
        drop(file);
        lower.join().unwrap().unwrap();

        let now = HugePool::read().unwrap();
        let kept = kept_free_surplus(&start, &now);
        let result = restore_pool(&start, Duration::from_secs(5));
        let after = HugePool::read().unwrap();
        println!("attempt {attempt}: after lowering {now}; kept {kept}; restore: {result:?}");
        assert_eq!(after, start, "not restored: {result:?}");
        let note = result.unwrap_or_else(|e| panic!("restore_pool failed: {e}"));
        if kept > 0 {
            kept_in += 1;
            let note = note.expect("a release is reported");
            assert!(
                note.contains(&format!("kept {kept} free surplus")),
                "{note}"
            );
        }
    }
    println!("the kernel kept free surplus pages in {kept_in} of {ATTEMPTS} attempts");
    let restored = keeper.finish().unwrap();
    assert!(
        restored.iter().all(|d| d.result.is_ok()),
        "the pool as found was not put back: {restored:?}"
    );
}
