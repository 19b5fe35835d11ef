//! Which huge pages a process maps, from `/proc/PID/pagemap`.
//!
//! pagemap has one u64 per 4 KiB virtual page; bit 63 is "present". For a huge page the entry of
//! its first 4 KiB says whether the huge page is mapped (present in the page table), which is the
//! per-mapper observable the model predicts. The PFN bits need CAP_SYS_ADMIN; presence does not.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

const PAGEMAP_ENTRY: u64 = 8;
const PRESENT: u64 = 1 << 63;

/// For each of the `npages` huge pages starting at `base_addr` in process `pid`, whether it is
/// mapped (pagemap bit 63 of its first 4 KiB entry).
pub fn mapped_pages(
    pid: i32,
    base_addr: usize,
    npages: usize,
    hpage_size: usize,
) -> io::Result<Vec<bool>> {
    read_mapped(
        &format!("/proc/{pid}/pagemap"),
        base_addr,
        npages,
        hpage_size,
    )
}

/// [`mapped_pages`] for the calling process.
pub fn mapped_pages_self(
    base_addr: usize,
    npages: usize,
    hpage_size: usize,
) -> io::Result<Vec<bool>> {
    read_mapped("/proc/self/pagemap", base_addr, npages, hpage_size)
}

fn read_mapped(path: &str, base: usize, npages: usize, hpage: usize) -> io::Result<Vec<bool>> {
    let file = File::open(path).map_err(|e| io::Error::new(e.kind(), format!("{path}: {e}")))?;
    let base_page = rustix::param::page_size();
    (0..npages)
        .map(|i| {
            let vaddr = (base + i * hpage) as u64;
            let mut entry = [0u8; 8];
            file.read_exact_at(&mut entry, vaddr / base_page as u64 * PAGEMAP_ENTRY)
                .map_err(|e| io::Error::new(e.kind(), format!("{path} at {vaddr:#x}: {e}")))?;
            Ok(u64::from_ne_bytes(entry) & PRESENT != 0)
        })
        .collect()
}
