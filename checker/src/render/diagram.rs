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
use super::window::race_window;
use spec::node::Role;
use std::collections::BTreeMap;
use traces::{Action, Call, Config, KernelStep, RaceWindow, Shown, Step, Syscall, Thread, Trace};

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
            .filter(|&m| {
                !self
                    .lifelines
                    .iter()
                    .any(|l| l.thread.mapper_number() == Some(m))
            })
            .map(|m| Role::Mapper(m).to_string())
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
        let mut pending_fault: BTreeMap<Thread, bool> = BTreeMap::new();
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
        let raced: Vec<usize> = window
            .iter()
            .flat_map(|w| w.fault().map(|f| f.step))
            .collect();
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
                    i => trace.steps[i - 1]
                        .observed
                        .diff(&s.observed)
                        .iter()
                        .map(ToString::to_string)
                        .collect(),
                },
                raced: raced.contains(&s.index),
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

/// A step's shape and label, with lifelines by thread. `pending_fault` says, per mapper,
/// whether its current touch took a page fault (so `touched` is the fault's answer).
fn draft(c: &Config, s: &Step, pending_fault: &mut BTreeMap<Thread, bool>) -> Draft {
    let me = || Lifeline::thread(s.thread);
    let my_kernel = || Lifeline::kernel(s.thread);
    let main_kernel = || Lifeline::kernel(s.thread.main());
    let page = |p: u8| show::page(c, p);
    let arrow = |from, to, style, line: String| Draft {
        shape: DraftShape::Arrow { from, to, style },
        lines: vec![line],
    };
    let note = |on, style, lines: Vec<String>| Draft {
        shape: DraftShape::Note { on, style },
        lines,
    };
    match s.action {
        Action::Kernel { .. } => note(my_kernel(), NoteStyle::Kernel, kernel_lines(c, s)),
        Action::Start => note(me(), NoteStyle::Process, vec!["start".into()]),
        Action::Return { call, ret } => arrow(
            my_kernel(),
            me(),
            ArrowStyle::Return,
            format!("{call} returned {}", traces::ret_name(ret)),
        ),
        Action::Call(sc) => {
            let call = Call::of(sc);
            let what = match sc {
                Syscall::Fallocate { start, end } | Syscall::PunchHole { start, end } => {
                    format!("{call} [{start}, {end})")
                }
                Syscall::UffdioCopy { page: p }
                | Syscall::UffdioWake { page: p }
                | Syscall::MovePages { page: p } => format!("{call} {}", page(p)),
                Syscall::Mmap | Syscall::UffdioRegister => call.to_string(),
            };
            arrow(me(), my_kernel(), ArrowStyle::Call, what)
        }
        Action::Touch { page: p, write } => note(
            me(),
            NoteStyle::Access,
            vec![format!("touch {}, {}", page(p), show::access(write))],
        ),
        Action::Mmu {
            page: p, hit: true, ..
        } => {
            pending_fault.insert(s.thread, false);
            note(
                me(),
                NoteStyle::Access,
                vec![format!("mmu hit: {} mapped", page(p))],
            )
        }
        Action::Mmu { page: p, write, .. } => {
            pending_fault.insert(s.thread, true);
            arrow(
                me(),
                my_kernel(),
                ArrowStyle::Fault,
                format!("page fault: {}, {}", page(p), show::access(write)),
            )
        }
        Action::Touched {
            page: p,
            write,
            value,
        } => {
            let did = if write {
                format!("wrote {}", Shown(value))
            } else {
                format!("read {}", Shown(value))
            };
            if pending_fault.insert(s.thread, false) == Some(true) {
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
                    vec![format!("touched {}: {did}", page(p))],
                )
            }
        }
        Action::Sigbus { page: p } => {
            pending_fault.insert(s.thread, false);
            arrow(
                main_kernel(),
                me(),
                ArrowStyle::Signal,
                format!("SIGBUS {}", page(p)),
            )
        }
        Action::UffdMissing { page: p, write } => arrow(
            main_kernel(),
            me(),
            ArrowStyle::Event,
            format!("MISSING event {}, {}", page(p), show::access(write)),
        ),
    }
}

/// A kernel step's label: the function, then the lock operation and the page.
pub fn kernel_lines(c: &Config, s: &Step) -> Vec<String> {
    let Action::Kernel { step, page } = s.action else {
        return vec![s.action.name().to_string()];
    };
    let (function, op) = match step.name().split_once(':') {
        Some((f, op)) => (f, Some(op)),
        None => (step.name(), None),
    };
    let page = page.map(|p| show::page(c, p));
    let finishing = matches!(
        step,
        KernelStep::RemoveInodeHugepages | KernelStep::HugetlbfsFallocate
    ) && page.is_none();
    let op = op.map(|op| match step {
        _ if finishing => "no page left: returns".to_string(),
        KernelStep::HugetlbFaultMarkerWait => format!("wait: {op}"),
        KernelStep::HugetlbFaultMarker => "check: inode->i_private".to_string(),
        KernelStep::HugetlbUnmapFileFolioRetry => "lock: i_mmap_lock_write (retry)".to_string(),
        KernelStep::RemoveUnmapAgainMutex => "lock: mutex_lock (again)".to_string(),
        _ => format!("lock: {op}"),
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
