//! A bounded memory of recently seen keys (request nonces, event ids): remembers the last N
//! and forgets the oldest first, so memory stays bounded however many deliveries arrive.

use std::collections::{HashSet, VecDeque};

/// The last `capacity` distinct keys, oldest first.
#[derive(Debug)]
pub(crate) struct RecentKeys {
    capacity: usize,
    order: VecDeque<String>,
    members: HashSet<String>,
}

impl RecentKeys {
    /// A memory of at most `capacity` keys; 0 remembers nothing.
    pub fn new(capacity: usize) -> Self {
        Self { capacity, order: VecDeque::new(), members: HashSet::new() }
    }

    /// Remembers `key`; false if it was already remembered (then nothing changes).
    pub fn insert(&mut self, key: &str) -> bool {
        if self.capacity == 0 {
            return true;
        }
        if self.members.contains(key) {
            return false;
        }
        while self.order.len() >= self.capacity {
            if let Some(oldest) = self.order.pop_front() {
                self.members.remove(&oldest);
            }
        }
        self.order.push_back(key.to_owned());
        self.members.insert(key.to_owned());
        true
    }

    /// Forgets `key` (a delivery whose handler failed must be accepted again).
    pub fn remove(&mut self, key: &str) {
        if self.members.remove(key) {
            self.order.retain(|k| k != key);
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.order.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_new_once() {
        let mut keys = RecentKeys::new(3);
        assert!(keys.insert("a"));
        assert!(!keys.insert("a"));
        assert!(keys.insert("b"));
    }

    #[test]
    fn the_oldest_key_is_forgotten_first_and_memory_stays_bounded() {
        let mut keys = RecentKeys::new(2);
        assert!(keys.insert("a"));
        assert!(keys.insert("b"));
        assert!(keys.insert("c"));
        assert_eq!(keys.len(), 2);
        assert!(keys.insert("a"), "a was the oldest and is forgotten");
        assert!(!keys.insert("c"));
        for i in 0..1000 {
            keys.insert(&i.to_string());
        }
        assert_eq!(keys.len(), 2);
    }

    #[test]
    fn a_removed_key_is_new_again() {
        let mut keys = RecentKeys::new(4);
        keys.insert("a");
        keys.insert("b");
        keys.remove("a");
        assert!(keys.insert("a"));
        assert!(!keys.insert("b"));
        keys.remove("missing");
        assert_eq!(keys.len(), 2);
    }

    #[test]
    fn capacity_zero_remembers_nothing() {
        let mut keys = RecentKeys::new(0);
        assert!(keys.insert("a"));
        assert!(keys.insert("a"));
    }
}
