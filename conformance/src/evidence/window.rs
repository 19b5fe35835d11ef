//! The race window from the kernel's side: the window touch's fault on the raced page began
//! after the punch started, found the page in the page cache (nothing added it), and was over
//! before the punch deleted that page from the cache.
//!
//! A fault is over when its thread next enters a system call or faults again: the mapper's
//! touch is followed at once by `getrusage` (its fault count), so that is an upper bound on
//! the fault's end taken from the kernel itself.

use super::events::{syscall_arg, Event, IndexUnit, Kind};
use serde::{Deserialize, Serialize};

/// `FALLOC_FL_PUNCH_HOLE`.
const PUNCH_HOLE: u64 = 0x02;

/// Who and what the events are about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Subject {
    /// The hugetlbfs file's inode number.
    pub ino: u64,
    pub huge_page_size: u64,
    /// The manager process (thread group id).
    pub manager: i32,
}

/// The window touch: which process, where its mapping starts, which host file page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Touch {
    pub mapper: i32,
    pub base: u64,
    pub page: u64,
}

impl Subject {
    /// The header line a kept recording starts with, so it can be judged again later.
    pub fn header(&self, touch: Option<&Touch>) -> String {
        let mut h = format!(
            "# hugepunch-subject: ino={} huge_page_size={} manager={}",
            self.ino, self.huge_page_size, self.manager
        );
        if let Some(t) = touch {
            h += &format!(" mapper={} base={:#x} page={}", t.mapper, t.base, t.page);
        }
        h
    }

    /// Reads a [`Subject::header`] line back.
    pub fn from_header(text: &str) -> Option<(Subject, Option<Touch>)> {
        let line = text
            .lines()
            .find_map(|l| l.strip_prefix("# hugepunch-subject: "))?;
        let get = |k: &str| {
            line.split_whitespace()
                .find_map(|w| w.strip_prefix(k)?.strip_prefix('='))
                .and_then(|v| match v.strip_prefix("0x") {
                    Some(h) => u64::from_str_radix(h, 16).ok(),
                    None => v.parse().ok(),
                })
        };
        let s = Subject {
            ino: get("ino")?,
            huge_page_size: get("huge_page_size")?,
            manager: get("manager")? as i32,
        };
        let t = match (get("mapper"), get("base"), get("page")) {
            (Some(m), Some(b), Some(p)) => Some(Touch {
                mapper: m as i32,
                base: b,
                page: p,
            }),
            _ => None,
        };
        Some((s, t))
    }
}

/// The kernel's verdict on one attempt's window.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The fault began after the punch started, found the page and was over before the
    /// page's delete from the page cache.
    Confirmed,
    /// No punch (`fallocate` with `FALLOC_FL_PUNCH_HOLE`) by the manager in the events.
    NoPunch,
    /// No fault on the raced page after the punch started.
    NoFault,
    /// The fault added the page to the page cache: it did not find it.
    PageAdded,
    /// The fault's end is not in the events.
    Unfinished,
    /// The fault was not over before the page was deleted (or began after it).
    TooLate,
}

impl Verdict {
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Confirmed => "confirmed",
            Verdict::NoPunch => "no punch",
            Verdict::NoFault => "no fault on the raced page during the punch",
            Verdict::PageAdded => "the fault added the page (it missed the cache)",
            Verdict::Unfinished => "the fault's end is not in the events",
            Verdict::TooLate => {
                "the fault began after the page's delete, or was not over before it"
            }
        }
    }
}

/// The verdict with its times, in µs after the punch started (kernel clock).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KernelWindow {
    pub verdict: Verdict,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fault_us: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fault_end_us: Option<f64>,
    /// When the raced page left the page cache.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delete_us: Option<f64>,
    /// When the punch returned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub punch_end_us: Option<f64>,
    /// The fault's begin and end, kernel clock in ns.
    #[serde(skip)]
    pub fault_ns: Option<(u64, u64)>,
    /// The faulting thread.
    #[serde(skip)]
    pub fault_tid: Option<i32>,
}

/// The manager's punch: when it entered and left `fallocate(PUNCH_HOLE)`.
pub fn punch(events: &[Event], s: &Subject) -> Option<(u64, Option<u64>)> {
    let at = events.iter().position(|e| {
        e.tgid == Some(s.manager)
            && matches!(&e.kind, Kind::SyscallEnter { name, args }
                if name == "fallocate"
                    && syscall_arg(args, "mode").is_some_and(|m| m & PUNCH_HOLE != 0))
    })?;
    let tid = events[at].tid;
    let end = events[at..].iter().find(|e| {
        e.tid == tid && matches!(&e.kind, Kind::SyscallExit { name, .. } if name == "fallocate")
    });
    Some((events[at].ts_ns, end.map(|e| e.ts_ns)))
}

/// Decides whether the events confirm the window of `touch`.
pub fn confirm(events: &[Event], s: &Subject, touch: &Touch) -> KernelWindow {
    let mut w = KernelWindow {
        verdict: Verdict::NoPunch,
        fault_us: None,
        fault_end_us: None,
        delete_us: None,
        punch_end_us: None,
        fault_ns: None,
        fault_tid: None,
    };
    let Some((p0, p1)) = punch(events, s) else {
        return w;
    };
    let us = |t: u64| (t as f64 - p0 as f64) / 1e3;
    w.punch_end_us = p1.map(us);
    let lo = touch.base + touch.page * s.huge_page_size;
    let on_page = |a: u64| (lo..lo + s.huge_page_size).contains(&a);
    let unit = IndexUnit::of(events, s.ino, s.huge_page_size);
    let is_page = |e: &Event| match &e.kind {
        Kind::CacheAdd(c) | Kind::CacheDelete(c) => {
            c.ino == s.ino && c.huge_index(unit, s.huge_page_size) == touch.page
        }
        _ => false,
    };
    let delete = events
        .iter()
        .find(|e| e.ts_ns >= p0 && is_page(e) && matches!(e.kind, Kind::CacheDelete(_)));
    w.delete_us = delete.map(|e| us(e.ts_ns));
    let fault = events.iter().position(|e| {
        e.tgid == Some(touch.mapper)
            && e.ts_ns >= p0
            && matches!(e.kind, Kind::Fault { address, .. } if on_page(address))
    });
    let Some(f) = fault else {
        w.verdict = Verdict::NoFault;
        return w;
    };
    let (f_ts, tid) = (events[f].ts_ns, events[f].tid);
    w.fault_us = Some(us(f_ts));
    // Without a delete (a kernel that leaves the page in the hole) the punch's return is the
    // end of the window.
    let deadline = delete.map(|d| d.ts_ns).or(p1);
    if deadline.is_some_and(|d| f_ts >= d) {
        w.verdict = Verdict::TooLate;
        return w;
    }
    let end = events[f + 1..]
        .iter()
        .find(|e| e.tid == tid && matches!(e.kind, Kind::SyscallEnter { .. } | Kind::Fault { .. }));
    let Some(end) = end else {
        w.verdict = Verdict::Unfinished;
        return w;
    };
    w.fault_end_us = Some(us(end.ts_ns));
    w.fault_ns = Some((f_ts, end.ts_ns));
    w.fault_tid = Some(tid);
    let added = events.iter().any(|e| {
        (f_ts..=end.ts_ns).contains(&e.ts_ns) && is_page(e) && matches!(e.kind, Kind::CacheAdd(_))
    });
    w.verdict = if added {
        Verdict::PageAdded
    } else if deadline.is_some_and(|d| end.ts_ns < d) {
        Verdict::Confirmed
    } else {
        Verdict::TooLate
    };
    w
}
