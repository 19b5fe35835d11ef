//! The 2015 race window, found in a trace.
//!
//! A hole punch runs `hugetlb_vmdelete_list` (unmap the hole from every VMA) and then
//! `remove_inode_hugepages` (remove each page of the hole from the page cache). In between, a
//! fault can map a hole page again: the window opens at the punch's `hugetlb_vmdelete_list`
//! step and closes at the `remove_inode_hugepages` step that reaches the raced page. The raced
//! fault is a `hugetlb_no_page` step on a hole page (`hole_start <= page < hole_end`) after
//! which the faulting mapper's `observed.mapped` has gained that page, taken while the punch
//! is between those two steps (before `remove_inode_hugepages` has reached that page).

use traces::{Level, Step, Trace};

/// The race window of one hole punch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RaceWindow {
    /// The thread whose kernel thread runs the punch (`manager`).
    pub punch_thread: String,
    /// The step of the `punch_hole` system call.
    pub punch: usize,
    /// The punch's `hugetlb_vmdelete_list` step: the window opens.
    pub open: usize,
    /// The `remove_inode_hugepages` step that reaches [`RaceWindow::page`]: the window closes.
    /// `None` when the trace ends with the window still open.
    pub close: Option<usize>,
    /// The page the window is about: the raced page, or without a raced fault the first hole
    /// page `remove_inode_hugepages` reaches.
    pub page: Option<u8>,
    /// The fault that maps a hole page inside the window.
    pub fault: Option<RacedFault>,
}

/// A fault that maps a page of the hole inside the race window.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RacedFault {
    /// The `hugetlb_no_page` step that maps it.
    pub step: usize,
    /// The faulting thread (`mapper0`).
    pub thread: String,
    pub mapper: usize,
    pub page: u8,
}

impl RaceWindow {
    /// Whether step `i` is inside the window (both ends included).
    pub fn contains(&self, i: usize) -> bool {
        i >= self.open && !matches!(self.close, Some(c) if i > c)
    }

    /// The last step inside the window, given the trace's length.
    pub fn last(&self, steps: usize) -> usize {
        self.close.unwrap_or(steps.saturating_sub(1))
    }
}

fn kernel_step_of<'s>(s: &'s Step, thread: &str, function: &str) -> Option<&'s str> {
    let op = s.action.strip_prefix(function)?;
    (s.level == Level::Kernel && s.thread == thread && (op.is_empty() || op.starts_with(':')))
        .then_some(op)
}

fn is_punch_return(s: &Step, thread: &str) -> bool {
    s.level == Level::Syscall
        && s.thread == thread
        && s.action == "return"
        && s.args.call.as_deref() == Some("punch_hole")
}

/// The mapper number of `mapper<N>`.
fn mapper_of(thread: &str) -> Option<usize> {
    thread.strip_prefix("mapper")?.parse().ok()
}

/// The race window of the trace's first punch that has a raced fault, else of its first punch
/// that reaches `hugetlb_vmdelete_list`; `None` when no punch gets that far.
pub fn race_window(t: &Trace) -> Option<RaceWindow> {
    let steps = &t.steps;
    let windows: Vec<RaceWindow> = steps
        .iter()
        .filter(|s| s.level == Level::Syscall && s.action == "punch_hole")
        .filter_map(|s| window_of(t, s.index, &s.thread))
        .collect();
    let raced = windows.iter().position(|w| w.fault.is_some());
    windows.into_iter().nth(raced.unwrap_or(0))
}

fn window_of(t: &Trace, punch: usize, thread: &str) -> Option<RaceWindow> {
    let c = &t.meta.config;
    let steps = &t.steps;
    let hole = |p: u8| c.hole_start <= p && p < c.hole_end;
    let after_punch = &steps[punch + 1..];
    let end = after_punch
        .iter()
        .find(|s| is_punch_return(s, thread))
        .map_or(steps.len(), |s| s.index);
    let open = after_punch[..end - punch - 1]
        .iter()
        .find(|s| kernel_step_of(s, thread, "hugetlb_vmdelete_list").is_some())?
        .index;
    let reaches = |s: &Step, page: u8| {
        kernel_step_of(s, thread, "remove_inode_hugepages").is_some() && s.args.page == Some(page)
    };
    // Find the first fault that maps a hole page the removal loop has not reached yet.
    let mut reached: Vec<u8> = Vec::new();
    let mut fault = None;
    for s in &steps[open + 1..end] {
        if kernel_step_of(s, thread, "remove_inode_hugepages").is_some() {
            reached.extend(s.args.page);
            continue;
        }
        let Some(page) = s.args.page else { continue };
        let (Some(mapper), true) = (mapper_of(&s.thread), s.action == "hugetlb_no_page") else {
            continue;
        };
        let before = &steps[s.index - 1].observed.mapped;
        let after = &s.observed.mapped;
        let gained = after.get(mapper).is_some_and(|m| m.contains(&page))
            && !before.get(mapper).is_some_and(|m| m.contains(&page));
        if s.level == Level::Kernel && hole(page) && gained && !reached.contains(&page) {
            fault = Some(RacedFault {
                step: s.index,
                thread: s.thread.clone(),
                mapper,
                page,
            });
            break;
        }
    }
    let (from, page) = match &fault {
        Some(f) => (f.step + 1, Some(f.page)),
        None => {
            let first = steps[open + 1..end].iter().find_map(|s| {
                kernel_step_of(s, thread, "remove_inode_hugepages")?;
                s.args.page.filter(|&p| hole(p))
            });
            (open + 1, first)
        }
    };
    let close = page.and_then(|p| {
        steps[from..end]
            .iter()
            .find(|s| reaches(s, p))
            .map(|s| s.index)
    });
    Some(RaceWindow {
        punch_thread: thread.to_string(),
        punch,
        open,
        close,
        page,
        fault,
    })
}

/// What the renderings say about the window: each phrase as a headline and a detail, which a
/// rendering puts on one line (`headline: detail`) or two.
impl RaceWindow {
    /// Where it opens.
    pub fn opens(&self, c: &traces::Config) -> [String; 2] {
        [
            format!("race window opens (step {})", self.open),
            format!(
                "the punch runs hugetlb_vmdelete_list over the hole [{}, {})",
                c.hole_start, c.hole_end
            ),
        ]
    }

    /// The raced fault, if any.
    pub fn race(&self) -> Option<[String; 2]> {
        self.fault.as_ref().map(|f| {
            [
                format!("RACE (step {})", f.step),
                format!(
                    "{}'s fault maps hole page {} inside the window",
                    f.thread, f.page
                ),
            ]
        })
    }

    /// Where it closes, or that it does not.
    pub fn closes(&self) -> [String; 2] {
        let page = match self.page {
            Some(p) => format!("page {p}"),
            None => "the hole".into(),
        };
        match self.close {
            Some(c) => [
                format!("race window closes (step {c})"),
                format!("remove_inode_hugepages reaches {page}"),
            ],
            None => [
                "race window still open at the end".into(),
                format!("remove_inode_hugepages has not reached {page}"),
            ],
        }
    }

    /// The window in one line.
    pub fn summary(&self, steps: usize) -> String {
        let span = match self.close {
            Some(c) => format!("steps {}-{c}", self.open),
            None => format!(
                "steps {}-{}, still open at the end",
                self.open,
                self.last(steps)
            ),
        };
        match &self.fault {
            Some(f) => format!(
                "race window ({span}): {} maps hole page {} at step {} (hugetlb_no_page)",
                f.thread, f.page, f.step
            ),
            None => format!("race window ({span}): no fault maps a hole page inside it"),
        }
    }
}

/// A phrase on one line.
pub fn one_line(phrase: &[String; 2]) -> String {
    format!("{}: {}", phrase[0], phrase[1])
}
