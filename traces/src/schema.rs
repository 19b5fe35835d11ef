//! A trace, typed: what the loader returns and the exporter writes.

use crate::action::{Acquire, Action, Level};
use crate::thread::Thread;
use crate::value::Value;
use serde::{Deserialize, Serialize};
use spec::node::Role;
use spec::{ModelCfg, TouchArea, UffdPolicy, Variant};

/// A whole trace file.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Trace {
    pub meta: Meta,
    pub steps: Vec<Step>,
}

/// What the trace is, and what it shows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Meta {
    /// [`crate::FORMAT_VERSION`].
    pub format: u32,
    /// Kernel variant of the model.
    pub variant: Variant,
    pub config: Config,
    /// Property id (`hole_freed_on_return`, ...), one of the model's [`spec::PROPERTIES`].
    pub property: String,
    /// The property as a sentence.
    pub sentence: String,
    pub kind: Kind,
    /// The property is violated (counterexample) or reached (witness) once the first
    /// `discovered_at` steps have run. The steps after it only let what was already in the
    /// kernel finish, so a replay can compare the host at a quiet point.
    pub discovered_at: usize,
    /// One line: what happens in this trace.
    pub description: String,
    /// What a host is expected to show when the trace is replayed on it.
    pub expected_host_outcome: String,
    /// The punch's race window, as the model defines it (`Kernel::race_window_open`); `None`
    /// when no punch gets as far as `hugetlb_vmdelete_list`.
    pub race_window: Option<RaceWindow>,
    /// The variants, in `Variant::ALL` order, whose model can show what a replay of this trace
    /// observes (the plan's calls, returns, touch results, MISSING events, comparisons and race
    /// window; `checker::separate` says exactly what, and what it assumes). A host that
    /// conforms to this trace is none of the other variants.
    pub shown_by: Vec<Variant>,
    /// The acquisitions of a sleeping lock that wait in this trace's interleaving, in the
    /// order they start waiting (see [`Wait`]).
    pub waits: Vec<Wait>,
    /// Race traces: the variants, in `Variant::ALL` order, whose model can show what
    /// [`Meta::shown_by`] is about *and* the window touch's fault waiting on an rw_semaphore
    /// for read (`lock:contention_begin`, `READ`) while it runs (`checker::separate` says
    /// exactly when a model can). `None` without a window touch. A host that conforms to
    /// this trace and showed that wait in a confirmed window is none of the other variants.
    pub window_wait_shown_by: Option<Vec<Variant>>,
}

impl Meta {
    /// The trace predicts that the kernel hangs: a counterexample of a property that only a
    /// deadlock violates ([`spec::Prop::hangs`]). Replaying it on a real kernel that has the
    /// bug leaves tasks blocked for good (a hung punch is unkillable).
    pub fn predicts_hang(&self) -> bool {
        self.kind == Kind::Counterexample
            && spec::properties::by_id(&self.property).is_some_and(|p| p.hangs)
    }
}

/// Counterexample of an always/eventually property, or witness of a sometimes property.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Counterexample,
    Witness,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Counterexample => "counterexample",
            Kind::Witness => "witness",
        }
    }
}

/// The model configuration the trace comes from (the model's `ModelCfg` minus the variant,
/// which is in [`Meta`], and the mutation, which no trace has).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub pages: u8,
    pub hole_start: u8,
    pub hole_end: u8,
    pub mappers: u8,
    pub touches: u8,
    pub touch_area: TouchArea,
    pub writes: bool,
    pub uffd: UffdPolicy,
    pub fault_mutex_slots: u8,
    pub hole_reuse: bool,
    /// Migrator processes (`move_pages(2)`); left out when 0.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub migrators: u8,
    /// Huge pages in the pool, when fewer than the file's plus one per migrator; left out
    /// otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool: Option<u8>,
}

fn is_zero(n: &u8) -> bool {
    *n == 0
}

impl From<&ModelCfg> for Config {
    /// The trace's record of a model configuration. Destructured field by field, so a field
    /// added to `ModelCfg` does not compile until the trace records it (or says why not).
    fn from(cfg: &ModelCfg) -> Self {
        let ModelCfg {
            variant: _, // in `Meta`
            pages,
            hole_start,
            hole_end,
            mappers,
            touches,
            touch_area,
            writes,
            uffd,
            fault_mutex_slots,
            hole_reuse,
            migrators,
            pool,
            mutation: _, // no trace comes from a mutant
        } = *cfg;
        Config {
            pages,
            hole_start,
            hole_end,
            mappers,
            touches,
            touch_area,
            writes,
            uffd,
            fault_mutex_slots,
            hole_reuse,
            migrators,
            pool,
        }
    }
}

impl Config {
    /// The model configuration this records, in `variant` (the inverse of
    /// `Config::from(&ModelCfg)` for the trace's own variant).
    pub fn model_cfg(&self, variant: Variant) -> ModelCfg {
        let Config {
            pages,
            hole_start,
            hole_end,
            mappers,
            touches,
            touch_area,
            writes,
            uffd,
            fault_mutex_slots,
            hole_reuse,
            migrators,
            pool,
        } = *self;
        ModelCfg {
            variant,
            pages,
            hole_start,
            hole_end,
            mappers,
            touches,
            touch_area,
            writes,
            uffd,
            fault_mutex_slots,
            hole_reuse,
            migrators,
            pool,
            mutation: None,
        }
    }

    /// Whether a file page lies in the hole.
    pub fn in_hole(&self, page: u8) -> bool {
        (self.hole_start..self.hole_end).contains(&page)
    }
}

/// The punch's race window: from the punch's `hugetlb_vmdelete_list` to the step after which
/// `remove_inode_hugepages` has dealt with the page. A fault that maps a hole page inside it
/// is a raced fault.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RaceWindow {
    /// The step of the `punch_hole` call.
    pub punch: usize,
    /// The punch's `hugetlb_vmdelete_list` step: the window opens.
    pub open: usize,
    /// The step after which the removal loop has dealt with [`RaceWindow::page`]: the window
    /// closes. `None` when the trace ends with the window still open.
    pub close: Option<usize>,
    /// The first raced page, or without a raced fault the first hole page the removal loop
    /// deals with.
    pub page: Option<u8>,
    /// The faults that map a hole page inside the window, in step order.
    pub faults: Vec<RacedFault>,
}

/// A fault that maps a page of the hole inside the race window.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RacedFault {
    /// The `hugetlb_no_page` step that maps the page.
    pub step: usize,
    /// The `touch` step whose fault it is.
    pub touch: usize,
    /// The faulting thread.
    pub thread: Thread,
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

    /// The first raced fault.
    pub fn fault(&self) -> Option<&RacedFault> {
        self.faults.first()
    }
}

/// A kernel thread that, in the trace's interleaving, stands at a step that takes a sleeping
/// lock while another thread holds that lock against it (the model's
/// `Kernel::blocked`: the step would be `Blocked`), so it must wait there.
///
/// Only a wait that never ends is `certain` on a host. A replay forces the trace's user-level
/// order and the race window (the window touch's fault maps its page after
/// `hugetlb_vmdelete_list` and before `remove_inode_hugepages` reaches it), and nothing else
/// of the kernel's order. A wait needs the waiter to arrive at its lock after the holder took
/// it and before the holder let it go. No thread holds a sleeping lock across a user-visible
/// event (a system call returns, and a fault hands over to userfaultfd, with its locks
/// dropped), so the replay can put neither end of a hold on a known side of the waiter's
/// arrival; and the window only orders the fault's acquisitions after
/// `hugetlb_vmdelete_list`'s `i_mmap_unlock_write` (5.7) or its vma_lock `trylock` (6.1), and
/// before the removal loop's `mutex_lock` of the raced index: orders between holds, never
/// a hold around an arrival. So the window fault of the 5.7 witness waits on nothing in the
/// model (its `i_mmap_lock_read` comes after the vmdelete step), and on a real 5.7 kernel it
/// waits for `i_mmap_rwsem` only if it happens to arrive before `hugetlb_vmdelete_list` is
/// done. The exception is a trace that predicts a hang: a thread still waiting when the
/// trace ends waits for good, which the replay sees as the hang itself.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Wait {
    /// The waiting thread.
    pub thread: Thread,
    /// The kind of lock it waits on.
    pub lock: Acquire,
    /// The step after which it first stands at the acquisition with the lock held.
    pub since: usize,
    /// The step that makes the acquisition; `None` when the thread still waits at the end.
    pub step: Option<usize>,
    /// The thread whose step let the lock go (the last one, if it was taken again between).
    pub held_by: Option<Thread>,
    /// A replay must see this wait (it never ends: the trace predicts a hang).
    pub certain: bool,
}

/// One step of the trace.
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    /// Position in `steps`, from 0.
    pub index: usize,
    /// The process thread involved. For a kernel step, the thread running in the kernel.
    pub thread: Thread,
    pub action: Action,
    /// The host-observable state after the step.
    pub observed: Observed,
}

impl Step {
    pub fn level(&self) -> Level {
        self.action.level()
    }

    /// The actor that takes the step: the kernel for a kernel step, else the thread's process.
    pub fn actor(&self) -> Role {
        match self.level() {
            Level::Kernel => Role::Kernel,
            _ => self.thread.process,
        }
    }
}

/// What a host can observe, predicted after a step.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Observed {
    /// Each file page: `null` for a hole, else its content. The host sees the number of pages
    /// in `st_blocks` and each page's first word through `pread` (0 for a hole).
    pub file: Vec<Option<Value>>,
    /// Each mapper: the pages its page table maps (`/proc/PID/pagemap`).
    pub mapped: Vec<Vec<u8>>,
    /// Each mapper: MISSING events its handler has read so far.
    pub missing: Vec<u32>,
    /// Each mapper: SIGBUS signals its touches have raised so far.
    pub sigbus: Vec<u32>,
    /// The model's pool accounting (`HugePages_Free`, `HugePages_Rsvd` and `st_blocks` on a
    /// host, as deltas since the trace started).
    pub pool: Pool,
}

/// The model's huge page pool after a step, in huge pages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pool {
    /// Pages out of the free pool: the pool's size less `free_huge_pages`.
    pub taken: u8,
    /// `resv_huge_pages`: pages promised to mappings and not yet allocated.
    pub reserved: u8,
    /// The file's `i_blocks`, in huge pages.
    pub i_blocks: u8,
}

impl Observed {
    /// Pages in the file (`st_blocks / (huge page size / 512)` on the host).
    pub fn file_pages(&self) -> usize {
        self.file.iter().flatten().count()
    }
}
