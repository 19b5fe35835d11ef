//! Recording a replay attempt's kernel events: the tracepoints the evidence needs, for the
//! actor processes only.

use super::events::{parse, Event};
use crate::sys::tracefs::TraceInstance;
use std::io;

/// Tracepoints every recording needs: the window fault, the page cache, the punch and the
/// syscall that follows each touch (`getrusage`, which marks the fault as over).
pub const REQUIRED: [&str; 6] = [
    "exceptions/page_fault_user",
    "filemap/mm_filemap_add_to_page_cache",
    "filemap/mm_filemap_delete_from_page_cache",
    "syscalls/sys_enter_fallocate",
    "syscalls/sys_exit_fallocate",
    "syscalls/sys_enter_getrusage",
];

/// The lock waits: `lock:contention_begin`/`end` came with Linux 5.19, so older kernels
/// (5.10) replay without them and say so ([`Recording::records_lock_waits`]).
pub const LOCK_WAITS: [&str; 2] = ["lock/contention_begin", "lock/contention_end"];

/// Recorded where the kernel has them.
pub const OPTIONAL: [&str; 5] = [
    LOCK_WAITS[0],
    LOCK_WAITS[1],
    "hugetlbfs/hugetlbfs_fallocate",
    "syscalls/sys_enter_ioctl",
    "syscalls/sys_exit_ioctl",
];

/// Holds every tracepoint a recording may enable on for the kernel's life
/// ([`crate::sys::tracefs::hold_events`]: a guest's replays, so that recordings patch no kernel
/// text).
pub fn hold() -> io::Result<()> {
    crate::sys::tracefs::hold_events(REQUIRED.into_iter().chain(OPTIONAL))
}

/// A recording in progress.
pub struct Recorder {
    instance: TraceInstance,
}

/// What a recording holds.
#[derive(Clone, Debug)]
pub struct Recording {
    /// The `trace` file as read (kept, so a finding can be shown from the source).
    pub text: String,
    pub events: Vec<Event>,
    /// Tracepoints enabled.
    pub enabled: Vec<String>,
}

impl Recording {
    /// Whether the kernel had the lock-wait tracepoints, so that no contention seen means none
    /// happened.
    pub fn records_lock_waits(&self) -> bool {
        LOCK_WAITS
            .iter()
            .all(|e| self.enabled.iter().any(|x| x == e))
    }
}

impl Recorder {
    /// Starts recording the processes `pids` (their threads and children included). Fails,
    /// naming what is missing, if this is not root or the kernel lacks a required tracepoint.
    pub fn start(pids: &[i32]) -> io::Result<Recorder> {
        let mut instance = TraceInstance::create().map_err(|e| {
            io::Error::new(
                e.kind(),
                format!(
                    "recording kernel events: {e} (needs root and tracefs; \
                     --no-kernel-events replays without them)"
                ),
            )
        })?;
        instance.follow(pids)?;
        for e in REQUIRED {
            if !instance.has_event(e) {
                return Err(io::Error::new(
                    io::ErrorKind::Unsupported,
                    format!(
                        "this kernel has no tracepoint {e} (see `ls {}/events`)",
                        instance.dir().display()
                    ),
                ));
            }
            instance.enable(e)?;
        }
        for e in OPTIONAL {
            if instance.has_event(e) {
                instance.enable(e)?;
            }
        }
        instance.start()?;
        Ok(Recorder { instance })
    }

    /// Stops, reads and parses the events, and removes the instance. Fails if the buffer
    /// overflowed (the evidence would have holes) or a line does not parse.
    pub fn finish(self) -> io::Result<Recording> {
        self.instance.stop()?;
        let text = self.instance.read()?;
        let overruns = self.instance.overruns()?;
        let enabled = self.instance.enabled().to_vec();
        self.instance.close()?;
        if overruns > 0 {
            return Err(io::Error::other(format!(
                "the trace buffer dropped {overruns} events: the kernel evidence is incomplete"
            )));
        }
        let events = parse(&text).map_err(io::Error::other)?;
        Ok(Recording {
            text,
            events,
            enabled,
        })
    }
}
