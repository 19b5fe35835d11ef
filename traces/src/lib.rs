//! The hugepunch trace format: a counterexample or witness of the model, step by step, with
//! the state a Linux host is predicted to show after each step.
//!
//! The loader parses a file into typed steps (threads, actions, system calls, kernel steps,
//! errnos) whose vocabulary is the model's own (`spec`'s `Role`, `Syscall`, `Errno`, kernel
//! `Step`, `Variant`): a new step, actor or variant of the model needs no edit here. `spec`
//! is pure (no I/O), so depending on it costs the replayer nothing but compile time.
#![forbid(unsafe_code)]

mod action;
mod diff;
mod error;
mod load;
mod schema;
mod thread;
mod value;
mod wire;

pub use action::{
    errno_name, name_of, parse_ret, ret_name, Acquire, Action, Call, Errno, KernelStep, Level,
    Syscall,
};
pub use diff::Change;
pub use error::TraceError;
pub use load::{load, parse};
pub use schema::{Config, Kind, Meta, Observed, Pool, RaceWindow, RacedFault, Step, Trace, Wait};
pub use spec::ids::Ctx;
pub use spec::node::Role;
pub use spec::{TouchArea, UffdPolicy, Variant};
pub use thread::Thread;
pub use value::{Shown, Value, Word};

/// The format version this crate reads and writes. 2: `meta.race_window`; 3: `meta.shown_by`
/// and each step's `observed.pool`; 4: `meta.waits` and `meta.window_wait_shown_by`.
pub const FORMAT_VERSION: u32 = 4;
