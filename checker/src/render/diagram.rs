//! A trace as a sequence diagram, independent of how it is drawn: lifelines, and one row per
//! step, each an arrow between two lifelines or a note on one.
//!
//! - A system call is an arrow from the calling thread to its kernel thread, its return an
//!   arrow back with the result (`ok` or the errno name).
//! - A kernel step is a note on the kernel thread: the function, the lock operation that starts
//!   the step (the part of the action name after `:`), and the page it works on.
//! - A touch is a note on the mapper; the MMU walk is a note on a hit, and on a miss a page
//!   fault arrow to the mapper's kernel thread, which the `touched` step answers.
//! - A MISSING event is an arrow from the faulting kernel thread to the mapper's handler, a
//!   SIGBUS one to the mapper.

use super::lifeline::{self, Lifeline};
use super::show;
use super::window::{race_window, RaceWindow};
use std::collections::BTreeMap;
use traces::{Config, Level, Step, Trace};

/// How an arrow is drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArrowStyle {
    /// A system call into the kernel.
    Call,
    /// A system call's return.
    Return,
    /// A page fault: the MMU found no page table entry.
    Fault,
    /// The fault is resolved and the touch completes.
    FaultDone,
    /// userfaultfd delivers a MISSING event to the handler.
    Event,
    /// The fault raises SIGBUS.
    Signal,
}

/// What a note is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoteStyle {
    /// A kernel step.
    Kernel,
    /// A memory access that needs no kernel: a touch, an MMU hit.
    Access,
    /// A process event (`start`).
    Process,
}

/// An arrow or a note.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// Indices into [`Diagram::lifelines`].
    Arrow {
        from: usize,
        to: usize,
        style: ArrowStyle,
    },
    Note {
        on: usize,
        style: NoteStyle,
    },
}

/// One step of the trace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    pub step: usize,
    pub shape: Shape,
    /// The label, one entry a line, without the step number.
    pub lines: Vec<String>,
    /// What the step changed in the observed state (file pages, mapped pages).
    pub changes: Vec<String>,
    /// This step is the fault that maps a hole page inside the race window.
    pub raced: bool,
}

/// The whole diagram.
#[derive(Clone, Debug)]
pub struct Diagram<'t> {
    pub trace: &'t Trace,
    pub lifelines: Vec<Lifeline>,
    pub rows: Vec<Row>,
    pub window: Option<RaceWindow>,
}

impl<'t> Diagram<'t> {
    /// The mappers of the configuration that take no step, so have no lifeline.
    pub fn idle_mappers(&self) -> Vec<String> {
        (0..self.trace.meta.config.mappers)
            .map(|m| format!("mapper{m}"))
            .filter(|m| {
                !self
                    .lifelines
                    .iter()
                    .any(|l| l.thread_name().starts_with(m.as_str()))
            })
            .collect()
    }

    /// One line about the idle mappers, if any: `mapper1 takes no step (no lifeline)`.
    pub fn idle_note(&self) -> Option<String> {
        let idle = self.idle_mappers();
        match idle.len() {
            0 => None,
            1 => Some(format!("{} takes no step (no lifeline)", idle[0])),
            _ => Some(format!("{} take no step (no lifelines)", idle.join(", "))),
        }
    }

    /// Lays out a (validated) trace.
    pub fn new(trace: &'t Trace) -> Diagram<'t> {
        let window = race_window(trace);
        let mut pending_fault: BTreeMap<&str, bool> = BTreeMap::new();
        let mut drafts = Vec::with_capacity(trace.steps.len());
        for s in &trace.steps {
            drafts.push(draft(&trace.meta.config, s, &mut pending_fault));
        }
        let used = drafts
            .iter()
            .flat_map(|d| match &d.shape {
                DraftShape::Arrow { from, to, .. } => vec![from.clone(), to.clone()],
                DraftShape::Note { on, .. } => vec![on.clone()],
            })
            .collect();
        let lifelines = lifeline::arrange(used);
        let at = |l: &Lifeline| {
            lifelines
                .iter()
                .position(|x| x == l)
                .expect("every lifeline used is arranged")
        };
        let raced = window
            .as_ref()
            .and_then(|w| w.fault.as_ref().map(|f| f.step));
        let rows = drafts
            .into_iter()
            .zip(&trace.steps)
            .map(|(d, s)| Row {
                step: s.index,
                shape: match d.shape {
                    DraftShape::Arrow { from, to, style } => Shape::Arrow {
                        from: at(&from),
                        to: at(&to),
                        style,
                    },
                    DraftShape::Note { on, style } => Shape::Note { on: at(&on), style },
                },
                lines: d.lines,
                changes: match s.index {
                    0 => Vec::new(),
                    i => show::changes(&trace.steps[i - 1].observed, &s.observed),
                },
                raced: raced == Some(s.index),
            })
            .collect();
        Diagram {
            trace,
            lifelines,
            rows,
            window,
        }
    }

    /// The index of the lifeline named `name`, if the diagram has it.
    pub fn lifeline(&self, name: &str) -> Option<usize> {
        self.lifelines.iter().position(|l| l.name == name)
    }
}

enum DraftShape {
    Arrow {
        from: Lifeline,
        to: Lifeline,
        style: ArrowStyle,
    },
    Note {
        on: Lifeline,
        style: NoteStyle,
    },
}

struct Draft {
    shape: DraftShape,
    lines: Vec<String>,
}

/// A step's shape and label, with lifelines by name. `pending_fault` says, per mapper, whether
/// its current touch took a page fault (so `touched` is the fault's answer).
fn draft<'s>(c: &Config, s: &'s Step, pending_fault: &mut BTreeMap<&'s str, bool>) -> Draft {
    let me = || Lifeline::thread(&s.thread);
    let my_kernel = || Lifeline::kernel(&s.thread);
    let page = |p: Option<u8>| p.map(|p| show::page(c, p)).unwrap_or_default();
    let arrow = |from, to, style, line: String| Draft {
        shape: DraftShape::Arrow { from, to, style },
        lines: vec![line],
    };
    let note = |on, style, lines: Vec<String>| Draft {
        shape: DraftShape::Note { on, style },
        lines,
    };
    let a = &s.args;
    match (s.level, s.action.as_str()) {
        (Level::Kernel, _) => note(my_kernel(), NoteStyle::Kernel, kernel_lines(c, s)),
        (Level::Syscall, "start") => note(me(), NoteStyle::Process, vec!["start".into()]),
        (Level::Syscall, "return") => arrow(
            my_kernel(),
            me(),
            ArrowStyle::Return,
            format!(
                "{} returned {}",
                a.call.as_deref().unwrap_or("?"),
                a.ret.as_deref().unwrap_or("?")
            ),
        ),
        (Level::Syscall, call) => {
            let what = match (a.start, a.end, a.page) {
                (Some(start), Some(end), _) => format!("{call} [{start}, {end})"),
                (_, _, Some(_)) => format!("{call} {}", page(a.page)),
                _ => call.to_string(),
            };
            arrow(me(), my_kernel(), ArrowStyle::Call, what)
        }
        (Level::Access, "touch") => note(
            me(),
            NoteStyle::Access,
            vec![format!("touch {}, {}", page(a.page), show::access(a.write))],
        ),
        (Level::Access, "mmu") if a.hit == Some(true) => {
            pending_fault.insert(&s.actor, false);
            note(
                me(),
                NoteStyle::Access,
                vec![format!("mmu hit: {} mapped", page(a.page))],
            )
        }
        (Level::Access, "mmu") => {
            pending_fault.insert(&s.actor, true);
            arrow(
                me(),
                my_kernel(),
                ArrowStyle::Fault,
                format!("page fault: {}, {}", page(a.page), show::access(a.write)),
            )
        }
        (Level::Access, "touched") => {
            let did = match (a.write, a.value) {
                (Some(true), Some(v)) => format!("wrote {}", show::value(v)),
                (_, Some(v)) => format!("read {}", show::value(v)),
                _ => "done".into(),
            };
            if pending_fault.insert(&s.actor, false) == Some(true) {
                arrow(
                    my_kernel(),
                    me(),
                    ArrowStyle::FaultDone,
                    format!("fault done, touch {did}"),
                )
            } else {
                note(
                    me(),
                    NoteStyle::Access,
                    vec![format!("touched {}: {did}", page(a.page))],
                )
            }
        }
        (Level::Uffd, "sigbus") => {
            pending_fault.insert(&s.actor, false);
            arrow(
                Lifeline::kernel(&s.actor),
                me(),
                ArrowStyle::Signal,
                format!("SIGBUS {}", page(a.page)),
            )
        }
        (Level::Uffd, _) => arrow(
            Lifeline::kernel(&s.actor),
            me(),
            ArrowStyle::Event,
            format!("MISSING event {}, {}", page(a.page), show::access(a.write)),
        ),
        (Level::Access, other) => note(me(), NoteStyle::Access, vec![other.to_string()]),
    }
}

/// A kernel step's label: the function, then the lock operation and the page.
pub fn kernel_lines(c: &Config, s: &Step) -> Vec<String> {
    let (function, op) = match s.action.split_once(':') {
        Some((f, op)) => (f, Some(op)),
        None => (s.action.as_str(), None),
    };
    let page = s.args.page.map(|p| show::page(c, p));
    let finishing = ["remove_inode_hugepages", "hugetlbfs_fallocate"].contains(&function)
        && op == Some("mutex_lock")
        && page.is_none();
    let op = op.map(|op| match op {
        _ if finishing => "no page left: returns".to_string(),
        "schedule" => "wait: schedule".to_string(),
        "i_private" => "check: inode->i_private".to_string(),
        "retry" => "lock: i_mmap_lock_write (retry)".to_string(),
        "mutex_lock_again" => "lock: mutex_lock (again)".to_string(),
        op => format!("lock: {op}"),
    });
    let second = match (op, page) {
        (Some(op), Some(p)) => Some(format!("{op}, {p}")),
        (Some(op), None) => Some(op),
        (None, p) => p,
    };
    std::iter::once(function.to_string())
        .chain(second)
        .collect()
}
