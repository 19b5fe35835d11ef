//! Forked actor processes: they run, talk, die and are reaped; nothing is left behind.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::time::{Duration, Instant};

use conformance::sys::{fork_child, recv_fd, require_free_huge_pages, send_fd, HugeFile};
use rustix::process::{Pid, WaitOptions};

fn proc_entry(pid: i32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

#[test]
fn child_runs_the_closure_and_talks_over_the_stream() {
    // SAFETY: the child uses only its socket and its own memory: no stdio, env or shared Mutex.
    let mut child = unsafe {
        fork_child(|stream| {
            let mut line = String::new();
            BufReader::new(&stream).read_line(&mut line).unwrap();
            let reply = format!(
                "pid {} got {}",
                rustix::process::getpid().as_raw_nonzero(),
                line.trim()
            );
            (&stream).write_all(reply.as_bytes()).unwrap();
            7
        })
    }
    .unwrap();
    child.stream().write_all(b"ping\n").unwrap();
    let mut reply = String::new();
    child.stream().read_to_string(&mut reply).unwrap();
    let status = child.wait().unwrap();
    println!(
        "child {} replied {reply:?} and exited with {status}",
        child.pid()
    );
    assert_eq!(reply, format!("pid {} got ping", child.pid()));
    assert_eq!(status.code(), Some(7));
    assert!(!proc_entry(child.pid()), "reaped");
    assert_eq!(child.wait().unwrap().code(), Some(7), "wait is idempotent");
}

#[test]
fn kill_then_wait_reports_sigkill_and_leaves_no_zombie() {
    // SAFETY: the child uses only its socket and its own memory: no stdio, env or shared Mutex.
    let mut child = unsafe {
        fork_child(|_| loop {
            std::thread::sleep(Duration::from_secs(1));
        })
    }
    .unwrap();
    let pid = child.pid();
    assert!(proc_entry(pid));
    assert_eq!(child.try_wait().unwrap(), None);
    child.kill().unwrap();
    let status = child.wait().unwrap();
    println!(
        "killed child {pid}: {status}; /proc/{pid} exists: {}",
        proc_entry(pid)
    );
    assert_eq!(status.signal(), Some(libc::SIGKILL));
    assert!(!proc_entry(pid));
    child.kill().unwrap(); // a no-op once reaped
}

#[test]
fn drop_kills_and_reaps() {
    // SAFETY: the child uses only its socket and its own memory: no stdio, env or shared Mutex.
    let child = unsafe {
        fork_child(|_| loop {
            std::thread::sleep(Duration::from_secs(1));
        })
    }
    .unwrap();
    let pid = child.pid();
    drop(child);
    println!(
        "dropped child {pid}; /proc/{pid} exists: {}",
        proc_entry(pid)
    );
    assert!(!proc_entry(pid), "no zombie, no orphan");
}

#[test]
fn panics_are_contained() {
    // In the child: the closure panics, the child exits 101 and never returns into our code.
    // SAFETY: the child uses only its socket and its own memory: no stdio, env or shared Mutex.
    let mut child = unsafe { fork_child(|_| panic!("child panic (expected)")) }.unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(101));

    // In the parent: unwinding drops the Child, which kills and reaps it.
    let (tx, rx) = std::sync::mpsc::channel();
    let result = std::thread::spawn(move || {
        // SAFETY: the child uses only its socket and its own memory: no stdio, env or shared Mutex.
        let child = unsafe {
            fork_child(|_| loop {
                std::thread::sleep(Duration::from_secs(1));
            })
        }
        .unwrap();
        tx.send(child.pid()).unwrap();
        panic!("parent panic (expected)");
    })
    .join();
    let pid = rx.recv().unwrap();
    println!(
        "parent thread panicked: {}; /proc/{pid} exists: {}",
        result.is_err(),
        proc_entry(pid)
    );
    assert!(result.is_err());
    assert!(!proc_entry(pid));
}

/// PR_SET_PDEATHSIG fires when the forking *thread* exits, even though the process lives on.
#[test]
fn death_signal_follows_the_forking_thread() {
    let pid = std::thread::spawn(|| {
        // SAFETY: the child uses only its socket and its own memory: no stdio, env or shared Mutex.
        let child = unsafe {
            fork_child(|_| loop {
                std::thread::sleep(Duration::from_secs(1));
            })
        }
        .unwrap();
        let pid = child.pid();
        // Leak the handle (no kill, no reap) and let the thread end.
        std::mem::forget(child);
        pid
    })
    .join()
    .unwrap();
    let start = Instant::now();
    let (_, status) = rustix::process::waitpid(Pid::from_raw(pid), WaitOptions::empty())
        .unwrap()
        .unwrap();
    println!(
        "child {pid} of an exited thread: terminated by signal {:?} after {:?}",
        status.terminating_signal(),
        start.elapsed()
    );
    assert_eq!(status.terminating_signal(), Some(libc::SIGKILL));
    assert!(!proc_entry(pid));
}

#[test]
fn fds_cross_the_socket() {
    if let Err(msg) = require_free_huge_pages(1) {
        panic!("{msg}");
    }
    // SAFETY: the child uses only its socket and its own memory: no stdio, env or shared Mutex.
    let mut child = unsafe {
        fork_child(|stream| {
            let file = HugeFile::memfd("sent").unwrap();
            file.allocate(0, 1).unwrap();
            use std::os::fd::AsFd;
            send_fd(&stream, file.as_fd()).unwrap();
            0
        })
    }
    .unwrap();
    let fd = recv_fd(child.stream()).unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(0));
    let file = HugeFile::from_fd(fd).unwrap();
    assert_eq!(
        file.pages_in_file().unwrap(),
        1,
        "the child's memfd outlives the child"
    );

    // SAFETY: the child uses only its socket and its own memory: no stdio, env or shared Mutex.
    let mut silent = unsafe { fork_child(|_| 0) }.unwrap();
    let err = recv_fd(silent.stream()).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::UnexpectedEof);
    silent.wait().unwrap();

    let not_huge = rustix::fs::memfd_create("plain", rustix::fs::MemfdFlags::CLOEXEC).unwrap();
    assert!(
        HugeFile::from_fd(not_huge).is_err(),
        "a tmpfs memfd is not a HugeFile"
    );
}
