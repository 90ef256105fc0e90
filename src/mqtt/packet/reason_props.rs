//! The MQTT 5.0 "reason code, then properties" tail shared by PUBACK–PUBCOMP,
//! DISCONNECT and AUTH, with its short forms (no reason code means Success; no
//! property length means none), and the DISCONNECT and AUTH packets built on it.
//!
//! MQTT 3.x DISCONNECT has an empty body; AUTH does not exist before 5.0.

use super::kind;
use crate::mqtt::property::{self, AuthProperties, DisconnectProperties, PropertySet};
use crate::mqtt::reason::ReasonContext;
use crate::mqtt::wire::{self, fail, PResult};
use crate::mqtt::{varint, DecodeError, EncodeError, Protocol, ReasonCode};
use bytes::{BufMut, Bytes, BytesMut};

/// Reads `[reason [properties]]` up to the end of `i`.
pub(super) fn decode<'a, S: PropertySet>(
    i: &'a [u8],
    base: &Bytes,
    ctx: ReasonContext,
) -> PResult<'a, (ReasonCode, S)> {
    if i.is_empty() {
        return Ok((i, (ReasonCode::Success, S::default())));
    }
    let (i, code) = wire::byte(i)?;
    let Some(reason) = ctx.parse(code) else {
        return fail(DecodeError::InvalidReasonCode(code));
    };
    if i.is_empty() {
        return Ok((i, (reason, S::default())));
    }
    let (i, props) = property::decode::<S>(i, base)?;
    Ok((i, (reason, props)))
}

/// The encoded tail: its length and the properties' own length (`None`: omitted).
pub(super) fn len<S: PropertySet>(
    reason: ReasonCode,
    props: &S,
) -> Result<(usize, Option<usize>), EncodeError> {
    let n = property::body_len(props)?;
    Ok(if n > 0 {
        (1 + varint::len(n as u32) + n, Some(n))
    } else if reason != ReasonCode::Success {
        (1, None)
    } else {
        (0, None)
    })
}

/// Writes the tail measured by [`len`].
pub(super) fn put<S: PropertySet>(
    reason: ReasonCode,
    props: &S,
    tail: (usize, Option<usize>),
    buf: &mut BytesMut,
) {
    if tail.0 > 0 {
        buf.put_u8(reason as u8);
    }
    if let Some(n) = tail.1 {
        property::put(props, n, buf);
    }
}

macro_rules! reason_packet {
    ($(#[$doc:meta])* $name:ident, $props:ty, $ctx:expr, $kind:expr, $v3_ok:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Default)]
        pub struct $name {
            /// Reason code (Success when absent on the wire).
            pub reason: ReasonCode,
            /// Properties (MQTT 5.0).
            pub properties: $props,
        }

        impl $name {
            /// The packet with a reason code and no properties.
            pub fn new(reason: ReasonCode) -> Self {
                $name { reason, properties: Default::default() }
            }

            pub(super) fn decode(base: &Bytes, body: &[u8], protocol: Protocol) -> Result<Self, DecodeError> {
                if !protocol.is_v5() {
                    wire::end(body)?;
                    return Ok(Self::default());
                }
                super::parse_all(body, |i| decode::<$props>(i, base, $ctx))
                    .map(|(reason, properties)| $name { reason, properties })
            }

            /// Appends the packet.
            pub fn encode(&self, protocol: Protocol, buf: &mut BytesMut) -> Result<(), EncodeError> {
                if !protocol.is_v5() {
                    if !$v3_ok || self.reason != ReasonCode::Success || !self.properties.is_empty() {
                        return Err(EncodeError::NotInVersion(protocol));
                    }
                    return wire::put_header(buf, $kind << 4, 0);
                }
                let tail = len(self.reason, &self.properties)?;
                wire::put_header(buf, $kind << 4, tail.0)?;
                put(self.reason, &self.properties, tail, buf);
                Ok(())
            }
        }
    };
}

reason_packet!(
    /// DISCONNECT. On MQTT 3.x only the empty form exists.
    Disconnect, DisconnectProperties, ReasonContext::Disconnect, kind::DISCONNECT, true
);
reason_packet!(
    /// AUTH (MQTT 5.0 enhanced authentication and re-authentication).
    Auth, AuthProperties, ReasonContext::Auth, kind::AUTH, false
);
