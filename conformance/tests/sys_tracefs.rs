//! Tracepoints through a private tracefs instance: recording a forked process only, and
//! leaving the host as found (instance gone, no event enabled, tracefs mounted only if it was),
//! also after SIGKILL. One test: it forks, and tracefs state is global.
//! Needs root and tracefs; fails with a message saying so otherwise.

use conformance::evidence::events::IndexUnit;
use conformance::evidence::record::Recorder;
use conformance::evidence::Kind;
use conformance::sys::host::mounts_of_type;
use conformance::sys::tracefs::{leftover_instances, TraceInstance, TRACEFS};
use conformance::sys::{fork_child, HugeFile};
use std::io::{Read, Write};
use std::time::{Duration, Instant};

fn tracefs_mounted() -> bool {
    mounts_of_type("tracefs")
        .unwrap()
        .iter()
        .any(|m| m == TRACEFS)
}

/// Events enabled in the top-level instance (which we never touch) and in any instance.
fn enabled_events() -> Vec<String> {
    if !tracefs_mounted() {
        return Vec::new();
    }
    std::fs::read_to_string(format!("{TRACEFS}/set_event"))
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn records_only_the_followed_process_and_leaves_nothing() {
    assert!(
        rustix::process::geteuid().is_root(),
        "tracing needs root (tracefs, set_event_pid): run the tests as root"
    );
    let mounted_before = tracefs_mounted();
    let events_before = enabled_events();

    // A child that allocates two huge pages of a memfd when told to, then punches one.
    let file = HugeFile::memfd("hp-tracefs-test").unwrap();
    let ino = rustix::fs::fstat(&file).unwrap().st_ino;
    // SAFETY: this file's only test runs on its own thread; the child takes no lock (no stdio,
    // env or shared Mutex): it uses the stream and the memfd only.
    let mut child = unsafe {
        fork_child(|mut s| {
            let mut go = [0u8];
            if s.read_exact(&mut go).is_err() {
                return 1;
            }
            let ok = file.allocate(0, 2).is_ok() && file.punch_hole(0, 1).is_ok();
            let _ = s.write_all(b"d");
            i32::from(!ok)
        })
    }
    .unwrap();
    let rec = Recorder::start(&[child.pid()]).unwrap_or_else(|e| {
        panic!("cannot record kernel events: {e} (needs root and a kernel with tracefs)")
    });
    assert_eq!(leftover_instances().unwrap().len(), 1);
    child.stream().write_all(b"g").unwrap();
    let mut done = [0u8];
    child.stream().read_exact(&mut done).unwrap();
    assert!(child.wait().unwrap().success());
    let r = rec.finish().unwrap();
    assert!(
        r.events.iter().all(|e| e.tgid == Some(child.pid())),
        "only the child is recorded"
    );
    let unit = IndexUnit::of(&r.events, ino, 2 << 20);
    let of_file = |want_delete: bool| {
        r.events
            .iter()
            .filter_map(|e| match &e.kind {
                Kind::CacheAdd(c) if !want_delete && c.ino == ino => {
                    Some(c.huge_index(unit, 2 << 20))
                }
                Kind::CacheDelete(c) if want_delete && c.ino == ino => {
                    Some(c.huge_index(unit, 2 << 20))
                }
                _ => None,
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(of_file(false), vec![0, 1], "{}", r.text);
    assert_eq!(of_file(true), vec![0], "{}", r.text);
    assert!(leftover_instances().unwrap().is_empty());
    assert_eq!(tracefs_mounted(), mounted_before);
    assert_eq!(enabled_events(), events_before);

    // SIGKILL while an instance is live with events enabled: the janitor removes it.
    // SAFETY: as above; tracefs' own Mutex is not held by the parent here (its recorder is
    // finished and no other thread of this test uses tracefs).
    let mut victim = unsafe {
        fork_child(|mut s| {
            let Ok(mut t) = TraceInstance::create() else {
                return 1;
            };
            if t.enable("filemap/mm_filemap_add_to_page_cache").is_err() || t.start().is_err() {
                return 2;
            }
            let _ = s.write_all(t.dir().to_string_lossy().as_bytes());
            loop {
                std::thread::sleep(Duration::from_secs(1));
            }
        })
    }
    .unwrap();
    let mut dir = vec![0u8; 256];
    let n = victim.stream().read(&mut dir).unwrap();
    let dir = String::from_utf8_lossy(&dir[..n]).into_owned();
    assert!(dir.contains("/instances/hugepunch-"), "victim said {dir:?}");
    assert!(std::path::Path::new(&dir).exists());
    victim.kill().unwrap();
    victim.wait().unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while (std::path::Path::new(&dir).exists() || tracefs_mounted() != mounted_before)
        && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        !std::path::Path::new(&dir).exists(),
        "{dir} left behind after SIGKILL"
    );
    assert_eq!(
        tracefs_mounted(),
        mounted_before,
        "tracefs mount left behind"
    );
    assert!(leftover_instances().unwrap().is_empty());
    assert_eq!(enabled_events(), events_before);
}
