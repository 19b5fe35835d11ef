//! Per-thread page fault counts: did this touch fault?

use std::mem::MaybeUninit;

/// `(minflt, majflt)` of the calling thread, from `getrusage(RUSAGE_THREAD)`.
///
/// A touch that maps a huge page already in the page cache, or allocates one, counts as a minor
/// fault; reading the counters around a touch says whether the touch faulted at all. Per thread,
/// so other threads of the process (a uffd handler) do not disturb the count.
pub fn thread_faults() -> (u64, u64) {
    let mut usage = MaybeUninit::<libc::rusage>::uninit();
    // SAFETY: getrusage writes one `struct rusage` into the pointer we pass, which is valid.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_THREAD, usage.as_mut_ptr()) };
    assert_eq!(rc, 0, "getrusage(RUSAGE_THREAD) cannot fail on Linux");
    // SAFETY: getrusage succeeded, so it initialised the struct.
    let usage = unsafe { usage.assume_init() };
    (usage.ru_minflt as u64, usage.ru_majflt as u64)
}
