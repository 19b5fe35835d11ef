//! Errors that say which file, which step and which field.

use std::fmt;
use std::path::PathBuf;

/// Why a trace was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceError {
    pub file: PathBuf,
    /// The step's index in `steps`, when the problem is in one step.
    pub step: Option<usize>,
    /// The JSON path of the field at fault, e.g. `steps[3].args.page`.
    pub field: String,
    pub message: String,
}

impl fmt::Display for TraceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.file.display())?;
        if let Some(s) = self.step {
            write!(f, "step {s}: ")?;
        }
        write!(f, "{}: {}", self.field, self.message)
    }
}

impl std::error::Error for TraceError {}
