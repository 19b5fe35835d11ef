//! Reading and validating a trace, before anything touches a host.

use crate::error::TraceError;
use crate::schema::{Config, Step, Trace};
use crate::vocab::{self, Arg};
use crate::FORMAT_VERSION;
use std::path::{Path, PathBuf};

/// Reads and validates a trace file.
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

/// Parses and validates trace text; `file` names it in errors.
pub fn parse(file: impl AsRef<Path>, text: &str) -> Result<Trace, TraceError> {
    let file = file.as_ref().to_path_buf();
    let de = &mut serde_json::Deserializer::from_str(text);
    let trace: Trace = serde_path_to_error::deserialize(de).map_err(|e| {
        let field = e.path().to_string();
        TraceError {
            step: step_of_path(&field),
            file: file.clone(),
            field,
            message: e.inner().to_string(),
        }
    })?;
    Validator { file }.trace(&trace)?;
    Ok(trace)
}

/// `steps[7].args.page` -> 7.
fn step_of_path(path: &str) -> Option<usize> {
    let rest = path.strip_prefix("steps[")?;
    rest[..rest.find(']')?].parse().ok()
}

struct Validator {
    file: PathBuf,
}

impl Validator {
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

    fn trace(&self, t: &Trace) -> Result<(), TraceError> {
        let m = &t.meta;
        if m.format != FORMAT_VERSION {
            return Err(self.err(
                None,
                "meta.format",
                format!(
                    "unknown format version {} (this build reads {FORMAT_VERSION})",
                    m.format
                ),
            ));
        }
        if !vocab::VARIANTS.contains(&m.variant.as_str()) {
            return Err(self.err(
                None,
                "meta.variant",
                format!("unknown variant '{}'", m.variant),
            ));
        }
        if !vocab::PROPERTIES.contains(&m.property.as_str()) {
            return Err(self.err(
                None,
                "meta.property",
                format!("unknown property '{}'", m.property),
            ));
        }
        self.config(&m.config)?;
        if t.steps.is_empty() {
            return Err(self.err(None, "steps", "a trace has at least one step"));
        }
        if m.discovered_at == 0 || m.discovered_at > t.steps.len() {
            return Err(self.err(
                None,
                "meta.discovered_at",
                format!(
                    "{} is not a step count of 1..={}",
                    m.discovered_at,
                    t.steps.len()
                ),
            ));
        }
        for (i, s) in t.steps.iter().enumerate() {
            self.step(i, s, &m.config)?;
        }
        Ok(())
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
        if !["outside_hole", "anywhere"].contains(&c.touch_area.as_str()) {
            return bad(
                "touch_area",
                format!("unknown touch area '{}'", c.touch_area),
            );
        }
        if !["none", "sigbus", "copy"].contains(&c.uffd.as_str()) {
            return bad("uffd", format!("unknown uffd policy '{}'", c.uffd));
        }
        if c.fault_mutex_slots == 0 {
            return bad("fault_mutex_slots", "must be at least 1".into());
        }
        Ok(())
    }

    fn step(&self, i: usize, s: &Step, c: &Config) -> Result<(), TraceError> {
        let f = |field: &str| format!("steps[{i}].{field}");
        if s.index != i {
            return Err(self.err(
                Some(i),
                f("index"),
                format!("step {} out of order (expected {i})", s.index),
            ));
        }
        let is_mapper = |name: &str| {
            name.strip_prefix("mapper")
                .and_then(|n| n.parse::<u8>().ok())
                .is_some_and(|n| n < c.mappers)
        };
        if !(s.actor == "manager" || s.actor == "kernel" || is_mapper(&s.actor)) {
            return Err(self.err(Some(i), f("actor"), format!("unknown actor '{}'", s.actor)));
        }
        let thread_ok = s.thread == "manager"
            || is_mapper(&s.thread)
            || s.thread.strip_suffix(".handler").is_some_and(is_mapper);
        if !thread_ok {
            return Err(self.err(
                Some(i),
                f("thread"),
                format!("unknown thread '{}'", s.thread),
            ));
        }
        let Some((level, required, optional)) = vocab::action(&s.action) else {
            return Err(self.err(
                Some(i),
                f("action"),
                format!("unknown action '{}'", s.action),
            ));
        };
        if s.level != level {
            return Err(self.err(
                Some(i),
                f("level"),
                format!(
                    "action '{}' is at level {level:?}, not {:?}",
                    s.action, s.level
                ),
            ));
        }
        for a in Arg::ALL {
            let present = a.present(&s.args);
            if required.contains(&a) && !present {
                return Err(self.err(
                    Some(i),
                    f(&format!("args.{}", a.name())),
                    format!("'{}' needs it", s.action),
                ));
            }
            if present && !required.contains(&a) && !optional.contains(&a) {
                return Err(self.err(
                    Some(i),
                    f(&format!("args.{}", a.name())),
                    format!("'{}' takes no such argument", s.action),
                ));
            }
        }
        let pages = [
            s.args.page,
            s.args.start,
            s.args.end.map(|e| e.saturating_sub(1)),
        ];
        if pages.into_iter().flatten().any(|p| p >= c.pages) {
            return Err(self.err(
                Some(i),
                f("args"),
                format!("a page beyond the file's {} pages", c.pages),
            ));
        }
        if let Some(call) = &s.args.call {
            if !vocab::SYSCALLS.contains(&call.as_str()) {
                return Err(self.err(
                    Some(i),
                    f("args.call"),
                    format!("unknown system call '{call}'"),
                ));
            }
        }
        if let Some(ret) = &s.args.ret {
            if ret != "ok" && !vocab::ERRNOS.contains(&ret.as_str()) {
                return Err(self.err(Some(i), f("args.ret"), format!("unknown return '{ret}'")));
            }
        }
        let o = &s.observed;
        if o.file.len() != c.pages as usize {
            return Err(self.err(
                Some(i),
                f("observed.file"),
                format!("{} pages, the file has {}", o.file.len(), c.pages),
            ));
        }
        let per_mapper = [
            ("mapped", o.mapped.len()),
            ("missing", o.missing.len()),
            ("sigbus", o.sigbus.len()),
        ];
        for (name, n) in per_mapper {
            if n != c.mappers as usize {
                return Err(self.err(
                    Some(i),
                    f(&format!("observed.{name}")),
                    format!("{n} entries for {} mappers", c.mappers),
                ));
            }
        }
        if o.mapped.iter().flatten().any(|&p| p >= c.pages) {
            return Err(self.err(
                Some(i),
                f("observed.mapped"),
                format!("a page beyond the file's {} pages", c.pages),
            ));
        }
        Ok(())
    }
}
