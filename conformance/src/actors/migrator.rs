//! The migrator process: `move_pages(2)` of a mapper's page to another NUMA node, as the model's
//! migrator does (`add_page_for_migration` in mapper 0's mm, then `unmap_and_move_huge_page`).
//!
//! The trace's migration races the punch's removal of the page: the kernel must meet the
//! removal there (the removal loop holds a reference on the page, or its lock), which a single
//! call made at one moment would rarely hit. So the migrator moves the page back and forth
//! between nodes, call after call, until a call does not migrate it (`move_pages` returns 1:
//! `migrate_pages` gave up because the removal held the page), the page is gone from the
//! mapping (the removal got there first), or the punch has returned. Calls that migrate the
//! page before the removal reaches it change only where the page is, which the model does not
//! see; how many were made is reported.

use crate::protocol::{send, MigratorCmd, Receiver, Report, PUNCH_RETURNED, PUNCH_STARTED};
use crate::sys::numa::{self, PageNode, MPOL_MF_MOVE_ALL};
use crate::sys::wake::set_thread_name;
use crate::sys::{now_ns, SharedWords};
use std::io;
use std::os::unix::net::UnixStream;
use traces::Call;

/// Gives up after this many calls (each moves 2 MiB; the punch is over long before).
const MAX_CALLS: u32 = 100_000;

/// The migrator's loop; returns its exit code.
pub fn run(stream: UnixStream, shared: &SharedWords) -> i32 {
    set_thread_name(c"hp-migrator");
    let Ok(read_end) = stream.try_clone() else {
        return 1;
    };
    let mut rx = Receiver::new(read_end);
    while let Ok(Some(cmd)) = rx.recv::<MigratorCmd>() {
        let MigratorCmd::MovePages { pid, addr, page } = cmd else {
            return 0;
        };
        let start_ns = now_ns();
        let reports = match migrate(pid, addr, page, shared) {
            Ok(m) => {
                let ret = Ok(());
                vec![
                    m,
                    Report::Returned {
                        call: Call::MovePages,
                        ret,
                        start_ns,
                        end_ns: now_ns(),
                    },
                ]
            }
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

/// The calls, until one meets the removal; the `Migrated` report of the last one.
fn migrate(pid: i32, addr: usize, page: usize, shared: &SharedWords) -> io::Result<Report> {
    let nodes = numa::online_nodes()?;
    let before = query(pid, addr)?;
    let mut at = before;
    let mut calls = 0;
    loop {
        let Some(n) = at.node() else {
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
        let target = other_node(&nodes, n)?;
        let start_ns = now_ns();
        let moved = numa::move_pages(pid, &[addr], &[target], MPOL_MF_MOVE_ALL)?;
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
    }
}
