//! Real-time scheduling and CPU pinning for the calling thread, so two actors racing each
//! other through the kernel run at the same time, each on its own CPU, and neither is
//! descheduled in the middle of a window of a few hundred microseconds.

use std::io;

/// The calling thread's scheduling policy, restored on drop.
#[derive(Debug)]
pub struct RealTime {
    policy: libc::c_int,
    priority: libc::c_int,
}

impl RealTime {
    /// `sched_setscheduler(0, SCHED_FIFO, priority)` for the calling thread (needs root or
    /// `CAP_SYS_NICE`); `Err` leaves the thread as it was. The kernel's RT throttling
    /// (`sched_rt_runtime_us`) keeps a runaway FIFO thread from taking a whole CPU for good.
    pub fn fifo(priority: i32) -> io::Result<RealTime> {
        // SAFETY: sched_getscheduler/sched_getparam/sched_setscheduler on pid 0 (this thread)
        // with a valid `sched_param` the kernel reads (or writes) and does not keep.
        unsafe {
            let policy = libc::sched_getscheduler(0);
            let mut old = libc::sched_param { sched_priority: 0 };
            if policy < 0 || libc::sched_getparam(0, &mut old) != 0 {
                return Err(io::Error::last_os_error());
            }
            let new = libc::sched_param {
                sched_priority: priority,
            };
            if libc::sched_setscheduler(0, libc::SCHED_FIFO, &new) != 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(RealTime {
                policy,
                priority: old.sched_priority,
            })
        }
    }
}

impl Drop for RealTime {
    fn drop(&mut self) {
        let old = libc::sched_param {
            sched_priority: self.priority,
        };
        // SAFETY: as in `fifo`; restores the policy read there.
        unsafe {
            libc::sched_setscheduler(0, self.policy, &old);
        }
    }
}

/// The calling thread pinned to one CPU; the old affinity is restored on drop.
#[derive(Debug)]
pub struct Pinned {
    old: rustix::thread::CpuSet,
}

impl Pinned {
    /// Pins the calling thread to CPU `cpu` modulo the CPUs it may run on, counted from the
    /// last one (0: the last allowed CPU, 1: the one before...). `Err` leaves it as it was.
    pub fn to_cpu_from_last(nth: usize) -> io::Result<Pinned> {
        let old = rustix::thread::sched_getaffinity(None)?;
        let allowed: Vec<usize> = (0..rustix::thread::CpuSet::MAX_CPU)
            .filter(|&c| old.is_set(c))
            .collect();
        let cpu = allowed[allowed.len() - 1 - nth % allowed.len()];
        let mut one = rustix::thread::CpuSet::new();
        one.set(cpu);
        rustix::thread::sched_setaffinity(None, &one)?;
        Ok(Pinned { old })
    }
}

impl Drop for Pinned {
    fn drop(&mut self) {
        let _ = rustix::thread::sched_setaffinity(None, &self.old);
    }
}
