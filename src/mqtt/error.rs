//! Codec errors: one `Copy` error per direction, each mapped to its wire answer.
//!
//! [`DecodeError`] names the exact rule a peer broke. On MQTT 5.0 it maps to the reason
//! code to send (CONNACK before the session exists, DISCONNECT after); on MQTT 3.1.1
//! the rule is: CONNECT problems that have a return code get a CONNACK with it
//! ([`DecodeError::v3_connack_code`]), everything else closes the connection.
//! This module does not decide *who* was at fault: the caller knows which side sent
//! the bytes.

use super::ReasonCode;

/// Why bytes received from a peer are not a valid MQTT packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Packet type 0 (or 15 before MQTT 5.0) is reserved.
    #[error("reserved packet type {0}")]
    ReservedPacketType(u8),
    /// The low four bits of the fixed header are not what the packet type requires.
    #[error("invalid fixed header flags {flags:#06b} for packet type {packet_type}")]
    InvalidHeaderFlags {
        /// Packet type (high nibble).
        packet_type: u8,
        /// The flags received (low nibble).
        flags: u8,
    },
    /// A variable byte integer longer than four bytes.
    #[error("variable byte integer longer than 4 bytes")]
    VarIntTooLong,
    /// A variable byte integer not encoded in the minimum number of bytes.
    #[error("variable byte integer not minimally encoded")]
    VarIntNotMinimal,
    /// The packet is larger than the receiver's maximum packet size.
    #[error("packet of {size} bytes exceeds the maximum of {max}")]
    PacketTooLarge {
        /// Total packet size (fixed header included).
        size: usize,
        /// The limit in force.
        max: usize,
    },
    /// A field runs past the end of the packet (remaining length too short).
    #[error("packet truncated inside a field")]
    Truncated,
    /// Bytes are left after the last field (remaining length too long).
    #[error("unexpected bytes after the last field")]
    TrailingBytes,
    /// QoS 3.
    #[error("QoS 3 is not a valid QoS")]
    InvalidQoS,
    /// DUP set on a QoS 0 PUBLISH.
    #[error("DUP flag set on a QoS 0 PUBLISH")]
    DupOnQoS0,
    /// Packet identifier 0 where a non-zero one is required.
    #[error("packet identifier 0")]
    ZeroPacketId,
    /// A string that is not well-formed UTF-8.
    #[error("string is not valid UTF-8")]
    InvalidUtf8,
    /// A string containing U+0000.
    #[error("string contains U+0000")]
    NullInString,
    /// A topic name containing `+` or `#`.
    #[error("wildcard in a topic name")]
    WildcardInTopicName,
    /// An empty topic name (without a topic alias on MQTT 5.0).
    #[error("empty topic name")]
    EmptyTopicName,
    /// An empty topic filter.
    #[error("empty topic filter")]
    EmptyTopicFilter,
    /// `#` not last or not alone in its level, `+` not alone in its level, or a bad
    /// `$share/{group}/{filter}`.
    #[error("invalid topic filter")]
    InvalidTopicFilter,
    /// CONNECT protocol name is neither `MQTT` nor `MQIsdp`, or does not fit the level.
    #[error("invalid protocol name")]
    InvalidProtocolName,
    /// CONNECT protocol level this codec does not speak.
    #[error("unsupported protocol level {0}")]
    UnsupportedProtocolVersion(u8),
    /// CONNECT flags reserved bit set.
    #[error("CONNECT reserved flag set")]
    ConnectReservedFlag,
    /// Will QoS or Will Retain set without the Will Flag, or Will QoS 3.
    #[error("inconsistent will flags")]
    InvalidWillFlags,
    /// MQTT 3.x: Password Flag set without User Name Flag.
    #[error("password without user name")]
    PasswordWithoutUsername,
    /// Client identifier the protocol version does not allow (empty without clean
    /// session on 3.1.1, empty or longer than 23 on 3.1).
    #[error("client identifier rejected")]
    ClientIdRejected,
    /// CONNACK acknowledge flags reserved bits set.
    #[error("CONNACK reserved flags set")]
    ConnAckReservedFlags,
    /// A return or reason code the packet may not carry.
    #[error("reason code {0:#04x} not allowed in this packet")]
    InvalidReasonCode(u8),
    /// Subscription options reserved bits set, QoS 3 or Retain Handling 3.
    #[error("invalid subscription options {0:#04x}")]
    InvalidSubscriptionOptions(u8),
    /// SUBSCRIBE or UNSUBSCRIBE without a topic filter.
    #[error("no topic filter")]
    NoTopicFilters,
    /// No Local set on a shared subscription.
    #[error("No Local on a shared subscription")]
    NoLocalOnSharedSubscription,
    /// A property identifier the spec does not define.
    #[error("unknown property {0:#04x}")]
    UnknownProperty(u8),
    /// A property this packet may not carry.
    #[error("property {0:#04x} not allowed in this packet")]
    PropertyNotAllowed(u8),
    /// A property the spec allows only once, seen twice.
    #[error("property {0:#04x} repeated")]
    DuplicateProperty(u8),
    /// A property value outside its range (e.g. Receive Maximum 0).
    #[error("invalid value for property {0:#04x}")]
    InvalidPropertyValue(u8),
    /// AUTH on a protocol version that does not have it.
    #[error("AUTH before MQTT 5.0")]
    AuthNotSupported,
    /// Any packet before CONNECT, or a CONNECT where it is not expected.
    #[error("unexpected packet {0}")]
    UnexpectedPacket(u8),
    /// Authentication Data without an Authentication Method (a Protocol Error, §3.1.2.11.10).
    #[error("authentication data without an authentication method")]
    AuthDataWithoutMethod,
    /// A PUBLISH from a client carrying a Subscription Identifier [MQTT-3.3.4-6].
    #[error("subscription identifier in a client PUBLISH")]
    SubscriptionIdFromClient,
    /// A Topic Alias above the Topic Alias Maximum the receiver announced [MQTT-3.3.2-9].
    #[error("topic alias {0} above the maximum announced")]
    TopicAliasTooLarge(u16),
}

impl DecodeError {
    /// MQTT 3.x: the CONNACK return code to answer a bad CONNECT with, if there is one.
    /// Every other error closes the connection without an answer.
    pub fn v3_connack_code(&self) -> Option<u8> {
        match self {
            DecodeError::UnsupportedProtocolVersion(_) => Some(0x01),
            DecodeError::ClientIdRejected => Some(0x02),
            _ => None,
        }
    }
}

impl From<&DecodeError> for ReasonCode {
    fn from(e: &DecodeError) -> Self {
        use DecodeError::*;
        match e {
            PacketTooLarge { .. } => ReasonCode::PacketTooLarge,
            UnsupportedProtocolVersion(_) => ReasonCode::UnsupportedProtocolVersion,
            ClientIdRejected => ReasonCode::ClientIdentifierNotValid,
            WildcardInTopicName => ReasonCode::TopicNameInvalid,
            TopicAliasTooLarge(_) => ReasonCode::TopicAliasInvalid,
            EmptyTopicName
            | DuplicateProperty(_)
            | InvalidPropertyValue(_)
            | NoTopicFilters
            | NoLocalOnSharedSubscription
            | AuthNotSupported
            | AuthDataWithoutMethod
            | SubscriptionIdFromClient
            | UnexpectedPacket(_) => ReasonCode::ProtocolError,
            ReservedPacketType(_)
            | InvalidHeaderFlags { .. }
            | VarIntTooLong
            | VarIntNotMinimal
            | Truncated
            | TrailingBytes
            | InvalidQoS
            | DupOnQoS0
            | ZeroPacketId
            | InvalidUtf8
            | NullInString
            | EmptyTopicFilter
            | InvalidTopicFilter
            | InvalidProtocolName
            | ConnectReservedFlag
            | InvalidWillFlags
            | PasswordWithoutUsername
            | ConnAckReservedFlags
            | InvalidReasonCode(_)
            | InvalidSubscriptionOptions(_)
            | UnknownProperty(_)
            | PropertyNotAllowed(_) => ReasonCode::MalformedPacket,
        }
    }
}

/// Why a packet cannot be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// The packet would be larger than MQTT's 268,435,455-byte limit or the caller's.
    #[error("packet of {size} bytes exceeds the maximum of {max}")]
    PacketTooLarge {
        /// Remaining length or total size that did not fit.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// A string or binary field longer than 65,535 bytes.
    #[error("field of {0} bytes exceeds 65535")]
    FieldTooLong(usize),
    /// The packet (or a field of it) does not exist in this protocol version.
    #[error("not representable in MQTT {0}")]
    NotInVersion(super::Protocol),
    /// A packet identifier of 0 where the packet needs one.
    #[error("packet identifier 0")]
    ZeroPacketId,
}
