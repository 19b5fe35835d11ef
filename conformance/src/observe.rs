//! Reads what the host shows and compares it with a trace step's prediction.
//!
//! Pages in the file come from `st_blocks` (exact on Linux 6.x); each page's first word from
//! `pread`, which reads 0 for a hole without allocating; the pages each mapper maps from
//! `/proc/PID/pagemap`; MISSING events and SIGBUS from the actors' reports.

use crate::error::Result;
use crate::layout::Layout;
use crate::report::Mismatch;
use crate::sys::{pagemap, HugeFile};
use traces::{Observed, Step, Word};

/// The host's side of an observation.
pub struct Host<'a> {
    pub file: &'a HugeFile,
    pub layout: &'a Layout,
    /// Whether the padding pages are in the file now.
    pub padding_present: bool,
    /// Each mapper's pid and mapping base, once mapped.
    pub mappers: Vec<(i32, Option<usize>)>,
    /// MISSING events and SIGBUS seen so far, per mapper.
    pub missing: Vec<u32>,
    pub sigbus: Vec<u32>,
}

fn words(o: &Observed) -> Vec<u64> {
    o.file
        .iter()
        .enumerate()
        .map(|(p, v)| v.map_or(0, |v| v.word(p as u8)))
        .collect()
}

impl Host<'_> {
    /// The first difference between the host and the prediction: the file and mappings after
    /// `step`, and the MISSING events and SIGBUS counted so far.
    pub fn compare(&self, step: &Step, missing: &[u32], sigbus: &[u32]) -> Result<()> {
        let o = &step.observed;
        let mismatch = |field: String, predicted: String, host: String| {
            Err(Mismatch {
                step: step.index,
                action: step.action.name().into(),
                field,
                predicted,
                host,
            }
            .into())
        };
        let expect_pages = o.file_pages()
            + if self.padding_present {
                self.layout.pad
            } else {
                0
            };
        let pages = self.file.pages_in_file()?;
        if pages != expect_pages {
            return mismatch(
                "pages in file (st_blocks)".into(),
                format!("{expect_pages} ({:?})", o.file),
                pages.to_string(),
            );
        }
        for (p, want) in words(o).into_iter().enumerate() {
            let got = self.file.read_marker(self.layout.host(p as u8))?;
            if got != want {
                return mismatch(
                    format!("file[{p}] (pread)"),
                    format!("{want:#018x} ({:?})", o.file[p]),
                    format!("{got:#018x} ({})", describe(got, p as u8)),
                );
            }
        }
        let hpage = self.file.page_size();
        for (m, &(pid, base)) in self.mappers.iter().enumerate() {
            let mapped: Vec<u8> = match base {
                None => Vec::new(),
                Some(base) => {
                    // Only the trace's pages: reading the padding's entries too costs far more.
                    let mut mapped = Vec::new();
                    for p in 0..self.layout.pages {
                        let at = base + self.layout.host(p) * hpage;
                        if pagemap::mapped_pages(pid, at, 1, hpage)?[0] {
                            mapped.push(p);
                        }
                    }
                    mapped
                }
            };
            if mapped != o.mapped[m] {
                return mismatch(
                    format!("mapped[{}] (pagemap)", traces::Role::Mapper(m as u8)),
                    format!("{:?}", o.mapped[m]),
                    format!("{mapped:?}"),
                );
            }
        }
        if self.missing != missing {
            return mismatch(
                "MISSING events".into(),
                format!("{missing:?}"),
                format!("{:?}", self.missing),
            );
        }
        if self.sigbus != sigbus {
            return mismatch(
                "SIGBUS".into(),
                format!("{sigbus:?}"),
                format!("{:?}", self.sigbus),
            );
        }
        Ok(())
    }
}

/// What a word read from trace page `page` stands for.
pub fn describe(word: u64, page: u8) -> String {
    match traces::Value::from_word(word, page) {
        Some(v) => format!("{v:?}"),
        None if word & 0xffff_ffff_0000_0000 == crate::layout::PAD_MARKER => "padding".into(),
        None => "unknown".into(),
    }
}
