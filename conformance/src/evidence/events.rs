//! Kernel events, parsed from the text a trace instance's `trace` file holds (with
//! `record-tgid` on and the `mono` clock):
//!
//! ```text
//!       hp-mapper-9583    (   9580) [001] d..2.   202.471243: mm_filemap_delete_from_page_cache: dev 0:17 ino 3d03 pfn=0x164000 ofs=0 order=9
//! ```
//!
//! Parse, don't validate: each line becomes a typed [`Event`], or an error naming the line.
//! Events of tracepoints this module does not know are kept as [`Kind::Other`].

use serde::{Deserialize, Serialize};
use std::fmt;

/// A lock's kind as `lock:contention_begin` reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LockKind {
    Mutex,
    RwsemRead,
    RwsemWrite,
    /// Spinlocks, rt-mutexes, per-CPU rwsems: nothing the model has.
    Other,
}

impl LockKind {
    /// From the `flags=` of `contention_begin` (`MUTEX`, `READ`, `WRITE`, `SPIN`, ... joined
    /// by `|`).
    fn from_flags(flags: &str) -> LockKind {
        // A mutex's optimistic spin is `SPIN|MUTEX`; a spinning rwlock is `SPIN|READ`/`WRITE`.
        let has = |f: &str| flags.split('|').any(|x| x == f);
        if has("RT") || has("PERCPU") {
            LockKind::Other
        } else if has("MUTEX") {
            LockKind::Mutex
        } else if has("SPIN") {
            LockKind::Other
        } else if has("WRITE") {
            LockKind::RwsemWrite
        } else if has("READ") {
            LockKind::RwsemRead
        } else {
            LockKind::Other
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            LockKind::Mutex => "mutex",
            LockKind::RwsemRead => "rwsem read",
            LockKind::RwsemWrite => "rwsem write",
            LockKind::Other => "other",
        }
    }
}

/// A page-cache event's page: the inode and the byte offset the tracepoint prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CachePage {
    pub ino: u64,
    pub pfn: u64,
    /// `ofs=`: the page-cache index times the base page size.
    pub offset: u64,
    /// `order=`, where the kernel prints it (6.1 does, 5.10 does not). It does not say how
    /// the index counts: see [`IndexUnit`].
    pub order: Option<u8>,
}

/// What a hugetlbfs page-cache index counts. Huge pages until "mm/filemap: remove hugetlb
/// special casing in filemap.c" (Linux 6.7, also backported to some 6.6 trees), base pages
/// since; `ofs=` is the index times the base page size either way, so a kernel version or the
/// `order=` field (printed by 6.1 too, with huge-page indices) cannot tell them apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IndexUnit {
    HugePages,
    BasePages,
}

impl IndexUnit {
    /// Read from the file's own page-cache events: with base-page indices every huge page's
    /// `ofs` is a multiple of the huge page size; with huge-page indices consecutive pages are
    /// a base page apart, and a replay's recording always holds the padding's consecutive
    /// pages. A recording whose only page is index 0 reads the same either way.
    pub fn of(events: &[Event], ino: u64, huge_page_size: u64) -> IndexUnit {
        let unaligned = events.iter().any(|e| match &e.kind {
            Kind::CacheAdd(c) | Kind::CacheDelete(c) => {
                c.ino == ino && c.offset % huge_page_size != 0
            }
            _ => false,
        });
        if unaligned {
            IndexUnit::HugePages
        } else {
            IndexUnit::BasePages
        }
    }
}

impl CachePage {
    /// The huge page index in the file, for huge pages of `huge_page_size` bytes.
    pub fn huge_index(&self, unit: IndexUnit, huge_page_size: u64) -> u64 {
        match unit {
            IndexUnit::BasePages => self.offset / huge_page_size,
            IndexUnit::HugePages => self.offset >> 12,
        }
    }
}

/// What happened.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// `exceptions:page_fault_user`: a user-space access faulted (at entry to the handler).
    Fault { address: u64, error_code: u64 },
    /// `filemap:mm_filemap_add_to_page_cache`.
    CacheAdd(CachePage),
    /// `filemap:mm_filemap_delete_from_page_cache`.
    CacheDelete(CachePage),
    /// `lock:contention_begin`: the thread is about to wait for a lock.
    ContentionBegin { lock: String, kind: LockKind },
    /// `lock:contention_end`: the wait is over (`ret` 0: acquired).
    ContentionEnd { lock: String, ret: i32 },
    /// `hugetlbfs:hugetlbfs_fallocate`, at the end of the call.
    HugetlbfsFallocate {
        ino: u64,
        mode: u32,
        offset: u64,
        len: u64,
        ret: i32,
    },
    /// `syscalls:sys_enter_NAME`, its arguments as printed.
    SyscallEnter { name: String, args: String },
    /// `syscalls:sys_exit_NAME`.
    SyscallExit { name: String, ret: i64 },
    /// A tracepoint this module does not interpret.
    Other { event: String, body: String },
}

/// One record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// Thread id (`common_pid`).
    pub tid: i32,
    /// Thread group (process) id, if the kernel recorded it.
    pub tgid: Option<i32>,
    pub cpu: u32,
    /// `CLOCK_MONOTONIC` in ns.
    pub ts_ns: u64,
    pub kind: Kind,
}

/// A line that is not an event record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    /// 1-based line number.
    pub line: usize,
    pub text: String,
    pub why: &'static str,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "trace line {}: {}: {:?}", self.line, self.why, self.text)
    }
}

impl std::error::Error for ParseError {}

/// Parses a whole `trace` file; comment lines (`#`) and blank lines are skipped.
pub fn parse(text: &str) -> Result<Vec<Event>, ParseError> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .map(|(i, l)| {
            parse_line(l).map_err(|why| ParseError {
                line: i + 1,
                text: l.to_string(),
                why,
            })
        })
        .collect()
}

/// One record line.
pub fn parse_line(line: &str) -> Result<Event, &'static str> {
    // The CPU column `[NNN]` is the first bracket followed by digits and `] `: task names may
    // hold spaces, dashes and brackets, so everything before it is split from the right.
    let cpu_at = find_cpu_column(line).ok_or("no [cpu] column")?;
    let (head, rest) = line.split_at(cpu_at);
    let close = rest.find(']').ok_or("no [cpu] column")?;
    let cpu: u32 = rest[1..close].parse().map_err(|_| "bad cpu")?;
    let rest = &rest[close + 1..];
    let head = head.trim_end();
    let (task, tgid) = match head.strip_suffix(')') {
        Some(h) => {
            let open = h.rfind('(').ok_or("unbalanced tgid column")?;
            let t = h[open + 1..].trim();
            let tgid = t.parse::<i32>().ok();
            (h[..open].trim_end(), tgid)
        }
        None => (head, None),
    };
    let (_, tid) = task.trim_start().rsplit_once('-').ok_or("no task-pid")?;
    let tid: i32 = tid.parse().map_err(|_| "bad pid")?;
    // `flags  SECONDS.MICROS: event: body`
    let rest = rest.trim_start();
    let (_flags, rest) = rest.split_once(' ').ok_or("no flags")?;
    let (ts, rest) = rest.trim_start().split_once(": ").ok_or("no timestamp")?;
    let ts_ns = parse_ts(ts).ok_or("bad timestamp")?;
    // Syscall events print no `name: ` prefix: `sys_fallocate(fd: 4, ...)`, `sys_fallocate -> 0x0`.
    let (event, body) = if rest.starts_with("sys_") {
        ("sys_", rest)
    } else {
        rest.split_once(": ")
            .unwrap_or((rest.trim_end_matches(':'), ""))
    };
    Ok(Event {
        tid,
        tgid,
        cpu,
        ts_ns,
        kind: parse_kind(event, body)?,
    })
}

fn find_cpu_column(line: &str) -> Option<usize> {
    let b = line.as_bytes();
    (0..b.len()).find(|&i| {
        b[i] == b'[' && {
            let digits = b[i + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
            digits > 0 && b.get(i + 1 + digits) == Some(&b']')
        }
    })
}

/// `SECONDS.FRACTION` (micro- or nanoseconds) to ns.
fn parse_ts(ts: &str) -> Option<u64> {
    let (s, frac) = ts.trim().split_once('.')?;
    let s: u64 = s.parse().ok()?;
    if frac.is_empty() || frac.len() > 9 || !frac.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let ns: u64 = format!("{frac:0<9}").parse().ok()?;
    Some(s * 1_000_000_000 + ns)
}

/// `key=value` or `key value` fields of a tracepoint body.
fn field<'a>(body: &'a str, key: &str) -> Option<&'a str> {
    let mut words = body.split_whitespace();
    while let Some(w) = words.next() {
        if let Some(v) = w.strip_prefix(key).and_then(|r| r.strip_prefix('=')) {
            return Some(v.trim_end_matches(','));
        }
        if w == key {
            return words.next().map(|v| v.trim_end_matches(','));
        }
    }
    None
}

fn num(v: &str) -> Option<u64> {
    match v.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16).ok(),
        None => v.parse().ok(),
    }
}

fn cache_page(body: &str) -> Result<CachePage, &'static str> {
    let hex = |k| field(body, k).and_then(|v| u64::from_str_radix(v, 16).ok());
    Ok(CachePage {
        // The filemap events print the inode number in hex, without 0x.
        ino: hex("ino").ok_or("no ino")?,
        pfn: field(body, "pfn").and_then(num).ok_or("no pfn")?,
        offset: field(body, "ofs").and_then(num).ok_or("no ofs")?,
        order: field(body, "order").and_then(|v| v.parse().ok()),
    })
}

fn parse_kind(event: &str, body: &str) -> Result<Kind, &'static str> {
    Ok(match event {
        "page_fault_user" => Kind::Fault {
            address: field(body, "address").and_then(num).ok_or("no address")?,
            error_code: field(body, "error_code")
                .and_then(num)
                .ok_or("no error_code")?,
        },
        "mm_filemap_add_to_page_cache" => Kind::CacheAdd(cache_page(body)?),
        "mm_filemap_delete_from_page_cache" => Kind::CacheDelete(cache_page(body)?),
        "contention_begin" => {
            let (lock, flags) = body.split_once(' ').ok_or("no lock")?;
            let flags = flags
                .trim()
                .strip_prefix("(flags=")
                .and_then(|f| f.strip_suffix(')'))
                .ok_or("no flags")?;
            Kind::ContentionBegin {
                lock: lock.to_string(),
                kind: LockKind::from_flags(flags),
            }
        }
        "contention_end" => {
            let (lock, ret) = body.split_once(' ').ok_or("no lock")?;
            let ret = ret
                .trim()
                .strip_prefix("(ret=")
                .and_then(|r| r.strip_suffix(')'))
                .and_then(|r| r.parse().ok())
                .ok_or("no ret")?;
            Kind::ContentionEnd {
                lock: lock.to_string(),
                ret,
            }
        }
        "hugetlbfs_fallocate" => {
            let n = |k| field(body, k).and_then(|v| v.parse::<i64>().ok());
            Kind::HugetlbfsFallocate {
                ino: n("ino").ok_or("no ino")? as u64,
                mode: field(body, "mode")
                    .and_then(|m| u32::from_str_radix(m, 8).ok())
                    .ok_or("no mode")?,
                offset: n("offset").ok_or("no offset")? as u64,
                len: n("len").ok_or("no len")? as u64,
                ret: n("ret").ok_or("no ret")? as i32,
            }
        }
        sys if sys.starts_with("sys_") => {
            if let Some((name, ret)) = body.split_once(" -> ") {
                let ret = ret.trim();
                let ret = match ret.strip_prefix("0x") {
                    Some(h) => u64::from_str_radix(h, 16).map(|v| v as i64).ok(),
                    None => ret.parse().ok(),
                };
                Kind::SyscallExit {
                    name: name.trim_start_matches("sys_").to_string(),
                    ret: ret.ok_or("bad syscall return")?,
                }
            } else {
                let (name, args) = body.split_once('(').ok_or("no syscall arguments")?;
                Kind::SyscallEnter {
                    name: name.trim_start_matches("sys_").to_string(),
                    args: args.trim_end_matches(')').to_string(),
                }
            }
        }
        other => Kind::Other {
            event: other.to_string(),
            body: body.to_string(),
        },
    })
}

/// A syscall argument from the printed `name: value` list (`mode: 3`, `len: 0x400000`).
pub fn syscall_arg(args: &str, name: &str) -> Option<u64> {
    args.split(", ")
        .find_map(|a| a.strip_prefix(name)?.strip_prefix(": "))
        .and_then(num)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_kind_recorded_on_linux_6_18() {
        let text = "\
# tracer: nop
         python3-9583    (   9583) [001] d..2.   202.471243: mm_filemap_delete_from_page_cache: dev 0:17 ino 3d03 pfn=0x164000 ofs=2097152 order=9
       lto cgu.0-9212    (   9200) [001] d....   197.388583: page_fault_user: address=0x7ff800936140 ip=0x7ff80cd4cc23 error_code=0x6
         python3-9583    (-------) [000] dnh2.   202.100024: contention_begin: 000000005b2465fe (flags=SPIN)
         python3-9583    (   9583) [000] .....   202.100035: contention_end: 000000005b2465fe (ret=0)
         python3-9583    (   9583) [001] .....   202.471237: sys_fallocate(fd: 4, mode: 3, offset: 0, len: 0x400000)
         python3-9583    (   9583) [001] .....   202.471251: hugetlbfs_fallocate: dev 0,17 ino 15619 mode 03 offset 0 len 4194304 size 8388608 ret 0
         python3-9583    (   9583) [001] .....   202.471252: sys_fallocate -> 0xfffffffffffffff4
";
        let ev = parse(text).unwrap();
        assert_eq!(ev.len(), 7);
        assert_eq!(ev[0].tid, 9583);
        assert_eq!(ev[0].tgid, Some(9583));
        assert_eq!(ev[0].ts_ns, 202_471_243_000);
        let Kind::CacheDelete(p) = &ev[0].kind else {
            panic!("{:?}", ev[0])
        };
        assert_eq!(
            (
                p.ino,
                p.huge_index(IndexUnit::of(&ev, 0x3d03, 2 << 20), 2 << 20)
            ),
            (0x3d03, 1)
        );
        assert_eq!((ev[1].tid, ev[1].tgid, ev[1].cpu), (9212, Some(9200), 1));
        assert_eq!(
            ev[1].kind,
            Kind::Fault {
                address: 0x7ff800936140,
                error_code: 6
            }
        );
        assert_eq!(ev[2].tgid, None);
        assert!(matches!(
            &ev[2].kind,
            Kind::ContentionBegin {
                kind: LockKind::Other,
                ..
            }
        ));
        let Kind::SyscallEnter { name, args } = &ev[4].kind else {
            panic!()
        };
        assert_eq!(name, "fallocate");
        assert_eq!(syscall_arg(args, "mode"), Some(3));
        assert_eq!(syscall_arg(args, "len"), Some(0x400000));
        assert!(matches!(
            ev[5].kind,
            Kind::HugetlbfsFallocate {
                ino: 15619,
                mode: 3,
                len: 4194304,
                ret: 0,
                ..
            }
        ));
        assert_eq!(
            ev[6].kind,
            Kind::SyscallExit {
                name: "fallocate".into(),
                ret: -12
            }
        );
    }

    #[test]
    fn lock_kinds() {
        assert_eq!(LockKind::from_flags("MUTEX"), LockKind::Mutex);
        assert_eq!(LockKind::from_flags("READ"), LockKind::RwsemRead);
        assert_eq!(LockKind::from_flags("WRITE"), LockKind::RwsemWrite);
        assert_eq!(LockKind::from_flags("SPIN|MUTEX"), LockKind::Mutex);
        assert_eq!(LockKind::from_flags("SPIN|WRITE"), LockKind::Other);
        assert_eq!(LockKind::from_flags("SPIN"), LockKind::Other);
        assert_eq!(LockKind::from_flags("PERCPU|READ"), LockKind::Other);
    }

    /// Debian 12's 6.1 prints `order=9` and indexes hugetlb pages in huge pages; 6.18 prints
    /// the same fields with base-page indices. The unit comes from the offsets, not the fields.
    #[test]
    fn the_index_unit_comes_from_the_offsets() {
        let line = |ofs: u64| {
            format!(
                "   hp-manager-870     (    870) [001] d..2.   61.000001: \
                 mm_filemap_delete_from_page_cache: dev 0:17 ino 4a pfn=0x164000 ofs={ofs} order=9\n"
            )
        };
        let index = |offsets: &[u64]| {
            let ev = parse(&offsets.iter().map(|&o| line(o)).collect::<String>()).unwrap();
            let unit = IndexUnit::of(&ev, 0x4a, 2 << 20);
            let idx: Vec<u64> = ev
                .iter()
                .map(|e| match &e.kind {
                    Kind::CacheDelete(c) => c.huge_index(unit, 2 << 20),
                    k => panic!("{k:?}"),
                })
                .collect();
            (unit, idx)
        };
        // 6.1: pages 0, 1, 2 at ofs 0, 4096, 8192.
        assert_eq!(
            index(&[0, 4096, 8192]),
            (IndexUnit::HugePages, vec![0, 1, 2])
        );
        // 6.7+: the same pages at ofs 0, 2 MiB, 4 MiB.
        assert_eq!(
            index(&[0, 2 << 20, 4 << 20]),
            (IndexUnit::BasePages, vec![0, 1, 2])
        );
        // One page at index 0 is page 0 either way.
        assert_eq!(index(&[0]).1, vec![0]);
    }

    #[test]
    fn a_bad_line_is_named() {
        let e = parse("# x\n  garbage\n").unwrap_err();
        assert_eq!(e.line, 2);
        assert_eq!(e.why, "no [cpu] column");
    }
}
