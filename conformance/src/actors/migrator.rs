//! The migrator process: `move_pages(2)` of a mapper's page to another NUMA node, as the model's
//! migrator does (`add_page_for_migration` in mapper 0's mm, then `unmap_and_move_huge_page`).
//!
//! The trace's migration races the punch's removal of the page: the kernel must meet the
//! removal there (the removal loop holds a reference on the page, or its lock), which a single
//! call made at one moment would rarely hit. So the migrator is aimed ([`Aim`], [`Trigger`]):
//! it waits for the window touch to have mapped the page and for the removal loop to near it
//! (the file's `st_blocks` falls a page at a time). Then it moves the page back and forth
//! between nodes, call after call, until a call does not migrate it (`move_pages` returns 1:
//! `migrate_pages` gave up because the removal held the page), the page is gone from the
//! mapping (the removal got there first), or the punch has returned. Calls that migrate the
//! page before the removal reaches it change only where the page is, which the model does not
//! see; how many were made is reported.

use crate::protocol::{
    send, MigratorCmd, Receiver, Report, PUNCH_RETURNED, PUNCH_STARTED, WINDOW_TOUCHED,
};
use crate::sys::numa::{self, PageNode, MPOL_MF_MOVE_ALL};
use crate::sys::sched::{Pinned, RealTime};
use crate::sys::wake::set_thread_name;
use crate::sys::{now_ns, HugeFile, SharedWords};
use std::io;
use std::os::unix::net::UnixStream;
use traces::Call;

/// Gives up after this many calls (each moves 2 MiB; the punch is over long before).
const MAX_CALLS: u32 = 100_000;

/// The migrator's loop; returns its exit code.
pub fn run(stream: UnixStream, file: &HugeFile, shared: &SharedWords) -> i32 {
    set_thread_name(super::comm(traces::Role::Migrator).expect("named"));
    let Ok(read_end) = stream.try_clone() else {
        return 1;
    };
    let mut rx = Receiver::new(read_end);
    while let Ok(Some(cmd)) = rx.recv::<MigratorCmd>() {
        let MigratorCmd::MovePages {
            pid,
            addr,
            page,
            after_touch,
            fire_at,
            timeout_ms,
        } = cmd
        else {
            return 0;
        };
        let start_ns = now_ns();
        let aim = Aim {
            after_touch,
            fire_at,
            deadline: start_ns + timeout_ms * 1_000_000,
        };
        if after_touch && send(&stream, &Report::Armed { page }).is_err() {
            return 1;
        }
        let reports = match migrate(pid, addr, page, file, shared, &aim) {
            Ok(m) => vec![
                m,
                Report::Returned {
                    call: Call::MovePages,
                    ret: Ok(()),
                    start_ns,
                    end_ns: now_ns(),
                },
            ],
            Err(e) => match e.raw_os_error() {
                Some(errno) => vec![Report::Returned {
                    call: Call::MovePages,
                    ret: Err(errno),
                    start_ns,
                    end_ns: now_ns(),
                }],
                None => vec![Report::Failed {
                    what: format!("move_pages: {e}"),
                }],
            },
        };
        for r in reports {
            if send(&stream, &r).is_err() {
                return 1;
            }
        }
    }
    0
}

/// When to make the first call.
struct Aim {
    /// Wait for a window touch to have mapped the page ([`WINDOW_TOUCHED`]) ...
    after_touch: bool,
    /// ... and then for the file to be down to this many pages.
    fire_at: usize,
    deadline: u64,
}

impl Aim {
    /// Spins until `ready` (or the punch returned, or the deadline); sleeps while the punch has
    /// not started, leaving the CPU to the driver and the manager.
    fn wait(&self, shared: &SharedWords, mut ready: impl FnMut() -> bool) {
        while !ready() && shared.load(PUNCH_RETURNED) == 0 && now_ns() < self.deadline {
            if shared.load(PUNCH_STARTED) == 0 {
                std::thread::sleep(std::time::Duration::from_micros(50));
            } else {
                std::hint::spin_loop();
            }
        }
    }
}

/// When to fire: the file is down to `fire_at` pages, or, at the rate the removal loop frees
/// pages (measured from the first look on), it will be within `lead_ns`.
struct Trigger {
    fire_at: usize,
    lead_ns: u64,
    first: Option<(u64, usize)>,
}

impl Trigger {
    fn now(&mut self, file: &HugeFile) -> bool {
        let Ok(n) = file.pages_in_file() else {
            return true;
        };
        if n <= self.fire_at {
            return true;
        }
        let now = now_ns();
        let Some((t0, n0)) = self.first else {
            self.first = Some((now, n));
            return false;
        };
        let freed = n0.saturating_sub(n) as u64;
        // A few pages freed before the rate means anything.
        freed >= 4 && (n - self.fire_at) as u64 * ((now - t0) / freed) <= self.lead_ns
    }
}

/// A node other than `n` (the first online one).
fn other_node(nodes: &[u32], n: u32) -> io::Result<u32> {
    nodes.iter().copied().find(|&o| o != n).ok_or_else(|| {
        io::Error::other(format!(
            "no NUMA node to move a page on node {n} to (online: {nodes:?})"
        ))
    })
}

fn query(pid: i32, addr: usize) -> io::Result<PageNode> {
    Ok(numa::page_nodes(pid, &[addr])?[0])
}

/// Aims, then calls until one meets the removal; the `Migrated` report of the last call.
///
/// Aimed at a window touch, it runs on the touch's CPU at its real-time priority: there it
/// runs the moment the touch is done (a FIFO thread does not preempt its peer), and not on the
/// punching manager's CPU, which the real-time punch holds until it returns. Where the page is
/// and where it goes are known before the removal loop gets near it: under TCG the removal
/// frees a page in tens of microseconds, about what a sysfs read takes.
fn migrate(
    pid: i32,
    addr: usize,
    page: usize,
    file: &HugeFile,
    shared: &SharedWords,
    aim: &Aim,
) -> io::Result<Report> {
    // Real-time first, then pinned: pinned first, it would wait as a normal thread behind the
    // spinning real-time touch for its next system call, and after the touch behind everyone.
    let _sched = aim
        .after_touch
        .then(|| (RealTime::fifo(1).ok(), Pinned::to_cpu_from_last(0).ok()));
    let nodes = numa::online_nodes()?;
    if aim.after_touch {
        aim.wait(shared, || shared.load(WINDOW_TOUCHED) != 0);
    }
    let q0 = now_ns();
    let before = query(pid, addr)?;
    // What a call costs before it meets the page: several query round trips (it isolates the
    // page, allocates one on the other node, locks and unmaps; measured under TCG: two were
    // too few, the page was gone every time).
    let lead_ns = 8 * (now_ns() - q0);
    let mut at = before;
    let mut target = at.node().map(|n| other_node(&nodes, n)).transpose()?;
    if aim.after_touch {
        let mut t = Trigger {
            fire_at: aim.fire_at,
            lead_ns,
            first: None,
        };
        aim.wait(shared, || t.now(file));
    }
    let mut calls = 0;
    loop {
        let Some(to) = target else {
            // Not (or no longer) mapped: nothing to move; the trace's `-ENOENT` path.
            let now = now_ns();
            return Ok(Report::Migrated {
                page,
                before: before.to_string(),
                calls,
                not_migrated: 0,
                status: None,
                after: at.to_string(),
                in_punch: false,
                start_ns: now,
                end_ns: now,
            });
        };
        let start_ns = now_ns();
        let moved = numa::move_pages(pid, &[addr], &[to], MPOL_MF_MOVE_ALL)?;
        let end_ns = now_ns();
        calls += 1;
        let (started, returned) = (shared.load(PUNCH_STARTED), shared.load(PUNCH_RETURNED));
        at = query(pid, addr)?;
        let met = moved.not_migrated > 0;
        let over = returned != 0 || calls >= MAX_CALLS;
        if met || over || at.node().is_none() {
            return Ok(Report::Migrated {
                page,
                before: before.to_string(),
                calls,
                not_migrated: moved.not_migrated,
                status: moved.status[0].map(|s| s.to_string()),
                after: at.to_string(),
                in_punch: started != 0 && started <= start_ns && returned == 0,
                start_ns,
                end_ns,
            });
        }
        target = at.node().map(|n| other_node(&nodes, n)).transpose()?;
    }
}
