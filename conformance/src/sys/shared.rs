//! Words of memory shared by the driver and the actor processes it forks, and a clock they
//! agree on: how an actor learns, without a round trip, that another one has just entered a
//! system call.

use std::io;
use std::ptr;
use std::sync::atomic::{AtomicU64, Ordering};

use rustix::mm::{MapFlags, ProtFlags};

/// `mmap(MAP_SHARED | MAP_ANONYMOUS)` of `n` 64-bit words, made before `fork` so every child
/// shares them; `munmap` on drop.
#[derive(Debug)]
pub struct SharedWords {
    base: usize,
    n: usize,
}

impl SharedWords {
    /// `n` zeroed words.
    pub fn new(n: usize) -> io::Result<SharedWords> {
        let len = (n.max(1) * 8).next_multiple_of(4096);
        // SAFETY: a fresh anonymous mapping at an address the kernel chooses cannot overlap
        // memory Rust owns.
        let base = unsafe {
            rustix::mm::mmap_anonymous(
                ptr::null_mut(),
                len,
                ProtFlags::READ | ProtFlags::WRITE,
                MapFlags::SHARED,
            )
        }?;
        Ok(SharedWords {
            base: base as usize,
            n,
        })
    }

    fn word(&self, i: usize) -> &AtomicU64 {
        assert!(i < self.n, "shared word {i} of {}", self.n);
        // SAFETY: the mapping is page aligned, at least `n * 8` bytes, zero-initialised and
        // lives as long as `self`; it is only ever accessed through `AtomicU64`, which is
        // valid for any bit pattern and for memory shared with other processes.
        unsafe { &*((self.base + i * 8) as *const AtomicU64) }
    }

    pub fn load(&self, i: usize) -> u64 {
        self.word(i).load(Ordering::SeqCst)
    }

    pub fn store(&self, i: usize, v: u64) {
        self.word(i).store(v, Ordering::SeqCst)
    }
}

impl Drop for SharedWords {
    fn drop(&mut self) {
        let len = (self.n.max(1) * 8).next_multiple_of(4096);
        // SAFETY: unmaps exactly the mapping made in `new`; no reference into it outlives
        // `self` (`word` borrows `self`).
        let _ = unsafe { rustix::mm::munmap(self.base as *mut _, len) };
    }
}

// SAFETY: the words are only accessed atomically.
unsafe impl Send for SharedWords {}
// SAFETY: as above.
unsafe impl Sync for SharedWords {}

/// `CLOCK_MONOTONIC` in nanoseconds: the same clock in every process of the host.
pub fn now_ns() -> u64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64
}
