//! CONNACK (spec §3.2): session present, return code (3.x) or reason code (5.0),
//! properties.
//!
//! MQTT 3.x return codes 0–5 are read into the matching [`ReasonCode`]s (0 Success,
//! 1 Unsupported Protocol Version, 2 Client Identifier not valid, 3 Server
//! unavailable, 4 Bad User Name or Password, 5 Not authorized) and written back the
//! same way, so callers handle one type for both versions.

use super::{kind, parse_all};
use crate::mqtt::property::{self, ConnAckProperties};
use crate::mqtt::reason::ReasonContext;
use crate::mqtt::wire::{self, fail};
use crate::mqtt::{DecodeError, EncodeError, Protocol, ReasonCode};
use bytes::{BufMut, Bytes, BytesMut};

/// CONNACK.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnAck {
    /// Session Present.
    pub session_present: bool,
    /// Result of the connection attempt.
    pub reason: ReasonCode,
    /// CONNACK properties (MQTT 5.0).
    pub properties: ConnAckProperties,
}

const V3_CODES: [ReasonCode; 6] = [
    ReasonCode::Success,
    ReasonCode::UnsupportedProtocolVersion,
    ReasonCode::ClientIdentifierNotValid,
    ReasonCode::ServerUnavailable,
    ReasonCode::BadUserNameOrPassword,
    ReasonCode::NotAuthorized,
];

/// The MQTT 3.x return code closest to a 5.0 reason code (used when the proxy must
/// refuse a 3.x client for a reason only 5.0 can name).
pub fn v3_return_code(reason: ReasonCode) -> u8 {
    if let Some(i) = V3_CODES.iter().position(|c| *c == reason) {
        return i as u8;
    }
    // Limits that pass (rate, quota) are "server unavailable": a 3.1.1 client retries
    // that later, where "not authorized" makes many give up for good.
    match reason {
        ReasonCode::BadAuthenticationMethod => 4,
        ReasonCode::Banned => 5,
        _ => 3,
    }
}

impl ConnAck {
    /// A CONNACK with no properties.
    pub fn new(reason: ReasonCode, session_present: bool) -> Self {
        ConnAck { session_present, reason, properties: ConnAckProperties::default() }
    }

    pub(super) fn decode(base: &Bytes, body: &[u8], protocol: Protocol) -> Result<Self, DecodeError> {
        parse_all(body, |i| {
            let (i, ack_flags) = wire::byte(i)?;
            let (i, code) = wire::byte(i)?;
            let reason = if protocol.is_v5() {
                ReasonContext::ConnAck.parse(code)
            } else {
                V3_CODES.get(usize::from(code)).copied()
            };
            let Some(reason) = reason else {
                return fail(DecodeError::InvalidReasonCode(code));
            };
            let session_present = ack_flags & 0x01 != 0;
            if ack_flags & 0xFE != 0 || (session_present && reason != ReasonCode::Success) {
                return fail(DecodeError::ConnAckReservedFlags);
            }
            let (i, properties) = if protocol.is_v5() {
                property::decode::<ConnAckProperties>(i, base)?
            } else {
                (i, ConnAckProperties::default())
            };
            Ok((i, ConnAck { session_present, reason, properties }))
        })
    }

    /// Appends the packet.
    pub fn encode(&self, protocol: Protocol, buf: &mut BytesMut) -> Result<(), EncodeError> {
        let code = if protocol.is_v5() { self.reason as u8 } else { v3_return_code(self.reason) };
        let props_len = property::block_for(&self.properties, protocol)?;
        let len = 2 + property::block_len(props_len);
        wire::put_header(buf, kind::CONNACK << 4, len)?;
        buf.put_u8(u8::from(self.session_present));
        buf.put_u8(code);
        if let Some(n) = props_len {
            property::put(&self.properties, n, buf);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_tell_a_v3_client_to_come_back_later() {
        // 3 = server unavailable: retried; 5 = not authorized: many clients give up.
        assert_eq!(v3_return_code(ReasonCode::ConnectionRateExceeded), 3);
        assert_eq!(v3_return_code(ReasonCode::QuotaExceeded), 3);
        assert_eq!(v3_return_code(ReasonCode::ServerBusy), 3);
        assert_eq!(v3_return_code(ReasonCode::NotAuthorized), 5);
        assert_eq!(v3_return_code(ReasonCode::Banned), 5);
        assert_eq!(v3_return_code(ReasonCode::BadAuthenticationMethod), 4);
    }
}
