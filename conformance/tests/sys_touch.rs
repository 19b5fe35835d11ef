//! Touches that survive SIGBUS, observed on this host.

use std::sync::Arc;
use std::thread;
use std::time::Duration;

use conformance::sys::{require_free_huge_pages, Features, HugeFile, Mapping, Sigbus, Uffd};

fn need_pages(n: u64) {
    if let Err(msg) = require_free_huge_pages(n) {
        panic!("{msg}");
    }
}

/// 4 pages, 0 and 1 allocated, 2 and 3 holes, registered MISSING with UFFD_FEATURE_SIGBUS.
fn sigbus_setup(name: &str) -> (HugeFile, Mapping, Uffd) {
    need_pages(4);
    let file = HugeFile::memfd(name).unwrap();
    file.allocate(0, 2).unwrap();
    file.set_len_pages(4).unwrap();
    let map = Mapping::new(&file, 4).unwrap();
    let uffd = Uffd::new(Features { sigbus: true }).unwrap();
    uffd.register_missing(&map).unwrap();
    (file, map, uffd)
}

#[test]
fn uffd_sigbus_touch_of_a_hole_is_caught() {
    let (file, map, uffd) = sigbus_setup("touch_sigbus");
    assert_eq!(map.touch_write(0, 5), Ok(()));
    assert_eq!(map.touch_read(0), Ok(5));
    let hole = map.page_addr(2);
    let r = map.touch_read(2);
    let w = map.touch_write_at(3 * file.page_size() + 0x10_0008, 9);
    println!(
        "read of page 2 ({hole:#x}): {r:?}; write of page 3 + 0x100008 ({:#x}): {w:?}",
        map.page_addr(3) + 0x10_0008
    );
    assert_eq!(r, Err(Sigbus { addr: hole }));
    assert_eq!(
        w,
        Err(Sigbus {
            addr: map.page_addr(3) + 0x10_0008
        })
    );
    let odd = map.touch_read_at(2 * file.page_size() + 0x1238);
    println!("read of page 2 + 0x1238: {odd:?}");
    assert_eq!(
        odd,
        Err(Sigbus {
            addr: hole + 0x1238
        }),
        "si_addr is the exact address"
    );
    assert_eq!(
        file.pages_in_file().unwrap(),
        2,
        "a caught touch allocates nothing"
    );
    assert_eq!(
        uffd.read_event(Duration::from_millis(20)).unwrap(),
        None,
        "SIGBUS, not an event"
    );
    // Fill the hole by hand: touches then succeed.
    file.allocate(2, 1).unwrap();
    assert_eq!(map.touch_read(2), Ok(0));
}

#[test]
fn touch_past_end_of_file_is_caught_without_uffd() {
    need_pages(1);
    let file = HugeFile::memfd("touch_eof").unwrap();
    file.allocate(0, 1).unwrap();
    let map = Mapping::new(&file, 2).unwrap();
    // hugetlbfs_file_mmap extends i_size to cover a writable shared mapping.
    assert_eq!(
        file.len_pages().unwrap(),
        2,
        "mmap of 2 pages extended the 1-page file"
    );
    file.set_len_pages(1).unwrap();
    assert_eq!(map.touch_read(0), Ok(0));
    let past = map.touch_read(1);
    println!("touch of page 1 past EOF: {past:?}");
    assert_eq!(
        past,
        Err(Sigbus {
            addr: map.page_addr(1)
        })
    );
    file.set_len_pages(0).unwrap();
    assert_eq!(
        map.touch_write(0, 1),
        Err(Sigbus {
            addr: map.page_addr(0)
        })
    );
}

#[test]
fn sigbus_is_caught_on_many_threads_at_once() {
    let (file, map, _uffd) = sigbus_setup("touch_threads");
    let map = Arc::new(map);
    let hp = file.page_size();
    let threads = 4;
    let rounds = 500;
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let map = Arc::clone(&map);
            thread::spawn(move || {
                let mut caught = 0;
                for i in 0..rounds {
                    let offset = 2 * hp + ((t * rounds + i) * 8) % (2 * hp);
                    match map.touch_read_at(offset) {
                        Err(Sigbus { addr }) if addr == map.page_addr(0) + offset => caught += 1,
                        other => panic!("thread {t}: touch at {offset:#x}: {other:?}"),
                    }
                    assert_eq!(map.touch_write_at(8 * t, i as u64), Ok(()));
                    assert_eq!(map.touch_read_at(8 * t), Ok(i as u64));
                }
                caught
            })
        })
        .collect();
    let caught: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
    println!("{threads} threads caught {caught} SIGBUS at the exact address");
    assert_eq!(caught, threads * rounds);
    assert_eq!(file.pages_in_file().unwrap(), 2);
}
