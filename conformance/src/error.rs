//! Why a replay stops: the host differs from the prediction, the trace is bad, or the
//! harness itself failed. One type, so `?` works from a syscall up to the command.

use crate::report::Mismatch;
use std::fmt;
use std::io;
use traces::TraceError;

#[derive(Debug)]
pub enum ReplayError {
    /// The host does not do what the trace predicts: a finding, not a failure.
    Mismatch(Box<Mismatch>),
    /// The trace was rejected before anything touched the host.
    Trace(TraceError),
    /// The harness failed (a syscall of its own, an actor gone or failed).
    Io(io::Error),
}

impl From<io::Error> for ReplayError {
    fn from(e: io::Error) -> Self {
        ReplayError::Io(e)
    }
}

impl From<Mismatch> for ReplayError {
    fn from(m: Mismatch) -> Self {
        ReplayError::Mismatch(Box::new(m))
    }
}

impl From<TraceError> for ReplayError {
    fn from(e: TraceError) -> Self {
        ReplayError::Trace(e)
    }
}

impl fmt::Display for ReplayError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReplayError::Mismatch(m) => write!(
                f,
                "step {} ({}): {} differs: spec {}, host {}",
                m.step, m.action, m.field, m.predicted, m.host
            ),
            ReplayError::Trace(e) => e.fmt(f),
            ReplayError::Io(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for ReplayError {}

/// A replay's result.
pub type Result<T, E = ReplayError> = std::result::Result<T, E>;
