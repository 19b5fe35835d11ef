//! A hasher that hashes a value's bytes in one pass.
//!
//! A derived `Hash` feeds its hasher one small integer at a time (each discriminant, each
//! `u8` field, each slice length), and ahash mixes every one of them in with a
//! multiplication: for the kernel's few hundred fields that chain of multiplications was the
//! largest single cost of a step. [`Bytes`] appends each integer to a buffer instead and hashes
//! the buffer with ahash as whole slices, 16 bytes per multiplication.
//!
//! The encoding is injective: fixed-width integers are written whole, and `usize`/`isize`
//! (lengths and discriminants, nearly always small) in a self-delimiting form (one byte below
//! 255, else 255 and eight bytes). A derived `Hash` is prefix-free by contract, so two values
//! whose `Hash` streams differ give different byte strings, and the 64-bit hash of those is as
//! well distributed as ahash's: fingerprints stay as good as Stateright's own.

use std::hash::{BuildHasher, Hasher};

/// Bytes buffered before they are fed to ahash: more than a kernel state takes.
const CAP: usize = 256;

/// The hasher.
pub struct Bytes {
    buf: [u8; CAP],
    len: usize,
    inner: ahash::AHasher,
}

impl Bytes {
    /// A hasher with fixed keys: a fingerprint must be the same on every run.
    pub fn new() -> Bytes {
        Bytes {
            buf: [0; CAP],
            len: 0,
            inner: ahash::RandomState::with_seeds(0x68756765, 0x70756e63, 0x68, 0x6b)
                .build_hasher(),
        }
    }

    /// The hash of `value`.
    pub fn hash_one(value: &impl std::hash::Hash) -> u64 {
        let mut b = Bytes::new();
        value.hash(&mut b);
        b.finish()
    }

    #[cold]
    fn flush(&mut self) {
        self.inner.write(&self.buf[..self.len]);
        self.len = 0;
    }

    #[inline(always)]
    fn byte(&mut self, b: u8) {
        if self.len >= CAP {
            self.flush();
        }
        self.buf[self.len] = b;
        self.len += 1;
    }

    #[inline(always)]
    fn push<const N: usize>(&mut self, bytes: [u8; N]) {
        for b in bytes {
            self.byte(b);
        }
    }

    #[inline(always)]
    fn small(&mut self, i: u64) {
        if i < 0xff {
            self.byte(i as u8);
        } else {
            self.wide(i);
        }
    }

    #[cold]
    fn wide(&mut self, i: u64) {
        self.byte(0xff);
        self.push(i.to_le_bytes());
    }
}

impl Default for Bytes {
    fn default() -> Self {
        Bytes::new()
    }
}

impl Hasher for Bytes {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.byte(b);
        }
    }
    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.byte(i);
    }
    #[inline]
    fn write_u16(&mut self, i: u16) {
        self.push(i.to_le_bytes());
    }
    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.push(i.to_le_bytes());
    }
    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.push(i.to_le_bytes());
    }
    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.small(i as u64);
    }
    #[inline]
    fn write_isize(&mut self, i: isize) {
        self.small(i as u64);
    }
    fn finish(&self) -> u64 {
        let mut inner = self.inner.clone();
        inner.write(&self.buf[..self.len]);
        inner.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::Bytes;

    /// Values of one type that differ hash differently, also where a naive byte stream would
    /// collide (a length or discriminant against the bytes that follow, a byte 255, a stream
    /// longer than the buffer).
    #[test]
    fn distinct_values_distinct_hashes() {
        type V = (Vec<u8>, Vec<u8>, Option<usize>, Vec<u16>);
        let long: Vec<u16> = (0..1000).collect();
        let mut other = long.clone();
        other[999] = 0;
        let vs: Vec<V> = vec![
            (vec![], vec![], None, vec![]),
            (vec![0], vec![], None, vec![]),
            (vec![], vec![0], None, vec![]),
            (vec![0, 0], vec![], None, vec![]),
            (vec![1], vec![2], None, vec![]),
            (vec![1, 2], vec![], None, vec![]),
            (vec![255], vec![], None, vec![]),
            (vec![], vec![], Some(0), vec![]),
            (vec![], vec![], Some(254), vec![]),
            (vec![], vec![], Some(255), vec![]),
            (vec![], vec![], Some(300), vec![]),
            (vec![], vec![], None, long.clone()),
            (vec![], vec![], None, other),
        ];
        let mut hs: Vec<u64> = vs.iter().map(Bytes::hash_one).collect();
        hs.sort_unstable();
        hs.dedup();
        assert_eq!(hs.len(), vs.len());
        let v: V = (vec![], vec![], None, long);
        assert_eq!(Bytes::hash_one(&v), Bytes::hash_one(&v.clone()));
    }
}
