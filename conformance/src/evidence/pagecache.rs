//! The page cache's order: the punch deletes the hole's pages in the order and number the
//! trace predicts (`remove_inode_hugepages` walks the hole in index order), and a page added to
//! the hole after the punch returned (hole reuse, `UFFDIO_COPY`) is the one the trace predicts.

use super::events::{Event, IndexUnit, Kind};
use super::window::{punch, Subject};
use serde::{Deserialize, Serialize};

/// What the trace predicts, in host file pages.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Predicted {
    /// Pages the punch deletes from the page cache, in order.
    pub deletes: Vec<u64>,
    /// Pages of the hole added to the page cache after the punch returned, in order.
    pub added_after: Vec<u64>,
    /// The hole, in host pages.
    pub hole: std::ops::Range<u64>,
    /// Each trace page's host page (the others are padding), to name pages in findings.
    pub trace_pages: Vec<(u64, u8)>,
}

impl Predicted {
    /// `page 512 (trace page 0)`, `page 7 (padding)`.
    fn name(&self, host: u64) -> String {
        match self.trace_pages.iter().find(|(h, _)| *h == host) {
            Some((_, t)) => format!("page {host} (trace page {t})"),
            None => format!("page {host} (padding)"),
        }
    }
}

/// The page cache's events against the prediction.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageCache {
    pub deletes_predicted: usize,
    pub deletes_observed: usize,
    /// Hole pages added after the punch returned, as observed.
    pub added_after: Vec<u64>,
    /// Every difference, one sentence each; empty when the host agrees.
    pub differences: Vec<String>,
}

fn first_difference(p: &Predicted, want: &[u64], got: &[u64]) -> Option<String> {
    let at = (0..want.len().max(got.len())).find(|&i| want.get(i) != got.get(i))?;
    let show = |x: Option<&u64>| x.map_or("nothing".to_string(), |&h| p.name(h));
    Some(format!(
        "at position {at}: predicted {}, host {}",
        show(want.get(at)),
        show(got.get(at))
    ))
}

/// Compares the page-cache events of the file with `p`.
pub fn check(events: &[Event], s: &Subject, p: &Predicted) -> PageCache {
    let mut differences = Vec::new();
    let unit = IndexUnit::of(events, s.ino, s.huge_page_size);
    let of_file = |e: &Event| match &e.kind {
        Kind::CacheAdd(c) | Kind::CacheDelete(c) if c.ino == s.ino => {
            Some(c.huge_index(unit, s.huge_page_size))
        }
        _ => None,
    };
    let Some((p0, p1)) = punch(events, s) else {
        return PageCache {
            deletes_predicted: p.deletes.len(),
            deletes_observed: 0,
            added_after: Vec::new(),
            differences: vec!["no punch in the kernel events".into()],
        };
    };
    let p1 = p1.unwrap_or(u64::MAX);
    let deletes: Vec<u64> = events
        .iter()
        .filter(|e| (p0..=p1).contains(&e.ts_ns) && matches!(e.kind, Kind::CacheDelete(_)))
        .filter_map(of_file)
        .collect();
    if deletes != p.deletes {
        differences.push(format!(
            "the punch deleted {} pages, {} predicted; {}",
            deletes.len(),
            p.deletes.len(),
            first_difference(p, &p.deletes, &deletes).unwrap_or_default()
        ));
    }
    let added_after: Vec<u64> = events
        .iter()
        .filter(|e| e.ts_ns > p1 && matches!(e.kind, Kind::CacheAdd(_)))
        .filter_map(of_file)
        .filter(|i| p.hole.contains(i))
        .collect();
    if added_after != p.added_after {
        differences.push(format!(
            "pages added to the hole after the punch: predicted [{}], host [{}]",
            names(p, &p.added_after),
            names(p, &added_after)
        ));
    }
    PageCache {
        deletes_predicted: p.deletes.len(),
        deletes_observed: deletes.len(),
        added_after,
        differences,
    }
}

fn names(p: &Predicted, pages: &[u64]) -> String {
    pages
        .iter()
        .map(|&h| p.name(h))
        .collect::<Vec<_>>()
        .join(", ")
}
