//! At-least-once bookkeeping for one device of the `fleet` scenario: which of its
//! own messages the server acknowledged (PUBACK), which came back to it, which
//! came back more than once, and which went down with a session the server no
//! longer had (Session Present 0 after a reconnect: those were acknowledged by a
//! broker that is gone, so their loss is the broker layout's, not a proxy's).
//!
//! Pure; one byte per message sent.

const ACKED: u8 = 1;
const RECEIVED: u8 = 2;
const EXCUSED: u8 = 4;

/// Counts of one device, or of a whole run when added up.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    /// Messages published (each sequence number once, however often re-sent).
    pub sent: u64,
    /// Messages the server acknowledged.
    pub acked: u64,
    /// Distinct messages delivered back.
    pub received: u64,
    /// Deliveries of a message already delivered.
    pub duplicates: u64,
    /// Acknowledged, never delivered, and no session loss to explain it.
    pub acked_lost: u64,
    /// Acknowledged, not delivered when the server's session was found gone.
    pub lost_with_session: u64,
    /// Published but never acknowledged (in flight when the run ended).
    pub unacked: u64,
    /// Deliveries of sequence numbers never sent (a stale session's, or corrupt).
    pub unknown: u64,
}

impl std::ops::AddAssign for Tally {
    fn add_assign(&mut self, o: Tally) {
        self.sent += o.sent;
        self.acked += o.acked;
        self.received += o.received;
        self.duplicates += o.duplicates;
        self.acked_lost += o.acked_lost;
        self.lost_with_session += o.lost_with_session;
        self.unacked += o.unacked;
        self.unknown += o.unknown;
    }
}

/// The messages of one device, by sequence number (1, 2, 3, …).
#[derive(Debug, Default)]
pub struct Ledger {
    state: Vec<u8>,
    duplicates: u64,
    unknown: u64,
    /// Acknowledged and not yet delivered (nor excused).
    outstanding: u64,
}

impl Ledger {
    /// The sequence number of a new message.
    pub fn send(&mut self) -> u64 {
        self.state.push(0);
        self.state.len() as u64
    }

    fn slot(&mut self, seq: u64) -> Option<&mut u8> {
        let i = usize::try_from(seq).ok()?.checked_sub(1)?;
        self.state.get_mut(i)
    }

    /// The server acknowledged `seq`.
    pub fn ack(&mut self, seq: u64) {
        if let Some(s) = self.slot(seq) {
            if *s & ACKED == 0 {
                *s |= ACKED;
                if *s & (RECEIVED | EXCUSED) == 0 {
                    self.outstanding += 1;
                }
            }
        }
    }

    /// `seq` was delivered back; `true` the first time.
    pub fn receive(&mut self, seq: u64) -> bool {
        let Some(s) = self.slot(seq) else {
            self.unknown += 1;
            return false;
        };
        if *s & RECEIVED != 0 {
            self.duplicates += 1;
            return false;
        }
        let was_outstanding = *s & ACKED != 0 && *s & EXCUSED == 0;
        *s |= RECEIVED;
        if was_outstanding {
            self.outstanding -= 1;
        }
        true
    }

    /// The server no longer had the session: whatever it acknowledged and has not
    /// delivered is gone with it.
    pub fn session_lost(&mut self) {
        for s in &mut self.state {
            if *s & (ACKED | RECEIVED | EXCUSED) == ACKED {
                *s |= EXCUSED;
            }
        }
        self.outstanding = 0;
    }

    /// Acknowledged messages still to be delivered.
    pub fn outstanding(&self) -> u64 {
        self.outstanding
    }

    /// Up to `n` sequence numbers acknowledged and never delivered (nor excused).
    pub fn lost(&self, n: usize) -> Vec<u64> {
        let lost = |s: &u8| *s & (ACKED | RECEIVED | EXCUSED) == ACKED;
        self.state.iter().enumerate().filter(|(_, s)| lost(s)).map(|(i, _)| i as u64 + 1).take(n).collect()
    }

    /// The counts.
    pub fn tally(&self) -> Tally {
        let mut t = Tally {
            sent: self.state.len() as u64,
            duplicates: self.duplicates,
            unknown: self.unknown,
            ..Default::default()
        };
        for &s in &self.state {
            let (acked, received, excused) = (s & ACKED != 0, s & RECEIVED != 0, s & EXCUSED != 0);
            t.acked += u64::from(acked);
            t.received += u64::from(received);
            t.unacked += u64::from(!acked);
            t.acked_lost += u64::from(acked && !received && !excused);
            t.lost_with_session += u64::from(acked && !received && excused);
        }
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delivered_acknowledged_messages_are_not_lost() {
        let mut l = Ledger::default();
        let (a, b, c) = (l.send(), l.send(), l.send());
        l.ack(a);
        l.ack(b);
        assert_eq!(l.outstanding(), 2);
        assert!(l.receive(a));
        assert!(l.receive(b));
        assert!(!l.receive(b), "a duplicate");
        let t = l.tally();
        assert_eq!((t.sent, t.acked, t.received, t.duplicates, t.acked_lost, t.unacked), (3, 2, 2, 1, 0, 1));
        assert_eq!(l.outstanding(), 0);
        assert_eq!(c, 3);
    }

    #[test]
    fn a_message_delivered_before_its_ack_is_not_outstanding() {
        let mut l = Ledger::default();
        let a = l.send();
        l.receive(a);
        l.ack(a);
        l.ack(a);
        assert_eq!(l.outstanding(), 0);
        assert_eq!(l.tally().acked_lost, 0);
    }

    #[test]
    fn acknowledged_and_undelivered_is_lost_unless_the_session_went() {
        let mut l = Ledger::default();
        let (a, b) = (l.send(), l.send());
        l.ack(a);
        assert_eq!(l.tally().acked_lost, 1);
        assert_eq!(l.lost(10), vec![a]);
        l.session_lost();
        l.ack(b);
        let t = l.tally();
        assert_eq!(
            (t.acked_lost, t.lost_with_session, l.outstanding()),
            (1, 1, 1),
            "b was acknowledged after the loss"
        );
        l.receive(a);
        let t = l.tally();
        assert_eq!((t.acked_lost, t.lost_with_session, t.received), (1, 0, 1), "a came after all");
    }

    #[test]
    fn unknown_sequence_numbers_are_counted_not_stored() {
        let mut l = Ledger::default();
        l.receive(0);
        l.receive(7);
        assert_eq!(l.tally().unknown, 2);
        assert_eq!(l.tally().sent, 0);
    }
}
