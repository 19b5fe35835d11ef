//! Replay benchmark: the bare cost of each kind of system call a replay makes on this host,
//! what replaying each corpus trace costs against those, and how often a race trace achieves
//! its kernel interleaving.
//!
//! `cargo bench -p conformance --bench replay` (root: it raises the huge page pool itself with
//! [`PoolReservation`] and puts it back at the end). Figures are printed as Markdown tables.
//!
//! Environment:
//! - `HP_BENCH_ATTEMPTS` (default 20): replays of each trace. Each is one call of
//!   [`replay`] with `attempts: 1`, so every attempt's race window is seen, not only the first
//!   achieved one.
//! - `HP_BENCH_TRACES`: only corpus files whose name contains this string.
//! - `HP_BENCH_BARE=0`: skip the bare costs (part 1).

use conformance::actors::{Cast, Who};
use conformance::host::{corpus_files, load_all, pages_for};
use conformance::layout::Layout;
use conformance::plan::{plan, Act, Call};
use conformance::protocol::{ManagerCmd, MapperCmd, Report};
use conformance::replay::{replay, Options};
use conformance::report::TraceReport;
use conformance::sys::host::{userfaultfd_available, HugePool, PoolReservation};
use conformance::sys::pagemap;
use conformance::sys::rusage::thread_faults;
use conformance::sys::{
    fork_child, require_free_huge_pages, Event, Features, HugeFile, Mapping, Uffd,
};
use rustix::io::Errno;
use std::collections::btree_map::Entry;
use std::collections::BTreeMap;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use traces::{Kind, Trace};

/// Huge pages the bare-cost measurements need at most at once (the 512-page punch, with room).
const BARE_PAGES: u64 = 600;
/// Pages per round of the per-page measurements.
const ROUND: usize = 64;
/// Rounds of the per-page measurements (the first is a warm-up and is not counted).
const ROUNDS: usize = 9;

type Res<T> = Result<T, String>;

fn err(what: &str) -> impl Fn(io::Error) -> String + '_ {
    move |e| format!("{what}: {e}")
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// Median, p90 and extremes of a sample, in µs.
#[derive(Clone, Copy, Debug)]
struct Stats {
    n: usize,
    min: f64,
    median: f64,
    p90: f64,
    max: f64,
}

impl Stats {
    fn of(samples: &[f64]) -> Option<Stats> {
        if samples.is_empty() {
            return None;
        }
        let mut v = samples.to_vec();
        v.sort_by(f64::total_cmp);
        let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
        Some(Stats {
            n: v.len(),
            min: v[0],
            median: at(0.5),
            p90: at(0.9),
            max: v[v.len() - 1],
        })
    }

    fn median_of(samples: &[f64]) -> f64 {
        Stats::of(samples).map_or(f64::NAN, |s| s.median)
    }
}

/// A number of µs, with as many decimals as it deserves.
fn f(x: f64) -> String {
    if x.is_nan() {
        "-".into()
    } else if x.abs() < 10.0 {
        format!("{x:.2}")
    } else if x.abs() < 100.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.0}")
    }
}

fn load_line() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

fn env_u32(name: &str, default: u32) -> u32 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

// ---------------------------------------------------------------------------------------------
// Part 1: bare costs, straight from `conformance::sys`.
// ---------------------------------------------------------------------------------------------

struct BareRow {
    what: String,
    stats: Stats,
    note: String,
}

fn row(rows: &mut Vec<BareRow>, what: &str, samples: &[f64], note: impl Into<String>) {
    if let Some(stats) = Stats::of(samples) {
        rows.push(BareRow {
            what: what.into(),
            stats,
            note: note.into(),
        });
    }
}

/// Per-page figures over `ROUNDS` rounds of `ROUND` pages; `round` returns one sample per page.
fn rounds(mut round: impl FnMut() -> Res<Vec<f64>>) -> Res<Vec<f64>> {
    let mut all = Vec::new();
    for r in 0..ROUNDS {
        let s = round()?;
        if r > 0 {
            all.extend(s);
        }
    }
    Ok(all)
}

fn timed<T>(f: impl FnOnce() -> T) -> (T, f64) {
    let t0 = Instant::now();
    let r = f();
    (r, us(t0.elapsed()))
}

fn bare_costs() -> Res<Vec<BareRow>> {
    let mut rows = Vec::new();

    // A fault that maps a page already in the page cache: fresh mapping, every page allocated.
    let file = HugeFile::memfd("bench-fault-cached").map_err(err("memfd"))?;
    file.allocate(0, ROUND).map_err(err("fallocate"))?;
    let mut faults_seen = 0;
    let s = rounds(|| {
        let m = Mapping::new(&file, ROUND).map_err(err("mmap"))?;
        let f0 = thread_faults();
        let s = (0..ROUND)
            .map(|p| timed(|| m.touch_read(p)).1)
            .collect::<Vec<_>>();
        faults_seen = thread_faults().0 - f0.0;
        Ok(s)
    })?;
    row(
        &mut rows,
        "fault, page in page cache (maps it)",
        &s,
        format!("{faults_seen} minor faults per {ROUND} touches"),
    );
    drop(file);

    // A fault that allocates (and zeroes) the page: no uffd, the file has holes.
    let file = HugeFile::memfd("bench-fault-alloc").map_err(err("memfd"))?;
    file.set_len_pages(ROUND).map_err(err("ftruncate"))?;
    let s = rounds(|| {
        let m = Mapping::new(&file, ROUND).map_err(err("mmap"))?;
        let s = (0..ROUND)
            .map(|p| timed(|| m.touch_read(p)).1)
            .collect::<Vec<_>>();
        drop(m);
        file.punch_hole(0, ROUND).map_err(err("punch"))?;
        Ok(s)
    })?;
    row(&mut rows, "fault that allocates (no uffd)", &s, "");

    // fallocate of one page, then a punch of one page (not mapped, then mapped).
    let mut punch1 = Vec::new();
    let s = rounds(|| {
        let s: Vec<f64> = (0..ROUND)
            .map(|p| timed(|| file.allocate(p, 1)).1)
            .collect();
        let p1: Vec<f64> = (0..ROUND)
            .map(|p| timed(|| file.punch_hole(p, 1)).1)
            .collect();
        punch1.push(p1);
        Ok(s)
    })?;
    row(
        &mut rows,
        "fallocate, 1 page",
        &s,
        "allocates and zeroes it",
    );
    let p1: Vec<f64> = punch1.into_iter().skip(1).flatten().collect();
    row(&mut rows, "punch, 1 page (not mapped)", &p1, "");
    let s = rounds(|| {
        file.allocate(0, ROUND).map_err(err("fallocate"))?;
        let m = Mapping::new(&file, ROUND).map_err(err("mmap"))?;
        for p in 0..ROUND {
            let _ = m.touch_read(p);
        }
        let s = (0..ROUND)
            .map(|p| timed(|| file.punch_hole(p, 1)).1)
            .collect();
        Ok(s)
    })?;
    row(
        &mut rows,
        "punch, 1 page (mapped by this process)",
        &s,
        "includes the unmap",
    );
    drop(file);

    // A punch of 512 pages, per page.
    let file = HugeFile::memfd("bench-punch512").map_err(err("memfd"))?;
    let (mut per_page, mut whole, mut alloc) = (Vec::new(), Vec::new(), Vec::new());
    for r in 0..21 {
        let (a, ta) = timed(|| file.allocate(0, 512));
        a.map_err(err("fallocate 512"))?;
        let (p, tp) = timed(|| file.punch_hole(0, 512));
        p.map_err(err("punch 512"))?;
        if r > 0 {
            per_page.push(tp / 512.0);
            whole.push(tp);
            alloc.push(ta / 512.0);
        }
    }
    row(
        &mut rows,
        "punch, 512 pages: per page",
        &per_page,
        format!("whole punch median {} us", f(Stats::median_of(&whole))),
    );
    row(
        &mut rows,
        "fallocate, 512 pages: per page",
        &alloc,
        "zeroing dominates",
    );
    drop(file);

    // mmap + UFFDIO_REGISTER of a window trace's file (515 pages).
    let file = HugeFile::memfd("bench-register").map_err(err("memfd"))?;
    file.set_len_pages(515).map_err(err("ftruncate"))?;
    let (mut mm, mut open, mut reg, mut both) = (vec![], vec![], vec![], vec![]);
    for r in 0..201 {
        let (m, t1) = timed(|| Mapping::new(&file, 515));
        let m = m.map_err(err("mmap"))?;
        let (u, t2) = timed(|| Uffd::new(Features::default()));
        let u = u.map_err(err("userfaultfd"))?;
        let (g, t3) = timed(|| u.register_missing(&m));
        g.map_err(err("register"))?;
        if r > 0 {
            mm.push(t1);
            open.push(t2);
            reg.push(t3);
            both.push(t1 + t2 + t3);
        }
    }
    row(
        &mut rows,
        "mmap + userfaultfd + UFFDIO_API + UFFDIO_REGISTER",
        &both,
        "515-page mapping",
    );
    row(&mut rows, "  of which mmap", &mm, "");
    row(&mut rows, "  of which userfaultfd + UFFDIO_API", &open, "");
    row(&mut rows, "  of which UFFDIO_REGISTER", &reg, "");
    drop(file);

    // uffd MISSING round trip: touch -> event read by a handler thread -> UFFDIO_COPY -> touch
    // returns. Then UFFDIO_COPY onto a page already in the page cache: EEXIST.
    let file = HugeFile::memfd("bench-uffd").map_err(err("memfd"))?;
    file.set_len_pages(ROUND).map_err(err("ftruncate"))?;
    let hp = file.page_size();
    let m = Arc::new(Mapping::new(&file, ROUND).map_err(err("mmap"))?);
    let u = Arc::new(Uffd::new(Features::default()).map_err(err("userfaultfd"))?);
    u.register_missing(&m).map_err(err("register"))?;
    let stop = Arc::new(AtomicBool::new(false));
    let handler = {
        let (u, stop) = (u.clone(), stop.clone());
        std::thread::spawn(move || {
            let src = vec![1u8; hp];
            let mut copies = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                if let Ok(Some(Event::Pagefault { addr, .. })) =
                    u.read_event(Duration::from_millis(50))
                {
                    let (_, t) = timed(|| u.copy(addr & !(hp - 1), &src));
                    copies.push(t);
                }
            }
            copies
        })
    };
    let s = rounds(|| {
        let s = (0..ROUND)
            .map(|p| timed(|| m.touch_read(p)).1)
            .collect::<Vec<_>>();
        file.punch_hole(0, ROUND).map_err(err("punch"))?;
        Ok(s)
    })?;
    stop.store(true, Ordering::Relaxed);
    let copies = handler.join().map_err(|_| "uffd handler panicked")?;
    row(
        &mut rows,
        "uffd MISSING round trip (touch -> read event -> UFFDIO_COPY -> touch returns)",
        &s,
        "handler thread blocked in poll",
    );
    row(
        &mut rows,
        "  of which UFFDIO_COPY (allocates + copies 2 MiB)",
        &copies[ROUND.min(copies.len())..],
        "",
    );
    file.allocate(0, ROUND).map_err(err("fallocate"))?;
    let src = vec![1u8; hp];
    let mut eexist = Vec::new();
    for r in 0..ROUNDS {
        for p in 0..ROUND {
            let (res, t) = timed(|| u.copy(m.page_addr(p), &src));
            if res != Err(Errno::EXIST) {
                return Err(format!(
                    "UFFDIO_COPY onto a cached page: {res:?}, not EEXIST"
                ));
            }
            if r > 0 {
                eexist.push(t);
            }
        }
    }
    row(&mut rows, "UFFDIO_COPY failing with EEXIST", &eexist, "");
    drop((m, u, file));

    // What one observation of the host reads: st_blocks, a marker per trace page, and the
    // pagemap of each mapper's whole mapping (one pread per huge page).
    let file = HugeFile::memfd("bench-observe").map_err(err("memfd"))?;
    file.allocate(0, 514).map_err(err("fallocate"))?;
    let m = Mapping::new(&file, 514).map_err(err("mmap"))?;
    for p in [0, 513] {
        let _ = m.touch_read(p);
    }
    let hp = file.page_size();
    for (what, n) in [
        ("pagemap of a 2-page mapping", 2),
        ("pagemap of a 514-page mapping", 514),
    ] {
        let mut s = Vec::new();
        for r in 0..201 {
            let (x, t) = timed(|| pagemap::mapped_pages_self(m.page_addr(0), n, hp));
            x.map_err(err("pagemap"))?;
            if r > 0 {
                s.push(t);
            }
        }
        row(&mut rows, what, &s, "open + one pread per huge page");
    }
    let (mut st, mut pr) = (Vec::new(), Vec::new());
    for r in 0..501 {
        let (x, t1) = timed(|| file.pages_in_file());
        x.map_err(err("fstat"))?;
        let (x, t2) = timed(|| file.read_marker(r % 514));
        x.map_err(err("pread"))?;
        if r > 0 {
            st.push(t1);
            pr.push(t2);
        }
    }
    row(&mut rows, "fstat (pages in file)", &st, "");
    row(&mut rows, "pread of a page's marker", &pr, "");
    drop((m, file));

    // Fork of an actor process until it is ready (death signal armed), and its teardown.
    let (mut fork, mut reap) = (Vec::new(), Vec::new());
    for r in 0..101 {
        let (c, t) = timed(|| {
            // SAFETY: the child only writes to its socket and exits.
            unsafe {
                fork_child(|s| {
                    let mut b = [0u8; 1];
                    let _ = (&s).read(&mut b);
                    0
                })
            }
        });
        let c = c.map_err(err("fork_child"))?;
        let (_, td) = timed(|| drop(c));
        if r > 0 {
            fork.push(t);
            reap.push(td);
        }
    }
    row(&mut rows, "fork_child until ready", &fork, "");
    row(&mut rows, "  Child drop (SIGKILL + waitpid)", &reap, "");
    Ok(rows)
}

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
        let cast = Cast::start(mappers, false).map_err(err("start the actors"))?;
        Ok(Actors { cast })
    }

    fn to_manager(&self, c: &ManagerCmd) -> Res<()> {
        self.cast.to_manager(c).map_err(err("send"))
    }

    fn to_mapper(&self, m: usize, c: &MapperCmd) -> Res<()> {
        self.cast.to_mapper(m as u8, c).map_err(err("send"))
    }

    /// The first report `want` accepts; actors are numbered 0 (manager), 1 + mapper.
    fn wait(&mut self, want: impl Fn(usize, &Report) -> bool) -> Res<Report> {
        let number = |who: Who| match who {
            Who::Manager => 0,
            Who::Mapper(m) => m as usize + 1,
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

    fn stop(self) {
        self.cast.stop();
    }
}

/// Process start-up of a replay attempt with `mappers` mappers, in µs.
fn startup(mappers: u8, reps: usize) -> Res<Stats> {
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
struct Prealloc {
    manager: Stats,
    fallocate: Stats,
    markers: Stats,
}

fn prealloc(layout: &Layout, reps: usize) -> Res<Prealloc> {
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
fn actor_round_trips(rows: &mut Vec<BareRow>) -> Res<()> {
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
            a.to_mapper(
                0,
                &MapperCmd::Touch {
                    page,
                    write: None,
                    window: None,
                },
            )?;
            a.wait(|w, r| w == 1 && matches!(r, Report::Missing { page: p, .. } if *p == page))?;
            let t1 = us(t0.elapsed());
            a.to_mapper(0, &MapperCmd::Copy { page, word: 7 })?;
            a.wait(|w, r| w == 1 && matches!(r, Report::HandlerReturned { .. }))?;
            let rep = a.wait(|w, r| {
                w == 1 && matches!(r, Report::Touched { page: p, .. } if *p == page)
            })?;
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
            a.to_mapper(
                0,
                &MapperCmd::Touch {
                    page,
                    write: None,
                    window: None,
                },
            )?;
            a.wait(|w, r| w == 1 && matches!(r, Report::Missing { page: p, .. } if *p == page))?;
            gap_event.push(us(t0.elapsed()));
            gap();
            let t1 = Instant::now();
            a.to_mapper(0, &MapperCmd::Copy { page, word: 7 })?;
            a.wait(|w, r| w == 1 && matches!(r, Report::HandlerReturned { .. }))?;
            gap_copy.push(us(t1.elapsed()));
            a.wait(|w, r| w == 1 && matches!(r, Report::Touched { page: p, .. } if *p == page))?;
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

// ---------------------------------------------------------------------------------------------
// Part 2: the corpus.
// ---------------------------------------------------------------------------------------------

struct TraceRun {
    name: String,
    trace: Trace,
    raced: bool,
    layout: Layout,
    acts: usize,
    observes: usize,
    has_prealloc: bool,
    reports: Vec<TraceReport>,
    /// Wall time of each `replay` call, teardown included, µs.
    call_us: Vec<f64>,
}

impl TraceRun {
    fn achieved(&self) -> usize {
        self.reports.iter().filter(|r| r.achieved > 0).count()
    }

    fn replay_us(&self) -> Vec<f64> {
        self.reports.iter().map(|r| r.replay_us).collect()
    }

    fn syscall_us(&self) -> Vec<f64> {
        self.reports.iter().map(|r| r.syscall_us).collect()
    }

    fn verdicts(&self) -> String {
        let mut n: BTreeMap<&str, usize> = BTreeMap::new();
        for r in &self.reports {
            *n.entry(r.verdict.name()).or_default() += 1;
        }
        n.iter()
            .map(|(v, c)| {
                if *c == self.reports.len() {
                    v.to_string()
                } else {
                    format!("{v} {c}")
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Why attempts missed the window, grouped.
    fn misses(&self) -> Vec<(String, usize)> {
        let mut why: BTreeMap<String, usize> = BTreeMap::new();
        for r in self.reports.iter().filter(|r| r.achieved == 0) {
            let reason = match &r.mismatch {
                Some(m) if m.host.contains("WindowMissed") => {
                    let late = m
                        .host
                        .split("late_us: ")
                        .nth(1)
                        .and_then(|s| s.split(|c: char| !c.is_ascii_digit()).next())
                        .unwrap_or("?");
                    format!("window touch too late (WindowMissed, {late} us after punch start)")
                }
                Some(m) => {
                    let mut h = m.host.clone();
                    h.truncate(90);
                    format!("step {} {}: {}", m.step, m.field, h)
                }
                None => "the window touch ran but not inside the window".into(),
            };
            *why.entry(reason).or_default() += 1;
        }
        let mut v: Vec<_> = why.into_iter().collect();
        v.sort_by_key(|b| std::cmp::Reverse(b.1));
        v
    }
}

fn run_corpus(traces: &[(PathBuf, Trace)], attempts: u32) -> Res<Vec<TraceRun>> {
    let opts = Options {
        attempts: 1,
        ..Options::default()
    };
    let mut runs = Vec::new();
    for (path, t) in traces {
        let name = path
            .file_name()
            .map_or_else(String::new, |f| f.to_string_lossy().into_owned());
        let p = plan(t);
        let layout = Layout::new(t.meta.config.pages, p.raced, opts.padding);
        let has_prealloc = p.acts.iter().any(|a| {
            matches!(
                a,
                Act::Start {
                    call: Call::Prealloc,
                    ..
                }
            )
        });
        let t_start = Instant::now();
        let mut run = TraceRun {
            name: name.clone(),
            trace: t.clone(),
            raced: p.raced.is_some(),
            layout,
            acts: p.acts.len(),
            observes: p
                .acts
                .iter()
                .filter(|a| matches!(a, Act::Observe { .. }))
                .count(),
            has_prealloc,
            reports: Vec::new(),
            call_us: Vec::new(),
        };
        for _ in 0..attempts {
            let reproduce = format!("hugepunch replay {}", path.display());
            let (r, t) = timed(|| replay(t, &name, &reproduce, &opts));
            run.reports
                .push(r.map_err(|e| format!("{}: {e}", path.display()))?);
            run.call_us.push(t);
        }
        eprintln!(
            "  {name}: {} replays in {:.1} s, {} achieved, load {}",
            attempts,
            t_start.elapsed().as_secs_f64(),
            run.achieved(),
            load_line()
        );
        runs.push(run);
    }
    Ok(runs)
}

fn kind(t: &Trace) -> &'static str {
    match t.meta.kind {
        Kind::Witness => "witness",
        Kind::Counterexample => "counterexample",
    }
}

fn main() {
    if let Err(e) = run() {
        eprintln!("replay bench: {e}");
        std::process::exit(1);
    }
}

fn run() -> Res<()> {
    let t_bench = Instant::now();
    let attempts = env_u32("HP_BENCH_ATTEMPTS", 20).max(1);
    let filter = std::env::var("HP_BENCH_TRACES").unwrap_or_default();
    let bare = std::env::var("HP_BENCH_BARE").map_or(true, |v| v != "0");

    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../traces/corpus");
    let files: Vec<PathBuf> = corpus_files(&corpus)?
        .into_iter()
        .filter(|p| p.to_string_lossy().contains(&filter))
        .collect();
    let traces = load_all(&files)?;
    let opts = Options::default();
    let need = pages_for(&traces, &opts).max(BARE_PAGES);

    userfaultfd_available().map_err(|e| format!("no userfaultfd: {e}"))?;
    let _pool = match PoolReservation::ensure(need) {
        Ok(p) => p,
        Err(e) => {
            let msg = require_free_huge_pages(need)
                .err()
                .unwrap_or_else(|| e.to_string());
            return Err(format!("cannot get {need} free huge pages ({e}); {msg}"));
        }
    };
    let pool = HugePool::read().map_err(err("pool"))?;

    let uname = rustix::system::uname();
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|l| l.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_else(|| "?".into());
    let ncpu = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!("# hugepunch replay benchmark\n");
    println!(
        "host: Linux {}, {ncpu} CPUs, {cpu}; huge page pool: nr_hugepages={} (free {}) \
         for {need} needed, previous {} restored at exit",
        uname.release().to_string_lossy(),
        pool.nr_hugepages,
        pool.free,
        _pool.previous_nr_hugepages()
    );
    println!("load average at start: {}", load_line());
    println!(
        "replays per trace: {attempts} (HP_BENCH_ATTEMPTS), Options::default() otherwise \
         (padding {}, window delay {} us, timeout {:?})\n",
        opts.padding, opts.window_delay_us, opts.timeout
    );

    // Part 1.
    let mut bare_rows = Vec::new();
    if bare {
        eprintln!("bare costs...");
        bare_rows = bare_costs()?;
        actor_round_trips(&mut bare_rows)?;
        println!("## 1. Bare costs on this host (us)\n");
        println!("| operation | n | median | p90 | min | max | note |");
        println!("|---|---:|---:|---:|---:|---:|---|");
        for r in &bare_rows {
            let s = r.stats;
            println!(
                "| {} | {} | {} | {} | {} | {} | {} |",
                r.what,
                s.n,
                f(s.median),
                f(s.p90),
                f(s.min),
                f(s.max),
                r.note
            );
        }
        println!("\nload average after part 1: {}\n", load_line());
    }

    // Part 2.
    eprintln!("replaying {} traces x {attempts}...", traces.len());
    let runs = run_corpus(&traces, attempts)?;

    println!("## 2. Corpus replays ({attempts} replays each, medians, us)\n");
    println!(
        "| trace | kind | verdicts | replay_us | p90 | syscall_us | replay/syscall | call_us |"
    );
    println!("|---|---|---|---:|---:|---:|---:|---:|");
    for r in &runs {
        let (rp, sc) = (Stats::of(&r.replay_us()), Stats::of(&r.syscall_us()));
        let (rp, sc) = (rp.expect("replays"), sc.expect("replays"));
        println!(
            "| {} | {} | {} | {} | {} | {} | {:.2} | {} |",
            r.name,
            kind(&r.trace),
            r.verdicts(),
            f(rp.median),
            f(rp.p90),
            f(sc.median),
            rp.median / sc.median,
            f(Stats::median_of(&r.call_us))
        );
    }
    println!(
        "\n`call_us`: wall time of the whole `replay` call, teardown of the actors and the file \
         included (`replay_us` stops before it).\n"
    );

    println!("### Race window (traces with a window touch)\n");
    println!(
        "| trace | achieved | touch_start_us min / med / max | touch_end_us med / max | \
         punch_us med | slack min (punch - touch end) |"
    );
    println!("|---|---:|---|---|---:|---:|");
    for r in runs.iter().filter(|r| r.raced) {
        let hits: Vec<_> = r.reports.iter().filter_map(|x| x.window.clone()).collect();
        let st = Stats::of(&hits.iter().map(|w| w.touch_start_us).collect::<Vec<_>>());
        let en = Stats::of(&hits.iter().map(|w| w.touch_end_us).collect::<Vec<_>>());
        let pu = Stats::of(&hits.iter().map(|w| w.punch_us).collect::<Vec<_>>());
        let slack = hits
            .iter()
            .map(|w| w.punch_us - w.touch_end_us)
            .fold(f64::INFINITY, f64::min);
        let o = |s: Option<Stats>, g: fn(&Stats) -> f64| s.as_ref().map_or(f64::NAN, g);
        println!(
            "| {} | {}/{} | {} / {} / {} | {} / {} | {} | {} |",
            r.name,
            r.achieved(),
            r.reports.len(),
            f(o(st, |s| s.min)),
            f(o(st, |s| s.median)),
            f(o(st, |s| s.max)),
            f(o(en, |s| s.median)),
            f(o(en, |s| s.max)),
            f(o(pu, |s| s.median)),
            f(if hits.is_empty() { f64::NAN } else { slack })
        );
    }
    let missed: Vec<_> = runs
        .iter()
        .filter(|r| r.raced && r.achieved() < r.reports.len())
        .collect();
    if !missed.is_empty() {
        println!("\nWhy attempts missed the window:\n");
        for r in &missed {
            for (why, n) in r.misses() {
                println!("- {}: {n}x {why}", r.name);
            }
        }
    }

    // Breakdown of witness replays.
    eprintln!("breakdown: start-up and pre-allocation...");
    let mut starts: BTreeMap<u8, Stats> = BTreeMap::new();
    // (trace pages, padding) -> the manager's pre-allocation of that layout.
    let mut preallocs: BTreeMap<(u8, usize), Prealloc> = BTreeMap::new();
    for r in runs.iter().filter(|r| r.trace.meta.kind == Kind::Witness) {
        let m = r.trace.meta.config.mappers;
        if let Entry::Vacant(e) = starts.entry(m) {
            e.insert(startup(m, 30)?);
        }
        if !r.has_prealloc {
            continue;
        }
        let pages = r.layout.pages;
        if let Entry::Vacant(e) = preallocs.entry((pages, 0)) {
            e.insert(prealloc(&Layout::new(pages, None, 0), 30)?);
        }
        if let Entry::Vacant(e) = preallocs.entry((pages, r.layout.pad)) {
            e.insert(prealloc(&r.layout, 15)?);
        }
    }
    // One observation of the host, estimated from the bare costs: fstat, a pread per trace
    // page, a pagemap read of each mapper's whole mapping (linear between 2 and 514 pages).
    let bare_med = |prefix: &str| {
        bare_rows
            .iter()
            .find(|r| r.what.starts_with(prefix))
            .map(|r| r.stats.median)
    };
    let observe_cost = |r: &TraceRun| -> Option<f64> {
        let (fstat, pread) = (bare_med("fstat")?, bare_med("pread")?);
        let (pm2, pm514) = (bare_med("pagemap of a 2-")?, bare_med("pagemap of a 514")?);
        let n = r.layout.host_pages() as f64;
        let pagemap = pm2 + (n - 2.0) * (pm514 - pm2) / 512.0;
        let one = fstat
            + r.trace.meta.config.pages as f64 * pread
            + r.trace.meta.config.mappers as f64 * pagemap;
        Some(r.observes as f64 * one)
    };
    println!("\n### Where a witness replay's time goes (medians, us)\n");
    println!(
        "- syscall_us, and in it the pre-allocation: the manager's `Prealloc` of the trace \
         pages, and of the padding (full layout minus trace pages only), as the manager times \
         it, measured apart (30 / 15 reps); in brackets the padding's `fallocate` (zeroing) + \
         marker writes, re-done in the bench process;\n\
         - outside syscalls: median over the replays of replay_us - syscall_us (concurrent \
         calls both count in syscall_us, and a touch blocked in uffd counts its wait);\n\
         - in it, start-up: memfd + shared words + fork of the manager and the mappers \
         as `Attempt::run` does it (`actors::Cast::start`), measured apart (30 reps);\n\
         - in it, observations: the host comparisons (fstat, a pread per trace page, a pagemap \
         read per mapper and trace page), estimated from part 1;\n\
         - remainder: outside syscalls - start-up - observations: driver round trips over \
         the sockets, thread wake-ups in the actors, first-touch costs in fresh processes;\n\
         - check: replay_us <= 3 x syscall_us + start-up.\n"
    );
    println!(
        "| trace | mappers | host pages | acts (observes) | replay_us | syscall_us | prealloc \
         trace pages | prealloc padding (fallocate + markers) | outside syscalls | start-up | \
         observations | remainder | remainder per act | 3 x syscall + start-up | ok |"
    );
    println!("|---|---:|---:|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---|");
    struct Check {
        name: String,
        ok: bool,
        replay: f64,
        bound: f64,
        startup: f64,
        prealloc: f64,
        observe: f64,
        remainder: f64,
        syscall: f64,
        acts: usize,
    }
    let mut checks = Vec::new();
    for r in runs.iter().filter(|r| r.trace.meta.kind == Kind::Witness) {
        let replay_med = Stats::median_of(&r.replay_us());
        let sys_med = Stats::median_of(&r.syscall_us());
        let outside = Stats::median_of(
            &r.reports
                .iter()
                .map(|x| x.replay_us - x.syscall_us)
                .collect::<Vec<_>>(),
        );
        let st = starts[&r.trace.meta.config.mappers].median;
        let pages = r.layout.pages;
        let trace_only = preallocs.get(&(pages, 0)).filter(|_| r.has_prealloc);
        let full = preallocs
            .get(&(pages, r.layout.pad))
            .filter(|_| r.has_prealloc && r.layout.pad > 0);
        let pre_trace = trace_only.map_or(0.0, |p| p.manager.median);
        let (pre_pad, pad_split) = match (trace_only, full) {
            (Some(t), Some(fl)) => {
                let pad = fl.manager.median - t.manager.median;
                let split = format!(
                    "{} ({} + {})",
                    f(pad),
                    f(fl.fallocate.median - t.fallocate.median),
                    f(fl.markers.median - t.markers.median)
                );
                (pad, split)
            }
            _ => (0.0, "-".into()),
        };
        let observe = observe_cost(r);
        let remainder = outside - st - observe.unwrap_or(0.0);
        let bound = 3.0 * sys_med + st;
        let ok = replay_med <= bound;
        println!(
            "| {} | {} | {} | {} ({}) | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            r.name,
            r.trace.meta.config.mappers,
            r.layout.host_pages(),
            r.acts,
            r.observes,
            f(replay_med),
            f(sys_med),
            f(pre_trace),
            pad_split,
            f(outside),
            f(st),
            observe.map_or("-".into(), f),
            f(remainder),
            f(remainder / r.acts as f64),
            f(bound),
            if ok { "yes" } else { "NO" }
        );
        checks.push(Check {
            name: r.name.clone(),
            ok,
            replay: replay_med,
            bound,
            startup: st,
            prealloc: pre_trace + pre_pad,
            observe: observe.unwrap_or(f64::NAN),
            remainder,
            syscall: sys_med,
            acts: r.acts,
        });
    }
    println!("\nStart-up by number of mappers:\n");
    println!("| mappers | processes | median | p90 |");
    println!("|---:|---:|---:|---:|");
    for (m, s) in &starts {
        println!("| {m} | {} | {} | {} |", m + 1, f(s.median), f(s.p90));
    }
    println!(
        "\nPre-allocation by layout (as the manager times it; fallocate and markers redone \
         here):\n"
    );
    println!(
        "| trace pages | padding | manager median | p90 | fallocate median | markers median |"
    );
    println!("|---:|---:|---:|---:|---:|---:|");
    for ((pages, pad), p) in &preallocs {
        println!(
            "| {pages} | {pad} | {} | {} | {} | {} |",
            f(p.manager.median),
            f(p.manager.p90),
            f(p.fallocate.median),
            f(p.markers.median)
        );
    }

    // Part 3.
    println!("\n## 3. Summary\n");
    let raced: Vec<_> = runs.iter().filter(|r| r.raced).collect();
    let low: Vec<_> = raced
        .iter()
        .filter(|r| (r.achieved() as f64) < 0.9 * r.reports.len() as f64)
        .collect();
    println!(
        "- Race traces achieving their interleaving in >= 90% of attempts: {} of {}{}",
        raced.len() - low.len(),
        raced.len(),
        if low.is_empty() {
            ": all.".to_string()
        } else {
            format!(
                "; below: {}.",
                low.iter()
                    .map(|r| {
                        let why = r
                            .misses()
                            .first()
                            .map_or(String::new(), |(w, n)| format!(", mostly {w} ({n}x)"));
                        format!("{} {}/{}{why}", r.name, r.achieved(), r.reports.len())
                    })
                    .collect::<Vec<_>>()
                    .join("; ")
            )
        }
    );
    let bad: Vec<_> = checks.iter().filter(|c| !c.ok).collect();
    println!(
        "- Witness replays within 3 x syscalls + start-up: {} of {}{}",
        checks.len() - bad.len(),
        checks.len(),
        if bad.is_empty() {
            ": all.".to_string()
        } else {
            format!(
                "; over: {}.",
                bad.iter()
                    .map(|c| format!(
                        "{} ({} us > {} us: start-up {}, prealloc {}, syscalls {}, \
                         observations {}, remainder {} = {} us per act over {} acts)",
                        c.name,
                        f(c.replay),
                        f(c.bound),
                        f(c.startup),
                        f(c.prealloc),
                        f(c.syscall),
                        f(c.observe),
                        f(c.remainder),
                        f(c.remainder / c.acts as f64),
                        c.acts
                    ))
                    .collect::<Vec<_>>()
                    .join("; ")
            )
        }
    );
    if !bare_rows.is_empty() {
        let med = |prefix: &str| {
            bare_rows
                .iter()
                .find(|r| r.what.starts_with(prefix))
                .map_or("-".into(), |r| f(r.stats.median))
        };
        println!(
            "- Against DESIGN.md section 7 (2 MiB fault about 40 us, punch of one page 2-18 us, \
             uffd round trip about 120 us): fault {} us on a cached page, {} us allocating; \
             punch of one page {} us (not mapped), {} us (mapped); uffd round trip {} us bare, \
             {} us through the replayer's actors.",
            med("fault, page"),
            med("fault that allocates"),
            med("punch, 1 page (not"),
            med("punch, 1 page (mapped"),
            med("uffd MISSING"),
            med("replayer: uffd round trip")
        );
    }
    println!(
        "\nload average at end: {}; bench took {:.0} s",
        load_line(),
        t_bench.elapsed().as_secs_f64()
    );
    Ok(())
}
