//! Evidence from the kernel itself: tracepoints recorded during a replay ([`record`]), parsed
//! into typed events ([`events`]).

pub mod events;
pub mod record;

pub use events::{Event, Kind, LockKind};
