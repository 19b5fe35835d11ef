//! A shared mapping of a hugetlbfs file, as a mapper process has it.

use std::io;
use std::os::fd::AsFd;
use std::ptr;

use rustix::mm::{MapFlags, ProtFlags};

use super::hugefile::HugeFile;
use super::touch::{self, Sigbus};

/// `mmap(MAP_SHARED, PROT_READ | PROT_WRITE)` of the first `pages` huge pages of a [`HugeFile`];
/// `munmap` on drop.
///
/// The memory is never handed out as a Rust reference or pointer: the kernel is given plain
/// `usize` addresses (for userfaultfd, pagemap), and the process reads and writes it only through
/// [`Mapping::touch_read`] and [`Mapping::touch_write`], which report SIGBUS instead of dying. A
/// touch of a hole faults, and a fault is exactly what the replayer wants to observe.
///
/// The mapping keeps the file alive on its own (the kernel holds a reference), so it does not
/// borrow the `HugeFile`.
#[derive(Debug)]
pub struct Mapping {
    base: usize,
    pages: usize,
    page_size: usize,
}

impl Mapping {
    /// Maps pages `[0, pages)` of `file`. Nothing is faulted in (no `MAP_POPULATE`).
    pub fn new(file: &HugeFile, pages: usize) -> io::Result<Mapping> {
        Mapping::of_pages(file, 0, pages)
    }

    /// Maps pages `[first, first + pages)` of `file` (a mapping of its own: its page 0 is
    /// file page `first`). Nothing is faulted in.
    pub fn of_pages(file: &HugeFile, first: usize, pages: usize) -> io::Result<Mapping> {
        Mapping::of_pages_near(file, first, pages, 0)
    }

    /// As [`Mapping::of_pages`], at `hint` if that range is free (a hint, not `MAP_FIXED`:
    /// the kernel puts it elsewhere if not; 0 lets it choose).
    pub fn of_pages_near(
        file: &HugeFile,
        first: usize,
        pages: usize,
        hint: usize,
    ) -> io::Result<Mapping> {
        let page_size = file.page_size();
        let offset = first
            .checked_mul(page_size)
            .and_then(|o| u64::try_from(o).ok())
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "offset overflows"))?;
        let len = pages
            .checked_mul(page_size)
            .filter(|&len| len > 0)
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "mapping must be 1 or more pages",
                )
            })?;
        // SAFETY: without MAP_FIXED the kernel takes `hint` only if nothing is mapped there, so
        // a fresh mapping cannot overlap any memory Rust owns. The file is hugetlbfs, so `len`
        // and `offset` (multiples of its page size) are valid.
        let base = unsafe {
            rustix::mm::mmap(
                ptr::null_mut::<std::ffi::c_void>().wrapping_byte_add(hint),
                len,
                ProtFlags::READ | ProtFlags::WRITE,
                MapFlags::SHARED,
                file.as_fd(),
                offset,
            )
        }?;
        Ok(Mapping {
            base: base as usize,
            pages,
            page_size,
        })
    }

    /// The address of the first byte of `page`. Panics if `page` is outside the mapping.
    pub fn page_addr(&self, page: usize) -> usize {
        assert!(
            page < self.pages,
            "page {page} outside a mapping of {} pages",
            self.pages
        );
        self.base + page * self.page_size
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.pages * self.page_size
    }

    /// Always false: a mapping has at least one page.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Number of huge pages mapped.
    pub fn pages(&self) -> usize {
        self.pages
    }

    /// Huge page size in bytes.
    pub fn page_size(&self) -> usize {
        self.page_size
    }

    /// Whether `[addr, addr + len)` lies inside this mapping.
    pub fn contains(&self, addr: usize, len: usize) -> bool {
        addr >= self.base && len <= self.len() && addr - self.base <= self.len() - len
    }

    /// Reads the u64 at the start of `page` (the marker), faulting it in if needed.
    /// `Err(Sigbus)` if the access raised SIGBUS (a hole under userfaultfd with
    /// `UFFD_FEATURE_SIGBUS`, a page past end of file, or an empty pool).
    pub fn touch_read(&self, page: usize) -> Result<u64, Sigbus> {
        self.touch_read_at(page * self.page_size)
    }

    /// Writes `value` at the start of `page`; see [`Mapping::touch_read`].
    pub fn touch_write(&self, page: usize, value: u64) -> Result<(), Sigbus> {
        self.touch_write_at(page * self.page_size, value)
    }

    /// Reads the u64 at byte `offset` into the mapping (8-byte aligned). Panics if out of range.
    pub fn touch_read_at(&self, offset: usize) -> Result<u64, Sigbus> {
        let addr = self.checked_addr(offset);
        // SAFETY: `addr` is an aligned u64 inside this live mapping (checked above, and `&self`
        // keeps it mapped for the call). Its memory is never referenced by Rust code, only by
        // touches and the kernel, so the access cannot alias a Rust reference.
        unsafe { touch::read(addr) }
    }

    /// Writes `value` at byte `offset` into the mapping (8-byte aligned). Panics if out of range.
    pub fn touch_write_at(&self, offset: usize, value: u64) -> Result<(), Sigbus> {
        let addr = self.checked_addr(offset);
        // SAFETY: as in `touch_read_at`: an aligned u64 inside this live mapping whose memory no
        // Rust reference points to.
        unsafe { touch::write(addr, value) }
    }

    fn checked_addr(&self, offset: usize) -> usize {
        assert!(
            offset & 7 == 0,
            "touch offset {offset:#x} is not 8-byte aligned"
        );
        assert!(
            offset.checked_add(8).is_some_and(|end| end <= self.len()),
            "touch offset {offset:#x} outside a mapping of {:#x} bytes",
            self.len()
        );
        self.base + offset
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: `base`/`len` are exactly what mmap returned, nothing else unmaps it, and no Rust
        // reference into it exists (touches borrow `self`, so none is running).
        let result = unsafe { rustix::mm::munmap(self.base as *mut _, self.len()) };
        debug_assert!(result.is_ok(), "munmap failed: {result:?}");
    }
}
