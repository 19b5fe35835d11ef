//! A Stateright model of hugetlbfs hole punch racing page faults and userfaultfd.
//!
//! A database manager pre-allocates a hugetlbfs file and punches holes in it; mapping
//! processes `mmap` it `MAP_SHARED` and register userfaultfd MISSING so a touch of a hole is
//! caught. The kernel actor runs the punch, fault, fallocate, mmap and userfaultfd paths step
//! by step at lock granularity, in the kernel variants of [`Variant`]. See DESIGN.md.
//!
//! The crate is pure: no I/O, no clocks, no randomness, no hash-order iteration.
#![forbid(unsafe_code)]

pub mod cfg;
pub mod engine;
pub mod ids;
pub mod inline;
pub mod kernel;
pub mod locks;
pub mod model;
pub mod msg;
pub mod node;
pub mod page;
pub mod pinned;
pub mod procs;
pub mod properties;
pub mod steps;
pub mod symmetry;
pub mod variant;
pub mod verdict;

pub use cfg::{ModelCfg, Mutation, TouchArea, UffdPolicy};
pub use properties::{HugeModel, HugeState, Prop, PROPERTIES};
pub use variant::{Features, MappedPage, McopyOrder, PageLockOrder, Variant};
pub use verdict::Verdict;
