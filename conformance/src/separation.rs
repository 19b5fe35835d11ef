//! Which variants a kernel conforms to, and which of those its replays cannot tell apart.
//!
//! Each trace says which variants' models can show what its replay observes
//! (`meta.shown_by`, computed from the model by `hugepunch traces`). A replay that conforms
//! showed exactly that, so the kernel is none of the variants the trace leaves out. A replay
//! that diverges rules nothing out: a variant that can show a trace need not always show it.

use crate::report::{TraceReport, Verdict};
use serde::Serialize;
use std::fmt::Write as _;
use traces::{Trace, Variant};

/// Two variants of `conforms_to`, and the corpus traces that separate them: those that one
/// variant's model can show and the other's cannot.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Pair {
    pub variants: [String; 2],
    pub separated_by: Vec<String>,
}

/// A variant the kernel is not said to conform to, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NotClaimed {
    pub variant: String,
    pub why: String,
}

/// The conclusion over a corpus.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Separation {
    /// Variants, in `Variant::ALL` order, every trace of which was replayed and conforms, and
    /// that no conforming trace rules out.
    pub conforms_to: Vec<String>,
    /// Pairs of `conforms_to` that no trace of the corpus separates.
    pub indistinguishable: Vec<[String; 2]>,
    /// Variants no conforming trace rules out, whatever their own traces did here (a superset
    /// of `conforms_to`: a variant with a trace not replayed or diverging may be in it).
    pub not_ruled_out: Vec<String>,
    /// Every pair of `not_ruled_out`, with the traces that separate it.
    pub pairs: Vec<Pair>,
    pub not_claimed: Vec<NotClaimed>,
}

/// Concludes over `corpus` (every trace loaded, by file name) from the `reports` of the traces
/// replayed (matched by name; a trace with no report was not replayed).
pub fn conclude(corpus: &[(String, &Trace)], reports: &[TraceReport]) -> Separation {
    let report = |name: &str| reports.iter().find(|r| r.trace == name);
    let mut out = Separation::default();
    for v in Variant::ALL {
        let mine: Vec<&(String, &Trace)> =
            corpus.iter().filter(|(_, t)| t.meta.variant == v).collect();
        let own = mine.iter().find_map(|(name, _)| match report(name) {
            None => Some(format!("its trace {name} was not replayed")),
            Some(r) if r.verdict != Verdict::Conforms => {
                Some(format!("its trace {name} {}", r.verdict.name()))
            }
            Some(_) => None,
        });
        let ruled_out = corpus.iter().find_map(|(name, t)| {
            let r = report(name).filter(|r| r.verdict == Verdict::Conforms)?;
            if !t.meta.shown_by.contains(&v) {
                return Some(format!(
                    "{name} conforms here, and the {v} model cannot show what it observes"
                ));
            }
            let waited = r.window_waits.is_some_and(|n| n > 0);
            let wait_shown = t
                .meta
                .window_wait_shown_by
                .as_ref()
                .is_some_and(|vs| vs.contains(&v));
            (waited && !wait_shown).then(|| {
                format!(
                    "{name} conforms here with its window fault waiting on an rwsem (read), \
                     which the {v} model cannot show"
                )
            })
        });
        if ruled_out.is_none() {
            out.not_ruled_out.push(v.name().into());
        }
        let own = match mine.is_empty() {
            true => Some("no trace in the corpus".to_string()),
            false => own,
        };
        let why = match (own, ruled_out) {
            (Some(a), Some(b)) => Some(format!("{a}; {b}")),
            (Some(why), None) | (None, Some(why)) => Some(why),
            (None, None) => None,
        };
        match why {
            Some(why) => out.not_claimed.push(NotClaimed {
                variant: v.name().into(),
                why,
            }),
            None => out.conforms_to.push(v.name().into()),
        }
    }
    for (i, a) in out.not_ruled_out.iter().enumerate() {
        for b in &out.not_ruled_out[i + 1..] {
            let shows = |t: &Trace, v: &str| t.meta.shown_by.iter().any(|s| s.name() == v);
            let with_wait = |t: &Trace, v: &str| {
                t.meta
                    .window_wait_shown_by
                    .iter()
                    .flatten()
                    .any(|s| s.name() == v)
            };
            let mut separated_by: Vec<String> = Vec::new();
            for (n, t) in corpus {
                if shows(t, a) != shows(t, b) {
                    separated_by.push(n.clone());
                } else if with_wait(t, a) != with_wait(t, b) {
                    separated_by.push(format!("{n} (window fault waits on an rwsem)"));
                }
            }
            let variants = [a.clone(), b.clone()];
            let claimed = |v: &String| out.conforms_to.contains(v);
            if separated_by.is_empty() && claimed(a) && claimed(b) {
                out.indistinguishable.push(variants.clone());
            }
            out.pairs.push(Pair {
                variants,
                separated_by,
            });
        }
    }
    out
}

impl Separation {
    /// One line per pair and per variant not claimed.
    pub fn text(&self) -> String {
        let mut s = format!(
            "no conforming trace rules out: {}\n",
            self.not_ruled_out.join(", ")
        );
        for p in &self.pairs {
            let [a, b] = &p.variants;
            if p.separated_by.is_empty() {
                let _ = writeln!(
                    s,
                    "{a} and {b}: no trace separates them by what a replay observes"
                );
            } else {
                let _ = writeln!(s, "{a} and {b}: separated by {}", p.separated_by.join(", "));
            }
        }
        for n in &self.not_claimed {
            let _ = writeln!(s, "not {}: {}", n.variant, n.why);
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn corpus() -> Vec<(String, Trace)> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../traces/corpus");
        crate::host::corpus_files(&dir)
            .unwrap()
            .into_iter()
            .map(|f| {
                let name = f.file_name().unwrap().to_string_lossy().into_owned();
                (name, traces::load(&f).unwrap())
            })
            .collect()
    }

    fn report(name: &str, t: &Trace, verdict: Verdict) -> TraceReport {
        TraceReport {
            trace: name.into(),
            variant: t.meta.variant.name().into(),
            property: t.meta.property.clone(),
            kind: t.meta.kind.name().into(),
            verdict,
            achieved: 1,
            attempts: 1,
            violation_observed: false,
            replay_us: 0.0,
            syscall_us: 0.0,
            padding: 0,
            window: None,
            mismatch: None,
            reproduce: String::new(),
            windows_confirmed: None,
            window_waits: None,
            kernel_events: 0,
            accounting: None,
            accounting_difference: None,
            confidence: None,
            aim: None,
            evidence: Vec::new(),
            findings: Vec::new(),
        }
    }

    /// A kernel that conforms to every trace its variant's model can show, so the verdicts
    /// come from the corpus's own `shown_by`: variant `v` behaving as itself.
    fn as_if(v: Variant, corpus: &[(String, Trace)]) -> Separation {
        let reports: Vec<TraceReport> = corpus
            .iter()
            .map(|(n, t)| {
                let verdict = if t.meta.shown_by.contains(&v) {
                    Verdict::Conforms
                } else {
                    Verdict::Diverges
                };
                report(n, t, verdict)
            })
            .collect();
        let all: Vec<(String, &Trace)> = corpus.iter().map(|(n, t)| (n.clone(), t)).collect();
        conclude(&all, &reports)
    }

    /// A race trace that conforms with its window fault waiting on an rwsem (read) rules out
    /// the variants whose fault takes none (4.5 and its marker twin); without that wait, or
    /// with the trace diverging, it rules out nothing more than before.
    #[test]
    fn a_window_wait_rules_out_the_variants_that_cannot_show_it() {
        let corpus = corpus();
        let name = "v6_17.race_window_fault.witness.json";
        let (_, t) = corpus.iter().find(|(n, _)| n == name).unwrap();
        let all = [(name.to_string(), t)];
        let with = |waits: Option<u32>, verdict: Verdict| {
            let mut r = report(name, t, verdict);
            r.window_waits = waits;
            conclude(&all, &[r]).not_ruled_out
        };
        let names = |vs: &[Variant]| vs.iter().map(|v| v.name().to_string()).collect::<Vec<_>>();
        assert_eq!(with(None, Verdict::Conforms), names(&t.meta.shown_by));
        assert_eq!(with(Some(0), Verdict::Conforms), names(&t.meta.shown_by));
        let waited = with(Some(3), Verdict::Conforms);
        assert_eq!(waited, names(t.meta.window_wait_shown_by.as_ref().unwrap()));
        assert!(!waited.contains(&"v4_5".to_string()), "{waited:?}");
        assert!(waited.contains(&"v5_7".to_string()), "{waited:?}");
        assert_eq!(with(Some(3), Verdict::Diverges).len(), Variant::ALL.len());
    }

    #[test]
    fn a_kernel_conforms_to_its_own_variant() {
        let corpus = corpus();
        for v in Variant::ALL {
            let s = as_if(v, &corpus);
            assert!(s.conforms_to.contains(&v.name().to_string()), "{v}: {s:?}");
        }
    }

    #[test]
    fn a_conforming_trace_rules_out_the_variants_that_cannot_show_it() {
        let corpus = corpus();
        // A 5.13+ kernel: UFFDIO_COPY checks the page cache first (EEXIST).
        let s = as_if(Variant::V6_1, &corpus);
        let v4_5 = s.not_claimed.iter().find(|n| n.variant == "v4_5").unwrap();
        assert!(v4_5.why.contains("its trace"), "{v4_5:?}");
        assert!(!s.conforms_to.contains(&"v5_7".to_string()), "{s:?}");
        // Only a trace that conforms rules out: nothing replayed, nothing claimed, nothing
        // ruled out by another trace.
        let all: Vec<(String, &Trace)> = corpus.iter().map(|(n, t)| (n.clone(), t)).collect();
        let none = conclude(&all, &[]);
        assert!(none.conforms_to.is_empty());
        assert!(none
            .not_claimed
            .iter()
            .all(|n| n.why.contains("not replayed")));
    }

    #[test]
    fn pairs_nothing_separates_are_said_so() {
        let corpus = corpus();
        let s = as_if(Variant::V6_1, &corpus);
        let text = s.text();
        for [a, b] in &s.indistinguishable {
            assert!(
                text.contains(&format!(
                    "{a} and {b}: no trace separates them by what a replay observes"
                )),
                "{text}"
            );
        }
    }
}
