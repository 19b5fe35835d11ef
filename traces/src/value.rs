//! What a page holds, as the first 64-bit word a touch or `pread` reads from it.

use serde::{Deserialize, Serialize};

/// A page's content. Every non-zero value encodes who wrote it, so a host read tells exactly
/// which page it saw.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Value {
    /// A page the kernel zeroed and nobody wrote: reads as 0 (as a hole does through `pread`).
    Zero,
    /// The manager's marker, written into every page at pre-allocation.
    Marker,
    /// Written by mapper `m`'s handler with `UFFDIO_COPY`.
    Fill(u8),
    /// Written by a touch of mapper `m`.
    Written(u8),
}

impl Value {
    /// The 64-bit word this value is at file page `page`: a tag in the high half, the page or
    /// mapper number (plus one, so it is never zero) in the low half.
    pub fn word(self, page: u8) -> u64 {
        match self {
            Value::Zero => 0,
            Value::Marker => 0x4855_4745_0000_0000 | (page as u64 + 1), // "HUGE"
            Value::Fill(m) => 0x4649_4c4c_0000_0000 | (m as u64 + 1),   // "FILL"
            Value::Written(m) => 0x5752_4954_0000_0000 | (m as u64 + 1), // "WRIT"
        }
    }

    /// The value a 64-bit word read at file page `page` stands for, if any.
    pub fn from_word(word: u64, page: u8) -> Option<Value> {
        let candidates = [Value::Zero, Value::Marker]
            .into_iter()
            .chain((0..8).flat_map(|m| [Value::Fill(m), Value::Written(m)]));
        candidates.into_iter().find(|v| v.word(page) == word)
    }
}

impl std::fmt::Display for Value {
    /// `zero`, `marker`, `fill(m)` or `written(m)`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Value::Zero => f.write_str("zero"),
            Value::Marker => f.write_str("marker"),
            Value::Fill(m) => write!(f, "fill({m})"),
            Value::Written(m) => write!(f, "written({m})"),
        }
    }
}
