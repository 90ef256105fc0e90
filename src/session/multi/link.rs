//! One broker link of a multi-broker session, as the state machine sees it: is it
//! open, opening, resting after a failure (and until when), when it last carried a
//! packet and whether a PINGREQ is unanswered, which link-side packet identifiers
//! are in use and by whom, the subscriptions it must get back after a re-open, and
//! the frames waiting for it to open.
//!
//! Pure: times are `Instant`s handed in by the caller. No sockets here; the driver
//! opens and closes connections when the session asks it to.

use crate::mqtt::{SubscribeFilter, SubscriptionOptions};
use bytes::Bytes;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::{Duration, Instant};

/// First wait before a lost link is opened again.
pub const BACKOFF_FIRST: Duration = Duration::from_millis(200);
/// Longest wait between two attempts (the wait doubles up to this).
pub const BACKOFF_CAP: Duration = Duration::from_secs(5);
/// Bytes of client frames a link that is still opening may hold; beyond, publishes
/// to it are refused as if it were down (bounded memory).
pub const QUEUE_BYTES: usize = 256 * 1024;

/// The most bytes of subscription filters a link keeps for restoring (about 50,000
/// typical filters); a SUBSCRIBE beyond it gets 0x97 Quota exceeded for those filters.
pub const KEPT_BYTES: usize = 1 << 20;

/// Where a link stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Never opened (opened on first use).
    Idle,
    /// CONNECT sent (or being sent), no CONNACK yet; given up at `deadline`.
    Opening {
        /// When the attempt counts as failed.
        deadline: Instant,
    },
    /// CONNACK received.
    Open {
        /// Keep alive of this link, seconds: the broker's Server Keep Alive, else
        /// the one the CONNECT asked for (0: none).
        keep_alive: u16,
        /// When a PINGREQ went out that is not answered yet.
        ping_sent: Option<Instant>,
    },
    /// Failed or lost; opened again at `retry_at`.
    Down {
        /// Next attempt.
        retry_at: Instant,
    },
}

/// Who a link-side packet identifier belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// A client PUBLISH (QoS 1/2) with the client's identifier.
    Publish(u16),
    /// A part of a client SUBSCRIBE / UNSUBSCRIBE with the client's identifier.
    FanOut(u16),
    /// The proxy's own re-SUBSCRIBE after a re-open.
    Restore,
}

/// A subscription as the link must get it back: options and Subscription Identifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kept {
    /// The subscription options.
    pub options: SubscriptionOptions,
    /// The 5.0 Subscription Identifier of the SUBSCRIBE that made it.
    pub id: Option<u32>,
}

/// One link.
#[derive(Debug)]
pub struct Link {
    /// Where it stands.
    pub state: State,
    /// The CONNECT it opens with.
    pub connect: Bytes,
    /// Last time anything was written to it (its keep-alive clock).
    pub last_sent: Instant,
    /// The next wait after a failure.
    pub backoff: Duration,
    /// Opened once: re-opened in the background after a loss.
    pub wanted: bool,
    /// The broker kept a session for it at the last open (its subscriptions and
    /// in-flight deliveries survived).
    pub session_present: bool,
    /// Link-side packet identifiers in use.
    pub ids: HashMap<u16, Owner>,
    /// Subscriptions made through it, by filter (re-sent after a re-open that found
    /// no session); their filters total `kept_bytes` ≤ [`KEPT_BYTES`].
    pub subs: BTreeMap<String, Kept>,
    /// Bytes of the filters in `subs`.
    pub kept_bytes: usize,
    /// Frames for it while it opens, in order, with their total size.
    pub queued: VecDeque<Bytes>,
    /// Bytes in `queued`.
    pub queued_bytes: usize,
}

impl Link {
    /// A link that has not been opened, which opens with `connect`.
    pub fn new(connect: Bytes, now: Instant) -> Self {
        Link {
            state: State::Idle,
            connect,
            last_sent: now,
            backoff: BACKOFF_FIRST,
            wanted: false,
            session_present: false,
            ids: HashMap::new(),
            subs: BTreeMap::new(),
            kept_bytes: 0,
            queued: VecDeque::new(),
            queued_bytes: 0,
        }
    }

    /// True once its CONNACK came.
    pub fn is_open(&self) -> bool {
        matches!(self.state, State::Open { .. })
    }

    /// A free link-side identifier for `owner`, `preferred` when that one is free
    /// (so ids pass through unchanged whenever they can). `None` when all 65,535
    /// are in use.
    pub fn allocate(&mut self, preferred: u16, owner: Owner) -> Option<u16> {
        if preferred != 0 && !self.ids.contains_key(&preferred) {
            self.ids.insert(preferred, owner);
            return Some(preferred);
        }
        // Counting down from the top keeps clear of the low ids clients use.
        let id = (1..=u16::MAX).rev().find(|id| !self.ids.contains_key(id))?;
        self.ids.insert(id, owner);
        Some(id)
    }

    /// Marks the link failed at `now`: it rests for the current backoff, which
    /// doubles (capped) for the next failure.
    pub fn rest(&mut self, now: Instant) {
        self.state = State::Down { retry_at: now + self.backoff };
        self.backoff = (self.backoff * 2).min(BACKOFF_CAP);
    }

    /// True when a SUBSCRIBE to `filter` fits the bound on kept subscriptions, with
    /// `adding` bytes of new filters of the same SUBSCRIBE kept before it.
    pub fn can_keep(&self, filter: &str, adding: usize) -> bool {
        self.subs.contains_key(filter) || self.kept_bytes + adding + filter.len() <= KEPT_BYTES
    }

    /// Remembers a subscription (a re-subscription replaces its options).
    pub fn keep(&mut self, f: &SubscribeFilter, id: Option<u32>) {
        let kept = Kept { options: f.options, id };
        if self.subs.insert(f.filter.to_string(), kept).is_none() {
            self.kept_bytes += f.filter.len();
        }
    }

    /// Forgets a subscription (UNSUBSCRIBE).
    pub fn forget(&mut self, filter: &str) {
        if self.subs.remove(filter).is_some() {
            self.kept_bytes -= filter.len();
        }
    }

    /// Queues a frame while the link opens; `false` (nothing queued) beyond the bound.
    pub fn enqueue(&mut self, b: Bytes) -> bool {
        if self.queued_bytes + b.len() > QUEUE_BYTES {
            return false;
        }
        self.queued_bytes += b.len();
        self.queued.push_back(b);
        true
    }

    /// When this link needs attention next: its PINGREQ, its PINGRESP deadline, the
    /// end of its CONNACK wait, or its next open attempt.
    pub fn next_timeout(&self) -> Option<Instant> {
        match self.state {
            State::Idle => None,
            State::Opening { deadline } => Some(deadline),
            State::Open { keep_alive: 0, .. } => None,
            State::Open { keep_alive, ping_sent } => {
                let ka = Duration::from_secs(u64::from(keep_alive));
                let ping = self.last_sent + ka / 2;
                Some(match ping_sent {
                    Some(at) => ping.min(at + ka),
                    None => ping,
                })
            }
            State::Down { retry_at } if self.wanted => Some(retry_at),
            State::Down { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_pass_through_when_free_and_never_collide() {
        let mut l = Link::new(Bytes::new(), Instant::now());
        assert_eq!(l.allocate(7, Owner::Publish(7)), Some(7));
        // The client's 7 is taken by a restore: the client's next 7 gets another id.
        let r = l.allocate(0, Owner::Restore).expect("an id");
        assert_ne!(r, 7);
        l.ids.remove(&7);
        assert_eq!(l.allocate(r, Owner::Publish(r)).map(|x| x != r), Some(true));
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let now = Instant::now();
        let mut l = Link::new(Bytes::new(), now);
        l.wanted = true;
        l.rest(now);
        assert_eq!(l.next_timeout(), Some(now + BACKOFF_FIRST));
        for _ in 0..20 {
            l.rest(now);
        }
        assert_eq!(l.next_timeout(), Some(now + BACKOFF_CAP));
    }

    #[test]
    fn keep_alive_is_half_of_the_links_own() {
        let now = Instant::now();
        let mut l = Link::new(Bytes::new(), now);
        l.state = State::Open { keep_alive: 10, ping_sent: None };
        assert_eq!(l.next_timeout(), Some(now + Duration::from_secs(5)));
        l.state = State::Open { keep_alive: 10, ping_sent: Some(now) };
        l.last_sent = now + Duration::from_secs(9);
        assert_eq!(l.next_timeout(), Some(now + Duration::from_secs(10)), "the PINGRESP deadline");
    }

    #[test]
    fn the_queue_is_bounded() {
        let mut l = Link::new(Bytes::new(), Instant::now());
        assert!(l.enqueue(Bytes::from(vec![0; QUEUE_BYTES])));
        assert!(!l.enqueue(Bytes::from_static(b"x")));
    }
}
