//! Evidence from the kernel itself: tracepoints recorded during a replay, parsed into typed
//! events ([`events`]), and matched with what the trace predicts: the race window
//! ([`window`]), lock waits ([`blocking`]), the page cache's order ([`pagecache`]); and the pool
//! counters ([`accounting`]).

pub mod accounting;
pub mod attempt;
pub mod blocking;
pub mod events;
pub mod pagecache;
pub mod predict;
pub mod record;
pub mod window;

pub use events::{Event, Kind, LockKind};
