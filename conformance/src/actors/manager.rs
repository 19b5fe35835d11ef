//! The manager process: pre-allocates, punches and re-allocates the file.

use crate::aim::{PUNCH_CPU, PUNCH_PRIORITY};
use crate::protocol::{send, ManagerCmd, Receiver, Report, PUNCH_RETURNED, PUNCH_STARTED};
use crate::sys::sched::{Pinned, RealTime};
use crate::sys::wake::set_thread_name;
use crate::sys::{now_ns, HugeFile, Mapping, SharedWords};
use std::io;
use std::os::unix::net::UnixStream;
use traces::Call;

/// The manager's loop; returns its exit code.
pub fn run(stream: UnixStream, file: &HugeFile, shared: &SharedWords) -> i32 {
    set_thread_name(super::comm(traces::Role::Manager).expect("named"));
    let Ok(read_end) = stream.try_clone() else {
        return 1;
    };
    let mut rx = Receiver::new(read_end);
    while let Ok(Some(cmd)) = rx.recv::<ManagerCmd>() {
        let start_ns = now_ns();
        let (call, r) = match cmd {
            ManagerCmd::Prealloc { pages, markers } => {
                (Call::Fallocate, prealloc(file, pages, &markers))
            }
            ManagerCmd::Fallocate { first, count } => {
                (Call::Fallocate, file.allocate(first, count))
            }
            ManagerCmd::Punch { first, count } => {
                // Real-time while punching, like the window touch racing it (root only).
                let _cpu = Pinned::to_cpu_from_last(PUNCH_CPU).ok();
                let _rt = RealTime::fifo(PUNCH_PRIORITY).ok();
                shared.store(PUNCH_STARTED, now_ns());
                let r = file.punch_hole(first, count);
                shared.store(PUNCH_RETURNED, now_ns());
                (Call::PunchHole, r)
            }
            ManagerCmd::Exit => return 0,
        };
        let report = match r {
            Err(e) if e.raw_os_error().is_none() => Report::Failed {
                what: format!("{call}: {e}"),
            },
            r => Report::Returned {
                call,
                ret: r.map_err(|e| e.raw_os_error().expect("an errno")),
                start_ns,
                end_ns: now_ns(),
            },
        };
        if send(&stream, &report).is_err() {
            return 1;
        }
    }
    0
}

/// `fallocate` of the whole file, then a marker in each page through a mapping that is gone
/// again before anyone else maps the file.
fn prealloc(file: &HugeFile, pages: usize, markers: &[(usize, u64)]) -> io::Result<()> {
    file.allocate(0, pages)?;
    let m = Mapping::new(file, pages)?;
    for &(page, word) in markers {
        m.touch_write(page, word)
            .map_err(|b| io::Error::other(format!("SIGBUS at {:#x} writing a marker", b.addr)))?;
    }
    Ok(())
}
