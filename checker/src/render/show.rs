//! How the renderings spell a trace's values: page contents, the file, the mapped pages,
//! a step's arguments, the configuration. Plain ASCII, so every output can use them.

use traces::{Args, Config, Observed, Value};

/// A page's content: `zero`, `marker`, `fill(m)` or `written(m)`.
pub fn value(v: Value) -> String {
    match v {
        Value::Zero => "zero".into(),
        Value::Marker => "marker".into(),
        Value::Fill(m) => format!("fill({m})"),
        Value::Written(m) => format!("written({m})"),
    }
}

/// A file page: its content, or `-` for a hole.
pub fn file_page(p: Option<Value>) -> String {
    p.map_or_else(|| "-".into(), value)
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

/// A step's arguments, compactly, in the schema's order: `[0, 2)` for a range, `page 0`,
/// `read`/`write`, `hit`/`miss`, `fallocate -> ok` for a return, `=marker` for what a touch
/// read or wrote.
pub fn args(a: &Args) -> String {
    let mut out = Vec::new();
    match (a.start, a.end) {
        (Some(s), Some(e)) => out.push(format!("[{s}, {e})")),
        (Some(s), None) => out.push(format!("start {s}")),
        (None, Some(e)) => out.push(format!("end {e}")),
        (None, None) => {}
    }
    if let Some(p) = a.page {
        out.push(format!("page {p}"));
    }
    if a.write.is_some() {
        out.push(access(a.write).to_string());
    }
    if let Some(h) = a.hit {
        out.push(if h { "hit" } else { "miss" }.to_string());
    }
    match (&a.call, &a.ret) {
        (Some(c), Some(r)) => out.push(format!("{c} -> {r}")),
        (Some(c), None) => out.push(c.clone()),
        (None, Some(r)) => out.push(format!("-> {r}")),
        (None, None) => {}
    }
    if let Some(v) = a.value {
        out.push(format!("={}", value(v)));
    }
    out.join(" ")
}

/// Whether `page` is in the configuration's hole.
pub fn in_hole(c: &Config, page: u8) -> bool {
    c.hole_start <= page && page < c.hole_end
}

/// `page 0 (hole)` or `page 1`.
pub fn page(c: &Config, page: u8) -> String {
    if in_hole(c, page) {
        format!("page {page} (hole)")
    } else {
        format!("page {page}")
    }
}

/// `read` or `write`.
pub fn access(write: Option<bool>) -> &'static str {
    if write == Some(true) {
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
        c.touch_area.replace('_', " "),
        if c.writes {
            "reads and writes"
        } else {
            "reads"
        },
        c.uffd,
        plural(c.fault_mutex_slots, "fault mutex slot"),
        if c.hole_reuse { ", hole reuse" } else { "" },
    )
}

/// What changed between two observations, one phrase each: file pages added, removed or
/// rewritten, pages mapped or unmapped. Events and signals are drawn as arrows instead.
pub fn changes(before: &Observed, after: &Observed) -> Vec<String> {
    let mut out = Vec::new();
    for (i, (b, a)) in before.file.iter().zip(&after.file).enumerate() {
        match (b, a) {
            (None, Some(v)) => out.push(format!("file page {i} allocated ({})", value(*v))),
            (Some(_), None) => out.push(format!("file page {i} removed")),
            (Some(x), Some(y)) if x != y => {
                out.push(format!("file page {i}: {} -> {}", value(*x), value(*y)))
            }
            _ => {}
        }
    }
    for (m, (b, a)) in before.mapped.iter().zip(&after.mapped).enumerate() {
        for p in a.iter().filter(|p| !b.contains(p)) {
            out.push(format!("mapper{m} maps page {p}"));
        }
        for p in b.iter().filter(|p| !a.contains(p)) {
            out.push(format!("mapper{m} unmaps page {p}"));
        }
    }
    out
}
