//! Huge pages: identity, contents and where they came from.

use serde::{Deserialize, Serialize};

/// A huge page's identity: the file index it was allocated for, and how many pages had been
/// allocated for that index before it. Identity, not pool slot, so a stale mapping can never
/// be mistaken for a mapping of a newer page at the same index.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PageId {
    pub idx: u8,
    pub gen: u8,
}

/// What a touch reads from a page: the first word of the page, as the conformance replayer
/// writes and reads it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Data {
    /// A freshly allocated page: the kernel zeroes it (`clear_huge_page`).
    Zero,
    /// The manager's marker, written into every page it pre-allocates.
    Marker,
    /// What mapper `m`'s handler copied in with `UFFDIO_COPY`.
    Fill(u8),
    /// What mapper `m` wrote with a touch.
    Written(u8),
}

/// Who put a page into the page cache.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// `fallocate` by the manager (pre-allocation or hole reuse).
    Fallocate,
    /// `hugetlb_no_page` allocating on a fault of an unregistered mapping.
    Fault,
    /// `UFFDIO_COPY` by a mapper's handler.
    UffdCopy,
}

/// A huge page in the file's page cache.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Page {
    pub id: PageId,
    pub data: Data,
    pub origin: Origin,
    /// Ghost: the page was in the page cache when the punch started, so the punch must free it.
    pub pre_punch: bool,
}
