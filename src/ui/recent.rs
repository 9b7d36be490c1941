//! A list of the newest few items (the workspace's and each run's notes).

use std::collections::VecDeque;

/// The newest `max` items pushed, oldest first.
#[derive(Debug, Clone)]
pub struct Recent<T> {
    items: VecDeque<T>,
    max: usize,
}

impl<T> Recent<T> {
    /// An empty list keeping at most `max` items.
    pub fn new(max: usize) -> Self {
        Self {
            items: VecDeque::with_capacity(max),
            max,
        }
    }

    /// Append `v`, dropping the oldest items beyond the bound.
    pub fn push(&mut self, v: T) {
        self.items.push_back(v);
        while self.items.len() > self.max {
            self.items.pop_front();
        }
    }

    /// The items, oldest first.
    pub fn iter(&self) -> std::collections::vec_deque::Iter<'_, T> {
        self.items.iter()
    }

    /// How many items are kept.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether nothing is kept.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

impl<'a, T> IntoIterator for &'a Recent<T> {
    type Item = &'a T;
    type IntoIter = std::collections::vec_deque::Iter<'a, T>;

    fn into_iter(self) -> Self::IntoIter {
        self.items.iter()
    }
}
