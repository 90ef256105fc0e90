//! SUBSCRIBE and SUBACK (spec §3.8, §3.9).
//!
//! SUBSCRIBE: packet id, properties (5.0), then at least one (filter, options) pair.
//! Options on 3.x are a QoS with six reserved zero bits; on 5.0 they add No Local,
//! Retain As Published and Retain Handling. Filters are validated, including shared
//! subscriptions. SUBACK: packet id, properties (5.0), one code per filter; 3.x codes
//! 0, 1, 2 and 0x80 read as the 5.0 codes with the same value.

use super::head::{self, Head};
use super::{kind, parse_all, QoS};
use crate::mqtt::property::{AckProperties, SubscribeProperties};
use crate::mqtt::reason::ReasonContext;
use crate::mqtt::string::MqttStr;
use crate::mqtt::topic::{self, SharedSubscription};
use crate::mqtt::wire::{self, fail, PResult};
use crate::mqtt::{DecodeError, EncodeError, Protocol, ReasonCode};
use bytes::{BufMut, Bytes, BytesMut};

/// When the server sends retained messages for a new subscription (5.0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum RetainHandling {
    /// 0: at subscribe time.
    #[default]
    OnSubscribe,
    /// 1: only if the subscription did not exist.
    OnNewSubscribe,
    /// 2: never.
    Never,
}

/// Subscription options byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SubscriptionOptions {
    /// Maximum QoS.
    pub qos: QoS,
    /// Do not deliver the client's own publications (5.0).
    pub no_local: bool,
    /// Keep the RETAIN flag of forwarded messages (5.0).
    pub retain_as_published: bool,
    /// Retained message handling (5.0).
    pub retain_handling: RetainHandling,
}

impl SubscriptionOptions {
    fn from_byte(b: u8, protocol: Protocol) -> Result<Self, DecodeError> {
        let bad = DecodeError::InvalidSubscriptionOptions(b);
        let reserved = if protocol.is_v5() { 0xC0 } else { 0xFC };
        if b & reserved != 0 {
            return Err(bad);
        }
        let retain_handling = match (b >> 4) & 0x03 {
            0 => RetainHandling::OnSubscribe,
            1 => RetainHandling::OnNewSubscribe,
            2 => RetainHandling::Never,
            _ => return Err(bad),
        };
        Ok(SubscriptionOptions {
            qos: QoS::from_u8(b & 0x03).ok_or(bad)?,
            no_local: b & 0x04 != 0,
            retain_as_published: b & 0x08 != 0,
            retain_handling,
        })
    }

    fn to_byte(self, protocol: Protocol) -> Result<u8, EncodeError> {
        let extra = u8::from(self.no_local) << 2
            | u8::from(self.retain_as_published) << 3
            | (self.retain_handling as u8) << 4;
        if !protocol.is_v5() && extra != 0 {
            return Err(EncodeError::NotInVersion(protocol));
        }
        Ok(self.qos as u8 | extra)
    }
}

/// One filter of a SUBSCRIBE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscribeFilter {
    /// Topic filter (possibly `$share/{group}/…`).
    pub filter: MqttStr,
    /// Options.
    pub options: SubscriptionOptions,
}

/// SUBSCRIBE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscribe {
    /// Packet identifier.
    pub pkid: u16,
    /// Filters, in order (at least one).
    pub filters: Vec<SubscribeFilter>,
    /// Properties (5.0).
    pub properties: SubscribeProperties,
}

/// Reads a list of at least one item up to the end of the body.
pub(super) fn non_empty_list<'a, T>(
    mut i: &'a [u8],
    mut item: impl FnMut(&'a [u8]) -> PResult<'a, T>,
) -> PResult<'a, Vec<T>> {
    if i.is_empty() {
        return fail(DecodeError::NoTopicFilters);
    }
    let mut out = Vec::new();
    while !i.is_empty() {
        let (r, x) = item(i)?;
        out.push(x);
        i = r;
    }
    Ok((i, out))
}

/// Reads and validates one topic filter.
pub(super) fn filter<'a>(i: &'a [u8], base: &Bytes) -> PResult<'a, MqttStr> {
    let (i, f) = wire::utf8(i)?;
    let f = wire::str_in(base, f);
    if let Err(e) = topic::validate_filter(&f) {
        return fail(e);
    }
    Ok((i, f))
}

impl Subscribe {
    pub(super) fn decode(base: &Bytes, body: &[u8], protocol: Protocol) -> Result<Self, DecodeError> {
        parse_all(body, |i| {
            let (i, (pkid, properties)) = head::read::<SubscribeProperties>(i, base, protocol)?;
            let (i, filters) = non_empty_list(i, |i| {
                let (i, f) = filter(i, base)?;
                let (i, o) = wire::byte(i)?;
                let options = match SubscriptionOptions::from_byte(o, protocol) {
                    Ok(o) => o,
                    Err(e) => return fail(e),
                };
                if options.no_local && SharedSubscription::split(&f).is_some() {
                    return fail(DecodeError::NoLocalOnSharedSubscription);
                }
                Ok((i, SubscribeFilter { filter: f, options }))
            })?;
            Ok((i, Subscribe { pkid, filters, properties }))
        })
    }

    /// Appends the packet.
    pub fn encode(&self, protocol: Protocol, buf: &mut BytesMut) -> Result<(), EncodeError> {
        let head = Head::new((kind::SUBSCRIBE << 4) | 0b0010, self.pkid, &self.properties, protocol)?;
        let mut payload = 0;
        for f in &self.filters {
            payload += wire::field_len(f.filter.len())? + 1;
        }
        head.put(buf, payload)?;
        for f in &self.filters {
            wire::put_bin(buf, f.filter.as_bytes());
            buf.put_u8(f.options.to_byte(protocol)?);
        }
        Ok(())
    }
}

/// SUBACK.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubAck {
    /// Packet identifier of the SUBSCRIBE.
    pub pkid: u16,
    /// One code per filter, in order (Success/GrantedQoS1/GrantedQoS2 grant a QoS).
    pub reasons: Vec<ReasonCode>,
    /// Properties (5.0).
    pub properties: AckProperties,
}

const V3_SUBACK: [u8; 4] = [0x00, 0x01, 0x02, 0x80];

impl SubAck {
    pub(super) fn decode(base: &Bytes, body: &[u8], protocol: Protocol) -> Result<Self, DecodeError> {
        parse_all(body, |i| {
            let (i, (pkid, properties)) = head::read::<AckProperties>(i, base, protocol)?;
            let (i, reasons) = non_empty_list(i, |i| {
                let (i, b) = wire::byte(i)?;
                let ok = if protocol.is_v5() {
                    ReasonContext::SubAck.allows_byte(b)
                } else {
                    V3_SUBACK.contains(&b)
                };
                match ReasonCode::from_u8(b) {
                    Some(c) if ok => Ok((i, c)),
                    _ => fail(DecodeError::InvalidReasonCode(b)),
                }
            })?;
            Ok((i, SubAck { pkid, reasons, properties }))
        })
    }

    /// Appends the packet. On 3.x every failure code is written as 0x80.
    pub fn encode(&self, protocol: Protocol, buf: &mut BytesMut) -> Result<(), EncodeError> {
        Head::new(kind::SUBACK << 4, self.pkid, &self.properties, protocol)?.put(buf, self.reasons.len())?;
        for r in &self.reasons {
            let b = *r as u8;
            buf.put_u8(if protocol.is_v5() || b <= 2 { b } else { 0x80 });
        }
        Ok(())
    }
}
