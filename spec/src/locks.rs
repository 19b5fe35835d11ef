//! Sleeping locks as the model sees them: who holds them. A blocked acquisition is a step that
//! cannot run yet; the checker simply does not schedule it (mutexes and rwsems are not FIFO in
//! the model, which over-approximates the kernel's handoff order).

use crate::ids::Tid;

/// The acquisition could not be made now: the step stays pending and changes nothing.
#[derive(Debug, PartialEq, Eq)]
pub struct Blocked;

/// A `struct mutex`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Mutex {
    pub owner: Option<Tid>,
}

impl Mutex {
    /// `mutex_lock`.
    pub fn lock(&mut self, t: Tid) -> Result<(), Blocked> {
        match self.owner {
            None => {
                self.owner = Some(t);
                Ok(())
            }
            Some(_) => Err(Blocked),
        }
    }

    /// `mutex_unlock`.
    pub fn unlock(&mut self, t: Tid) {
        debug_assert_eq!(self.owner, Some(t), "mutex_unlock by a non-owner");
        self.owner = None;
    }
}

/// A `struct rw_semaphore` (`i_mmap_rwsem`, the hugetlb vma_lock's `rw_sema`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RwSem {
    pub writer: Option<Tid>,
    pub readers: u8,
}

impl RwSem {
    /// `down_read`.
    pub fn read(&mut self) -> Result<(), Blocked> {
        if self.writer.is_some() {
            return Err(Blocked);
        }
        self.readers += 1;
        Ok(())
    }

    /// `up_read`.
    pub fn read_unlock(&mut self) {
        debug_assert!(self.readers > 0, "up_read without a reader");
        self.readers -= 1;
    }

    /// `down_write`.
    pub fn write(&mut self, t: Tid) -> Result<(), Blocked> {
        if self.writer.is_some() || self.readers > 0 {
            return Err(Blocked);
        }
        self.writer = Some(t);
        Ok(())
    }

    /// `down_write_trylock`: never blocks, says whether it got the lock.
    pub fn try_write(&mut self, t: Tid) -> bool {
        self.write(t).is_ok()
    }

    /// `up_write`.
    pub fn write_unlock(&mut self, t: Tid) {
        debug_assert_eq!(self.writer, Some(t), "up_write by a non-owner");
        self.writer = None;
    }
}
