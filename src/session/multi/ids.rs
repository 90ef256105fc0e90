//! Packet identifiers of a multi-broker session, both ways.
//!
//! - [`Outgoing`]: the client's QoS 1/2 publishes in flight, by the client's id:
//!   which link took each, under which link-side id, and how far its handshake got.
//!   An entry lives until the broker's last answer (or the proxy's refusal) reaches
//!   the client, so every publish is answered exactly once.
//! - [`Deliveries`]: QoS 1/2 deliveries towards the client. Each broker numbers its
//!   own, so the client sees one numbering of the proxy's: a client-side id is held
//!   until the *client* releases it (PUBACK, PUBCOMP), also when its link is lost
//!   meanwhile, so an id the client still holds is never given to another message
//!   [MQTT-2.2.1-3]. The id a delivery gets is a fixed function of (link, broker id)
//!   whenever it is free, so after a persistent reconnect the PUBRELs a broker
//!   resends reach the ids the client holds.
//!
//! Pure bookkeeping; the state machine in `mod.rs` decides what goes on the wire.

use std::collections::HashMap;

/// How far a client publish got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// QoS 1, waiting for the broker's PUBACK.
    AwaitPubAck,
    /// QoS 2, waiting for the broker's PUBREC.
    AwaitPubRec,
    /// QoS 2, the broker has it (PUBREC passed on); the client's PUBREL is next.
    AwaitPubRel,
    /// QoS 2, PUBREL sent to the broker; its PUBCOMP is next.
    AwaitPubComp,
    /// QoS 2 after PUBREC, and the link was lost: the PUBREL gets PUBCOMP 0x92.
    Lost,
}

/// A client publish in flight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outgoing {
    /// The link that took it.
    pub link: usize,
    /// Its id on that link.
    pub link_id: u16,
    /// How far it got.
    pub stage: Stage,
}

/// The client's publishes in flight, by client id.
pub type Outgoings = HashMap<u16, Outgoing>;

/// A delivery in flight towards the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivery {
    /// The link it came from.
    pub link: usize,
    /// The broker's id for it.
    pub link_id: u16,
    /// QoS 2 (else 1).
    pub qos2: bool,
    /// QoS 2: the client sent PUBREC.
    pub received: bool,
    /// QoS 2: a PUBREL went to the client (from the broker or the proxy).
    pub released: bool,
    /// Its link was lost: the client's answers go nowhere.
    pub orphan: bool,
}

/// Ids of a link's deliveries start in their own window of the id space.
const WINDOW: u32 = 16_384;

/// The client-side id a delivery of `link` with broker id `link_id` gets when free:
/// the broker's own on link 0, a shifted one on the others.
pub fn preferred(link: usize, link_id: u16) -> u16 {
    let shift = (link as u32 % 4) * WINDOW;
    ((u32::from(link_id) - 1 + shift) % 65_535 + 1) as u16
}

/// Deliveries in flight towards the client.
#[derive(Debug, Default)]
pub struct Deliveries {
    by_client: HashMap<u16, Delivery>,
    by_link: HashMap<(usize, u16), u16>,
}

impl Deliveries {
    /// The client-side id of a delivery still mapped (a redelivery keeps its id).
    pub fn lookup(&self, link: usize, link_id: u16) -> Option<u16> {
        self.by_link.get(&(link, link_id)).copied()
    }

    /// A new delivery: its client-side id, `None` when all 65,535 are held.
    pub fn insert(&mut self, link: usize, link_id: u16, qos2: bool) -> Option<u16> {
        let first = preferred(link, link_id);
        let id = (0..u16::MAX)
            .map(|i| ((u32::from(first) - 1 + u32::from(i)) % 65_535 + 1) as u16)
            .find(|id| !self.by_client.contains_key(id))?;
        self.by_client
            .insert(id, Delivery { link, link_id, qos2, received: false, released: false, orphan: false });
        self.by_link.insert((link, link_id), id);
        Some(id)
    }

    /// The delivery with client-side id `id`.
    pub fn get_mut(&mut self, id: u16) -> Option<&mut Delivery> {
        self.by_client.get_mut(&id)
    }

    /// The client released `id`.
    pub fn remove(&mut self, id: u16) -> Option<Delivery> {
        let d = self.by_client.remove(&id)?;
        if self.by_link.get(&(d.link, d.link_id)) == Some(&id) {
            self.by_link.remove(&(d.link, d.link_id));
        }
        Some(d)
    }

    /// Deliveries the client has not released (what its Receive Maximum counts).
    pub fn in_flight(&self) -> usize {
        self.by_client.len()
    }

    /// `link` was lost: its deliveries become orphans (the client still holds their
    /// ids). Returns the ids of QoS 2 deliveries the client has PUBREC'd, which only
    /// a PUBREL can release.
    pub fn orphan(&mut self, link: usize) -> Vec<u16> {
        let mut received = Vec::new();
        for (&id, d) in self.by_client.iter_mut().filter(|(_, d)| d.link == link) {
            d.orphan = true;
            if d.qos2 && d.received && !d.released {
                d.released = true;
                received.push(id);
            }
        }
        received.sort_unstable();
        received
    }

    /// `link` is open again: with `session_present` the broker still has its
    /// deliveries (answers flow again), else their broker ids mean nothing now.
    pub fn reattach(&mut self, link: usize, session_present: bool) {
        let by_link = &mut self.by_link;
        for d in self.by_client.values_mut().filter(|d| d.link == link && d.orphan) {
            if session_present {
                d.orphan = false;
            } else {
                by_link.remove(&(d.link, d.link_id));
            }
        }
    }

    /// The two maps agree: every broker id maps to a held client id of that
    /// delivery (for tests and fuzzing).
    pub fn check(&self) -> Result<(), String> {
        for (&(link, link_id), id) in &self.by_link {
            match self.by_client.get(id) {
                Some(d) if d.link == link && d.link_id == link_id => {}
                other => return Err(format!("({link}, {link_id}) -> {id} -> {other:?}")),
            }
        }
        if self.by_client.contains_key(&0) {
            return Err("client-side id 0".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_brokers_id_1_get_two_ids_and_link_0_keeps_its_own() {
        let mut d = Deliveries::default();
        let a = d.insert(0, 1, false).expect("id");
        let b = d.insert(1, 1, false).expect("id");
        assert_eq!(a, 1, "the session's broker numbers as it would alone");
        assert_ne!(a, b);
        assert_eq!(d.lookup(1, 1), Some(b));
        assert_eq!(d.in_flight(), 2);
        d.remove(b);
        assert_eq!(d.lookup(1, 1), None);
    }

    #[test]
    fn held_ids_survive_the_loss_of_their_link() {
        let mut d = Deliveries::default();
        let q2 = d.insert(2, 5, true).expect("id");
        d.get_mut(q2).expect("held").received = true;
        let q1 = d.insert(2, 6, false).expect("id");
        assert_eq!(d.orphan(2), vec![q2], "only a PUBREL releases a PUBREC'd QoS 2 id");
        // Re-opened without a session: the broker may reuse 5 and 6 for new messages.
        d.reattach(2, false);
        let fresh = d.insert(2, 5, false).expect("id");
        assert!(fresh != q2 && fresh != q1, "ids the client holds are not reused");
        assert_eq!(d.in_flight(), 3);
    }

    #[test]
    fn the_preferred_id_wraps_inside_the_id_space() {
        assert_eq!(preferred(0, 65_535), 65_535);
        assert_eq!(preferred(1, 65_535), 16_384);
        assert!((1..=65_535).contains(&preferred(3, 60_000)));
    }
}
