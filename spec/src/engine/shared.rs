//! The kernel's state shared between engine states, with its hash computed once.
//!
//! A process step leaves the kernel as it was, so successive states share it; and the checker
//! fingerprints every generated state (twice with symmetry reduction: the state and its
//! representative), which would hash the whole kernel each time. The hash is taken once, when
//! a step makes a new kernel state, and a state's hash includes it instead of the kernel.

use super::bytes::Bytes;
use crate::kernel::Kernel;
use std::hash::{Hash, Hasher};
use std::ops::Deref;
use std::sync::Arc;

/// A kernel state and its hash.
#[derive(Clone, Debug)]
pub struct Shared {
    kernel: Arc<Kernel>,
    hash: u64,
}

/// The kernel's hash, over its bytes at once ([`Bytes`]).
fn hash_of(k: &Kernel) -> u64 {
    Bytes::hash_one(k)
}

impl Shared {
    pub fn new(kernel: Kernel) -> Shared {
        Shared {
            hash: hash_of(&kernel),
            kernel: Arc::new(kernel),
        }
    }
}

impl Deref for Shared {
    type Target = Kernel;
    fn deref(&self) -> &Kernel {
        &self.kernel
    }
}

impl PartialEq for Shared {
    fn eq(&self, other: &Shared) -> bool {
        self.hash == other.hash
            && (Arc::ptr_eq(&self.kernel, &other.kernel) || self.kernel == other.kernel)
    }
}

impl Eq for Shared {}

impl Hash for Shared {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash);
    }
}
