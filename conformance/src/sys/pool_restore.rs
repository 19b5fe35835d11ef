//! Putting the huge page pool back as it was found, including the free surplus pages the
//! kernel can keep when `nr_hugepages` is lowered while pages are being freed.
//!
//! Lowering `nr_hugepages` below the pages in use makes the kernel (`set_max_huge_pages` in
//! mm/hugetlb.c, 6.1 to 7.2 alike) free the free pages outside `hugetlb_lock`
//! (`update_and_free_pages_bulk`), take the lock again, and only then mark the pages still above
//! the new count as surplus (`adjust_pool_surplus(h, nodes_allowed, 1)`). A page freed in
//! between (a dying actor's, or the memfd's when its last fd closes) goes to the free list by
//! `free_huge_folio` as a persistent page, since the surplus count is still 0, and is then
//! counted as surplus while free. Nothing frees a free surplus page later: `free_huge_folio`
//! frees surplus pages only as they are released, and writing the same `nr_hugepages` again
//! finds nothing above it to free. Raising `nr_hugepages` by that many turns them back into
//! persistent pages (`adjust_pool_surplus(h, nodes_allowed, -1)`, no allocation), and lowering
//! it again frees them. The README has the kernel lines.

use std::io;
use std::thread::sleep;
use std::time::{Duration, Instant};

use super::host::{write_nr_hugepages, write_nr_overcommit_hugepages, HugePool};

/// Free surplus pages kept beyond what was found: surplus pages that are free, which the
/// kernel should have given back.
pub fn kept_free_surplus(found: &HugePool, now: &HugePool) -> u64 {
    now.surplus
        .saturating_sub(found.surplus)
        .min(now.free.saturating_sub(found.free))
}

/// Waits (up to `settle`) until the pages in use and reserved are back to what they were when
/// the pool was `found` (a dead owner's actors are gone and its file closed), then writes back
/// `nr_hugepages` and `nr_overcommit_hugepages`, releases free surplus pages the kernel kept,
/// and checks `HugePages_Total`, `Free`, `Rsvd` and `Surp` against what was found.
///
/// Returns what was notable (a wait that timed out, surplus pages released), or why the pool
/// is not as found.
pub fn restore_pool(found: &HugePool, settle: Duration) -> Result<Option<String>, String> {
    let read = || HugePool::read().map_err(|e| format!("reading the pool: {e}"));
    let io_err = |e: io::Error| e.to_string();
    let mut notes = Vec::new();

    let deadline = Instant::now() + settle;
    let mut now = read()?;
    while now.in_use() > found.in_use() || now.reserved > found.reserved {
        if Instant::now() >= deadline {
            notes.push(format!(
                "after {settle:?}, {} huge pages were still in use and {} reserved (found {} and \
                 {}); restored anyway, so those become surplus pages freed as they are released",
                now.in_use(),
                now.reserved,
                found.in_use(),
                found.reserved
            ));
            break;
        }
        sleep(Duration::from_millis(10));
        now = read()?;
    }

    if now.overcommit != found.overcommit {
        write_nr_overcommit_hugepages(found.overcommit).map_err(io_err)?;
    }
    if now.nr_hugepages != found.nr_hugepages {
        write_nr_hugepages(found.nr_hugepages).map_err(io_err)?;
    }

    for _ in 0..3 {
        let now = read()?;
        let kept = kept_free_surplus(found, &now);
        if kept == 0 {
            break;
        }
        // Surplus -> persistent (no allocation), then the persistent free pages are freed.
        write_nr_hugepages(found.nr_hugepages + kept).map_err(io_err)?;
        write_nr_hugepages(found.nr_hugepages).map_err(io_err)?;
        notes.push(format!(
            "the kernel kept {kept} free surplus huge pages after nr_hugepages was lowered \
             ({now}); released them by raising nr_hugepages to {} and lowering it again",
            found.nr_hugepages + kept
        ));
    }

    let now = read()?;
    let note = (!notes.is_empty()).then(|| notes.join("; "));
    if now == *found {
        Ok(note)
    } else {
        Err(format!(
            "the pool is not as found: found {found}, now {now}{}",
            note.map(|n| format!(" ({n})")).unwrap_or_default()
        ))
    }
}
