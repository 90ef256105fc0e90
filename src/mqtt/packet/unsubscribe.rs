//! UNSUBSCRIBE and UNSUBACK (spec §3.10, §3.11).
//!
//! UNSUBSCRIBE: packet id, properties (5.0), at least one valid topic filter.
//! UNSUBACK: packet id; on 5.0 also properties and one reason code per filter (3.x
//! UNSUBACK has no payload, so its `reasons` is empty).

use super::head::{self, Head};
use super::subscribe::{filter, non_empty_list};
use super::{kind, parse_all};
use crate::mqtt::property::{AckProperties, UnsubscribeProperties};
use crate::mqtt::reason::ReasonContext;
use crate::mqtt::string::MqttStr;
use crate::mqtt::wire::{self, fail};
use crate::mqtt::{DecodeError, EncodeError, Protocol, ReasonCode};
use bytes::{BufMut, Bytes, BytesMut};

/// UNSUBSCRIBE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsubscribe {
    /// Packet identifier.
    pub pkid: u16,
    /// Filters to remove (at least one).
    pub filters: Vec<MqttStr>,
    /// Properties (5.0).
    pub properties: UnsubscribeProperties,
}

impl Unsubscribe {
    pub(super) fn decode(base: &Bytes, body: &[u8], protocol: Protocol) -> Result<Self, DecodeError> {
        parse_all(body, |i| {
            let (i, (pkid, properties)) = head::read::<UnsubscribeProperties>(i, base, protocol)?;
            let (i, filters) = non_empty_list(i, |i| filter(i, base))?;
            Ok((i, Unsubscribe { pkid, filters, properties }))
        })
    }

    /// Appends the packet.
    pub fn encode(&self, protocol: Protocol, buf: &mut BytesMut) -> Result<(), EncodeError> {
        let head = Head::new((kind::UNSUBSCRIBE << 4) | 0b0010, self.pkid, &self.properties, protocol)?;
        let mut payload = 0;
        for f in &self.filters {
            payload += wire::field_len(f.len())?;
        }
        head.put(buf, payload)?;
        for f in &self.filters {
            wire::put_bin(buf, f.as_bytes());
        }
        Ok(())
    }
}

/// UNSUBACK.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsubAck {
    /// Packet identifier of the UNSUBSCRIBE.
    pub pkid: u16,
    /// One code per filter (5.0); empty on 3.x.
    pub reasons: Vec<ReasonCode>,
    /// Properties (5.0).
    pub properties: AckProperties,
}

impl UnsubAck {
    pub(super) fn decode(base: &Bytes, body: &[u8], protocol: Protocol) -> Result<Self, DecodeError> {
        parse_all(body, |i| {
            let (i, (pkid, properties)) = head::read::<AckProperties>(i, base, protocol)?;
            if !protocol.is_v5() {
                let reasons = Vec::new();
                return Ok((i, UnsubAck { pkid, reasons, properties }));
            }
            let (i, reasons) = non_empty_list(i, |i| {
                let (i, b) = wire::byte(i)?;
                match ReasonContext::UnsubAck.parse(b) {
                    Some(c) => Ok((i, c)),
                    None => fail(DecodeError::InvalidReasonCode(b)),
                }
            })?;
            Ok((i, UnsubAck { pkid, reasons, properties }))
        })
    }

    /// Appends the packet (3.x: the packet identifier only).
    pub fn encode(&self, protocol: Protocol, buf: &mut BytesMut) -> Result<(), EncodeError> {
        let reasons = if protocol.is_v5() { self.reasons.as_slice() } else { &[] };
        Head::new(kind::UNSUBACK << 4, self.pkid, &self.properties, protocol)?.put(buf, reasons.len())?;
        for r in reasons {
            buf.put_u8(*r as u8);
        }
        Ok(())
    }
}
