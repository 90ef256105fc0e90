//! How the proxy refuses a PUBLISH it will not forward (topic ACL, invalid payload),
//! in one place, so every refusal answers the way MQTT requires:
//!
//! - QoS 0: dropped (5.0 has nothing to answer; 3.1.1 neither).
//! - 5.0 QoS 1/2: PUBACK/PUBREC with the refusal's reason code (0x87, 0x99…), or a
//!   DISCONNECT with that code when the rule says `disconnect`.
//! - 3.1.1: acknowledged and dropped (a plain PUBACK/PUBREC; the device does not
//!   retry forever), or the connection is closed when the rule says `disconnect`.
//!   For a QoS 2 drop the sender's PUBREL is answered here with PUBCOMP.
//!
//! The same bookkeeping answers a broker whose delivery the proxy drops: its PUBREL
//! for a dropped QoS 2 delivery gets PUBCOMP from here. Pure.

use super::close::Close;
use super::verdict::Verdict;
use crate::mqtt::{self, Ack, AckKind, Packet, Protocol, QoS, ReasonCode};
use std::cell::RefCell;
use std::collections::HashSet;

/// Encodes a packet the proxy answers with.
pub fn reply(p: Packet, v: Protocol) -> Verdict {
    match p.to_bytes(v) {
        Ok(b) => Verdict::Reply(b),
        Err(_) => Verdict::End(Close::ClientProtocol(mqtt::DecodeError::Truncated)),
    }
}

/// An acknowledgement with a reason code.
pub fn ack(kind: AckKind, pkid: u16, reason: ReasonCode) -> Packet {
    Packet::Ack(Ack { reason, ..Ack::new(kind, pkid) })
}

/// What a refusal does on each protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// The 5.0 reason code.
    pub reason: ReasonCode,
    /// 5.0: DISCONNECT with `reason` instead of a negative acknowledgement.
    pub v5_disconnect: bool,
    /// 3.1.1: close instead of acknowledge-and-drop.
    pub v3_disconnect: bool,
}

/// QoS 2 publishes dropped here whose PUBREL the proxy answers (one per sender),
/// by (link, packet id): the brokers of a multi-broker session number their
/// deliveries independently (the client's side is link 0).
#[derive(Debug, Default)]
pub struct Dropped(RefCell<HashSet<(usize, u16)>>);

impl Dropped {
    /// Refuses a PUBLISH (`qos`, `pkid`) from a `v` client; `close` is the session
    /// end when the policy disconnects.
    pub fn refuse(
        &self,
        qos: QoS,
        pkid: u16,
        v: Protocol,
        policy: Policy,
        close: impl FnOnce() -> Close,
    ) -> Verdict {
        if v.is_v5() && policy.v5_disconnect || !v.is_v5() && policy.v3_disconnect {
            return Verdict::End(close());
        }
        match (qos, v.is_v5()) {
            (QoS::AtMostOnce, _) => Verdict::Drop,
            (QoS::AtLeastOnce, true) => reply(ack(AckKind::PubAck, pkid, policy.reason), v),
            (QoS::ExactlyOnce, true) => reply(ack(AckKind::PubRec, pkid, policy.reason), v),
            (QoS::AtLeastOnce, false) => reply(Packet::Ack(Ack::new(AckKind::PubAck, pkid)), v),
            (QoS::ExactlyOnce, false) => self.accept_qos2(0, pkid, v),
        }
    }

    /// Acknowledges a QoS 2 PUBLISH that is dropped here (PUBREC 0x00) and
    /// remembers it so its PUBREL (from `link`) is answered here.
    pub fn accept_qos2(&self, link: usize, pkid: u16, v: Protocol) -> Verdict {
        self.0.borrow_mut().insert((link, pkid));
        reply(Packet::Ack(Ack::new(AckKind::PubRec, pkid)), v)
    }

    /// A PUBREL from `link`: answered here (PUBCOMP) if its PUBLISH was dropped here.
    pub fn pubrel(&self, link: usize, pkid: u16, v: Protocol) -> Option<Verdict> {
        self.0
            .borrow_mut()
            .remove(&(link, pkid))
            .then(|| reply(Packet::Ack(Ack::new(AckKind::PubComp, pkid)), v))
    }
}
