//! Drives the multi-broker state machine from an arbitrary byte script, as the
//! fuzz target does (`fuzz/fuzz_targets/session.rs`), so that every crash it finds
//! becomes a named regression test here.
//!
//! The script: a first byte picks the protocol, the links opened at CONNECT, the
//! will's link and the client's Receive Maximum; then each op byte is bytes from
//! the client or from link k (a length, then the bytes, framed as the driver
//! frames them), the loss of a link, or time passing. After every event: the
//! machine's consistency check holds, nothing follows its End, and it writes only
//! to links it opened. Panics otherwise (that is the point).

use super::{Action, Multi, Router, Setup};
use crate::mqtt::{Frame, Protocol};
use crate::session::Session;
use bytes::{Bytes, BytesMut};
use std::time::{Duration, Instant};

/// `l1/…` to link 1, `l2/…` to link 2; wildcards everywhere.
pub struct Lines;

impl Router for Lines {
    fn publish_link(&self, topic: &str) -> usize {
        match topic.as_bytes() {
            [b'l', n @ b'1'..=b'2', b'/', ..] => usize::from(n - b'0'),
            _ => 0,
        }
    }
    fn subscribe_links(&self, filter: &str, out: &mut Vec<usize>) {
        match filter.as_bytes().first() {
            Some(b'#' | b'+') => out.extend([1, 2]),
            _ => out.push(self.publish_link(filter)),
        }
    }
}

const LINKS: usize = 3;

/// Drives a session from `data` (see the module doc); panics when an invariant breaks.
pub fn replay(data: &[u8]) {
    let Some((&head, mut rest)) = data.split_first() else { return };
    let v = if head & 1 == 0 { Protocol::V5 } else { Protocol::V311 };
    let session = Session::new(v, 10, None).without_topic_aliases();
    let mut now = Instant::now();
    let setup = Setup {
        protocol: v,
        connects: vec![Bytes::from_static(b"\x10\x00"); LINKS],
        open_at_connect: if head & 2 == 0 { vec![] } else { vec![1, 2] },
        will_link: (head & 4 != 0).then_some(2),
        keep_alive: 10,
        receive_maximum: u16::from(head >> 4).max(1),
        open_timeout: Duration::from_secs(4),
    };
    let mut m = Multi::new(setup, &session, &Lines, now);
    // What the driver knows: which links it was asked to open, and their buffers.
    let mut driver = Driver { open: [true, false, false], ended: false };
    let mut bufs: [BytesMut; LINKS + 1] = Default::default();
    loop {
        driver.execute(&mut m);
        let Some((&op, tail)) = rest.split_first() else { return };
        rest = tail;
        match op % 8 {
            // Bytes from the client (slot 3) or link k: a length, then that many bytes.
            0..=3 => {
                let slot = usize::from(op % 8);
                let Some((&n, tail)) = rest.split_first() else { return };
                let n = usize::from(n).min(tail.len());
                bufs[slot].extend_from_slice(&tail[..n]);
                rest = &tail[n..];
                loop {
                    match Frame::split(&mut bufs[slot], 4096) {
                        // The driver carries out the actions after every frame.
                        Ok(Some(f)) if slot == 3 => {
                            if m.client_readable() {
                                m.from_client(f, now);
                                driver.execute(&mut m);
                            }
                        }
                        Ok(Some(f)) => {
                            if driver.open[slot] && m.link_readable(slot) {
                                m.from_link(slot, f, now);
                                driver.execute(&mut m);
                            }
                        }
                        Ok(None) => break,
                        // The driver ends a link (or the session) on a framing error.
                        Err(_) => {
                            bufs[slot].clear();
                            if slot < LINKS {
                                driver.open[slot] = false;
                                m.link_down(slot, "malformed", now);
                            }
                            break;
                        }
                    }
                }
            }
            4 | 5 => {
                let k = usize::from(op >> 3) % LINKS;
                if driver.open[k] {
                    driver.open[k] = false;
                    bufs[k].clear();
                    m.link_down(k, "lost", now);
                }
            }
            _ => {
                now += Duration::from_millis(u64::from(op >> 3) * 250);
                if m.poll_timeout().is_some_and(|t| t <= now) {
                    m.handle_timeout(now);
                }
            }
        }
    }
}

/// What the driver knows: which links it was asked to open (and not closed since),
/// and whether the session ended.
struct Driver {
    open: [bool; LINKS],
    ended: bool,
}

impl Driver {
    /// Carries out every pending action, checking each against what the driver knows,
    /// then the machine's own consistency.
    fn execute(&mut self, m: &mut Multi<'_>) {
        while let Some(a) = m.poll_action() {
            assert!(!self.ended, "an action after End: {a:?}");
            match a {
                Action::ToLink(k, _) => assert!(self.open[k], "a write to link {k}, never opened or closed"),
                Action::Open(k, _) => self.open[k] = true,
                Action::Close(k) => self.open[k] = false,
                Action::Reauthenticate(_) => m.reauthenticated(false),
                Action::End(_) => self.ended = true,
                Action::ToClient(_) | Action::Rejected(_) => {}
            }
        }
        if let Err(e) = m.check() {
            panic!("inconsistent: {e}");
        }
    }
}
