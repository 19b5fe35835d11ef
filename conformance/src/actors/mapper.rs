//! A mapper process: its main thread maps the file, registers userfaultfd and touches pages;
//! its handler thread reads MISSING events and runs `UFFDIO_COPY`/`UFFDIO_WAKE` when the driver
//! says so (the trace orders them).

use crate::aim::SPIN_CPU;
use crate::protocol::Ret;
use crate::protocol::{
    send, MapperCmd, Pace, Receiver, Report, Window, PUNCH_RETURNED, PUNCH_STARTED, WINDOW_TOUCHED,
};
use crate::sys::rusage::thread_faults;
use crate::sys::sched::{Pinned, RealTime};
use crate::sys::touch::install_sigbus_fixup;
use crate::sys::wake::{set_thread_name, WakePipe};
use crate::sys::{now_ns, Event, Features, HugeFile, Mapping, SharedWords, Uffd};
use std::os::unix::net::UnixStream;
use std::sync::mpsc::{channel, Receiver as Chan, Sender, TryRecvError};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Where reports go: the socket, shared by the threads.
type Out = Arc<Mutex<UnixStream>>;

fn report(out: &Out, r: &Report) {
    let s = out.lock().unwrap_or_else(|p| p.into_inner());
    let _ = send(&s, r);
}

/// A system call's result as reported: its errno, compared by value with the prediction.
/// An error without one is the harness's own, not the kernel's answer.
fn io_ret<T>(r: &std::io::Result<T>) -> Result<Ret, String> {
    match r {
        Ok(_) => Ok(Ok(())),
        Err(e) => e.raw_os_error().map(Err).ok_or_else(|| e.to_string()),
    }
}

/// Reports a system call's return, or the harness failure behind it.
fn report_return(out: &Out, call: traces::Call, ret: Result<Ret, String>, span: (u64, u64)) {
    let r = match ret {
        Ok(ret) => Report::Returned {
            call,
            ret,
            start_ns: span.0,
            end_ns: span.1,
        },
        Err(what) => Report::Failed {
            what: format!("{call}: {what}"),
        },
    };
    report(out, &r);
}

/// A touch for the main thread.
struct TouchJob {
    page: usize,
    write: Option<u64>,
    window: Option<Window>,
}

/// The mapper's loop; returns its exit code. Returning ends the process (`_exit`), threads
/// blocked in a touch included.
pub fn run(stream: UnixStream, file: &HugeFile, shared: Arc<SharedWords>) -> i32 {
    set_thread_name(super::comm(traces::Role::Mapper(0)).expect("named"));
    install_sigbus_fixup();
    let (Ok(read_end), Ok(write_end)) = (stream.try_clone(), stream.try_clone()) else {
        return 1;
    };
    let out: Out = Arc::new(Mutex::new(write_end));
    let mut rx = Receiver::new(read_end);
    let mut mapping: Option<Arc<Mapping>> = None;
    let mut toucher: Option<Sender<TouchJob>> = None;
    let mut handler: Option<(Sender<MapperCmd>, Arc<WakePipe>)> = None;
    while let Ok(Some(cmd)) = rx.recv::<MapperCmd>() {
        match cmd {
            MapperCmd::Mmap { pages } => {
                let start_ns = now_ns();
                let m = Mapping::new(file, pages);
                let end_ns = now_ns();
                let ret = io_ret(&m);
                if let Ok(m) = m {
                    let m = Arc::new(m);
                    report(
                        &out,
                        &Report::Mapped {
                            base: m.page_addr(0),
                        },
                    );
                    let (tx, jobs) = channel();
                    let (mm, o, sh) = (m.clone(), out.clone(), shared.clone());
                    let Ok(f) = file.try_clone() else {
                        return 1;
                    };
                    std::thread::spawn(move || main_thread(&mm, &f, &jobs, &o, &sh));
                    toucher = Some(tx);
                    mapping = Some(m);
                }
                report_return(&out, traces::Call::Mmap, ret, (start_ns, end_ns));
            }
            MapperCmd::Register { sigbus } => {
                let start_ns = now_ns();
                let Some(m) = mapping.clone() else {
                    report(
                        &out,
                        &Report::Failed {
                            what: "uffdio_register before mmap".into(),
                        },
                    );
                    continue;
                };
                let r =
                    Uffd::new(Features { sigbus }).and_then(|u| u.register_missing(&m).map(|()| u));
                let end_ns = now_ns();
                let ret = io_ret(&r);
                if let Ok(uffd) = r {
                    let (tx, cmds) = channel();
                    let o = out.clone();
                    let wake = Arc::new(WakePipe::new().expect("a pipe"));
                    let w = wake.clone();
                    std::thread::spawn(move || handler_thread(&uffd, &m, &cmds, &w, &o));
                    handler = Some((tx, wake));
                }
                report_return(&out, traces::Call::UffdioRegister, ret, (start_ns, end_ns));
            }
            MapperCmd::Touch {
                page,
                write,
                window,
            } => match &toucher {
                Some(t) => {
                    let _ = t.send(TouchJob {
                        page,
                        write,
                        window,
                    });
                }
                None => report(
                    &out,
                    &Report::Failed {
                        what: "touch before mmap".into(),
                    },
                ),
            },
            cmd @ (MapperCmd::Copy { .. } | MapperCmd::Wake { .. }) => match &handler {
                Some((h, wake)) => {
                    let _ = h.send(cmd);
                    wake.wake();
                }
                None => report(
                    &out,
                    &Report::Failed {
                        what: "uffd ioctl before register".into(),
                    },
                ),
            },
            MapperCmd::Exit => break,
        }
    }
    0
}

/// One touch: the word read (or written), SIGBUS, and whether the thread faulted.
fn touch_once(
    m: &Mapping,
    page: usize,
    write: Option<u64>,
) -> (Result<u64, String>, bool, u64, u64) {
    let (min0, maj0) = thread_faults();
    let start_ns = now_ns();
    let r = match write {
        Some(w) => m.touch_write(page, w).map(|()| w),
        None => m.touch_read(page),
    };
    let end_ns = now_ns();
    let (min1, maj1) = thread_faults();
    let faulted = min1 + maj1 > min0 + maj0 || r.is_err();
    (
        r.map_err(|_| "SIGBUS".to_string()),
        faulted,
        start_ns,
        end_ns,
    )
}

/// The main thread's touches, one at a time.
fn main_thread(
    m: &Mapping,
    file: &HugeFile,
    jobs: &Chan<TouchJob>,
    out: &Out,
    shared: &SharedWords,
) {
    while let Ok(job) = jobs.recv() {
        let r = match job.window {
            None => {
                let (result, faulted, start_ns, end_ns) = touch_once(m, job.page, job.write);
                Report::Touched {
                    page: job.page,
                    result,
                    faulted,
                    start_ns,
                    end_ns,
                }
            }
            Some(
                w @ Window {
                    pace: Pace::Spin, ..
                },
            ) => {
                // Spinning pinned to its own CPU at real-time priority keeps other work from
                // pushing the touch past the window; without root it spins as it can.
                let _cpu = Pinned::to_cpu_from_last(SPIN_CPU).ok();
                let _rt = RealTime::fifo(PUNCH_PRIORITY_SPIN).ok();
                report(out, &Report::Armed { page: job.page });
                window_touch(m, job.page, job.write, w, shared)
            }
            Some(
                w @ Window {
                    pace: Pace::Repeat { removed, tries },
                    ..
                },
            ) => {
                // Set up first, wherever it runs: the window touch may already be spinning on
                // its CPU at real-time priority, where this would starve until RT throttling.
                match Tries::new(file, job.page, tries) {
                    Ok(t) => {
                        let before = file.pages_in_file();
                        report(out, &Report::Armed { page: job.page });
                        // Then on the window touch's CPU, real-time below it (the window
                        // touch, armed after this one, preempts it there; its fault comes
                        // first), above everything else.
                        let _cpu = Pinned::to_cpu_from_last(SPIN_CPU).ok();
                        t.run(file, before, removed, (job.page, job.write), w, shared)
                    }
                    Err(e) => Report::Failed {
                        what: format!("the page-lock touch's {tries} mappings: {e}"),
                    },
                }
            }
        };
        report(out, &r);
    }
}

/// A touch aimed at the race window: wait until the punch has been running for `delay_us`
/// (so `hugetlb_vmdelete_list` is done and the removal loop is still in the padding), then
/// touch once. One touch only: a second one after the removal would block in userfaultfd.
fn window_touch(
    m: &Mapping,
    page: usize,
    write: Option<u64>,
    w: Window,
    shared: &SharedWords,
) -> Report {
    let mut spin = Spin::new();
    let started = spin_until_punch_started(w, shared, &mut spin);
    while spin.now() < started + w.delay_us * 1000 {
        std::hint::spin_loop();
    }
    if shared.load(PUNCH_RETURNED) != 0 {
        return spin.missed(page, started);
    }
    let (result, faulted, start_ns, end_ns) = touch_once(m, page, write);
    shared.store(WINDOW_TOUCHED, end_ns);
    Report::Touched {
        page,
        result,
        faulted,
        start_ns,
        end_ns,
    }
}

/// The spinning touch's priority: above the punch's (on the other CPU) by one, so that it
/// preempts a page-lock touch spinning on its CPU at [`PAGE_LOCK_PRIORITY`].
const PUNCH_PRIORITY_SPIN: i32 = crate::aim::PUNCH_PRIORITY + 1;
/// A page-lock touch's priority, from the punch's start on: real-time, so that no ordinary
/// task on its CPU (the driver, the event recorder) holds it off for a time slice of
/// milliseconds once the window fault is done, but below the window touch, which comes first.
/// (Not before the punch starts: the window touch, armed after it, pins itself to that CPU
/// before it turns real-time, and would starve behind it.)
const PAGE_LOCK_PRIORITY: i32 = crate::aim::PUNCH_PRIORITY;

/// The fresh mappings of a repeated page-lock touch ([`Pace::Repeat`]): each maps only the
/// raced page, so each one's first touch is a fault that goes through `hugetlb_fault` (5.10:
/// `i_mmap_lock_read`, the fault mutex, `find_lock_page`) as the trace's touch does. They are
/// registered with userfaultfd and `UFFD_FEATURE_SIGBUS`: a try after the removal freed the
/// page gets SIGBUS at once, and allocates nothing into the hole nor sleeps in a handler.
/// Made before the punch, so no `mmap` or `munmap` (both take `i_mmap_rwsem` for write, which
/// the trace does not have there) runs during it. Each is asked for in a 1 GiB region of its
/// own ([`TRIES_BASE`]), so each fault's `huge_pte_alloc`, under `i_mmap_rwsem` and before the
/// fault mutex, allocates a page table: the longer that stretch, the likelier a fault is in it
/// when the removal takes the page lock.
struct Tries {
    maps: Vec<Mapping>,
    _uffd: Uffd,
}

/// Where the page-lock touch's mappings go, 1 GiB apart: from 16 TiB up, far from the
/// binary, heap, libraries and stack of a 47-bit address space.
const TRIES_BASE: usize = 1 << 44;

impl Tries {
    fn new(file: &HugeFile, page: usize, n: usize) -> std::io::Result<Tries> {
        let uffd = Uffd::new(Features { sigbus: true })?;
        let mut maps = Vec::with_capacity(n);
        for i in 0..n {
            let m = Mapping::of_pages_near(file, page, 1, TRIES_BASE + (i << 30))?;
            uffd.register_missing(&m)?;
            maps.push(m);
        }
        Ok(Tries { maps, _uffd: uffd })
    }

    /// Spins until the punch started, the trace's window fault is done ([`WINDOW_TOUCHED`]:
    /// the trace has it map the page before this touch) and the file has lost `removed` pages
    /// (`st_blocks`, lowered page by page by `hugetlb_unreserve_pages`), then faults the page
    /// in one mapping after the other until one raises SIGBUS, the punch returns or they run
    /// out.
    fn run(
        self,
        file: &HugeFile,
        before: std::io::Result<usize>,
        removed: usize,
        (page, write): (usize, Option<u64>),
        w: Window,
        shared: &SharedWords,
    ) -> Report {
        let before = match before {
            Ok(n) => n,
            Err(e) => {
                return Report::Failed {
                    what: format!("fstat of the file before the page-lock touch: {e}"),
                }
            }
        };
        let deadline = now_ns() + w.timeout_ms * 1_000_000;
        let mut spin = Spin::new();
        let started = spin_until_punch_started(w, shared, &mut spin);
        let _rt = RealTime::fifo(PAGE_LOCK_PRIORITY).ok();
        loop {
            if shared.load(PUNCH_RETURNED) != 0 || spin.now() > deadline {
                return spin.missed(page, started);
            }
            if shared.load(WINDOW_TOUCHED) == 0 {
                std::hint::spin_loop();
                continue;
            }
            match file.pages_in_file() {
                Ok(n) if before.saturating_sub(n) >= removed => break,
                Ok(_) => {}
                Err(e) => {
                    return Report::Failed {
                        what: format!("fstat of the file during the punch: {e}"),
                    }
                }
            }
        }
        let start_ns = now_ns();
        let mut faults = 0;
        let mut ended = "exhausted";
        for m in &self.maps {
            if shared.load(PUNCH_RETURNED) != 0 {
                ended = "returned";
                break;
            }
            let r = match write {
                Some(v) => m.touch_write(0, v),
                None => m.touch_read(0).map(|_| ()),
            };
            if r.is_err() {
                ended = "sigbus";
                break;
            }
            faults += 1;
        }
        let end_ns = now_ns();
        // Unmapped only once the punch returned: `munmap` takes `i_mmap_rwsem` for write.
        while shared.load(PUNCH_RETURNED) == 0 && now_ns() < deadline {
            std::thread::sleep(Duration::from_micros(200));
        }
        if shared.load(PUNCH_RETURNED) == 0 {
            // The punch is stuck: unmapping would only block behind it.
            std::mem::forget(self);
        }
        Report::Repeated {
            page,
            faults,
            ended: ended.into(),
            start_ns,
            end_ns,
        }
    }
}

/// The handler thread: report each MISSING event, run the ioctls the driver sends. It sleeps
/// in `poll` on the userfaultfd and on its wake-up pipe at once, so neither waits on the other.
fn handler_thread(uffd: &Uffd, m: &Mapping, cmds: &Chan<MapperCmd>, wake: &WakePipe, out: &Out) {
    let page_of = |addr: usize| (addr - m.page_addr(0)) / m.page_size();
    loop {
        let (event, command) = match uffd.wait_with(wake.waiter()) {
            Ok(r) => r,
            Err(e) => {
                report(
                    out,
                    &Report::Failed {
                        what: e.to_string(),
                    },
                );
                return;
            }
        };
        if event {
            match uffd.read_event(Duration::ZERO) {
                Ok(Some(Event::Pagefault { addr, write })) => report(
                    out,
                    &Report::Missing {
                        page: page_of(addr),
                        write,
                        at_ns: now_ns(),
                    },
                ),
                Ok(_) => {}
                Err(e) => report(
                    out,
                    &Report::Failed {
                        what: format!("read(uffd): {e}"),
                    },
                ),
            }
        }
        if !command {
            continue;
        }
        wake.drain();
        loop {
            let cmd = match cmds.try_recv() {
                Ok(c) => c,
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => return,
            };
            let start_ns = now_ns();
            let (call, ret) = match cmd {
                MapperCmd::Copy { page, word } => {
                    let mut src = vec![0u8; m.page_size()];
                    src[..8].copy_from_slice(&word.to_ne_bytes());
                    let r = uffd.copy(m.page_addr(page), &src);
                    (
                        traces::Call::UffdioCopy,
                        Ok(r.map(|_| ()).map_err(|e| e.raw_os_error())),
                    )
                }
                MapperCmd::Wake { page } => (
                    traces::Call::UffdioWake,
                    io_ret(&uffd.wake(m.page_addr(page), m.page_size())),
                ),
                _ => continue,
            };
            let r = match ret {
                Ok(ret) => Report::HandlerReturned {
                    call,
                    ret,
                    start_ns,
                    end_ns: now_ns(),
                },
                Err(what) => Report::Failed {
                    what: format!("{call}: {what}"),
                },
            };
            report(out, &r);
        }
    }
}

/// Spins until the manager says the punch started (its start time, ns) or `w.timeout_ms` has
/// passed (0).
fn spin_until_punch_started(w: Window, shared: &SharedWords, spin: &mut Spin) -> u64 {
    let deadline = spin.now() + w.timeout_ms * 1_000_000;
    loop {
        let t = shared.load(PUNCH_STARTED);
        if t != 0 || spin.now() > deadline {
            return t;
        }
        std::hint::spin_loop();
    }
}

/// A spinning touch's clock: it keeps the longest gap between two of its reads, which is how
/// long the spin was kept from running (an interrupt, or a vCPU the host did not run).
struct Spin {
    last: u64,
    stall: u64,
}

impl Spin {
    fn new() -> Spin {
        Spin {
            last: now_ns(),
            stall: 0,
        }
    }

    fn now(&mut self) -> u64 {
        let t = now_ns();
        self.stall = self.stall.max(t.saturating_sub(self.last));
        self.last = t;
        t
    }

    /// The report of a touch that found the punch over.
    fn missed(&mut self, page: usize, started: u64) -> Report {
        let now = self.now();
        Report::WindowMissed {
            page,
            late_us: now.saturating_sub(started) / 1000,
            stall_us: self.stall / 1000,
        }
    }
}
