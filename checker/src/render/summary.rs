//! The end of the diagram: the property, whether the trace violates it (counterexample) or
//! reaches it (witness), and the file before the punch and at the end.

use super::show;
use traces::{Action, Kind, Shown, Syscall, Trace};

/// The end note.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Summary {
    /// `hole_freed_on_return VIOLATED (counterexample, v4_4)`.
    pub verdict: String,
    /// The property as a sentence.
    pub sentence: String,
    /// Whether the trace is a counterexample (drawn as a failure) or a witness.
    pub violated: bool,
    /// `file before the punch (after step 6): [marker, marker]`.
    pub before: String,
    /// `file at the end (after step 21): [marker, marker]`.
    pub after: String,
    /// What became of the hole at the end.
    pub hole: String,
    /// The step after which the property is violated or reached (`meta.discovered_at - 1`).
    pub discovered: usize,
    /// `hole_freed_on_return VIOLATED after step 21`, and what the steps after it do.
    pub discovery: [String; 2],
}

impl Summary {
    pub fn new(t: &Trace) -> Summary {
        let m = &t.meta;
        let c = &m.config;
        let violated = m.kind == Kind::Counterexample;
        let verdict = format!(
            "{} {} ({}, {})",
            m.property,
            if violated { "VIOLATED" } else { "REACHED" },
            m.kind.name(),
            m.variant
        );
        let punch = t
            .steps
            .iter()
            .find(|s| matches!(s.action, Action::Call(Syscall::PunchHole { .. })));
        let before = match punch {
            Some(p) => format!(
                "file before the punch (after step {}): {}",
                p.index,
                show::file(&p.observed)
            ),
            None => format!(
                "file at the start (after step 0): {}",
                show::file(&t.steps[0].observed)
            ),
        };
        let last = t.steps.last().expect("a trace has at least one step");
        let after = format!(
            "file at the end (after step {}): {}",
            last.index,
            show::file(&last.observed)
        );
        let left: Vec<String> = (c.hole_start..c.hole_end)
            .filter_map(|p| {
                let v = (*last.observed.file.get(p as usize)?)?;
                Some(format!("page {p} ({})", Shown(v)))
            })
            .collect();
        let hole = format!(
            "hole [{}, {}) at the end: {}",
            c.hole_start,
            c.hole_end,
            match left.len() {
                0 => "every page out of the file".to_string(),
                1 => format!("{} still in the file", left[0]),
                _ => format!("{} still in the file", left.join(", ")),
            }
        );
        let discovered = m.discovered_at.clamp(1, t.steps.len()) - 1;
        let rest = if discovered + 1 < t.steps.len() {
            format!(
                "steps {}-{} let what was in flight finish",
                discovered + 1,
                last.index
            )
        } else {
            "the last step".to_string()
        };
        let discovery = [
            format!(
                "{} {} after step {discovered}",
                m.property,
                if violated { "VIOLATED" } else { "REACHED" },
            ),
            rest,
        ];
        Summary {
            verdict,
            discovered,
            discovery,
            sentence: m.sentence.clone(),
            violated,
            before,
            after,
            hole,
        }
    }

    /// Every line of the note, in order.
    pub fn lines(&self) -> Vec<String> {
        vec![
            self.verdict.clone(),
            self.sentence.clone(),
            format!("{}: {}", self.discovery[0], self.discovery[1]),
            self.before.clone(),
            self.after.clone(),
            self.hole.clone(),
        ]
    }
}
