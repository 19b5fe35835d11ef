//! The text rendering: a compact table, one step a row, for a terminal.
//!
//! Columns: step, thread (`kernel:<thread>` for kernel steps), level, action, arguments, and
//! the observed state after the step (file pages, each mapper's mapped pages, MISSING events
//! and SIGBUS signals so far); a `*` marks what the step changed. A `|` gutter marks the race
//! window's steps, with a line where it opens and closes, and the raced fault is pointed at.

use super::diagram::Diagram;
use super::show;
use super::summary::Summary;
use super::window::{one_line, Phrases};
use super::Origin;
use std::fmt::Write as _;
use traces::Level;

pub fn render(d: &Diagram, origin: &Origin) -> String {
    let t = d.trace;
    let m = &t.meta;
    let mut out = String::new();
    let mut line = |s: &str| {
        out.push_str(s.trim_end());
        out.push('\n');
    };
    line(&format!("trace    {}", origin.trace));
    line(&format!(
        "variant  {}   property {}   {}   {} steps",
        m.variant,
        m.property,
        m.kind.name(),
        t.steps.len()
    ));
    line(&format!("         {}", m.sentence));
    line(&format!("config   {}", show::config(&m.config)));
    if let Some(idle) = d.idle_note() {
        line(&format!("         {idle}"));
    }
    line(&format!("story    {}", m.description));
    line("");

    let header = [
        "step", "thread", "level", "action", "args", "file", "mapped", "missing", "sigbus",
    ];
    let mut cells: Vec<[String; 9]> = Vec::new();
    for (i, s) in t.steps.iter().enumerate() {
        let o = &s.observed;
        let prev = i.checked_sub(1).map(|p| &t.steps[p].observed);
        let mark = |text: String, changed: bool| {
            if changed {
                format!("{text}*")
            } else {
                text
            }
        };
        let thread = if s.level() == Level::Kernel {
            format!("kernel:{}", s.thread)
        } else {
            s.thread.to_string()
        };
        cells.push([
            s.index.to_string(),
            thread,
            format!("{:?}", s.level()).to_lowercase(),
            s.action.name().to_string(),
            show::args(&s.action),
            mark(show::file(o), prev.is_some_and(|p| p.file != o.file)),
            mark(show::mapped(o), prev.is_some_and(|p| p.mapped != o.mapped)),
            mark(
                show::counts(&o.missing),
                prev.is_some_and(|p| p.missing != o.missing),
            ),
            mark(
                show::counts(&o.sigbus),
                prev.is_some_and(|p| p.sigbus != o.sigbus),
            ),
        ]);
    }
    let mut widths = header.map(str::len);
    for row in &cells {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.len());
        }
    }
    let table_row = |gutter: &str, row: &[String]| {
        let mut s = String::from(gutter);
        for (k, (c, w)) in row.iter().zip(widths).enumerate() {
            if k == 0 {
                let _ = write!(s, "{c:>w$}");
            } else {
                let _ = write!(s, "  {c:<w$}");
            }
        }
        s
    };
    line(&table_row("    ", &header.map(String::from)));
    let c = &m.config;
    let sum = Summary::new(t);
    for (i, row) in cells.iter().enumerate() {
        let w = d.window.as_ref();
        if let Some(w) = w.filter(|w| w.open == i) {
            line(&format!("  +- {}", one_line(&w.opens(c))));
        }
        let inside = w.is_some_and(|w| w.contains(i));
        let mut text = table_row(if inside { "  | " } else { "    " }, row);
        if let Some(race) = w.filter(|_| d.rows[i].raced).and_then(|w| w.race()) {
            let _ = write!(text, "  <== {}", one_line(&race));
        }
        line(&text);
        if let Some(w) = w.filter(|w| w.last(t.steps.len()) == i) {
            line(&format!("  +- {}", one_line(&w.closes())));
        }
        if sum.discovered == i {
            line(&format!("  == {}", one_line(&sum.discovery)));
        }
    }
    line("");
    for (k, l) in sum.lines().into_iter().enumerate() {
        line(&format!(
            "{}{l}",
            if k == 0 { "end      " } else { "         " }
        ));
    }
    if let Some(w) = &d.window {
        line(&format!("         {}", w.summary(t.steps.len())));
    }
    for (k, w) in m.waits.iter().enumerate() {
        line(&format!(
            "{}{}",
            if k == 0 { "waits    " } else { "         " },
            show::wait(w)
        ));
    }
    if let Some(vs) = &m.window_wait_shown_by {
        let names: Vec<&str> = vs.iter().map(|v| v.name()).collect();
        line(&format!(
            "         the window fault may wait on an rwsem (read) in: {}",
            if names.is_empty() {
                "no variant".to_string()
            } else {
                names.join(", ")
            }
        ));
    }
    line("");
    line("(* the step changed it; | inside the race window; file: - is a hole; mapped, missing, sigbus: per mapper)");
    out
}
