//! What changed between two observations.

use crate::schema::Observed;
use crate::value::{Shown, Value};
use spec::node::Role;
use std::fmt;

/// One change of the file or of a mapper's page table. Events and signals are counters,
/// compared as such.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    Allocated { page: u8, value: Value },
    Removed { page: u8 },
    Rewritten { page: u8, from: Value, to: Value },
    Mapped { mapper: u8, page: u8 },
    Unmapped { mapper: u8, page: u8 },
}

impl Observed {
    /// What changed from `self` to `after`: file pages first, then mappings, by mapper.
    pub fn diff(&self, after: &Observed) -> Vec<Change> {
        let mut out = Vec::new();
        for (i, (b, a)) in self.file.iter().zip(&after.file).enumerate() {
            let page = i as u8;
            match (*b, *a) {
                (None, Some(value)) => out.push(Change::Allocated { page, value }),
                (Some(_), None) => out.push(Change::Removed { page }),
                (Some(from), Some(to)) if from != to => {
                    out.push(Change::Rewritten { page, from, to })
                }
                _ => {}
            }
        }
        for (m, (b, a)) in self.mapped.iter().zip(&after.mapped).enumerate() {
            let mapper = m as u8;
            for &page in a.iter().filter(|p| !b.contains(p)) {
                out.push(Change::Mapped { mapper, page });
            }
            for &page in b.iter().filter(|p| !a.contains(p)) {
                out.push(Change::Unmapped { mapper, page });
            }
        }
        out
    }
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Change::Allocated { page, value } => {
                write!(f, "file page {page} allocated ({})", Shown(value))
            }
            Change::Removed { page } => write!(f, "file page {page} removed"),
            Change::Rewritten { page, from, to } => {
                write!(f, "file page {page}: {} -> {}", Shown(from), Shown(to))
            }
            Change::Mapped { mapper, page } => {
                write!(f, "{} maps page {page}", Role::Mapper(mapper))
            }
            Change::Unmapped { mapper, page } => {
                write!(f, "{} unmaps page {page}", Role::Mapper(mapper))
            }
        }
    }
}
