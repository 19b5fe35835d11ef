//! Where the trace's pages sit in the host file.
//!
//! A trace whose touch must land in the punch's race window gets `pad` extra pages in the
//! hole just before the raced page: `remove_inode_hugepages` walks the hole in index order, so
//! it spends milliseconds on the padding before it reaches the raced page, and a touch aimed
//! at the window has time to get in. Every other trace page keeps its place relative to the
//! hole. Observations only ever look at trace pages.

use traces::{Value, Word};

/// The host file's shape for one trace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    /// Pages in the trace's file.
    pub pages: u8,
    /// The raced page the padding goes in front of (`None`: no padding).
    pub raced: Option<u8>,
    /// Padding pages.
    pub pad: usize,
}

impl Layout {
    pub fn new(pages: u8, raced: Option<u8>, pad: usize) -> Layout {
        let pad = if raced.is_some() { pad } else { 0 };
        Layout { pages, raced, pad }
    }

    /// Pages in the host file.
    pub fn host_pages(&self) -> usize {
        self.pages as usize + self.pad
    }

    /// The host page of a trace page.
    pub fn host(&self, page: u8) -> usize {
        match self.raced {
            Some(r) if page >= r => page as usize + self.pad,
            _ => page as usize,
        }
    }

    /// The host range `(first, count)` of a trace range `[start, end)`: the padding belongs
    /// to every range that covers the raced page.
    pub fn host_range(&self, start: u8, end: u8) -> (usize, usize) {
        let edge = |x: u8| match self.raced {
            Some(r) if x > r => x as usize + self.pad,
            _ => x as usize,
        };
        (edge(start), edge(end) - edge(start))
    }

    /// The trace page at a host page, `None` for padding.
    pub fn trace_page(&self, host: usize) -> Option<u8> {
        (0..self.pages).find(|&p| self.host(p) == host)
    }

    /// The padding pages, in host indices.
    pub fn padding(&self) -> std::ops::Range<usize> {
        match self.raced {
            Some(r) => r as usize..r as usize + self.pad,
            None => 0..0,
        }
    }

    /// The marker words the manager writes at pre-allocation: each trace page's marker, and a
    /// marker for each padding page that no trace value can be mistaken for.
    pub fn markers(&self) -> Vec<(usize, u64)> {
        let trace = (0..self.pages).map(|p| (self.host(p), Value::Marker.word(p)));
        let pad = self.padding().map(|h| (h, PAD_MARKER | h as u64));
        trace.chain(pad).collect()
    }
}

/// The high half of a padding page's marker ("PADD").
pub const PAD_MARKER: u64 = 0x5041_4444_0000_0000;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padding_goes_before_the_raced_page() {
        let l = Layout::new(3, Some(1), 4);
        assert_eq!((0..3).map(|p| l.host(p)).collect::<Vec<_>>(), vec![0, 5, 6]);
        assert_eq!(l.host_range(1, 2), (1, 5));
        assert_eq!(l.host_range(0, 3), (0, 7));
        assert_eq!(l.host_range(2, 3), (6, 1));
        assert_eq!(l.host_range(0, 1), (0, 1));
        assert_eq!(l.padding(), 1..5);
        assert_eq!(l.trace_page(5), Some(1));
        assert_eq!(l.trace_page(2), None);
    }

    #[test]
    fn no_race_no_padding() {
        let l = Layout::new(2, None, 64);
        assert_eq!(l.host_pages(), 2);
        assert_eq!(l.host_range(0, 1), (0, 1));
    }
}
