//! Host probes and the huge page pool. The pool is global, so everything that changes it is in
//! one test (each tests/*.rs file is its own process, and cargo runs them one at a time).

use conformance::sys::host::{
    hugetlbfs_supported, kernel_release, mounts_of_type, userfaultfd_available, HugePool,
    PoolReservation,
};
use conformance::sys::require_free_huge_pages;

#[test]
fn probes() {
    let release = kernel_release();
    let uffd = userfaultfd_available();
    let pool = HugePool::read().unwrap();
    println!(
        "kernel {release}; hugetlbfs {}; userfaultfd {uffd:?}; pool {pool:?}; hugetlbfs mounts {:?}",
        hugetlbfs_supported().unwrap(),
        mounts_of_type("hugetlbfs").unwrap()
    );
    assert!(!release.is_empty());
    assert!(hugetlbfs_supported().unwrap());
    assert!(uffd.is_ok(), "{}", uffd.unwrap_err());
    assert_eq!(pool.page_size, 2 * 1024 * 1024);
    assert_eq!(mounts_of_type("no-such-fs").unwrap(), Vec::<String>::new());
}

#[test]
fn missing_pages_fail_with_the_command_to_run() {
    let msg = require_free_huge_pages(1 << 40).unwrap_err();
    println!("{msg}");
    assert!(
        msg.contains("> /proc/sys/vm/nr_hugepages` as root"),
        "{msg}"
    );
    assert!(
        msg.starts_with("need 1099511627776 free 2048 kB huge pages"),
        "{msg}"
    );
}

#[test]
fn pool_reservation_raises_and_restores() {
    let before = HugePool::read().unwrap();
    let want = before.available() + 2;
    {
        let first = PoolReservation::ensure(want).unwrap();
        let raised = HugePool::read().unwrap();
        println!(
            "nr_hugepages {} -> {} for {want} available (now {})",
            before.nr_hugepages,
            raised.nr_hugepages,
            raised.available()
        );
        assert!(raised.available() >= want);
        assert!(raised.nr_hugepages >= before.nr_hugepages + 2);
        assert_eq!(first.previous_nr_hugepages(), before.nr_hugepages);
        {
            // A second, nested reservation that is already satisfied changes nothing and
            // does not restore when it goes.
            let second = PoolReservation::ensure(1).unwrap();
            assert_eq!(second.previous_nr_hugepages(), before.nr_hugepages);
        }
        assert_eq!(HugePool::read().unwrap().nr_hugepages, raised.nr_hugepages);
    }
    let after = HugePool::read().unwrap();
    println!(
        "after the last reservation: nr_hugepages {}",
        after.nr_hugepages
    );
    assert_eq!(after.nr_hugepages, before.nr_hugepages);

    // A reservation larger than the host's memory is refused without touching the pool.
    let err = PoolReservation::ensure(1 << 30).unwrap_err();
    println!("impossible reservation: {err}");
    assert_eq!(err.kind(), std::io::ErrorKind::OutOfMemory);
    assert_eq!(HugePool::read().unwrap().nr_hugepages, before.nr_hugepages);
}
