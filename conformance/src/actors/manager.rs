//! The manager process: pre-allocates, punches and re-allocates the file.

use crate::protocol::{send, ManagerCmd, Receiver, Report, PUNCH_RETURNED, PUNCH_STARTED};
use crate::sys::sched::{Pinned, RealTime};
use crate::sys::wake::set_thread_name;
use crate::sys::{error_name, now_ns, HugeFile, Mapping, SharedWords};
use std::io;
use std::os::unix::net::UnixStream;

fn ret(r: io::Result<()>) -> Result<(), String> {
    r.map_err(|e| error_name(&e).map_or_else(|| e.to_string(), str::to_string))
}

/// The manager's loop; returns its exit code.
pub fn run(stream: UnixStream, file: &HugeFile, shared: &SharedWords) -> i32 {
    set_thread_name(c"hp-manager");
    let Ok(read_end) = stream.try_clone() else {
        return 1;
    };
    let mut rx = Receiver::new(read_end);
    while let Ok(Some(cmd)) = rx.recv::<ManagerCmd>() {
        let start_ns = now_ns();
        let (call, r) = match cmd {
            ManagerCmd::Prealloc { pages, markers } => {
                ("fallocate", prealloc(file, pages, &markers))
            }
            ManagerCmd::Fallocate { first, count } => ("fallocate", file.allocate(first, count)),
            ManagerCmd::Punch { first, count } => {
                // Real-time while punching, like the window touch racing it (root only).
                let _cpu = Pinned::to_cpu_from_last(1).ok();
                let _rt = RealTime::fifo(1).ok();
                shared.store(PUNCH_STARTED, now_ns());
                let r = file.punch_hole(first, count);
                shared.store(PUNCH_RETURNED, now_ns());
                ("punch_hole", r)
            }
            ManagerCmd::Exit => return 0,
        };
        let report = Report::Returned {
            call: call.into(),
            ret: ret(r),
            start_ns,
            end_ns: now_ns(),
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
