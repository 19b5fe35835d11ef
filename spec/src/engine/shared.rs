//! The kernel's state shared between engine states, with its hash computed once.
//!
//! A process step leaves the kernel as it was, so successive states share it; and the checker
//! fingerprints every generated state (twice with symmetry reduction: the state and its
//! representative), which would hash the whole kernel each time. The hash is taken once, when
//! a step makes a new kernel state, and a state's hash includes it instead of the kernel.
//!
//! For the same reason a kernel state keeps its image under the last renaming of mappers the
//! symmetry reduction asked for ([`Shared::renamed`]): the representatives of a state and of
//! its process-step successors usually rename the same kernel the same way.

use super::bytes::Bytes;
use crate::kernel::Kernel;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;
use std::sync::{Arc, OnceLock};

/// A kernel state and its hash.
#[derive(Clone)]
pub struct Shared {
    kernel: Arc<Cached>,
    hash: u64,
}

/// A renaming of actors, as a table from old to new actor number.
pub type Renaming = [u8; crate::kernel::MAX_MAPPERS + 2];

struct Cached {
    kernel: Kernel,
    /// The first renaming asked for and the kernel it gives.
    renamed: OnceLock<(Renaming, Shared)>,
}

/// The kernel's hash, over its bytes at once ([`Bytes`]).
fn hash_of(k: &Kernel) -> u64 {
    Bytes::hash_one(k)
}

impl Shared {
    pub fn new(kernel: Kernel) -> Shared {
        Shared {
            hash: hash_of(&kernel),
            kernel: Arc::new(Cached {
                kernel,
                renamed: OnceLock::new(),
            }),
        }
    }

    /// The kernel under renaming `r`, which `rename` applies: computed once for the first
    /// renaming asked for, and then shared.
    pub fn renamed(&self, r: Renaming, rename: impl FnOnce(&Kernel) -> Kernel) -> Shared {
        if let Some((done, k)) = self.kernel.renamed.get() {
            if *done == r {
                return k.clone();
            }
        }
        let k = Shared::new(rename(&self.kernel.kernel));
        let _ = self.kernel.renamed.set((r, k.clone()));
        k
    }
}

impl Deref for Shared {
    type Target = Kernel;
    fn deref(&self) -> &Kernel {
        &self.kernel.kernel
    }
}

impl fmt::Debug for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shared")
            .field("kernel", &self.kernel.kernel)
            .field("hash", &self.hash)
            .finish()
    }
}

impl PartialEq for Shared {
    fn eq(&self, other: &Shared) -> bool {
        self.hash == other.hash
            && (Arc::ptr_eq(&self.kernel, &other.kernel)
                || self.kernel.kernel == other.kernel.kernel)
    }
}

impl Eq for Shared {}

impl Hash for Shared {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash);
    }
}
