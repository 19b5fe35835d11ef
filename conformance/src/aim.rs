//! The punch's own measured speed, for a touch aimed at the removal loop's arrival at the raced
//! page (5.10's deadlock, [`crate::window::page_lock_touches`]): the per-page removal time,
//! measured on the punch's CPU before the attempts, says how many pages ahead of the raced one
//! that touch starts faulting it over and over ([`Aim::repeat_from`]), so that a fault is in
//! flight whenever the removal gets there. (A single fault aimed there, spinning on
//! `st_blocks` and then 0 to 2.5 pages' removal time more, hit it in none of 60 attempts.)
//!
//! Window touches are not aimed from it. Measured in a TCG `debian-6.1` guest at host load
//! 10-14 (README, "Other kernels"), 10 attempts per race trace: a touch on the punch's own
//! CPU above its priority, woken by a timer at an eighth of the padding's measured removal
//! time and touching once `st_blocks` showed that many pages gone, hit 52 of 80 attempts (a
//! guest sleep of 240 µs woke after 1-4 ms: guest timers fire late, at ticks); a touch
//! spinning on the other CPU until `st_blocks` showed them gone hit 6 of 80; the fixed 30 µs
//! spin hit 34 of 80 in the same conditions (30 of 40 at load 1.5-10).

use crate::sys::sched::{Pinned, RealTime};
use crate::sys::{now_ns, HugeFile};
use serde::{Deserialize, Serialize};
use std::io;

/// The CPU the punch runs on, counted from the last allowed one ([`Pinned::to_cpu_from_last`]).
pub const PUNCH_CPU: usize = 1;
/// The punch's `SCHED_FIFO` priority.
pub const PUNCH_PRIORITY: i32 = 1;
/// A window or page-lock touch's CPU: the other one, where it spins.
pub const SPIN_CPU: usize = 0;

/// Pages punched per calibration round, and rounds (the fastest is kept).
pub const CALIBRATION_PAGES: usize = 64;
const CALIBRATION_ROUNDS: usize = 3;

/// How far ahead of the raced page's removal a repeated page-lock touch starts faulting it:
/// a fault must be in flight when the removal gets there, and the tries must not run out
/// before (measured in a TCG `debian-6.1` guest: 1024 faults in 4.9 ms when nothing slows
/// them, so starting at the window fault they ran out before the removal reached the page in
/// 4 of 20 attempts).
pub const REPEAT_LEAD_NS: u64 = 300_000;
/// The fresh mappings a repeated page-lock touch has (one fault each): far more than the
/// faults that fit in the lead.
pub const REPEAT_TRIES: usize = 1024;

/// Padding pages when none are asked for: about 2 ms of removal in a TCG guest, and far more
/// than the window needs on bare metal.
pub const DEFAULT_PADDING: usize = 512;

/// How many padding pages go in front of a raced page ([`crate::layout::Layout`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Padding {
    /// Always this many.
    Pages(usize),
    /// As many as the punch removes in `window_us` at the speed measured before the attempts
    /// ([`measure_page_removal`]), at most `max`, and never fewer than [`DEFAULT_PADDING`]
    /// (or `max`, if smaller): a calibration slowed by the host must not shrink the window.
    Window { window_us: u64, max: usize },
}

impl Padding {
    /// The most pages it can come to (what the pool must have room for).
    pub fn most(self) -> usize {
        match self {
            Padding::Pages(n) | Padding::Window { max: n, .. } => n,
        }
    }

    /// Whether it needs the punch's speed measured first.
    pub fn calibrated(self) -> bool {
        matches!(self, Padding::Window { .. })
    }

    /// The pages for a punch that removes one page in `page_removal_ns`.
    pub fn pages(self, page_removal_ns: u64) -> usize {
        match self {
            Padding::Pages(n) => n,
            Padding::Window { window_us, max } => {
                let n = (window_us * 1000).div_ceil(page_removal_ns.max(1));
                usize::try_from(n)
                    .unwrap_or(usize::MAX)
                    .clamp(DEFAULT_PADDING.min(max), max)
            }
        }
    }
}

impl std::fmt::Display for Padding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Padding::Pages(n) => write!(f, "{n} pages"),
            Padding::Window { window_us, max } => {
                write!(f, "pages for a {window_us} µs window, at most {max}")
            }
        }
    }
}

/// The measured removal speed and what it means for the raced page's padding.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Aim {
    /// What one page costs `remove_inode_hugepages` here (the fastest calibration punch).
    pub page_removal_ns: u64,
    /// Padding pages in front of the raced page.
    pub padding: usize,
    /// The padding's removal time: how long the window stays open behind it, in µs.
    pub window_us: u64,
}

impl Aim {
    /// `padding` pages removed at `page_removal_ns` each.
    pub fn from_speed(page_removal_ns: u64, padding: usize) -> Aim {
        Aim {
            page_removal_ns,
            padding,
            window_us: (padding as u64 * page_removal_ns).div_ceil(1000),
        }
    }

    /// The pages removed (of the `removed` in front of the raced page) after which a repeated
    /// page-lock touch starts: [`REPEAT_LEAD_NS`] of removal before the raced page, at least
    /// one page, no earlier than the punch's start.
    pub fn repeat_from(&self, removed: usize) -> usize {
        let lead = REPEAT_LEAD_NS.div_ceil(self.page_removal_ns.max(1)).max(1);
        removed.saturating_sub(usize::try_from(lead).unwrap_or(usize::MAX))
    }
}

/// The per-page removal time of a hole punch on this kernel and CPU, now: punches a hole of
/// [`CALIBRATION_PAGES`] pages in a fresh file from the punch's CPU at its priority, a few
/// times, and returns the fastest time per page in ns (a slow round is one the host
/// interrupted). Needs those pages free in the pool; the file is gone (its pages back in the
/// pool) when this returns.
pub fn measure_page_removal(private_mount: bool) -> io::Result<u64> {
    let _cpu = Pinned::to_cpu_from_last(PUNCH_CPU).ok();
    let file = if private_mount {
        HugeFile::on_private_mount("hugepunch-calibrate")?
    } else {
        HugeFile::memfd("hugepunch-calibrate")?
    };
    let mut fastest = u64::MAX;
    for _ in 0..CALIBRATION_ROUNDS {
        file.allocate(0, CALIBRATION_PAGES)
            .map_err(|e| io::Error::new(e.kind(), format!("calibration fallocate: {e}")))?;
        // Real-time only while punching, as the manager: allocating zeroes the pages, which
        // takes long enough in a TCG guest to trip RT throttling.
        let rt = RealTime::fifo(PUNCH_PRIORITY).ok();
        let t0 = now_ns();
        file.punch_hole(0, CALIBRATION_PAGES)?;
        fastest = fastest.min((now_ns() - t0) / CALIBRATION_PAGES as u64);
        drop(rt);
    }
    Ok(fastest.max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_padding_is_the_pages_removed_in_that_time_within_bounds() {
        let p = Padding::Window {
            window_us: 8000,
            max: 2048,
        };
        // 4 µs a page (a TCG guest): 2000 pages.
        assert_eq!(p.pages(4000), 2000);
        // 3 µs: 2667, capped.
        assert_eq!(p.pages(3000), 2048);
        // A calibration slowed to 260 µs a page (seen right after a guest's boot): 31 pages
        // would shrink the window, so the default stays.
        assert_eq!(p.pages(260_000), DEFAULT_PADDING);
        // A maximum below the default is the floor too.
        let small = Padding::Window {
            window_us: 8000,
            max: 64,
        };
        assert_eq!(small.pages(260_000), 64);
        assert_eq!(Padding::Pages(7).pages(1), 7);
        assert_eq!(p.most(), 2048);
        assert!(p.calibrated() && !Padding::Pages(7).calibrated());
    }

    #[test]
    fn the_window_is_the_paddings_removal_time() {
        // 4 µs a page (a TCG guest), 512 pages: 2048 µs.
        assert_eq!(Aim::from_speed(4000, 512).window_us, 2048);
        assert_eq!(Aim::from_speed(1001, 1).window_us, 2);
    }

    #[test]
    fn repeated_touch_starts_a_lead_ahead_of_the_raced_page() {
        // 4 µs a page (a TCG guest): 300 µs is 75 pages ahead of the 512 in front.
        assert_eq!(Aim::from_speed(4000, 512).repeat_from(512), 437);
        // 7 µs: 42.9 pages, rounded up.
        assert_eq!(Aim::from_speed(7000, 512).repeat_from(512), 469);
        // A slow removal: still one page ahead.
        assert_eq!(Aim::from_speed(10_000_000, 512).repeat_from(512), 511);
        // Fewer pages in front than the lead: from the punch's start.
        assert_eq!(Aim::from_speed(4000, 8).repeat_from(8), 0);
    }
}
