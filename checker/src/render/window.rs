//! What the renderings say about the race window. The window itself is the model's: the
//! trace carries it in `meta.race_window` (see [`traces::RaceWindow`]).

use traces::{Config, RaceWindow, Trace};

/// The trace's race window, if its punch reaches `hugetlb_vmdelete_list`.
pub fn race_window(t: &Trace) -> Option<RaceWindow> {
    t.meta.race_window.clone()
}

/// The window's phrases, each as a headline and a detail, which a rendering puts on one line
/// (`headline: detail`) or two.
pub trait Phrases {
    /// Where it opens.
    fn opens(&self, c: &Config) -> [String; 2];
    /// The raced fault, if any.
    fn race(&self) -> Option<[String; 2]>;
    /// Where it closes, or that it does not.
    fn closes(&self) -> [String; 2];
    /// The window in one line.
    fn summary(&self, steps: usize) -> String;
}

impl Phrases for RaceWindow {
    fn opens(&self, c: &Config) -> [String; 2] {
        [
            format!("race window opens (step {})", self.open),
            format!(
                "the punch runs hugetlb_vmdelete_list over the hole [{}, {})",
                c.hole_start, c.hole_end
            ),
        ]
    }

    fn race(&self) -> Option<[String; 2]> {
        self.fault().map(|f| {
            [
                format!("RACE (step {})", f.step),
                format!(
                    "{}'s fault maps hole page {} inside the window",
                    f.thread, f.page
                ),
            ]
        })
    }

    fn closes(&self) -> [String; 2] {
        let page = match self.page {
            Some(p) => format!("page {p}"),
            None => "the hole".into(),
        };
        match self.close {
            Some(c) => [
                format!("race window closes (step {c})"),
                format!("remove_inode_hugepages is done with {page}"),
            ],
            None => [
                "race window still open at the end".into(),
                format!("remove_inode_hugepages is not done with {page}"),
            ],
        }
    }

    fn summary(&self, steps: usize) -> String {
        let span = match self.close {
            Some(c) => format!("steps {}-{c}", self.open),
            None => format!(
                "steps {}-{}, still open at the end",
                self.open,
                self.last(steps)
            ),
        };
        match self.fault() {
            Some(f) => format!(
                "race window ({span}): {} maps hole page {} at step {} (hugetlb_no_page)",
                f.thread, f.page, f.step
            ),
            None => format!("race window ({span}): no fault maps a hole page inside it"),
        }
    }
}

/// A phrase on one line.
pub fn one_line(phrase: &[String; 2]) -> String {
    format!("{}: {}", phrase[0], phrase[1])
}
