//! Evidence from the kernel itself: tracepoints recorded during a replay, parsed into typed
//! events ([`events`]), and matched with what the trace predicts: the race window
//! ([`window`]), lock waits ([`blocking`]), the page cache's order ([`pagecache`]); the pool
//! counters ([`accounting`]); and what a number of attempts allows one to say
//! ([`confidence`]); the observed events beside the predicted steps ([`view`]).

pub mod accounting;
pub mod attempt;
pub mod blocking;
pub mod confidence;
pub mod events;
pub mod pagecache;
pub mod predict;
pub mod record;
pub mod view;
pub mod window;

pub use events::{Event, Kind, LockKind};
