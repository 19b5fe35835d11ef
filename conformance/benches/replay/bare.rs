//! Part 1: the bare cost of each kind of system call a replay makes, straight from
//! `conformance::sys`.

use crate::actors::actor_round_trips;
use crate::stats::{err, f, load_line, timed, Res, Stats};
use conformance::sys::pagemap;
use conformance::sys::rusage::thread_faults;
use conformance::sys::{fork_child, Event, Features, HugeFile, Mapping, Uffd};
use rustix::io::Errno;
use std::io::Read;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Pages per round of the per-page measurements.
const ROUND: usize = 64;
/// Rounds of the per-page measurements (the first is a warm-up and is not counted).
const ROUNDS: usize = 9;

/// Measures and prints part 1; returns its rows for the later parts.
pub fn part1() -> Res<Vec<BareRow>> {
    eprintln!("bare costs...");
    let mut bare_rows = bare_costs()?;
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
    Ok(bare_rows)
}

// ---------------------------------------------------------------------------------------------
// Part 1: bare costs, straight from `conformance::sys`.
// ---------------------------------------------------------------------------------------------

pub struct BareRow {
    pub what: String,
    pub stats: Stats,
    pub note: String,
}

pub fn row(rows: &mut Vec<BareRow>, what: &str, samples: &[f64], note: impl Into<String>) {
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

fn bare_costs() -> Res<Vec<BareRow>> {
    let mut rows = Vec::new();
    faults_on_cached_pages(&mut rows)?;
    allocating_faults_and_one_page_punches(&mut rows)?;
    punch_of_512_pages(&mut rows)?;
    mmap_and_register(&mut rows)?;
    uffd_round_trip(&mut rows)?;
    observation_reads(&mut rows)?;
    fork_and_reap(&mut rows)?;
    Ok(rows)
}

/// A fault that maps a page already in the page cache: fresh mapping, every page allocated.
fn faults_on_cached_pages(rows: &mut Vec<BareRow>) -> Res<()> {
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
        rows,
        "fault, page in page cache (maps it)",
        &s,
        format!("{faults_seen} minor faults per {ROUND} touches"),
    );
    drop(file);
    Ok(())
}

/// A fault that allocates (and zeroes) the page: no uffd, the file has holes.
fn allocating_faults_and_one_page_punches(rows: &mut Vec<BareRow>) -> Res<()> {
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
    row(rows, "fault that allocates (no uffd)", &s, "");

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
    row(rows, "fallocate, 1 page", &s, "allocates and zeroes it");
    let p1: Vec<f64> = punch1.into_iter().skip(1).flatten().collect();
    row(rows, "punch, 1 page (not mapped)", &p1, "");
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
        rows,
        "punch, 1 page (mapped by this process)",
        &s,
        "includes the unmap",
    );
    drop(file);
    Ok(())
}

/// A punch of 512 pages, per page.
fn punch_of_512_pages(rows: &mut Vec<BareRow>) -> Res<()> {
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
        rows,
        "punch, 512 pages: per page",
        &per_page,
        format!("whole punch median {} us", f(Stats::median_of(&whole))),
    );
    row(
        rows,
        "fallocate, 512 pages: per page",
        &alloc,
        "zeroing dominates",
    );
    drop(file);
    Ok(())
}

/// mmap + UFFDIO_REGISTER of a window trace's file (515 pages).
fn mmap_and_register(rows: &mut Vec<BareRow>) -> Res<()> {
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
        rows,
        "mmap + userfaultfd + UFFDIO_API + UFFDIO_REGISTER",
        &both,
        "515-page mapping",
    );
    row(rows, "  of which mmap", &mm, "");
    row(rows, "  of which userfaultfd + UFFDIO_API", &open, "");
    row(rows, "  of which UFFDIO_REGISTER", &reg, "");
    drop(file);
    Ok(())
}

/// uffd MISSING round trip: touch -> event read by a handler thread -> UFFDIO_COPY -> touch
/// returns. Then UFFDIO_COPY onto a page already in the page cache: EEXIST.
fn uffd_round_trip(rows: &mut Vec<BareRow>) -> Res<()> {
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
        rows,
        "uffd MISSING round trip (touch -> read event -> UFFDIO_COPY -> touch returns)",
        &s,
        "handler thread blocked in poll",
    );
    row(
        rows,
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
    row(rows, "UFFDIO_COPY failing with EEXIST", &eexist, "");
    drop((m, u, file));
    Ok(())
}

/// What one observation of the host reads: st_blocks, a marker per trace page, and the
/// pagemap of each mapper's whole mapping (one pread per huge page).
fn observation_reads(rows: &mut Vec<BareRow>) -> Res<()> {
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
        row(rows, what, &s, "open + one pread per huge page");
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
    row(rows, "fstat (pages in file)", &st, "");
    row(rows, "pread of a page's marker", &pr, "");
    drop((m, file));
    Ok(())
}

/// Fork of an actor process until it is ready (death signal armed), and its teardown.
fn fork_and_reap(rows: &mut Vec<BareRow>) -> Res<()> {
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
    row(rows, "fork_child until ready", &fork, "");
    row(rows, "  Child drop (SIGKILL + waitpid)", &reap, "");
    Ok(())
}
