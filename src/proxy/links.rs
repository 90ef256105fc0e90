//! The bookkeeping of a session that spans several brokers (one link per upstream
//! group): which link owns each of the client's QoS 2 publishes, the packet
//! identifiers of deliveries (each broker numbers its own; the client must see one
//! numbering), and SUBSCRIBE / UNSUBSCRIBE fan-out whose answers are merged back
//! into one SUBACK / UNSUBACK. Pure.
//!
//! Client → broker packet identifiers pass through: the client never has two
//! packets in flight with one identifier, so neither does any link. Broker →
//! client identifiers are remapped: deliveries get a fresh identifier towards the
//! client, and the client's acknowledgements are mapped back to (link, broker id).

use crate::mqtt::ReasonCode;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;

/// A fan-out waiting for its answers.
#[derive(Debug)]
struct Pending {
    /// Per filter of the client's packet: the merged answer so far.
    results: Vec<Option<ReasonCode>>,
    /// Links still to answer, each with the positions of its filters.
    waiting: Vec<(usize, Vec<usize>)>,
}

/// Severity order for merging: failures beat grants, lower grants beat higher.
fn worse(a: ReasonCode, b: ReasonCode) -> ReasonCode {
    let (x, y) = (a as u8, b as u8);
    match (x >= 0x80, y >= 0x80) {
        (true, false) => a,
        (false, true) => b,
        // Two failures: the first; two grants: the lower QoS.
        (true, true) => a,
        (false, false) => {
            if x <= y {
                a
            } else {
                b
            }
        }
    }
}

/// Per-session state of a multi-broker session.
#[derive(Debug, Default)]
pub struct Links {
    /// Client QoS 2 publish id → link (for its PUBREL).
    up_qos2: RefCell<HashMap<u16, usize>>,
    /// Client-side delivery id → (link, broker id).
    down: RefCell<HashMap<u16, (usize, u16)>>,
    /// (link, broker id) → client-side delivery id.
    down_rev: RefCell<HashMap<(usize, u16), u16>>,
    next: Cell<u16>,
    /// SUBSCRIBE / UNSUBSCRIBE id → merge state.
    pending: RefCell<HashMap<u16, Pending>>,
}

impl Links {
    /// Remembers the link of a client QoS 2 publish.
    pub fn publish_qos2(&self, pkid: u16, link: usize) {
        self.up_qos2.borrow_mut().insert(pkid, link);
    }

    /// The link of a client PUBREL.
    pub fn pubrel(&self, pkid: u16) -> Option<usize> {
        self.up_qos2.borrow().get(&pkid).copied()
    }

    /// A broker's PUBCOMP ended the client's QoS 2 publish.
    pub fn pubcomp(&self, pkid: u16) {
        self.up_qos2.borrow_mut().remove(&pkid);
    }

    /// A QoS 1/2 delivery from `link` with the broker's `pkid`: the identifier the
    /// client sees (the same one again for a redelivery still in flight). `None`
    /// when all 65,535 are in flight.
    pub fn deliver(&self, link: usize, pkid: u16) -> Option<u16> {
        if let Some(&c) = self.down_rev.borrow().get(&(link, pkid)) {
            return Some(c);
        }
        let mut down = self.down.borrow_mut();
        for _ in 0..u16::MAX {
            let c = self.next.get().wrapping_add(1).max(1);
            self.next.set(c);
            if let std::collections::hash_map::Entry::Vacant(e) = down.entry(c) {
                e.insert((link, pkid));
                self.down_rev.borrow_mut().insert((link, pkid), c);
                return Some(c);
            }
        }
        None
    }

    /// A broker PUBREL for a delivery: the client-side identifier.
    pub fn broker_pubrel(&self, link: usize, pkid: u16) -> Option<u16> {
        self.down_rev.borrow().get(&(link, pkid)).copied()
    }

    /// The client acknowledged delivery `pkid`; `done` for PUBACK / PUBCOMP (the
    /// identifier is free again), not for PUBREC. Returns (link, broker id).
    pub fn client_ack(&self, pkid: u16, done: bool) -> Option<(usize, u16)> {
        let found = self.down.borrow().get(&pkid).copied();
        if let (true, Some(k)) = (done, found) {
            self.down.borrow_mut().remove(&pkid);
            self.down_rev.borrow_mut().remove(&k);
        }
        found
    }

    /// Forgets the deliveries of a link that went away.
    pub fn link_lost(&self, link: usize) {
        self.down.borrow_mut().retain(|_, (l, _)| *l != link);
        self.down_rev.borrow_mut().retain(|(l, _), _| *l != link);
        self.up_qos2.borrow_mut().retain(|_, l| *l != link);
    }

    /// Starts a fan-out of `filters` filters: `parts` are (link, filter positions);
    /// `failed` are positions already answered (e.g. their link is down).
    pub fn fan_out(
        &self,
        pkid: u16,
        filters: usize,
        parts: Vec<(usize, Vec<usize>)>,
        failed: &[(usize, ReasonCode)],
    ) {
        let mut results = vec![None; filters];
        for &(i, r) in failed {
            if let Some(x) = results.get_mut(i) {
                *x = Some(r);
            }
        }
        self.pending.borrow_mut().insert(pkid, Pending { results, waiting: parts });
    }

    /// True while a fan-out with `pkid` waits for answers.
    #[cfg(test)]
    pub fn fanning(&self, pkid: u16) -> bool {
        self.pending.borrow().contains_key(&pkid)
    }

    /// A SUBACK / UNSUBACK from `link`: `Some(merged codes)` once every link
    /// answered. A link answering with fewer codes than filters fails the rest.
    pub fn answer(&self, link: usize, pkid: u16, reasons: &[ReasonCode]) -> Option<Vec<ReasonCode>> {
        let mut pending = self.pending.borrow_mut();
        let p = pending.get_mut(&pkid)?;
        let at = p.waiting.iter().position(|(l, _)| *l == link)?;
        let (_, positions) = p.waiting.swap_remove(at);
        for (k, &i) in positions.iter().enumerate() {
            let r = reasons.get(k).copied().unwrap_or(ReasonCode::UnspecifiedError);
            p.results[i] = Some(match p.results[i] {
                Some(prev) => worse(prev, r),
                None => r,
            });
        }
        if !p.waiting.is_empty() {
            return None;
        }
        let done = pending.remove(&pkid)?;
        Some(done.results.into_iter().map(|r| r.unwrap_or(ReasonCode::UnspecifiedError)).collect())
    }

    /// A link that went away before answering fan-out `pkid`: its filters fail.
    pub fn abandon(&self, link: usize) -> Vec<(u16, Vec<ReasonCode>)> {
        let ids: Vec<u16> = self
            .pending
            .borrow()
            .iter()
            .filter(|(_, p)| p.waiting.iter().any(|(l, _)| *l == link))
            .map(|(k, _)| *k)
            .collect();
        ids.into_iter().filter_map(|id| self.answer(link, id, &[]).map(|r| (id, r))).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ReasonCode::*;

    #[test]
    fn delivery_ids_are_unique_towards_the_client() {
        let l = Links::default();
        let a = l.deliver(0, 1).expect("id");
        let b = l.deliver(1, 1).expect("id");
        assert_ne!(a, b, "two brokers' id 1 must not collide");
        assert_eq!(l.deliver(0, 1), Some(a), "a redelivery keeps its id");
        assert_eq!(l.client_ack(b, true), Some((1, 1)));
        assert_eq!(l.client_ack(b, true), None);
        // QoS 2: PUBREC keeps the mapping for the PUBREL and PUBCOMP.
        assert_eq!(l.client_ack(a, false), Some((0, 1)));
        assert_eq!(l.broker_pubrel(0, 1), Some(a));
        assert_eq!(l.client_ack(a, true), Some((0, 1)));
        assert_eq!(l.broker_pubrel(0, 1), None);
        let c = l.deliver(2, 9).expect("id");
        l.link_lost(2);
        assert_eq!(l.client_ack(c, true), None);
    }

    #[test]
    fn subacks_merge_to_the_worst_answer() {
        let l = Links::default();
        // Filters 0 and 1 on link 0; filter 1 also on link 1; filter 2 only on link 1.
        l.fan_out(7, 3, vec![(0, vec![0, 1]), (1, vec![1, 2])], &[]);
        assert!(l.fanning(7));
        assert_eq!(l.answer(0, 7, &[GrantedQoS2, GrantedQoS2]), None);
        assert_eq!(
            l.answer(1, 7, &[GrantedQoS1, NotAuthorized]),
            Some(vec![GrantedQoS2, GrantedQoS1, NotAuthorized])
        );
        assert!(!l.fanning(7));
        // A link lost before answering fails its filters.
        l.fan_out(8, 2, vec![(0, vec![0]), (1, vec![1])], &[]);
        assert_eq!(l.answer(0, 8, &[Success]), None);
        assert_eq!(l.abandon(1), vec![(8, vec![Success, UnspecifiedError])]);
        // Filters whose link is down are answered up front.
        l.fan_out(9, 2, vec![(0, vec![0])], &[(1, UnspecifiedError)]);
        assert_eq!(l.answer(0, 9, &[GrantedQoS1]), Some(vec![GrantedQoS1, UnspecifiedError]));
    }

    #[test]
    fn qos2_publishes_remember_their_link() {
        let l = Links::default();
        l.publish_qos2(5, 2);
        assert_eq!(l.pubrel(5), Some(2));
        l.pubcomp(5);
        assert_eq!(l.pubrel(5), None);
    }
}
