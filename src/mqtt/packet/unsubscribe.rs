//! UNSUBSCRIBE and UNSUBACK (spec §3.10, §3.11).
//!
//! UNSUBSCRIBE: packet id, properties (5.0), at least one valid topic filter.
//! UNSUBACK: packet id; on 5.0 also properties and one reason code per filter (3.x
//! UNSUBACK has no payload, so its `reasons` is empty).

use super::subscribe::{block_len, filter, non_empty_list, props_len};
use super::{kind, parse_all};
use crate::mqtt::property::{self, AckProperties, UnsubscribeProperties};
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
    pub(super) fn decode(
        base: &Bytes,
        body: &[u8],
        protocol: Protocol,
    ) -> Result<Self, DecodeError> {
        parse_all(body, |i| {
            let (i, pkid) = wire::packet_id(i)?;
            let (i, properties) = if protocol.is_v5() {
                property::decode::<UnsubscribeProperties>(i, base)?
            } else {
                (i, UnsubscribeProperties::default())
            };
            let (i, filters) = non_empty_list(i, |i| filter(i, base))?;
            Ok((
                i,
                Unsubscribe {
                    pkid,
                    filters,
                    properties,
                },
            ))
        })
    }

    /// Appends the packet.
    pub fn encode(&self, protocol: Protocol, buf: &mut BytesMut) -> Result<(), EncodeError> {
        if self.pkid == 0 {
            return Err(EncodeError::ZeroPacketId);
        }
        let props = props_len(&self.properties, self.properties.is_empty(), protocol)?;
        let mut len = 2 + block_len(props);
        for f in &self.filters {
            len += wire::field_len(f.len())?;
        }
        buf.reserve(5 + len);
        wire::put_header(buf, (kind::UNSUBSCRIBE << 4) | 0b0010, len)?;
        buf.put_u16(self.pkid);
        if let Some(n) = props {
            property::put(&self.properties, n, buf);
        }
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
    pub(super) fn decode(
        base: &Bytes,
        body: &[u8],
        protocol: Protocol,
    ) -> Result<Self, DecodeError> {
        parse_all(body, |i| {
            let (i, pkid) = wire::packet_id(i)?;
            if !protocol.is_v5() {
                return Ok((
                    i,
                    UnsubAck {
                        pkid,
                        reasons: Vec::new(),
                        properties: AckProperties::default(),
                    },
                ));
            }
            let (i, properties) = property::decode::<AckProperties>(i, base)?;
            let (i, reasons) = non_empty_list(i, |i| {
                let (i, b) = wire::byte(i)?;
                match ReasonContext::UnsubAck.parse(b) {
                    Some(c) => Ok((i, c)),
                    None => fail(DecodeError::InvalidReasonCode(b)),
                }
            })?;
            Ok((
                i,
                UnsubAck {
                    pkid,
                    reasons,
                    properties,
                },
            ))
        })
    }

    /// Appends the packet.
    pub fn encode(&self, protocol: Protocol, buf: &mut BytesMut) -> Result<(), EncodeError> {
        if self.pkid == 0 {
            return Err(EncodeError::ZeroPacketId);
        }
        if !protocol.is_v5() {
            wire::put_header(buf, kind::UNSUBACK << 4, 2)?;
            buf.put_u16(self.pkid);
            return Ok(());
        }
        let n = property::body_len(&self.properties)?;
        let len = 2 + block_len(Some(n)) + self.reasons.len();
        wire::put_header(buf, kind::UNSUBACK << 4, len)?;
        buf.put_u16(self.pkid);
        property::put(&self.properties, n, buf);
        for r in &self.reasons {
            buf.put_u8(*r as u8);
        }
        Ok(())
    }
}
