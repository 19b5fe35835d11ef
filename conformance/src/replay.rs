//! The driver: replays a trace on this host with real processes and compares, step by step,
//! what the host does with what the model predicts.

use crate::actors::{Cast, Who};
use crate::aim::{measure_page_removal, Aim, Padding};
use crate::error::{ReplayError, Result};
use crate::evidence::accounting::{self, Disturbed, Sample};
use crate::evidence::attempt::{judge, AttemptEvidence, Inputs};
use crate::evidence::blocking::{Expected, Role};
use crate::evidence::confidence::{default_attempts, Confidence};
use crate::evidence::pagecache::Predicted;
use crate::evidence::predict;
use crate::evidence::record::Recorder;
use crate::evidence::window::{Subject, Touch};
use crate::layout::Layout;
use crate::observe::{describe, Host};
use crate::plan::{plan, Act, Call, Outcome, Plan};
use crate::protocol::{
    ManagerCmd, MapperCmd, MigratorCmd, Pace, Report, Window, PUNCH_RETURNED, PUNCH_STARTED,
};
use crate::report::{Mismatch, TraceReport, Verdict, WindowHit};
use crate::sys::host::HugePool;
use crate::sys::numa::{node_pools, NodePool};
use crate::sys::{errno_name, errno_value};
use crate::window::page_lock_touches;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use traces::{Errno, Thread, Trace, UffdPolicy, Value, Word};

/// The field of a window touch's miss ([`Report::WindowMissed`]).
const RACE_WINDOW: &str = "race window";

/// How to replay.
#[derive(Clone, Debug)]
pub struct Options {
    /// Attempts at a trace whose kernel interleaving must be made to happen.
    pub attempts: u32,
    /// Padding pages in front of a raced page (widens the race window).
    pub padding: Padding,
    /// How long after the punch started a window touch goes in (past `hugetlb_vmdelete_list`).
    pub window_delay_us: u64,
    /// Before replaying, hold the recordings' tracepoints on for the kernel's life
    /// ([`crate::evidence::record::hold`]; a guest's replays).
    pub hold_events: bool,
    /// Longest wait for any one report from an actor.
    pub timeout: Duration,
    /// Use a file on a hugetlbfs mount in a private mount namespace instead of a memfd.
    pub private_mount: bool,
    /// Replay traces that predict a kernel hang too (see [`refusal`]).
    pub allow_hang: bool,
    /// Record the actors' kernel events (tracefs, root) and check the pool's counters.
    pub kernel_events: bool,
    /// Keep each attempt's recorded events as text files in this directory.
    pub keep_events: Option<PathBuf>,
    /// Say on stderr as each attempt starts: a guest's watchdog counts these lines as progress,
    /// so a slow replay of many attempts is not taken for a hang.
    pub progress: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            attempts: default_attempts(),
            padding: Padding::Pages(crate::aim::DEFAULT_PADDING),
            hold_events: false,
            window_delay_us: 30,
            timeout: Duration::from_secs(2),
            private_mount: false,
            allow_hang: false,
            kernel_events: true,
            keep_events: None,
            progress: false,
        }
    }
}

/// Huge pages a replay of `trace` needs free: the file, padding included, and as many again
/// for the reservations a mapping made after the punch takes.
pub fn pages_needed(trace: &Trace, opts: &Options) -> u64 {
    let p = plan(trace);
    let layout = Layout::new(trace.meta.config.pages, p.raced, opts.padding.most());
    let calibration = if measures_speed(trace, &p, opts) {
        crate::aim::CALIBRATION_PAGES as u64
    } else {
        0
    };
    (2 * layout.host_pages() as u64 + 2).max(calibration)
}

/// Whether a replay of `trace` measures the punch's speed first: for a padding sized from it
/// (a race trace with [`Padding::Window`]) or for a page-lock touch's aim.
fn measures_speed(trace: &Trace, plan: &Plan, opts: &Options) -> bool {
    !page_lock_touches(trace).is_empty() || (plan.raced.is_some() && opts.padding.calibrated())
}

/// Loads and replays a trace file.
pub fn replay_file(path: &Path, opts: &Options) -> Result<TraceReport> {
    let trace = traces::load(path)?;
    let name = path.file_name().map_or_else(
        || path.display().to_string(),
        |f| f.to_string_lossy().into(),
    );
    let reproduce = format!("hugepunch replay {}", path.display());
    replay(&trace, &name, &reproduce, opts)
}

/// Why a trace is not replayed on this host with these options ([`refusal_on`] with this
/// host's NUMA nodes and their pools of huge pages).
pub fn refusal(trace: &Trace, opts: &Options) -> Option<String> {
    if trace.meta.config.migrators == 0 {
        return refusal_on(trace, opts, &Ok(Vec::new()));
    }
    let pools = crate::sys::huge_page_size()
        .and_then(|size| node_pools(size as u64 / 1024))
        .map_err(|e| e.to_string());
    refusal_on(trace, opts, &pools)
}

/// Why a trace is not replayed on a host whose NUMA nodes have these pools of huge pages: it
/// predicts a deadlock, and a kernel that has the bug would hang for good (the blocked punch
/// cannot be killed; only a reboot ends it), checked first; or its pool is smaller than the
/// file needs, which the replayer cannot arrange on a host whose pool others share; or it has
/// a migrator, whose `move_pages(2)` needs two NUMA nodes with free huge pages (the page moves
/// to the node it is not on, which must have a free page of its own: `alloc_migration_target`
/// asks with `__GFP_THISNODE`).
pub fn refusal_on(
    trace: &Trace,
    opts: &Options,
    pools: &std::result::Result<Vec<NodePool>, String>,
) -> Option<String> {
    if trace.meta.predicts_hang() && !opts.allow_hang {
        return Some(format!(
            "not replayed: this counterexample of {} in {} predicts a kernel deadlock; on a \
             kernel with the bug the punch and the faults hang unkillably until a reboot. Pass \
             --allow-hang to replay it anyway (in a guest)",
            trace.meta.property, trace.meta.variant
        ));
    }
    if let Some(pool) = trace.meta.config.pool {
        return Some(format!(
            "not replayed: this {} of {} in {} runs a pool of {pool} huge page(s) dry; the \
             replayer does not bound the pool it uses yet",
            trace.meta.kind.name(),
            trace.meta.property,
            trace.meta.variant
        ));
    }
    if trace.meta.config.migrators > 0 {
        let what = format!(
            "not replayed: this {} of {} in {} has a migrator, whose move_pages(2) needs two \
             NUMA nodes with free huge pages (the page moves to the node it is not on)",
            trace.meta.kind.name(),
            trace.meta.property,
            trace.meta.variant
        );
        let host = match pools {
            Err(e) => format!("the host's NUMA nodes could not be read: {e}"),
            Ok(p) if p.iter().filter(|n| n.free > 0).count() >= 2 => return None,
            Ok(p) if p.len() < 2 => format!(
                "this host has {} NUMA node{}",
                p.len().max(1),
                if p.len() > 1 { "s" } else { "" }
            ),
            Ok(p) => format!(
                "this host's nodes have free huge pages: {}; reserve some on each node \
                 (/sys/devices/system/node/nodeN/hugepages/hugepages-2048kB/nr_hugepages)",
                p.iter()
                    .map(|n| format!("node{} {} of {}", n.node, n.free, n.total))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        return Some(format!(
            "{what}; {host}. `hugepunch vm` replays it in a guest with two nodes"
        ));
    }
    None
}

/// Replays a trace: once if its interleaving needs no forcing, else `opts.attempts` times.
/// Refuses a trace that predicts a hang unless `opts.allow_hang` ([`refusal`]).
pub fn replay(trace: &Trace, name: &str, reproduce: &str, opts: &Options) -> Result<TraceReport> {
    if let Some(why) = refusal(trace, opts) {
        return Err(io::Error::new(io::ErrorKind::PermissionDenied, why).into());
    }
    if opts.hold_events && opts.kernel_events {
        crate::evidence::record::hold()?;
    }
    let plan = plan(trace);
    // Measured before the attempts, with none of their pages in use: for a padding sized
    // from it, and for a touch aimed at the removal's arrival at the raced page.
    let speed = if measures_speed(trace, &plan, opts) {
        Some(measure_page_removal(opts.private_mount)?)
    } else {
        None
    };
    let pad = speed.map_or(opts.padding.most(), |ns| opts.padding.pages(ns));
    let layout = Layout::new(trace.meta.config.pages, plan.raced, pad);
    let aim = speed.map(|ns| Aim::from_speed(ns, layout.pad));
    let attempts = if plan.raced.is_some() {
        opts.attempts.max(1)
    } else {
        1
    };
    let expect = Expectations {
        page_cache: predict::pagecache(trace, &layout),
        waits: predict::waits(trace),
    };
    let mut outcomes = Vec::new();
    for n in 0..attempts {
        if opts.progress {
            eprintln!("hugepunch replay: {name}: attempt {} of {attempts}", n + 1);
        }
        let o = Attempt::run(trace, &plan, &layout, opts, (aim, n), &expect)?;
        if let (true, Some(r)) = (opts.progress, &o.repeated) {
            // In a guest, a later attempt that hangs keeps this from the report: say it now.
            eprintln!("hugepunch replay: {name}: attempt {}: {r}", n + 1);
        }
        if let (Some(dir), Some(text)) = (&opts.keep_events, &o.events_text) {
            std::fs::write(dir.join(format!("{name}.{n}.events")), text)?;
        }
        outcomes.push(o);
    }
    // With kernel events, an attempt counts only where the kernel confirms its window.
    let kernel = opts.kernel_events && plan.raced.is_some();
    let counts = |o: &AttemptOutcome| match (&o.evidence, kernel) {
        (Some(e), true) => o.achieved && e.confirmed(),
        _ => o.achieved,
    };
    let achieved: Vec<&AttemptOutcome> = outcomes.iter().filter(|o| counts(o)).collect();
    let diverging = achieved.iter().find(|o| o.mismatch.is_some());
    let verdict = match (achieved.is_empty(), diverging) {
        (true, _) => Verdict::NotAchieved,
        (false, Some(_)) => Verdict::Diverges,
        (false, None) => Verdict::Conforms,
    };
    let shown = diverging
        .copied()
        .or(achieved.first().copied())
        .or(outcomes.last())
        .expect("one attempt");
    let counterexample = trace.meta.kind == traces::Kind::Counterexample;
    let evidence: Vec<AttemptEvidence> =
        outcomes.iter().filter_map(|o| o.evidence.clone()).collect();
    let mut findings: Vec<String> = Vec::new();
    for (n, o) in outcomes.iter().enumerate() {
        if let Some(r) = &o.repeated {
            findings.push(format!("attempt {n}: {r}"));
        }
        if let Some(m) = o.mismatch.as_ref().filter(|m| m.field == RACE_WINDOW) {
            findings.push(format!("attempt {n}: missed: {}", m.host));
        }
        if let Some(m) = &o.migration {
            let stop = o.mismatch.as_ref().map_or_else(String::new, |x| {
                format!(
                    " (the attempt diverged at step {} {}: {} predicted, host {})",
                    x.step, x.field, x.predicted, x.host
                )
            });
            findings.push(format!("attempt {n}: {m}{stop}"));
        }
    }
    for (n, e) in evidence.iter().enumerate() {
        let mut say = |what: String| findings.push(format!("attempt {n}: {what}"));
        if let Some(d) = e.disagreement() {
            say(d);
        }
        for d in e.page_cache.iter().flat_map(|p| &p.differences) {
            say(d.clone());
        }
        for d in &e.blocking {
            say(d.clone());
        }
    }
    let windows_confirmed =
        kernel.then(|| evidence.iter().filter(|e| e.confirmed()).count() as u32);
    // Over the counted attempts only: a wait in an attempt that did not count shows nothing.
    let waited: Vec<bool> = achieved
        .iter()
        .filter_map(|o| o.evidence.as_ref()?.window_waited)
        .collect();
    let window_waits = (!waited.is_empty()).then(|| waited.iter().filter(|&&w| w).count() as u32);
    let accounting_difference = outcomes.iter().find_map(|o| o.accounting.clone());
    let confidence = windows_confirmed.map(|confirmed| {
        // Counted per confirmed window: for a counterexample, the host showing the violation;
        // for a witness, the host diverging from the prediction.
        let events = achieved
            .iter()
            .filter(|o| o.mismatch.is_none() == counterexample)
            .count() as u32;
        let what = if counterexample {
            ("violation", "violations")
        } else {
            ("divergence", "divergences")
        };
        Confidence::new(attempts, confirmed, events, what)
    });
    Ok(TraceReport {
        trace: name.to_string(),
        variant: trace.meta.variant.name().into(),
        property: trace.meta.property.clone(),
        kind: trace.meta.kind.name().into(),
        verdict,
        achieved: achieved.len() as u32,
        attempts,
        violation_observed: counterexample && verdict == Verdict::Conforms,
        replay_us: shown.replay_ns as f64 / 1e3,
        syscall_us: shown.syscall_ns as f64 / 1e3,
        padding: layout.pad,
        window: shown.window.clone(),
        mismatch: shown.mismatch.clone(),
        reproduce: reproduce.to_string(),
        windows_confirmed,
        window_waits,
        kernel_events: evidence.iter().map(|e| e.kernel_events).sum(),
        accounting: opts.kernel_events.then(|| {
            if accounting_difference.is_some() {
                "diverges"
            } else {
                "conforms"
            }
            .to_string()
        }),
        accounting_difference,
        confidence,
        aim,
        evidence,
        findings,
    })
}

/// What the trace predicts for the kernel's events, shared by the attempts.
struct Expectations {
    page_cache: Option<Predicted>,
    waits: Expected,
}

fn pool_sample(file_pages: u64) -> io::Result<Sample> {
    let p = HugePool::read()?;
    Ok(Sample {
        total: p.total,
        free: p.free,
        reserved: p.reserved,
        surplus: p.surplus,
        file_pages,
    })
}

fn disturbed(d: Disturbed) -> io::Error {
    io::Error::other(d.to_string())
}

struct AttemptOutcome {
    achieved: bool,
    evidence: Option<AttemptEvidence>,
    events_text: Option<String>,
    /// The first quiet point whose pool counters do not add up.
    accounting: Option<String>,
    /// What the migrator's `move_pages` calls did (a trace with a migrator).
    migration: Option<String>,
    /// What the repeated page-lock touch did (a trace with one).
    repeated: Option<String>,
    mismatch: Option<Mismatch>,
    window: Option<WindowHit>,
    replay_ns: u64,
    syscall_ns: u64,
}

/// One attempt: a fresh file and fresh actor processes.
struct Attempt<'a> {
    trace: &'a Trace,
    layout: &'a Layout,
    opts: &'a Options,
    /// The measured removal speed, for page-lock touches.
    aim: Option<Aim>,
    /// This attempt's number (from 0).
    attempt: u32,
    cast: Cast,
    bases: Vec<Option<usize>>,
    missing: Vec<u32>,
    sigbus: Vec<u32>,
    padding_present: bool,
    /// A mapping reserved the padding pages while they were out of the file.
    padding_reserved: bool,
    syscall_ns: u64,
    punch: Option<(u64, u64)>,
    /// Touches aimed at the race window (mapper, page), and their reports once in.
    window_touches: Vec<(u8, u8)>,
    window_reports: Vec<(Value, u8, Report)>,
    /// The migrator's `Migrated` reports.
    migrations: Vec<Report>,
    /// The mapper of the page-lock touch, and its `Repeated` (or `WindowMissed`) report.
    page_lock_mapper: Option<u8>,
    repeated: Option<Report>,
    /// The pool before the attempt's file existed (kernel evidence on).
    pool_base: Option<Sample>,
    accounting: Option<String>,
}

impl Attempt<'_> {
    fn run(
        trace: &Trace,
        plan: &Plan,
        layout: &Layout,
        opts: &Options,
        (aim, attempt): (Option<Aim>, u32),
        expect: &Expectations,
    ) -> Result<AttemptOutcome> {
        let t0 = Instant::now();
        let pool_base = if opts.kernel_events {
            Some(pool_sample(0)?)
        } else {
            None
        };
        let cfg = &trace.meta.config;
        let cast = Cast::start(cfg.mappers, cfg.migrators, opts.private_mount)?;
        let recorder = if opts.kernel_events {
            let mut pids = vec![cast.manager.pid()];
            pids.extend(cast.mappers.iter().map(|m| m.pid()));
            Some(Recorder::start(&pids)?)
        } else {
            None
        };
        let n = trace.meta.config.mappers as usize;
        let mut a = Attempt {
            trace,
            layout,
            opts,
            aim,
            attempt,
            cast,
            bases: vec![None; n],
            missing: vec![0; n],
            sigbus: vec![0; n],
            padding_present: false,
            padding_reserved: false,
            syscall_ns: 0,
            punch: None,
            window_touches: Vec::new(),
            window_reports: Vec::new(),
            migrations: Vec::new(),
            page_lock_mapper: None,
            repeated: None,
            pool_base,
            accounting: None,
        };
        let mut mismatch = None;
        for act in &plan.acts {
            match a.act(act) {
                Ok(()) => {}
                Err(ReplayError::Mismatch(m)) => {
                    mismatch = Some(*m);
                    break;
                }
                Err(e) => return Err(e),
            }
        }
        if mismatch.is_none() && trace.meta.predicts_hang() {
            mismatch = a.punch_returned_against_hang();
        }
        let window = a.window_hit();
        let migration = a.migration_met();
        let repeated = a.repeated_touch();
        let achieved = (plan.raced.is_none() || window.is_some()) && migration.0;
        let (replay_ns, syscall_ns) = (t0.elapsed().as_nanos() as u64, a.syscall_ns);
        let recording = recorder.map(Recorder::finish).transpose()?;
        let (evidence, header) = match &recording {
            Some(r) => {
                let (mut e, h) = a.judge(&r.events, plan, expect, window.is_some())?;
                if !r.records_lock_waits() {
                    e.window_waited = None;
                    e.blocking.push(
                        "lock waits not checked: this kernel has no lock:contention_* \
                         tracepoints (Linux 5.19+)"
                            .into(),
                    );
                }
                (Some(e), h)
            }
            None => (None, String::new()),
        };
        a.cast.stop();
        let accounting = a.accounting.take();
        drop(a);
        if let Some(base) = &pool_base {
            accounting::restored(base, &pool_sample(0)?).map_err(disturbed)?;
        }
        Ok(AttemptOutcome {
            achieved,
            evidence,
            events_text: recording.map(|r| format!("{header}\n{}", r.text)),
            accounting,
            migration: migration.1,
            repeated,
            mismatch,
            window,
            replay_ns,
            syscall_ns,
        })
    }

    /// How a window touch waits for its moment: spinning on the other CPU until
    /// `opts.window_delay_us` after the punch started.
    fn window(&self) -> Window {
        Window {
            delay_us: self.opts.window_delay_us,
            timeout_ms: self.opts.timeout.as_millis() as u64,
            pace: Pace::Spin,
        }
    }

    /// How a page-lock touch waits for the removal to reach the raced page: the file must
    /// have lost the hole's pages in front of it (the padding and any trace pages) but a
    /// lead's worth ([`Aim::repeat_from`]), then it faults the page again and again, each time
    /// in a fresh mapping, until the removal has freed it ([`Pace::Repeat`]): what it must hit
    /// (a fault holding `i_mmap_rwsem` for read reaching the fault mutex between the removal's
    /// `lock_page` and its `i_mmap_lock_write`) is far shorter than a page's removal, and no
    /// single aimed fault has been seen to hit it.
    fn page_lock_window(&self) -> Window {
        let cfg = self.cfg();
        let raced = self.layout.raced.unwrap_or(cfg.hole_start);
        let (first, _) = self.layout.host_range(cfg.hole_start, cfg.hole_end);
        let removed = self.layout.host(raced) - first;
        Window {
            delay_us: 0,
            timeout_ms: self.opts.timeout.as_millis() as u64,
            pace: Pace::Repeat {
                removed: self.aim.map_or(removed, |a| a.repeat_from(removed)),
                tries: crate::aim::REPEAT_TRIES,
            },
        }
    }

    fn cfg(&self) -> &traces::Config {
        &self.trace.meta.config
    }

    fn mismatch(&self, step: usize, field: &str, predicted: String, host: String) -> ReplayError {
        Mismatch {
            step,
            action: self.trace.steps[step].action.name().into(),
            field: field.into(),
            predicted,
            host,
        }
        .into()
    }

    /// Runs one act; `Err(ReplayError::Mismatch)` when the host diverges.
    fn act(&mut self, act: &Act) -> Result<()> {
        let l = self.layout;
        match act {
            Act::Start { step, thread, call } => {
                let mapper = || thread.mapper_number().expect("a mapper's call");
                match *call {
                    Call::Prealloc => self.manager_cmd(ManagerCmd::Prealloc {
                        pages: l.host_pages(),
                        markers: l.markers(),
                    }),
                    Call::Fallocate { start, end } => {
                        let (first, count) = l.host_range(start, end);
                        self.manager_cmd(ManagerCmd::Fallocate { first, count })
                    }
                    Call::Punch { start, end } => {
                        let (first, count) = l.host_range(start, end);
                        self.manager_cmd(ManagerCmd::Punch { first, count })
                    }
                    Call::Mmap => self.mapper_cmd(
                        mapper(),
                        MapperCmd::Mmap {
                            pages: l.host_pages(),
                        },
                    ),
                    Call::Register => {
                        let sigbus = self.cfg().uffd == UffdPolicy::Sigbus;
                        self.mapper_cmd(mapper(), MapperCmd::Register { sigbus })
                    }
                    Call::Copy { page } => self.mapper_cmd(
                        mapper(),
                        MapperCmd::Copy {
                            page: l.host(page),
                            word: Value::Fill(mapper()).word(page),
                        },
                    ),
                    Call::Wake { page } => {
                        self.mapper_cmd(mapper(), MapperCmd::Wake { page: l.host(page) })
                    }
                    // The model's migrator looks the page up in mapper 0's mm.
                    Call::MovePages { page } => {
                        let base = self.bases[0].ok_or_else(|| {
                            io::Error::other("move_pages before mapper0 mapped the file")
                        })?;
                        // Armed before the punch (the plan says so), it waits for the window
                        // touch to have mapped the page.
                        let after_touch = !self.window_touches.is_empty();
                        let host = l.host(page);
                        // Fire as the removal loop gets to the page's batch: the hole pages from
                        // the page on, and two before it, left in the file (a call takes a few
                        // page removals to reach the page).
                        let c = self.cfg();
                        let (_, hole) = l.host_range(c.hole_start, c.hole_end);
                        let from_page = usize::from(c.hole_end.saturating_sub(page));
                        let fire_at =
                            (self.cast.file.pages_in_file()? + from_page + 2).saturating_sub(hole);
                        self.cast.to_migrator(&MigratorCmd::MovePages {
                            pid: self.cast.mappers[0].pid(),
                            addr: base + host * self.cast.file.page_size(),
                            page: host,
                            after_touch,
                            fire_at,
                            timeout_ms: self.opts.timeout.as_millis() as u64,
                        })?;
                        if after_touch {
                            let what = "the migrator armed for the race window";
                            self.wait(*step, what, |w, r| {
                                w == Who::Migrator && *r == Report::Armed { page: host }
                            })?;
                        }
                        Ok(())
                    }
                }?;
                Ok(())
            }
            &Act::Return {
                step,
                thread,
                call,
                ret,
            } => self.await_return(step, thread, call, ret),
            &Act::Touch {
                step,
                mapper,
                page,
                write,
                window,
                page_lock,
            } => {
                if window {
                    self.window_touches.push((mapper, page));
                }
                if page_lock {
                    self.page_lock_mapper = Some(mapper);
                }
                let word = write.then(|| Value::Written(mapper).word(page));
                let window = if page_lock {
                    Some(self.page_lock_window())
                } else {
                    window.then(|| self.window())
                };
                self.mapper_cmd(
                    mapper,
                    MapperCmd::Touch {
                        page: l.host(page),
                        write: word,
                        window,
                    },
                )?;
                if window.is_none() {
                    return Ok(());
                }
                // The punch must not start before the window touch is spinning.
                let host = l.host(page);
                let what = format!("{} armed for the race window", Thread::mapper(mapper));
                self.wait(step, &what, |w, r| {
                    w == Who::Mapper(mapper) && *r == Report::Armed { page: host }
                })?;
                Ok(())
            }
            &Act::Touched {
                step,
                mapper,
                page,
                outcome,
                hit,
            } => self.await_touched(step, mapper, page, outcome, hit),
            &Act::Missing { step, mapper, page } => {
                let host = l.host(page);
                let what = format!("a MISSING event on page {page}");
                self.wait(step, &what, |w, r| {
                    w == Who::Mapper(mapper)
                        && matches!(r, Report::Missing { page: p, .. } if *p == host)
                })?;
                Ok(())
            }
            Act::Observe {
                step,
                missing,
                sigbus,
            } => {
                let step = *step;
                let host = Host {
                    file: &self.cast.file,
                    layout: l,
                    padding_present: self.padding_present,
                    mappers: self
                        .cast
                        .mappers
                        .iter()
                        .zip(&self.bases)
                        .map(|(c, b)| (c.pid(), *b))
                        .collect(),
                    missing: self.missing.clone(),
                    sigbus: self.sigbus.clone(),
                };
                let compared = host.compare(&self.trace.steps[step], missing, sigbus);
                if let Err(e @ (ReplayError::Io(_) | ReplayError::Trace(_))) = compared {
                    return Err(e);
                }
                // The pool is checked at every quiet point, also where the host differs.
                self.check_pool(step)?;
                compared
            }
        }
    }

    /// At a quiet point: the pool's counters and `st_blocks` against the file the trace
    /// predicts (its pages, padding included, are the pool pages the replay holds).
    fn check_pool(&mut self, step: usize) -> io::Result<()> {
        let Some(base) = self.pool_base else {
            return Ok(());
        };
        let o = &self.trace.steps[step].observed;
        let pad = self.layout.pad as u64;
        let (present, reserved) = (
            u64::from(self.padding_present) * pad,
            u64::from(self.padding_reserved) * pad,
        );
        let want = accounting::Expected {
            file_pages: u64::from(o.pool.i_blocks) + present,
            taken: u64::from(o.pool.taken) + present,
            reserved: u64::from(o.pool.reserved) + reserved,
        };
        let now = pool_sample(self.cast.file.pages_in_file()? as u64)?;
        if let Some(d) = accounting::compare(&base, &now, &want).map_err(disturbed)? {
            self.accounting
                .get_or_insert_with(|| format!("step {step}: {d}"));
        }
        Ok(())
    }

    /// A trace that predicts a deadlock ends with the punch blocked for good. If the punch
    /// returns within the replay timeout, the host did not deadlock: a mismatch, so the
    /// replay never reports a hang it did not see. If it does not, the kernel is stuck as
    /// predicted and this process stays blocked with it (a guest's watchdog reports the hang).
    fn punch_returned_against_hang(&self) -> Option<Mismatch> {
        let deadline = Instant::now() + self.opts.timeout;
        let last = self.trace.steps.len() - 1;
        while self.cast.shared.load(PUNCH_RETURNED) == 0 {
            if Instant::now() > deadline {
                // The replay stays blocked from here on: this line is how a guest's watchdog
                // knows the attempt and step (the init copies it to the console).
                eprintln!(
                    "hugepunch replay: attempt {}: the punch has not returned {} ms after step \
                     {last} ({}), the trace's last: the kernel looks deadlocked, as the trace \
                     predicts",
                    self.attempt + 1,
                    self.opts.timeout.as_millis(),
                    self.trace.steps[last].action.name()
                );
                return None;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        Some(Mismatch {
            step: last,
            action: self.trace.steps[last].action.name().into(),
            field: "punch_hole".into(),
            predicted: "never returns (the kernel deadlocks)".into(),
            host: "returned".into(),
        })
    }

    /// Judges the attempt's kernel events against the trace.
    fn judge(
        &self,
        events: &[crate::evidence::Event],
        plan: &Plan,
        expect: &Expectations,
        timing_hit: bool,
    ) -> io::Result<(AttemptEvidence, String)> {
        let subject = Subject {
            ino: self.cast.file.inode()?,
            huge_page_size: self.cast.file.page_size() as u64,
            manager: self.cast.manager.pid(),
        };
        let touch = plan.raced.and_then(|_| {
            let &(m, page) = self.window_touches.first()?;
            let base = self.bases[m as usize]?;
            Some((
                Touch {
                    mapper: self.cast.mappers[m as usize].pid(),
                    base: base as u64,
                    page: self.layout.host(page) as u64,
                },
                timing_hit,
            ))
        });
        let actors: Vec<(Role, i32)> = std::iter::once((Role::Manager, subject.manager))
            .chain(
                self.cast
                    .mappers
                    .iter()
                    .enumerate()
                    .map(|(m, c)| (Role::Mapper(m as u8), c.pid())),
            )
            .collect();
        let header = subject.header(touch.as_ref().map(|(t, _)| t));
        let punched = self.punch.is_some() || self.cast.shared.load(PUNCH_STARTED) != 0;
        let evidence = judge(
            events,
            &Inputs {
                subject,
                touch,
                // An attempt that stopped before the punch has no page-cache order to judge.
                page_cache: expect.page_cache.as_ref().filter(|_| punched),
                waits: &expect.waits,
                actors: &actors,
            },
        );
        Ok((evidence, header))
    }

    fn manager_cmd(&self, c: ManagerCmd) -> io::Result<()> {
        self.cast.to_manager(&c)
    }

    fn mapper_cmd(&self, m: u8, c: MapperCmd) -> io::Result<()> {
        self.cast.to_mapper(m, &c)
    }

    /// Keeps the side effects of a report: bases, counters, padding, punch times.
    fn note(&mut self, who: Who, r: &Report) {
        match (who, r) {
            (Who::Mapper(m), Report::Mapped { base }) => {
                self.bases[m as usize] = Some(*base);
                // `hugetlb_reserve_pages` over the whole file: absent padding gets reserved.
                self.padding_reserved |= !self.padding_present;
            }
            (Who::Mapper(m), Report::Missing { .. }) => self.missing[m as usize] += 1,
            (Who::Mapper(m), Report::Touched { result: Err(_), .. }) => {
                self.sigbus[m as usize] += 1
            }
            (Who::Migrator, r @ Report::Migrated { .. }) => self.migrations.push(r.clone()),
            (Who::Mapper(m), r @ (Report::Repeated { .. } | Report::WindowMissed { .. }))
                if self.page_lock_mapper == Some(m) =>
            {
                self.repeated = Some(r.clone())
            }
            _ => {}
        }
        match r {
            Report::Returned {
                start_ns, end_ns, ..
            }
            | Report::HandlerReturned {
                start_ns, end_ns, ..
            }
            | Report::Touched {
                start_ns, end_ns, ..
            } => self.syscall_ns += end_ns - start_ns,
            _ => {}
        }
        if let (
            Who::Manager,
            Report::Returned {
                call, ret: Ok(()), ..
            },
        ) = (who, r)
        {
            // The padding lives as an untouched hole page: allocated by each fallocate
            // (consuming its reservations), freed with its reservations by the punch.
            self.padding_present = *call == traces::Call::Fallocate;
            self.padding_reserved = false;
            if *call == traces::Call::PunchHole {
                self.punch = Some((
                    self.cast.shared.load(PUNCH_STARTED),
                    self.cast.shared.load(PUNCH_RETURNED),
                ));
            }
        }
    }

    /// Waits for the first report that `want` accepts; others are kept for later.
    fn wait(
        &mut self,
        step: usize,
        what: &str,
        want: impl Fn(Who, &Report) -> bool,
    ) -> Result<Report> {
        self.wait_for(step, what, self.opts.timeout, want)
    }

    /// Waits as [`Attempt::wait`] does, for at most `timeout`. A report on the way that says
    /// an actor failed, or that the window touch missed the punch, ends the wait.
    fn wait_for(
        &mut self,
        step: usize,
        what: &str,
        timeout: Duration,
        want: impl Fn(Who, &Report) -> bool,
    ) -> Result<Report> {
        let deadline = Instant::now() + timeout;
        let mut mailbox = std::mem::take(&mut self.cast.mailbox);
        let got = mailbox.wait_for(deadline, |w, r| self.seen(step, w, r), want);
        let pending = mailbox.pending();
        self.cast.mailbox = mailbox;
        match got? {
            Some(r) => Ok(r),
            None => {
                let host = if pending.is_empty() {
                    format!("nothing within {timeout:?}")
                } else {
                    format!(
                        "nothing within {timeout:?}; meanwhile {}",
                        pending.join("; ")
                    )
                };
                Err(self.mismatch(step, "event", what.to_string(), host))
            }
        }
    }

    /// A report as it arrives: its side effects, and the ones that end any wait.
    fn seen(&mut self, step: usize, w: Who, r: &Report) -> Result<()> {
        self.note(w, r);
        match r {
            Report::Failed { what } => {
                Err(io::Error::other(format!("{w:?} failed: {what}")).into())
            }
            Report::WindowMissed {
                late_us, stall_us, ..
            } => {
                let host = format!(
                    "the window touch ran {late_us} us after the punch started, once it had \
                     returned (its spin was kept from running for {stall_us} us at most)"
                );
                Err(self.mismatch(step, RACE_WINDOW, "a touch inside the punch".into(), host))
            }
            _ => Ok(()),
        }
    }

    fn await_return(
        &mut self,
        step: usize,
        thread: Thread,
        call: traces::Call,
        ret: std::result::Result<(), Errno>,
    ) -> Result<()> {
        // Allocating (and zeroing) the whole file, padding included, takes a while.
        let slow = thread == Thread::MANAGER && call == traces::Call::Fallocate;
        let who = match thread.process {
            traces::Role::Mapper(m) => Who::Mapper(m),
            traces::Role::Migrator => Who::Migrator,
            _ => Who::Manager,
        };
        let handler = thread.ctx == traces::Ctx::Handler;
        let what = format!("{call} returning {}", traces::ret_name(ret));
        let timeout = if slow {
            self.opts.timeout + Duration::from_millis(10 * self.layout.host_pages() as u64)
        } else {
            self.opts.timeout
        };
        let r = self.wait_for(step, &what, timeout, |w, r| {
            w == who
                && match r {
                    Report::Returned { call: c, .. } => !handler && *c == call,
                    Report::HandlerReturned { call: c, .. } => handler && *c == call,
                    _ => false,
                }
        })?;
        let host_ret = match r {
            Report::Returned { ret, .. } | Report::HandlerReturned { ret, .. } => ret,
            _ => unreachable!("matched a return"),
        };
        let predicted = ret.map_err(errno_value);
        if host_ret == predicted {
            return Ok(());
        }
        let show = |r: std::result::Result<(), i32>| {
            r.map_or_else(|e| errno_name(e).to_string(), |()| "ok".into())
        };
        Err(self.mismatch(step, "ret", show(predicted), show(host_ret)))
    }

    fn await_touched(
        &mut self,
        step: usize,
        mapper: u8,
        page: u8,
        outcome: Outcome,
        hit: Option<bool>,
    ) -> Result<()> {
        let host_page = self.layout.host(page);
        let what = format!("{}'s touch of page {page} to end", Thread::mapper(mapper));
        let r = self.wait(step, &what, |w, r| {
            w == Who::Mapper(mapper)
                && matches!(r, Report::Touched { page: p, .. } if *p == host_page)
        })?;
        let Report::Touched {
            result, faulted, ..
        } = &r
        else {
            unreachable!("matched a touch")
        };
        let predicted = match outcome {
            Outcome::Value(v) => Ok(v.word(page)),
            Outcome::Sigbus => Err("SIGBUS".to_string()),
        };
        if let Outcome::Value(v) = outcome {
            if self.window_touches.contains(&(mapper, page)) {
                self.window_reports.push((v, page, r.clone()));
            }
        }
        let show = |x: &Result<u64, String>| match x {
            Ok(w) => format!("{w:#018x} ({})", describe(*w, page)),
            Err(e) => e.clone(),
        };
        if *result != predicted {
            return Err(self.mismatch(step, "touch result", show(&predicted), show(result)));
        }
        if let Some(hit) = hit {
            if hit == *faulted && result.is_ok() {
                let say = |h: bool| if h { "hit (no fault)" } else { "page fault" }.to_string();
                return Err(self.mismatch(step, "mmu", say(hit), say(!*faulted)));
            }
        }
        Ok(())
    }

    /// What the repeated page-lock touch did ([`Pace::Repeat`]), once it is over (it ends
    /// soon after the punch returns); `None` without one.
    fn repeated_touch(&mut self) -> Option<String> {
        if page_lock_touches(self.trace).is_empty() {
            return None;
        }
        if self.repeated.is_none() {
            let last = self.trace.steps.len() - 1;
            let _ = self.wait(last, "the page-lock touch's report", |_, r| {
                matches!(r, Report::Repeated { .. } | Report::WindowMissed { .. })
            });
        }
        Some(match &self.repeated {
            Some(Report::Repeated {
                faults,
                ended,
                start_ns,
                end_ns,
                ..
            }) => format!(
                "page-lock touch: {faults} fault(s) of the raced page in {} us, each in a fresh \
                 mapping, ended by {ended}",
                (end_ns - start_ns) / 1000
            ),
            Some(Report::WindowMissed {
                late_us, stall_us, ..
            }) => format!(
                "page-lock touch: no fault: the punch had returned {late_us} us after it \
                 started, before the touch got to run (its spin was kept from running for \
                 {stall_us} us at most)"
            ),
            _ => "page-lock touch: no report (it is still in a fault, or never armed)".into(),
        })
    }

    /// Whether the migration met the punch's removal of its page, as the trace's does (the
    /// model's migration runs while the removal holds the page), and what the calls did. A
    /// `move_pages` call that did not migrate the page inside the punch met the removal: it held
    /// a reference (`folio_ref_freeze` fails, `-EAGAIN` on every pass) or the page lock (`-EBUSY`
    /// once removed). Without a migrator: met, nothing to say.
    fn migration_met(&self) -> (bool, Option<String>) {
        if self.cfg().migrators == 0 {
            return (true, None);
        }
        let Some(Report::Migrated {
            before,
            calls,
            not_migrated,
            status,
            after,
            in_punch,
            ..
        }) = self.migrations.last()
        else {
            return (
                false,
                Some("move_pages: no report from the migrator".into()),
            );
        };
        let met = *not_migrated > 0 && *in_punch;
        let last = match (not_migrated, status) {
            (0, Some(s)) if s.starts_with("node") => format!("migrated it ({s})"),
            (0, Some(s)) => format!("found it gone ({s})"),
            (0, None) => "found it unmapped".to_string(),
            (n, _) => format!("left {n} page not migrated"),
        };
        let when = if *in_punch {
            "inside the punch"
        } else {
            "not inside the punch"
        };
        let verdict = if met {
            "met the removal of the page"
        } else {
            "missed the removal of the page"
        };
        (
            met,
            Some(format!(
                "move_pages: page on {before} before; {calls} call(s), the last {last} {when}; \
                 page on {after} after: {verdict}"
            )),
        )
    }

    /// The window touch landed in the race window: it faulted, read the predicted page, started
    /// after the punch had been running for the delay and finished before the punch returned.
    fn window_hit(&self) -> Option<WindowHit> {
        let (start, end) = self.punch.or_else(|| {
            let (s, e) = (
                self.cast.shared.load(PUNCH_STARTED),
                self.cast.shared.load(PUNCH_RETURNED),
            );
            (s != 0 && e != 0).then_some((s, e))
        })?;
        let earliest = start + self.window().delay_us * 1000;
        self.window_reports.iter().find_map(|(v, page, r)| {
            let Report::Touched {
                result: Ok(w),
                faulted: true,
                start_ns,
                end_ns,
                ..
            } = r
            else {
                return None;
            };
            let in_window = *w == v.word(*page) && *start_ns >= earliest && *end_ns <= end;
            in_window.then(|| WindowHit {
                punch_us: (end - start) as f64 / 1e3,
                touch_start_us: (start_ns - start) as f64 / 1e3,
                touch_end_us: (end_ns - start) as f64 / 1e3,
            })
        })
    }
}
