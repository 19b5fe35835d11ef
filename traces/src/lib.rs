//! The hugepunch trace format: a counterexample or witness of the model, step by step, with
//! the state a Linux host is predicted to show after each step.
//!
//! This crate is all the conformance replayer knows of the model: everything it needs to
//! predict is in the trace. It does not depend on `spec`.
#![forbid(unsafe_code)]

mod error;
mod load;
mod schema;
mod value;
pub mod vocab;

pub use error::TraceError;
pub use load::{load, parse};
pub use schema::{Args, Config, Kind, Level, Meta, Observed, Step, Trace};
pub use value::Value;

/// The format version this crate reads and writes.
pub const FORMAT_VERSION: u32 = 1;
