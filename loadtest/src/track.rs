//! Sequence tracking for one publisher as seen by one subscriber: every message
//! carries the publisher's sequence number (1, 2, 3, …), so gaps are losses,
//! repeats are duplicates, and late arrivals of missing numbers are reorderings.
//! Pure; memory is bounded by the number of outstanding gaps.

use std::collections::BTreeSet;

/// Counts for one (publisher, subscriber) stream.
#[derive(Debug, Clone)]
pub struct Track {
    next: u64,
    missing: BTreeSet<u64>,
    /// Messages received (duplicates included).
    pub received: u64,
    /// Messages received more than once.
    pub duplicates: u64,
    /// Messages that arrived after a later one.
    pub reordered: u64,
}

/// Largest number of outstanding gaps remembered; older ones count as lost.
const MAX_GAPS: usize = 100_000;

impl Default for Track {
    fn default() -> Self {
        Track::new()
    }
}

impl Track {
    /// A stream whose first sequence number is 1.
    pub fn new() -> Self {
        Track { next: 1, missing: BTreeSet::new(), received: 0, duplicates: 0, reordered: 0 }
    }

    /// Records sequence number `seq`.
    pub fn see(&mut self, seq: u64) {
        self.received += 1;
        if seq == self.next {
            self.next += 1;
        } else if seq > self.next {
            for s in self.next..seq {
                if self.missing.len() >= MAX_GAPS {
                    break;
                }
                self.missing.insert(s);
            }
            self.next = seq + 1;
        } else if self.missing.remove(&seq) {
            self.reordered += 1;
        } else {
            self.duplicates += 1;
        }
    }

    /// Messages lost, given the number the publisher sent.
    pub fn lost(&self, sent: u64) -> u64 {
        self.missing.len() as u64 + sent.saturating_sub(self.next - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_order_stream_is_clean() {
        let mut t = Track::new();
        for s in 1..=100 {
            t.see(s);
        }
        assert_eq!((t.received, t.duplicates, t.reordered, t.lost(100)), (100, 0, 0, 0));
        assert_eq!(t.lost(105), 5, "the last five never came");
    }

    #[test]
    fn detects_loss_duplicates_and_reordering() {
        let mut t = Track::new();
        for s in [1, 2, 4, 5, 3, 5, 7, 8, 8] {
            t.see(s);
        }
        assert_eq!(t.reordered, 1, "3 came after 4 and 5");
        assert_eq!(t.duplicates, 2, "5 and 8 twice");
        assert_eq!(t.lost(8), 1, "6 never came");
        assert_eq!(t.received, 9);
    }
}
