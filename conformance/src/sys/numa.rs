//! NUMA: `move_pages(2)` (which node each page of a process is on, and moving pages to another
//! node), and the host's online nodes with their huge page pools from sysfs.
//!
//! rustix has no `move_pages`; it is made through `libc::syscall`. The kernel reads the
//! address and node arrays and writes the status array, all of length `count`; addresses are
//! plain numbers in the target process's address space (the kernel looks them up there and
//! never dereferences them in ours), so the wrappers are safe to call.

use std::io;
use std::path::Path;

/// `MPOL_MF_MOVE`: move pages mapped by this process only (`page_mapcount == 1`).
pub const MPOL_MF_MOVE: i32 = 1 << 1;
/// `MPOL_MF_MOVE_ALL`: also pages mapped by others (needs `CAP_SYS_NICE`).
pub const MPOL_MF_MOVE_ALL: i32 = 1 << 2;

/// Where one page is, or why the kernel says it is nowhere: `move_pages(2)`'s status word.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PageNode {
    Node(u32),
    /// A negative status: the errno (`ENOENT`: not present, `EFAULT`: not mapped, `EBUSY`, ...).
    Err(i32),
}

impl PageNode {
    fn from_status(s: i32) -> PageNode {
        if s >= 0 {
            PageNode::Node(s as u32)
        } else {
            PageNode::Err(-s)
        }
    }

    pub fn node(self) -> Option<u32> {
        match self {
            PageNode::Node(n) => Some(n),
            PageNode::Err(_) => None,
        }
    }
}

impl std::fmt::Display for PageNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PageNode::Node(n) => write!(f, "node {n}"),
            PageNode::Err(e) => write!(f, "{}", super::errno_name(*e)),
        }
    }
}

/// What a moving `move_pages` call did to each page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Moved {
    /// The return value: 0, or how many pages were not migrated (`migrate_pages` failed for
    /// them, e.g. `-EAGAIN` after its retries because someone else holds a reference); their
    /// status is not written.
    pub not_migrated: usize,
    /// Per page: the node it is on now, the error, or `None` where the kernel wrote no status.
    pub status: Vec<Option<PageNode>>,
}

/// Status word the kernel never writes (node numbers are small, errnos are below 4096).
const UNWRITTEN: i32 = i32::MIN;

/// `move_pages(pid, count, pages, nodes, status, flags)`; `nodes: None` is the query form.
fn raw_move_pages(
    pid: i32,
    addrs: &[usize],
    nodes: Option<&[i32]>,
    status: &mut [i32],
    flags: i32,
) -> io::Result<usize> {
    assert_eq!(addrs.len(), status.len(), "one status word a page");
    if let Some(n) = nodes {
        assert_eq!(addrs.len(), n.len(), "one node a page");
    }
    let nodes_ptr = nodes.map_or(std::ptr::null(), <[i32]>::as_ptr);
    // SAFETY: `addrs`, `nodes` (or NULL, the query form) and `status` are valid for `count`
    // elements (asserted above); the kernel reads the first two and writes only `status`, whose
    // exclusive borrow we hold. The addresses are only looked up in `pid`'s page tables; nothing
    // in this process is read or written through them.
    let r = unsafe {
        libc::syscall(
            libc::SYS_move_pages,
            libc::c_long::from(pid),
            addrs.len() as libc::c_ulong,
            addrs.as_ptr(),
            nodes_ptr,
            status.as_mut_ptr(),
            libc::c_long::from(flags),
        )
    };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r as usize)
    }
}

/// Which node each page at `addrs` in process `pid` (0: this one) is on (`nodes == NULL`).
pub fn page_nodes(pid: i32, addrs: &[usize]) -> io::Result<Vec<PageNode>> {
    let mut status = vec![UNWRITTEN; addrs.len()];
    raw_move_pages(pid, addrs, None, &mut status, 0)?;
    Ok(status.into_iter().map(PageNode::from_status).collect())
}

/// Moves each page at `addrs` in process `pid` to `nodes[i]`. Moving another process's pages
/// needs `CAP_SYS_NICE` (and ptrace read access to it).
pub fn move_pages(pid: i32, addrs: &[usize], nodes: &[u32], flags: i32) -> io::Result<Moved> {
    let nodes: Vec<i32> = nodes
        .iter()
        .map(|&n| i32::try_from(n).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput)))
        .collect::<io::Result<_>>()?;
    let mut status = vec![UNWRITTEN; addrs.len()];
    let not_migrated = raw_move_pages(pid, addrs, Some(&nodes), &mut status, flags)?;
    Ok(Moved {
        not_migrated,
        status: status
            .into_iter()
            .map(|s| (s != UNWRITTEN).then(|| PageNode::from_status(s)))
            .collect(),
    })
}

/// A node's pool of huge pages of one size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NodePool {
    pub node: u32,
    pub total: u64,
    pub free: u64,
}

/// The online nodes, from a sysfs list such as `0`, `0-1` or `0,2-3`.
pub fn parse_node_list(s: &str) -> Result<Vec<u32>, String> {
    let mut nodes = Vec::new();
    for part in s.trim().split(',').filter(|p| !p.is_empty()) {
        let num = |x: &str| {
            x.parse::<u32>()
                .map_err(|_| format!("bad node list {:?}", s.trim()))
        };
        match part.split_once('-') {
            Some((a, b)) => nodes.extend(num(a)?..=num(b)?),
            None => nodes.push(num(part)?),
        }
    }
    Ok(nodes)
}

const NODES: &str = "/sys/devices/system/node";

/// The host's online NUMA nodes (`/sys/devices/system/node/online`). A kernel without
/// `CONFIG_NUMA` has no such directory: one node, 0.
pub fn online_nodes() -> io::Result<Vec<u32>> {
    let path = Path::new(NODES).join("online");
    match std::fs::read_to_string(&path) {
        Ok(s) => {
            parse_node_list(&s).map_err(|e| io::Error::other(format!("{}: {e}", path.display())))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(vec![0]),
        Err(e) => Err(io::Error::new(e.kind(), format!("{}: {e}", path.display()))),
    }
}

/// Each online node's pool of `page_kib` KiB huge pages (`nr_hugepages`, `free_hugepages` under
/// `nodeN/hugepages/hugepages-<size>kB/`). Without `CONFIG_NUMA`: empty.
pub fn node_pools(page_kib: u64) -> io::Result<Vec<NodePool>> {
    if !Path::new(NODES).join("online").exists() {
        return Ok(Vec::new());
    }
    online_nodes()?
        .into_iter()
        .map(|node| {
            let dir = Path::new(NODES)
                .join(format!("node{node}"))
                .join(format!("hugepages/hugepages-{page_kib}kB"));
            let read = |f: &str| -> io::Result<u64> {
                let p = dir.join(f);
                std::fs::read_to_string(&p)
                    .and_then(|s| s.trim().parse().map_err(io::Error::other))
                    .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", p.display())))
            };
            Ok(NodePool {
                node,
                total: read("nr_hugepages")?,
                free: read("free_hugepages")?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_lists() {
        assert_eq!(parse_node_list("0\n"), Ok(vec![0]));
        assert_eq!(parse_node_list("0-1\n"), Ok(vec![0, 1]));
        assert_eq!(parse_node_list("0,2-3"), Ok(vec![0, 2, 3]));
        assert!(parse_node_list("zero").is_err());
    }

    /// The query form on this process's own stack page: it is present, on an online node.
    #[test]
    fn query_own_page() {
        let x = 7u64;
        let addr = std::hint::black_box(&x) as *const u64 as usize;
        let got = page_nodes(0, &[addr]).expect("move_pages query");
        let node = got[0].node().expect("a present page has a node");
        assert!(online_nodes().unwrap().contains(&node), "{got:?}");
    }

    /// An unmapped address: the query says so per page (EFAULT or ENOENT), the call succeeds.
    #[test]
    fn query_unmapped() {
        let got = page_nodes(0, &[0x1000]).expect("move_pages query");
        assert!(matches!(got[0], PageNode::Err(_)), "{got:?}");
    }

    /// Moving a page to the node it is on: migrated (nothing to do), status that node.
    #[test]
    fn move_to_own_node() {
        let x = vec![1u8; 4096];
        let addr = x.as_ptr() as usize;
        let node = page_nodes(0, &[addr]).unwrap()[0].node().unwrap();
        let m = move_pages(0, &[addr], &[node], MPOL_MF_MOVE).expect("move_pages");
        assert_eq!(m.not_migrated, 0);
        assert_eq!(m.status, vec![Some(PageNode::Node(node))]);
    }
}
