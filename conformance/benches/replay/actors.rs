//! The replayer's own machinery, measured: the actors `Attempt::run` starts
//! (`conformance::actors::Cast`), their start-up, the manager's pre-allocation, and round
//! trips through them.

use crate::bare::{row, BareRow};
use crate::stats::{err, timed, us, Res, Stats};
use conformance::actors::{Cast, Who};
use conformance::layout::Layout;
use conformance::protocol::{ManagerCmd, MapperCmd, Report};
use conformance::sys::Mapping;
use std::io::{self};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------------
// The replayer's own machinery: the actors `Attempt::run` starts (`conformance::actors::Cast`),
// with a blocking wait for their reports.
// ---------------------------------------------------------------------------------------------

struct Actors {
    cast: Cast,
}

/// A failed wait, as the benchmark reports it.
struct Failure(String);

impl From<io::Error> for Failure {
    fn from(e: io::Error) -> Self {
        Failure(format!("waiting for an actor: {e}"))
    }
}

impl Actors {
    /// What a replay attempt does before its first act: a memfd, the shared words, the manager
    /// and `mappers` mappers forked.
    fn start(mappers: u8) -> Res<Actors> {
        let cast = Cast::start(mappers, 0, false).map_err(err("start the actors"))?;
        Ok(Actors { cast })
    }

    fn to_manager(&self, c: &ManagerCmd) -> Res<()> {
        self.cast.to_manager(c).map_err(err("send"))
    }

    fn to_mapper(&self, m: usize, c: &MapperCmd) -> Res<()> {
        self.cast.to_mapper(m as u8, c).map_err(err("send"))
    }

    /// The first report `want` accepts; actors are numbered 0 (manager), 1 + mapper (the bench
    /// starts no migrator).
    fn wait(&mut self, want: impl Fn(usize, &Report) -> bool) -> Res<Report> {
        let number = |who: Who| match who {
            Who::Manager => 0,
            Who::Mapper(m) => m as usize + 1,
            Who::Migrator => usize::MAX,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        let failed = |who: Who, r: &Report| match r {
            Report::Failed { what } => {
                Err(Failure(format!("actor {} failed: {what}", number(who))))
            }
            _ => Ok(()),
        };
        self.cast
            .mailbox
            .wait_for(deadline, failed, |who, r| want(number(who), r))
            .map_err(|e| e.0)?
            .ok_or_else(|| "no report from the actors within 10 s".to_string())
    }

    /// Mapper 0 touches `page`, a hole under userfaultfd: waits for its handler's MISSING event.
    fn touch_missing(&mut self, page: usize) -> Res<()> {
        let touch = MapperCmd::Touch {
            page,
            write: None,
            window: None,
        };
        self.to_mapper(0, &touch)?;
        self.wait(|w, r| w == 1 && matches!(r, Report::Missing { page: p, .. } if *p == page))?;
        Ok(())
    }

    /// Mapper 0's handler fills `page` with `UFFDIO_COPY`: waits for the ioctl's return.
    fn copy_in(&mut self, page: usize) -> Res<()> {
        self.to_mapper(0, &MapperCmd::Copy { page, word: 7 })?;
        self.wait(|w, r| w == 1 && matches!(r, Report::HandlerReturned { .. }))?;
        Ok(())
    }

    /// Waits for mapper 0's touch of `page` to end.
    fn touched(&mut self, page: usize) -> Res<Report> {
        self.wait(|w, r| w == 1 && matches!(r, Report::Touched { page: p, .. } if *p == page))
    }

    fn stop(self) {
        self.cast.stop();
    }
}

/// Process start-up of a replay attempt with `mappers` mappers, in µs.
pub fn startup(mappers: u8, reps: usize) -> Res<Stats> {
    let mut s = Vec::new();
    for r in 0..=reps {
        let (a, t) = timed(|| Actors::start(mappers));
        a?.stop();
        if r > 0 {
            s.push(t);
        }
    }
    Ok(Stats::of(&s).expect("samples"))
}

/// The manager's pre-allocation of a layout: its own timing (what `syscall_us` counts), and the
/// same work done here in two parts, the `fallocate` (zeroing) and the marker writes.
pub struct Prealloc {
    pub manager: Stats,
    pub fallocate: Stats,
    pub markers: Stats,
}

pub fn prealloc(layout: &Layout, reps: usize) -> Res<Prealloc> {
    let pages = layout.host_pages();
    let markers = layout.markers();
    let mut a = Actors::start(0)?;
    let mut manager = Vec::new();
    for r in 0..=reps {
        a.to_manager(&ManagerCmd::Prealloc {
            pages,
            markers: markers.clone(),
        })?;
        let rep = a.wait(|_, r| matches!(r, Report::Returned { .. }))?;
        let Report::Returned {
            ret,
            start_ns,
            end_ns,
            ..
        } = rep
        else {
            unreachable!()
        };
        ret.map_err(|e| format!("prealloc of {pages} pages: {e}"))?;
        a.cast.file.punch_hole(0, pages).map_err(err("punch"))?;
        if r > 0 {
            manager.push((end_ns - start_ns) as f64 / 1e3);
        }
    }
    let file = &a.cast.file;
    let (mut fa, mut mk) = (Vec::new(), Vec::new());
    for r in 0..=reps {
        let (x, t1) = timed(|| file.allocate(0, pages));
        x.map_err(err("fallocate"))?;
        let (x, t2) = timed(|| -> Res<()> {
            let m = Mapping::new(file, pages).map_err(err("mmap"))?;
            for &(p, w) in &markers {
                m.touch_write(p, w).map_err(|b| b.to_string())?;
            }
            Ok(())
        });
        x?;
        file.punch_hole(0, pages).map_err(err("punch"))?;
        if r > 0 {
            fa.push(t1);
            mk.push(t2);
        }
    }
    a.stop();
    Ok(Prealloc {
        manager: Stats::of(&manager).expect("samples"),
        fallocate: Stats::of(&fa).expect("samples"),
        markers: Stats::of(&mk).expect("samples"),
    })
}

/// The replayer's round trips through its actors: a manager command and its report, and a
/// uffd MISSING round trip as a replay makes it (touch command, MISSING report, copy command,
/// touch report).
pub fn actor_round_trips(rows: &mut Vec<BareRow>) -> Res<()> {
    let mut a = Actors::start(1)?;
    let mut rt = Vec::new();
    for r in 0..201 {
        let t0 = Instant::now();
        a.to_manager(&ManagerCmd::Fallocate { first: 0, count: 0 })?;
        a.wait(|w, r| w == 0 && matches!(r, Report::Returned { .. }))?;
        if r > 0 {
            rt.push(us(t0.elapsed()));
        }
    }
    row(
        rows,
        "replayer: command to the manager -> its report (fallocate of 0 pages, EINVAL)",
        &rt,
        "socket + JSON + the driver's poll",
    );
    let mut first = Vec::new();
    for r in 0..31 {
        let mut fresh = Actors::start(0)?;
        let t0 = Instant::now();
        fresh.to_manager(&ManagerCmd::Fallocate { first: 0, count: 0 })?;
        fresh.wait(|w, r| w == 0 && matches!(r, Report::Returned { .. }))?;
        if r > 0 {
            first.push(us(t0.elapsed()));
        }
        fresh.stop();
    }
    row(
        rows,
        "  the same, first command to a freshly forked manager",
        &first,
        "copy-on-write faults and lazy set-up in the new process",
    );
    let pages = 4;
    a.cast.file.set_len_pages(pages).map_err(err("ftruncate"))?;
    a.to_mapper(0, &MapperCmd::Mmap { pages })?;
    a.wait(|w, r| w == 1 && matches!(r, Report::Returned { .. }))?;
    a.to_mapper(0, &MapperCmd::Register { sigbus: false })?;
    a.wait(|w, r| w == 1 && matches!(r, Report::Returned { .. }))?;
    let (mut total, mut to_event, mut touch) = (Vec::new(), Vec::new(), Vec::new());
    for r in 0..=16 {
        for page in 0..pages {
            let t0 = Instant::now();
            a.touch_missing(page)?;
            let t1 = us(t0.elapsed());
            a.copy_in(page)?;
            let rep = a.touched(page)?;
            let t2 = us(t0.elapsed());
            if let Report::Touched {
                start_ns, end_ns, ..
            } = rep
            {
                if r > 0 {
                    touch.push((end_ns - start_ns) as f64 / 1e3);
                }
            }
            if r > 0 {
                total.push(t2);
                to_event.push(t1);
            }
        }
        a.cast.file.punch_hole(0, pages).map_err(err("punch"))?;
    }
    // The same with the driver idle for 0-3 ms before each command, as between the acts of a
    // trace (the handler sleeps in poll on its uffd and its wake-up pipe meanwhile).
    let (mut gap_event, mut gap_copy) = (Vec::new(), Vec::new());
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut gap = || {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        std::thread::sleep(Duration::from_micros((seed >> 33) % 3000));
    };
    for _ in 0..16 {
        for page in 0..pages {
            gap();
            let t0 = Instant::now();
            a.touch_missing(page)?;
            gap_event.push(us(t0.elapsed()));
            gap();
            let t1 = Instant::now();
            a.copy_in(page)?;
            gap_copy.push(us(t1.elapsed()));
            a.touched(page)?;
        }
        a.cast.file.punch_hole(0, pages).map_err(err("punch"))?;
    }
    a.stop();
    row(
        rows,
        "replayer: uffd round trip through a mapper actor (driver's wall time)",
        &total,
        "touch cmd -> MISSING report -> copy cmd -> touch report",
    );
    row(
        rows,
        "  of which touch command -> MISSING report at the driver",
        &to_event,
        "next command sent at once: the handler is still in its uffd poll",
    );
    row(
        rows,
        "  the touch as the mapper times it (counted in syscall_us)",
        &touch,
        "",
    );
    row(
        rows,
        "replayer, driver idle 0-3 ms first: touch command -> MISSING report",
        &gap_event,
        "handler asleep in poll on its uffd and wake-up pipe",
    );
    row(
        rows,
        "replayer, driver idle 0-3 ms first: copy command -> its report",
        &gap_copy,
        "includes UFFDIO_COPY (about 90 us)",
    );
    Ok(())
}
