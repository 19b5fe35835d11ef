//! How the renderings spell a trace's values: the file, the mapped pages, a step's
//! arguments, the configuration. Plain ASCII, so every output can use them.

use traces::{Action, Config, Observed, Shown, Syscall, Value};

/// A file page: its content, or `-` for a hole.
pub fn file_page(p: Option<Value>) -> String {
    p.map_or_else(|| "-".into(), |v| Shown(v).to_string())
}

/// The whole file: `[marker, -]`.
pub fn file(o: &Observed) -> String {
    let pages: Vec<String> = o.file.iter().map(|&p| file_page(p)).collect();
    format!("[{}]", pages.join(", "))
}

/// Each mapper's mapped pages: `{0} {}`.
pub fn mapped(o: &Observed) -> String {
    o.mapped
        .iter()
        .map(|pages| {
            let p: Vec<String> = pages.iter().map(u8::to_string).collect();
            format!("{{{}}}", p.join(","))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Per-mapper counters: `1 0`.
pub fn counts(c: &[u32]) -> String {
    c.iter().map(u32::to_string).collect::<Vec<_>>().join(" ")
}

/// A step's arguments, compactly: `[0, 2)` for a range, `page 0`, `read`/`write`,
/// `hit`/`miss`, `fallocate -> ok` for a return, `=marker` for what a touch read or wrote.
pub fn args(a: &Action) -> String {
    let rw = |w: bool| access(w).to_string();
    let out: Vec<String> = match *a {
        Action::Start => vec![],
        Action::Call(Syscall::Fallocate { start, end } | Syscall::PunchHole { start, end }) => {
            vec![format!("[{start}, {end})")]
        }
        Action::Call(
            Syscall::UffdioCopy { page }
            | Syscall::UffdioWake { page }
            | Syscall::MovePages { page },
        ) => vec![format!("page {page}")],
        Action::Call(Syscall::Mmap | Syscall::UffdioRegister) => vec![],
        Action::Return { call, ret } => vec![format!("{call} -> {}", traces::ret_name(ret))],
        Action::Kernel { page, .. } => page.map(|p| format!("page {p}")).into_iter().collect(),
        Action::Touch { page, write } | Action::UffdMissing { page, write } => {
            vec![format!("page {page}"), rw(write)]
        }
        Action::Mmu { page, write, hit } => vec![
            format!("page {page}"),
            rw(write),
            if hit { "hit" } else { "miss" }.into(),
        ],
        Action::Touched { page, write, value } => {
            vec![
                format!("page {page}"),
                rw(write),
                format!("={}", Shown(value)),
            ]
        }
        Action::Sigbus { page } => vec![format!("page {page}")],
    };
    out.join(" ")
}

/// `page 0 (hole)` or `page 1`.
pub fn page(c: &Config, page: u8) -> String {
    if c.in_hole(page) {
        format!("page {page} (hole)")
    } else {
        format!("page {page}")
    }
}

/// `read` or `write`.
pub fn access(write: bool) -> &'static str {
    if write {
        "write"
    } else {
        "read"
    }
}

/// The configuration in one line.
pub fn config(c: &Config) -> String {
    let plural = |n: u8, what: &str| {
        if n == 1 {
            format!("{n} {what}")
        } else {
            format!("{n} {what}s")
        }
    };
    format!(
        "{}, hole [{}, {}), {} x {} (touching {}, {}), uffd {}, {}{}",
        plural(c.pages, "page"),
        c.hole_start,
        c.hole_end,
        plural(c.mappers, "mapper"),
        plural(c.touches, "touch"),
        traces::name_of(&c.touch_area).replace('_', " "),
        if c.writes {
            "reads and writes"
        } else {
            "reads"
        },
        traces::name_of(&c.uffd),
        plural(c.fault_mutex_slots, "fault mutex slot"),
        if c.hole_reuse { ", hole reuse" } else { "" },
    )
}

/// A wait of the trace's interleaving (`meta.waits`), one line.
pub fn wait(w: &traces::Wait) -> String {
    let lock = match w.lock {
        traces::Acquire::Mutex => "a mutex",
        traces::Acquire::RwsemRead => "an rwsem (read)",
        traces::Acquire::RwsemWrite => "an rwsem (write)",
        traces::Acquire::PageLock => "a page lock",
    };
    let by = w
        .held_by
        .map_or(String::new(), |h| format!(", let go by {h}"));
    match w.step {
        Some(i) => format!(
            "{} waits on {lock} from step {} to step {i}{by}",
            w.thread, w.since
        ),
        None => format!(
            "{} waits on {lock} from step {} for good{}",
            w.thread,
            w.since,
            if w.certain {
                " (certain: the trace hangs)"
            } else {
                ""
            }
        ),
    }
}
