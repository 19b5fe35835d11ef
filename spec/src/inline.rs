//! A vector with a fixed capacity, stored inline: the kernel's per-page and per-mapper tables.
//!
//! The kernel state is cloned on every kernel step the checker tries; with its tables inline
//! a clone is one copy of a few hundred bytes instead of a dozen allocations. Equality,
//! ordering and hashing are the slice's, as for a `Vec`.

use stateright::actor::Id;
use stateright::{Rewrite, RewritePlan};
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::{Deref, DerefMut};

/// At most `N` elements of `T`.
#[derive(Clone, Copy)]
pub struct Inline<T: Copy + Default, const N: usize> {
    len: u8,
    items: [T; N],
}

impl<T: Copy + Default, const N: usize> Inline<T, N> {
    /// `n` copies of `value`.
    ///
    /// # Panics
    /// If `n` exceeds the capacity `N` (`ModelCfg::validate` keeps configurations within it).
    pub fn filled(value: T, n: usize) -> Self {
        assert!(n <= N, "{n} elements do not fit in {N}");
        let mut items = [T::default(); N];
        items[..n].fill(value);
        Inline {
            len: n as u8,
            items,
        }
    }

    /// Appends an element.
    ///
    /// # Panics
    /// If the vector is full.
    pub fn push(&mut self, value: T) {
        assert!((self.len as usize) < N, "full at {N}");
        self.items[self.len as usize] = value;
        self.len += 1;
    }
}

impl<T: Copy + Default, const N: usize> Default for Inline<T, N> {
    fn default() -> Self {
        Inline::filled(T::default(), 0)
    }
}

impl<T: Copy + Default, const N: usize> Deref for Inline<T, N> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        &self.items[..self.len as usize]
    }
}

impl<T: Copy + Default, const N: usize> DerefMut for Inline<T, N> {
    fn deref_mut(&mut self) -> &mut [T] {
        &mut self.items[..self.len as usize]
    }
}

impl<T: Copy + Default, const N: usize> FromIterator<T> for Inline<T, N> {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        let mut v = Inline::default();
        for x in iter {
            v.push(x);
        }
        v
    }
}

impl<'a, T: Copy + Default, const N: usize> IntoIterator for &'a Inline<T, N> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl<'a, T: Copy + Default, const N: usize> IntoIterator for &'a mut Inline<T, N> {
    type Item = &'a mut T;
    type IntoIter = std::slice::IterMut<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter_mut()
    }
}

impl<T: Copy + Default, const N: usize> IntoIterator for Inline<T, N> {
    type Item = T;
    type IntoIter = std::iter::Take<std::array::IntoIter<T, N>>;
    fn into_iter(self) -> Self::IntoIter {
        self.items.into_iter().take(self.len as usize)
    }
}

impl<T: Copy + Default + PartialEq, const N: usize> PartialEq for Inline<T, N> {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl<T: Copy + Default + Eq, const N: usize> Eq for Inline<T, N> {}

impl<T: Copy + Default + PartialOrd, const N: usize> PartialOrd for Inline<T, N> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        (**self).partial_cmp(&**other)
    }
}

impl<T: Copy + Default + Ord, const N: usize> Ord for Inline<T, N> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (**self).cmp(&**other)
    }
}

impl<T: Copy + Default + Hash, const N: usize> Hash for Inline<T, N> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        (**self).hash(state)
    }
}

impl<T: Copy + Default + fmt::Debug, const N: usize> fmt::Debug for Inline<T, N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<T: Copy + Default + Rewrite<Id>, const N: usize> Rewrite<Id> for Inline<T, N> {
    fn rewrite<S>(&self, plan: &RewritePlan<Id, S>) -> Self {
        self.iter().map(|x| x.rewrite(plan)).collect()
    }
}
