//! userfaultfd MISSING events, UFFDIO_COPY and EEXIST on a hugetlb memfd, observed on this host.

use std::sync::Arc;
use std::thread;
use std::time::Duration;

use conformance::sys::{
    errno_name, require_free_huge_pages, Event, Features, HugeFile, Mapping, Uffd,
};
use rustix::io::Errno;

fn need_pages(n: u64) {
    if let Err(msg) = require_free_huge_pages(n) {
        panic!("{msg}");
    }
}

const WAIT: Duration = Duration::from_secs(10);

/// A file of 4 pages: 0 and 1 allocated, 2 and 3 holes; mapped whole and registered MISSING.
fn setup(name: &str) -> (HugeFile, Arc<Mapping>, Arc<Uffd>) {
    need_pages(4);
    let file = HugeFile::memfd(name).unwrap();
    file.allocate(0, 2).unwrap();
    file.set_len_pages(4).unwrap();
    let map = Arc::new(Mapping::new(&file, 4).unwrap());
    let uffd = Arc::new(Uffd::new(Features::default()).unwrap());
    uffd.register_missing(&map).unwrap();
    (file, map, uffd)
}

#[test]
fn missing_event_then_copy_resolves_the_touch() {
    let (file, map, uffd) = setup("uffd_copy");
    let hp = file.page_size();
    // A page in the page cache faults in without an event.
    assert_eq!(map.touch_read(0), Ok(0));
    assert_eq!(uffd.read_event(Duration::from_millis(50)).unwrap(), None);

    let offset = 0x1238;
    let toucher = {
        let map = Arc::clone(&map);
        thread::spawn(move || map.touch_read_at(2 * hp + offset))
    };
    let event = uffd
        .read_event(WAIT)
        .unwrap()
        .expect("a MISSING event for the hole");
    let Event::Pagefault { addr, write } = event else {
        panic!("unexpected {event:?}")
    };
    println!(
        "touched {:#x} (page 2 + {offset:#x}); event addr {addr:#x} = page 2 + {:#x}, write={write}",
        map.page_addr(2) + offset,
        addr - map.page_addr(2)
    );
    assert!(!write);
    assert_eq!(
        addr,
        map.page_addr(2),
        "hugetlb MISSING events report the huge page start"
    );

    let mut src = vec![0u8; hp];
    src[offset..offset + 8].copy_from_slice(&0x1234_5678_9abc_def0u64.to_ne_bytes());
    src[..8].copy_from_slice(&0x77u64.to_ne_bytes());
    let copied = uffd.copy(map.page_addr(2), &src).unwrap();
    assert_eq!(copied, hp);
    let value = toucher.join().unwrap();
    println!("UFFDIO_COPY copied {copied} bytes; touch returned {value:#x?}");
    assert_eq!(value, Ok(0x1234_5678_9abc_def0));
    assert_eq!(
        file.pages_in_file().unwrap(),
        3,
        "the copy put page 2 in the file"
    );
    assert_eq!(file.read_marker(2).unwrap(), 0x77);
}

#[test]
fn copy_onto_a_page_in_the_page_cache_is_eexist() {
    let (file, map, uffd) = setup("uffd_eexist");
    let hp = file.page_size();
    let src = vec![0x55u8; hp];
    // Allocated by fallocate, never mapped here.
    let err = uffd.copy(map.page_addr(1), &src).unwrap_err();
    println!(
        "UFFDIO_COPY onto a fallocated, unmapped page: {}",
        errno_name(err.raw_os_error())
    );
    assert_eq!(err, Errno::EXIST);
    // Mapped here.
    assert_eq!(map.touch_read(0), Ok(0));
    assert_eq!(uffd.copy(map.page_addr(0), &src), Err(Errno::EXIST));
    assert_eq!(map.touch_read(0), Ok(0), "EEXIST copied nothing");
    assert_eq!(file.read_marker(1).unwrap(), 0);
}

/// The model's race: the fault is reported, then the page comes back into the page cache before
/// the handler copies. The copy fails with EEXIST, wakes no one, and `wake` lets the faulting
/// thread retry and map the page-cache page without another event.
#[test]
fn eexist_then_wake_maps_the_page_cache_page() {
    let (file, map, uffd) = setup("uffd_eexist_wake");
    let hp = file.page_size();
    let toucher = {
        let map = Arc::clone(&map);
        thread::spawn(move || map.touch_read(3))
    };
    let event = uffd
        .read_event(WAIT)
        .unwrap()
        .expect("a MISSING event for page 3");
    assert!(matches!(event, Event::Pagefault { addr, write: false } if addr == map.page_addr(3)));

    // Someone else (an unregistered mapping) faults page 3 in and marks it.
    let other = Mapping::new(&file, 4).unwrap();
    other.touch_write(3, 0xfeed).unwrap();
    assert_eq!(file.pages_in_file().unwrap(), 3);

    let src = vec![0x11u8; hp];
    assert_eq!(uffd.copy(map.page_addr(3), &src), Err(Errno::EXIST));
    thread::sleep(Duration::from_millis(100));
    assert!(
        !toucher.is_finished(),
        "a failed copy must not wake the faulting thread"
    );
    uffd.wake(map.page_addr(3), hp).unwrap();
    let value = toucher.join().unwrap();
    println!("after EEXIST + UFFDIO_WAKE the touch read {value:#x?} (the page-cache page)");
    assert_eq!(value, Ok(0xfeed));
    assert_eq!(
        uffd.read_event(Duration::from_millis(50)).unwrap(),
        None,
        "no second event"
    );
}

#[test]
fn write_touch_reports_a_write_fault() {
    let (file, map, uffd) = setup("uffd_write");
    let hp = file.page_size();
    let toucher = {
        let map = Arc::clone(&map);
        thread::spawn(move || map.touch_write(2, 0xbeef))
    };
    let event = uffd.read_event(WAIT).unwrap().expect("event");
    assert_eq!(
        event,
        Event::Pagefault {
            addr: map.page_addr(2),
            write: true
        }
    );
    uffd.copy(map.page_addr(2), &vec![0u8; hp]).unwrap();
    assert_eq!(toucher.join().unwrap(), Ok(()));
    assert_eq!(
        file.read_marker(2).unwrap(),
        0xbeef,
        "the write lands after the copy"
    );
}

#[test]
fn read_event_times_out() {
    let (_file, _map, uffd) = setup("uffd_timeout");
    let start = std::time::Instant::now();
    assert_eq!(uffd.read_event(Duration::from_millis(30)).unwrap(), None);
    assert!(start.elapsed() >= Duration::from_millis(30));
}
