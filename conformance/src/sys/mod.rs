//! Safe wrappers over every syscall the replayer needs.
//!
//! This module is the only place in the workspace that contains `unsafe`: every `unsafe` block
//! says why it is sound (`// SAFETY:`), every unsafe fn has a `# Safety` section, and everything
//! exported is safe to call from code that never writes `unsafe`. Memory in a huge page mapping is
//! never exposed as a Rust reference: it is reached only through [`mapping::Mapping`]'s touch
//! methods (which survive SIGBUS, see [`touch`]) and as plain `usize` addresses for the kernel.
//!
//! One concept per file: the hugetlbfs file ([`hugefile`]), its mapping ([`mapping`]), a touch
//! that survives SIGBUS ([`touch`]), userfaultfd ([`uffd`]), which pages a process maps
//! ([`pagemap`]), per-thread fault counts ([`rusage`]), forked actor processes ([`process`]),
//! the host's huge page pool and capabilities ([`host`]), NUMA nodes and `move_pages`
//! ([`numa`]), the process that puts the host back
//! however its owner ends ([`janitor`], [`pool_restore`]), and errno names ([`errno`]).
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks, clippy::missing_safety_doc)]

pub mod errno;
pub mod guest;
pub mod host;
pub mod hugefile;
pub mod janitor;
pub mod mapping;
pub mod numa;
pub mod pagemap;
pub mod pool_restore;
pub mod process;
pub mod rusage;
pub mod sched;
pub mod shared;
pub mod touch;
pub mod tracefs;
pub mod uffd;
pub mod wake;

pub use errno::{errno_name, errno_value, error_name};
pub use host::require_free_huge_pages;
pub use hugefile::{huge_page_size, HugeFile};
pub use mapping::Mapping;
pub use process::{fork_child, recv_fd, send_fd, Child};
pub use shared::{now_ns, SharedWords};
pub use touch::Sigbus;
pub use uffd::{Event, Features, Uffd};
