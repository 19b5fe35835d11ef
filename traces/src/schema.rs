//! The trace's JSON schema.

use crate::value::Value;
use serde::{Deserialize, Serialize};

/// A whole trace file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
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
    /// Kernel variant of the model (`v4_4`, `v4_5`, ...).
    pub variant: String,
    pub config: Config,
    /// Property id (`hole_freed_on_return`, ...).
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
}

impl Meta {
    /// The trace predicts that the kernel hangs: a counterexample of a property that only a
    /// deadlock violates ([`crate::vocab::HANG_PROPERTIES`]). Replaying it on a real kernel that
    /// has the bug leaves tasks blocked for good (a hung punch is unkillable).
    pub fn predicts_hang(&self) -> bool {
        self.kind == Kind::Counterexample
            && crate::vocab::HANG_PROPERTIES.contains(&self.property.as_str())
    }
}

/// Counterexample of an always/eventually property, or witness of a sometimes property.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Counterexample,
    Witness,
}

/// The model configuration the trace comes from (the model's `ModelCfg` minus the variant,
/// which is in [`Meta`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub pages: u8,
    pub hole_start: u8,
    pub hole_end: u8,
    pub mappers: u8,
    pub touches: u8,
    /// `outside_hole` or `anywhere`.
    pub touch_area: String,
    pub writes: bool,
    /// `none`, `sigbus` or `copy`.
    pub uffd: String,
    pub fault_mutex_slots: u8,
    pub hole_reuse: bool,
}

/// How deep in the system a step is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// A process makes or returns from a system call.
    Syscall,
    /// A kernel thread's step, at lock granularity: not directly visible on a host.
    Kernel,
    /// userfaultfd delivers a MISSING event or SIGBUS.
    Uffd,
    /// A mapper's memory access: chosen, walked by the MMU, completed.
    Access,
}

/// One step of the trace.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// Position in `steps`, from 0.
    pub index: usize,
    /// `manager`, `mapper<N>` or `kernel`.
    pub actor: String,
    /// The process thread involved: `manager`, `mapper<N>` or `mapper<N>.handler`. For a kernel
    /// step, the thread running in the kernel.
    pub thread: String,
    pub level: Level,
    /// The action's name (see [`crate::vocab`]).
    pub action: String,
    #[serde(default, skip_serializing_if = "Args::is_empty")]
    pub args: Args,
    /// The host-observable state after the step.
    pub observed: Observed,
}

/// An action's arguments; which ones an action needs is in [`crate::vocab`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub write: Option<bool>,
    /// `mmu`: the page table mapped the page, so the access needed no fault.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hit: Option<bool>,
    /// `return`: the system call that returns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call: Option<String>,
    /// `return`: `ok` or an errno name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ret: Option<String>,
    /// `touched`: what the touch read (or wrote).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
}

impl Args {
    pub fn is_empty(&self) -> bool {
        *self == Args::default()
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
}

impl Observed {
    /// Pages in the file (`st_blocks / (huge page size / 512)` on the host).
    pub fn file_pages(&self) -> usize {
        self.file.iter().flatten().count()
    }
}
