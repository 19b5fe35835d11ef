//! The hugetlbfs file, its mapping and pagemap, observed on this host.

use conformance::sys::host::mounts_of_type;
use conformance::sys::pagemap::{mapped_pages, mapped_pages_self};
use conformance::sys::rusage::thread_faults;
use conformance::sys::{huge_page_size, require_free_huge_pages, HugeFile, Mapping};

fn need_pages(n: u64) {
    if let Err(msg) = require_free_huge_pages(n) {
        panic!("{msg}");
    }
}

fn marker(page: usize) -> u64 {
    0x4855_4745_0000_0000 | (page as u64 + 1)
}

#[test]
fn page_size_matches_meminfo() {
    need_pages(1);
    let file = HugeFile::memfd("page_size").unwrap();
    println!(
        "Hugepagesize {} bytes, file st_blksize {}",
        huge_page_size().unwrap(),
        file.page_size()
    );
    assert_eq!(file.page_size(), huge_page_size().unwrap());
    assert_eq!(file.pages_in_file().unwrap(), 0);
    assert_eq!(file.len_pages().unwrap(), 0);
}

#[test]
fn allocate_mark_punch() {
    need_pages(4);
    let file = HugeFile::memfd("allocate_mark_punch").unwrap();
    file.allocate(0, 4).unwrap();
    assert_eq!(
        file.len_pages().unwrap(),
        4,
        "fallocate mode 0 extends the file"
    );
    assert_eq!(file.pages_in_file().unwrap(), 4);
    for page in 0..4 {
        assert_eq!(file.read_marker(page).unwrap(), 0, "fresh pages are zeroed");
    }
    let map = Mapping::new(&file, 4).unwrap();
    assert_eq!(map.len(), 4 * file.page_size());
    for page in 0..4 {
        map.touch_write(page, marker(page)).unwrap();
    }
    let markers: Vec<u64> = (0..4).map(|p| file.read_marker(p).unwrap()).collect();
    println!("markers after writing through the mapping: {markers:#x?}");
    assert_eq!(markers, (0..4).map(marker).collect::<Vec<_>>());

    file.punch_hole(1, 2).unwrap();
    let after: Vec<u64> = (0..4).map(|p| file.read_marker(p).unwrap()).collect();
    println!(
        "after punching [1,3): pages_in_file={} markers={after:#x?}",
        file.pages_in_file().unwrap()
    );
    assert_eq!(file.pages_in_file().unwrap(), 2);
    assert_eq!(after, vec![marker(0), 0, 0, marker(3)]);
    assert_eq!(
        file.pages_in_file().unwrap(),
        2,
        "pread of a hole must not allocate"
    );
    assert_eq!(
        file.len_pages().unwrap(),
        4,
        "PUNCH_HOLE | KEEP_SIZE keeps the size"
    );

    // Hole reuse: allocate the hole again, it comes back zeroed.
    file.allocate(1, 1).unwrap();
    assert_eq!(file.pages_in_file().unwrap(), 3);
    assert_eq!(map.touch_read(1), Ok(0));
    assert_eq!(map.touch_read(3), Ok(marker(3)));

    let err = file.read_marker(4).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::UnexpectedEof);
    file.set_len_pages(1).unwrap();
    assert_eq!(
        file.pages_in_file().unwrap(),
        1,
        "ftruncate frees the pages past the end"
    );
}

#[test]
fn pagemap_present_after_touch_not_after_punch() {
    need_pages(4);
    let file = HugeFile::memfd("pagemap").unwrap();
    file.allocate(0, 4).unwrap();
    let map = Mapping::new(&file, 4).unwrap();
    let hp = file.page_size();
    let base = map.page_addr(0);
    let untouched = mapped_pages_self(base, 4, hp).unwrap();
    println!("pagemap before any touch (pages in the page cache): {untouched:?}");
    assert_eq!(
        untouched,
        vec![false; 4],
        "in the page cache but not mapped"
    );
    for page in 0..4 {
        map.touch_write(page, marker(page)).unwrap();
    }
    let touched = mapped_pages_self(base, 4, hp).unwrap();
    println!("pagemap after touching all 4: {touched:?}");
    assert_eq!(touched, vec![true; 4]);
    let by_pid = mapped_pages(std::process::id() as i32, base, 4, hp).unwrap();
    assert_eq!(
        by_pid, touched,
        "/proc/PID/pagemap agrees with /proc/self/pagemap"
    );

    file.punch_hole(1, 2).unwrap();
    let punched = mapped_pages_self(base, 4, hp).unwrap();
    println!("pagemap after punching [1,3): {punched:?}");
    assert_eq!(punched, vec![true, false, false, true]);
}

#[test]
fn fault_counts_tell_whether_a_touch_faulted() {
    need_pages(1);
    let file = HugeFile::memfd("rusage").unwrap();
    file.allocate(0, 1).unwrap();
    let map = Mapping::new(&file, 1).unwrap();
    let before = thread_faults();
    map.touch_read(0).unwrap();
    let first = thread_faults();
    map.touch_read(0).unwrap();
    map.touch_write_at(4096, 1).unwrap();
    let second = thread_faults();
    println!("(minflt, majflt): before {before:?}, after first touch {first:?}, after two more {second:?}");
    assert_eq!(
        first.0 - before.0,
        1,
        "the first touch maps the huge page: one minor fault"
    );
    assert_eq!(
        second.0 - first.0,
        0,
        "touches of a mapped huge page do not fault"
    );
    assert_eq!(second.1, before.1, "no major faults on hugetlbfs");
}

#[test]
fn private_mount_is_invisible_to_the_host() {
    need_pages(2);
    let all_before = std::fs::read_to_string("/proc/self/mounts").unwrap();
    let huge_before = mounts_of_type("hugetlbfs").unwrap();
    let leftovers = |pid: u32| {
        std::fs::read_dir(std::env::temp_dir())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with(&format!("hugepunch-mnt-{pid}-"))
            })
            .count()
    };
    let file = HugeFile::on_private_mount("private.huge").unwrap();
    assert_eq!(
        std::fs::read_to_string("/proc/self/mounts").unwrap(),
        all_before
    );
    assert_eq!(mounts_of_type("hugetlbfs").unwrap(), huge_before);
    assert_eq!(
        leftovers(std::process::id()),
        0,
        "temporary mount point removed"
    );
    file.allocate(0, 2).unwrap();
    let map = Mapping::new(&file, 2).unwrap();
    map.touch_write(1, 0xabc).unwrap();
    assert_eq!(file.pages_in_file().unwrap(), 2);
    assert_eq!(file.read_marker(1).unwrap(), 0xabc);
    file.punch_hole(0, 1).unwrap();
    assert_eq!(file.pages_in_file().unwrap(), 1);
    let link = std::fs::read_link(format!("/proc/self/fd/{}", {
        use std::os::fd::{AsFd, AsRawFd};
        file.as_fd().as_raw_fd()
    }))
    .unwrap();
    println!(
        "private hugetlbfs file seen by the host as {link:?}; host hugetlbfs mounts {huge_before:?} unchanged"
    );
    drop(map);
    drop(file);
    assert_eq!(
        std::fs::read_to_string("/proc/self/mounts").unwrap(),
        all_before
    );
}

#[test]
fn on_private_mount_rejects_paths() {
    assert!(HugeFile::on_private_mount("a/b").is_err());
    assert!(HugeFile::on_private_mount("").is_err());
}
