//! A bounded cache of verified tokens, one per core, so a fleet reconnecting at once
//! does not re-verify the same signatures.
//!
//! Keyed by guard and the token's hash, and the stored token is compared on a hit,
//! so a hash collision can never authenticate anyone. An entry is only served until
//! the token's `exp`; claim rules that depend on time are re-checked by expiry alone
//! (a token that verified once stays valid until `exp`). When full, expired entries
//! go first, then the oldest half. Pure: time is an argument; no locks (per core).

use super::Identity;
use std::collections::hash_map::RandomState;
use std::collections::{HashMap, VecDeque};
use std::hash::BuildHasher;
use std::rc::Rc;

struct Entry {
    guard: usize,
    generation: u64,
    token: Box<str>,
    identity: Rc<Identity>,
}

/// The cache.
pub struct TokenCache {
    capacity: usize,
    hasher: RandomState,
    map: HashMap<u64, Entry>,
    order: VecDeque<u64>,
    /// Hits served (for tests and metrics).
    pub hits: u64,
}

impl TokenCache {
    /// A cache holding at most `capacity` tokens.
    pub fn new(capacity: usize) -> Self {
        TokenCache {
            capacity,
            hasher: RandomState::new(),
            map: HashMap::new(),
            order: VecDeque::new(),
            hits: 0,
        }
    }

    /// Forgets every token (the guards changed: a config reload).
    pub fn clear(&mut self) {
        self.map.clear();
        self.order.clear();
    }

    fn key(&self, guard: usize, token: &str) -> u64 {
        self.hasher.hash_one((guard, token))
    }

    /// The identity of `token` for `guard` if it was verified with the current keys
    /// (`generation`) and has not expired.
    pub fn get(&mut self, guard: usize, token: &str, now: u64, generation: u64) -> Option<Rc<Identity>> {
        let k = self.key(guard, token);
        let e = self.map.get(&k)?;
        if e.guard != guard || &*e.token != token {
            return None;
        }
        if e.identity.expires_at <= now || e.generation != generation {
            self.map.remove(&k);
            return None;
        }
        self.hits += 1;
        Some(e.identity.clone())
    }

    /// Remembers a verified token.
    pub fn insert(&mut self, guard: usize, token: &str, identity: Rc<Identity>, now: u64, generation: u64) {
        if self.capacity == 0 {
            return;
        }
        if self.map.len() >= self.capacity {
            self.map.retain(|_, e| e.identity.expires_at > now);
            self.order.retain(|k| self.map.contains_key(k));
            while self.map.len() > self.capacity / 2 {
                match self.order.pop_front() {
                    Some(k) => {
                        self.map.remove(&k);
                    }
                    None => break,
                }
            }
        }
        let k = self.key(guard, token);
        if self.map.insert(k, Entry { guard, generation, token: token.into(), identity }).is_none() {
            self.order.push_back(k);
        }
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(exp: u64) -> Rc<Identity> {
        Rc::new(Identity { subject: "s".into(), roles: vec![], expires_at: exp, claims: Default::default() })
    }

    #[test]
    fn hits_until_expiry_and_per_guard() {
        let mut c = TokenCache::new(10);
        c.insert(0, "t1", id(100), 0, 0);
        assert!(c.get(0, "t1", 99, 0).is_some());
        assert!(c.get(1, "t1", 99, 0).is_none(), "another guard");
        assert!(c.get(0, "t2", 99, 0).is_none());
        assert!(c.get(0, "t1", 100, 0).is_none(), "expired");
        assert_eq!(c.len(), 0);
        c.insert(0, "t1", id(100), 0, 0);
        assert!(c.get(0, "t1", 99, 1).is_none(), "keys replaced since: dropped");
        assert_eq!(c.len(), 0);
        assert_eq!(c.hits, 1);
    }

    #[test]
    fn stays_bounded() {
        let mut c = TokenCache::new(8);
        for i in 0..100 {
            c.insert(0, &format!("t{i}"), id(1000), 0, 0);
            assert!(c.len() <= 8);
        }
        assert!(c.get(0, "t99", 1, 0).is_some(), "newest kept");
        assert!(c.get(0, "t0", 1, 0).is_none(), "oldest evicted");
    }
}
