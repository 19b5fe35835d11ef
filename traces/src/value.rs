//! What a page holds, as the first 64-bit word a touch or `pread` reads from it. The content
//! itself is the model's [`spec::page::Data`]; this is how a host spells it.

pub use spec::page::Data as Value;
use std::fmt;

/// A page's content as the 64-bit word a host reads, and back. Every non-zero value encodes
/// who wrote it, so a host read tells exactly which page it saw.
pub trait Word: Sized {
    /// The word this value is at file page `page`: a tag in the high half, the page or mapper
    /// number (plus one, so it is never zero) in the low half.
    fn word(self, page: u8) -> u64;
    /// The value a word read at file page `page` stands for, if any.
    fn from_word(word: u64, page: u8) -> Option<Self>;
}

impl Word for Value {
    fn word(self, page: u8) -> u64 {
        match self {
            Value::Zero => 0,
            Value::Marker => 0x4855_4745_0000_0000 | (page as u64 + 1), // "HUGE"
            Value::Fill(m) => 0x4649_4c4c_0000_0000 | (m as u64 + 1),   // "FILL"
            Value::Written(m) => 0x5752_4954_0000_0000 | (m as u64 + 1), // "WRIT"
        }
    }

    fn from_word(word: u64, page: u8) -> Option<Value> {
        let candidates = [Value::Zero, Value::Marker]
            .into_iter()
            .chain((0..8).flat_map(|m| [Value::Fill(m), Value::Written(m)]));
        candidates.into_iter().find(|v| v.word(page) == word)
    }
}

/// A value as renderings and reports spell it: `zero`, `marker`, `fill(m)` or `written(m)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shown(pub Value);

impl fmt::Display for Shown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Value::Zero => f.write_str("zero"),
            Value::Marker => f.write_str("marker"),
            Value::Fill(m) => write!(f, "fill({m})"),
            Value::Written(m) => write!(f, "written({m})"),
        }
    }
}
