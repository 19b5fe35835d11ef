//! Reading a trace into typed steps, before anything touches a host: every name parsed, every
//! index and page checked against the configuration, or a [`TraceError`] naming the field.

use crate::error::TraceError;
use crate::schema::{Config, Meta, Observed, RaceWindow, Step, Trace, Wait};
use crate::wire::{parse_step, WireStep};
use crate::{Action, KernelStep, Variant, FORMAT_VERSION};
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// Reads and parses a trace file.
pub fn load(path: impl AsRef<Path>) -> Result<Trace, TraceError> {
    let path = path.as_ref();
    let text = std::fs::read_to_string(path).map_err(|e| TraceError {
        file: path.to_path_buf(),
        step: None,
        field: "(file)".into(),
        message: e.to_string(),
    })?;
    parse(path, &text)
}

mod file {
    use super::{Meta, WireStep};
    use serde::Deserialize;

    /// The file as JSON spells it (named `Trace` for serde's messages).
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Trace {
        pub meta: Meta,
        pub steps: Vec<WireStep>,
    }
}
use file::Trace as WireTrace;

/// Just the format version, read first so an old file gets a clear error, not the first
/// field it lacks.
#[derive(Deserialize)]
struct Probe {
    meta: ProbeMeta,
}

#[derive(Deserialize)]
struct ProbeMeta {
    format: u32,
}

/// Parses trace text; `file` names it in errors.
pub fn parse(file: impl AsRef<Path>, text: &str) -> Result<Trace, TraceError> {
    let file = file.as_ref().to_path_buf();
    let p = Parser { file };
    if let Ok(probe) = serde_json::from_str::<Probe>(text) {
        let f = probe.meta.format;
        if f != FORMAT_VERSION {
            let why = if f < FORMAT_VERSION {
                "; regenerate it with `hugepunch traces` (format 2 added meta.race_window, 3 \
                 meta.shown_by and observed.pool, 4 meta.waits and meta.window_wait_shown_by)"
            } else {
                ""
            };
            return Err(p.err(
                None,
                "meta.format",
                format!("format version {f} is not read by this build, which reads {FORMAT_VERSION}{why}"),
            ));
        }
    }
    let de = &mut serde_json::Deserializer::from_str(text);
    let wire: WireTrace = serde_path_to_error::deserialize(de).map_err(|e| {
        let field = e.path().to_string();
        TraceError {
            step: step_of_path(&field),
            file: p.file.clone(),
            field,
            message: e.inner().to_string(),
        }
    })?;
    p.trace(wire)
}

/// `steps[7].args.page` -> 7.
fn step_of_path(path: &str) -> Option<usize> {
    let rest = path.strip_prefix("steps[")?;
    rest[..rest.find(']')?].parse().ok()
}

struct Parser {
    file: PathBuf,
}

impl Parser {
    fn err(
        &self,
        step: Option<usize>,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> TraceError {
        TraceError {
            file: self.file.clone(),
            step,
            field: field.into(),
            message: message.into(),
        }
    }

    fn trace(&self, w: WireTrace) -> Result<Trace, TraceError> {
        let m = w.meta;
        if spec::properties::by_id(&m.property).is_none() {
            return Err(self.err(
                None,
                "meta.property",
                format!("unknown property '{}'", m.property),
            ));
        }
        self.config(&m.config)?;
        let ordered = |vs: &[Variant]| {
            vs.windows(2).all(|w| {
                Variant::ALL.iter().position(|v| *v == w[0])
                    < Variant::ALL.iter().position(|v| *v == w[1])
            })
        };
        let lists = [
            ("meta.shown_by", Some(&m.shown_by)),
            ("meta.window_wait_shown_by", m.window_wait_shown_by.as_ref()),
        ];
        for (field, vs) in lists {
            if vs.is_some_and(|vs| !ordered(vs)) {
                return Err(self.err(None, field, "variants repeated or not in the model's order"));
            }
        }
        if w.steps.is_empty() {
            return Err(self.err(None, "steps", "a trace has at least one step"));
        }
        if m.discovered_at == 0 || m.discovered_at > w.steps.len() {
            return Err(self.err(
                None,
                "meta.discovered_at",
                format!(
                    "{} is not a step count of 1..={}",
                    m.discovered_at,
                    w.steps.len()
                ),
            ));
        }
        let steps = w
            .steps
            .iter()
            .enumerate()
            .map(|(i, s)| self.step(i, s, &m.config))
            .collect::<Result<Vec<_>, _>>()?;
        if let Some(rw) = &m.race_window {
            self.race_window(rw, &steps)?;
        }
        for (k, w) in m.waits.iter().enumerate() {
            self.wait(k, w, &steps)?;
        }
        Ok(Trace { meta: m, steps })
    }

    fn config(&self, c: &Config) -> Result<(), TraceError> {
        let bad =
            |field: &str, msg: String| Err(self.err(None, format!("meta.config.{field}"), msg));
        if !(1..=8).contains(&c.pages) {
            return bad("pages", format!("{} is not 1..=8", c.pages));
        }
        if !(c.hole_start < c.hole_end && c.hole_end <= c.pages) {
            return bad(
                "hole_end",
                format!(
                    "hole [{}, {}) is not inside {} pages",
                    c.hole_start, c.hole_end, c.pages
                ),
            );
        }
        if !(1..=3).contains(&c.mappers) {
            return bad("mappers", format!("{} is not 1..=3", c.mappers));
        }
        if c.fault_mutex_slots == 0 {
            return bad("fault_mutex_slots", "must be at least 1".into());
        }
        Ok(())
    }

    fn step(&self, i: usize, w: &WireStep, c: &Config) -> Result<Step, TraceError> {
        let f = |field: &str| format!("steps[{i}].{field}");
        let bad = |field: &str, msg: String| self.err(Some(i), f(field), msg);
        if w.index != i {
            return Err(bad(
                "index",
                format!("step {} out of order (expected {i})", w.index),
            ));
        }
        let (thread, action) = parse_step(w).map_err(|(field, msg)| bad(&field, msg))?;
        if thread.mapper_number().is_some_and(|m| m >= c.mappers) {
            return Err(bad(
                "thread",
                format!("'{thread}' but the trace has {} mappers", c.mappers),
            ));
        }
        let step = Step {
            index: i,
            thread,
            action,
            observed: w.observed.clone(),
        };
        if step.actor().to_string() != w.actor {
            return Err(bad(
                "actor",
                format!(
                    "'{}' for a {:?} step of {thread} (expected '{}')",
                    w.actor,
                    step.level(),
                    step.actor()
                ),
            ));
        }
        let pages = match action {
            Action::Call(spec::msg::Syscall::Fallocate { start, end })
            | Action::Call(spec::msg::Syscall::PunchHole { start, end }) => {
                vec![start, end.saturating_sub(1)]
            }
            a => a.page().into_iter().collect(),
        };
        if pages.into_iter().any(|p| p >= c.pages) {
            return Err(bad(
                "args",
                format!("a page beyond the file's {} pages", c.pages),
            ));
        }
        self.observed(i, &step.observed, c)?;
        Ok(step)
    }

    fn observed(&self, i: usize, o: &Observed, c: &Config) -> Result<(), TraceError> {
        let bad = |field: &str, msg: String| {
            Err(self.err(Some(i), format!("steps[{i}].observed.{field}"), msg))
        };
        if o.file.len() != c.pages as usize {
            return bad(
                "file",
                format!("{} pages, the file has {}", o.file.len(), c.pages),
            );
        }
        let per_mapper = [
            ("mapped", o.mapped.len()),
            ("missing", o.missing.len()),
            ("sigbus", o.sigbus.len()),
        ];
        for (name, n) in per_mapper {
            if n != c.mappers as usize {
                return bad(name, format!("{n} entries for {} mappers", c.mappers));
            }
        }
        if o.mapped.iter().flatten().any(|&p| p >= c.pages) {
            return bad(
                "mapped",
                format!("a page beyond the file's {} pages", c.pages),
            );
        }
        Ok(())
    }

    /// The window's steps are the steps it says they are.
    /// A wait names steps of the trace, in order, and its step is the waiting thread's.
    fn wait(&self, k: usize, w: &Wait, steps: &[Step]) -> Result<(), TraceError> {
        let bad =
            |field: &str, msg: String| Err(self.err(None, format!("meta.waits[{k}].{field}"), msg));
        if w.since >= steps.len() {
            return bad(
                "since",
                format!("step {} beyond the trace's {}", w.since, steps.len()),
            );
        }
        if let Some(i) = w.step {
            let taken = steps.get(i).filter(|s| i > w.since && s.thread == w.thread);
            let acquires = taken.and_then(|s| s.action.kernel_step()?.acquires());
            if acquires != Some(w.lock) {
                return bad(
                    "step",
                    format!(
                        "step {i} is not {}'s acquisition of a {:?} after step {}",
                        w.thread, w.lock, w.since
                    ),
                );
            }
        }
        Ok(())
    }

    fn race_window(&self, w: &RaceWindow, steps: &[Step]) -> Result<(), TraceError> {
        let bad = |field: &str, msg: String| {
            Err(self.err(None, format!("meta.race_window.{field}"), msg))
        };
        let kernel_step = |i: usize| steps.get(i).and_then(|s| s.action.kernel_step());
        if !matches!(
            steps.get(w.punch).map(|s| s.action),
            Some(Action::Call(spec::msg::Syscall::PunchHole { .. }))
        ) {
            return bad(
                "punch",
                format!("step {} is not a punch_hole call", w.punch),
            );
        }
        if w.open <= w.punch || kernel_step(w.open) != Some(KernelStep::HugetlbVmdeleteList) {
            return bad(
                "open",
                format!("step {} is not the punch's hugetlb_vmdelete_list", w.open),
            );
        }
        if w.close.is_some_and(|c| c <= w.open || c >= steps.len()) {
            return bad(
                "close",
                format!("{:?} is not a step after the opening", w.close),
            );
        }
        for (k, rf) in w.faults.iter().enumerate() {
            let fault_ok = kernel_step(rf.step) == Some(KernelStep::HugetlbNoPage)
                && steps[rf.step].thread == rf.thread
                && w.contains(rf.step)
                && rf.step > w.open;
            if !fault_ok {
                return bad(
                    &format!("faults[{k}].step"),
                    format!(
                        "step {} is not a hugetlb_no_page of {} inside the window",
                        rf.step, rf.thread
                    ),
                );
            }
            let touch_ok = matches!(
                steps.get(rf.touch).map(|s| (s.thread, s.action)),
                Some((t, Action::Touch { page, .. })) if t == rf.thread && page == rf.page
            ) && rf.touch < rf.step;
            if !touch_ok {
                return bad(
                    &format!("faults[{k}].touch"),
                    format!(
                        "step {} is not {}'s touch of page {}",
                        rf.touch, rf.thread, rf.page
                    ),
                );
            }
        }
        Ok(())
    }
}
