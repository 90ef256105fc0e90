//! MQTT 5.0 reason codes (spec §2.4) and which packet may carry which.
//!
//! One enum for all packets: the spec reuses byte values across packets (0x00 is
//! Success, Normal disconnection and Granted QoS 0). The per-packet allow lists are
//! what the decoder checks a received code against; MQTT 3.1.1 return codes are
//! mapped onto this enum by the packets that have them (CONNACK, SUBACK).

/// An MQTT 5.0 reason code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[repr(u8)]
pub enum ReasonCode {
    /// 0x00: Success / Normal disconnection / Granted QoS 0.
    #[default]
    Success = 0x00,
    /// 0x01: Granted QoS 1.
    GrantedQoS1 = 0x01,
    /// 0x02: Granted QoS 2.
    GrantedQoS2 = 0x02,
    /// 0x04: Disconnect with Will Message.
    DisconnectWithWillMessage = 0x04,
    /// 0x10: No matching subscribers.
    NoMatchingSubscribers = 0x10,
    /// 0x11: No subscription existed.
    NoSubscriptionExisted = 0x11,
    /// 0x18: Continue authentication.
    ContinueAuthentication = 0x18,
    /// 0x19: Re-authenticate.
    ReAuthenticate = 0x19,
    /// 0x80: Unspecified error.
    UnspecifiedError = 0x80,
    /// 0x81: Malformed Packet.
    MalformedPacket = 0x81,
    /// 0x82: Protocol Error.
    ProtocolError = 0x82,
    /// 0x83: Implementation specific error.
    ImplementationSpecificError = 0x83,
    /// 0x84: Unsupported Protocol Version.
    UnsupportedProtocolVersion = 0x84,
    /// 0x85: Client Identifier not valid.
    ClientIdentifierNotValid = 0x85,
    /// 0x86: Bad User Name or Password.
    BadUserNameOrPassword = 0x86,
    /// 0x87: Not authorized.
    NotAuthorized = 0x87,
    /// 0x88: Server unavailable.
    ServerUnavailable = 0x88,
    /// 0x89: Server busy.
    ServerBusy = 0x89,
    /// 0x8A: Banned.
    Banned = 0x8A,
    /// 0x8B: Server shutting down.
    ServerShuttingDown = 0x8B,
    /// 0x8C: Bad authentication method.
    BadAuthenticationMethod = 0x8C,
    /// 0x8D: Keep Alive timeout.
    KeepAliveTimeout = 0x8D,
    /// 0x8E: Session taken over.
    SessionTakenOver = 0x8E,
    /// 0x8F: Topic Filter invalid.
    TopicFilterInvalid = 0x8F,
    /// 0x90: Topic Name invalid.
    TopicNameInvalid = 0x90,
    /// 0x91: Packet Identifier in use.
    PacketIdentifierInUse = 0x91,
    /// 0x92: Packet Identifier not found.
    PacketIdentifierNotFound = 0x92,
    /// 0x93: Receive Maximum exceeded.
    ReceiveMaximumExceeded = 0x93,
    /// 0x94: Topic Alias invalid.
    TopicAliasInvalid = 0x94,
    /// 0x95: Packet too large.
    PacketTooLarge = 0x95,
    /// 0x96: Message rate too high.
    MessageRateTooHigh = 0x96,
    /// 0x97: Quota exceeded.
    QuotaExceeded = 0x97,
    /// 0x98: Administrative action.
    AdministrativeAction = 0x98,
    /// 0x99: Payload format invalid.
    PayloadFormatInvalid = 0x99,
    /// 0x9A: Retain not supported.
    RetainNotSupported = 0x9A,
    /// 0x9B: QoS not supported.
    QoSNotSupported = 0x9B,
    /// 0x9C: Use another server.
    UseAnotherServer = 0x9C,
    /// 0x9D: Server moved.
    ServerMoved = 0x9D,
    /// 0x9E: Shared Subscriptions not supported.
    SharedSubscriptionsNotSupported = 0x9E,
    /// 0x9F: Connection rate exceeded.
    ConnectionRateExceeded = 0x9F,
    /// 0xA0: Maximum connect time.
    MaximumConnectTime = 0xA0,
    /// 0xA1: Subscription Identifiers not supported.
    SubscriptionIdentifiersNotSupported = 0xA1,
    /// 0xA2: Wildcard Subscriptions not supported.
    WildcardSubscriptionsNotSupported = 0xA2,
}

/// Every reason code, in byte order (used by tests and property generators).
pub const ALL_REASON_CODES: [ReasonCode; 43] = {
    use ReasonCode::*;
    [
        Success,
        GrantedQoS1,
        GrantedQoS2,
        DisconnectWithWillMessage,
        NoMatchingSubscribers,
        NoSubscriptionExisted,
        ContinueAuthentication,
        ReAuthenticate,
        UnspecifiedError,
        MalformedPacket,
        ProtocolError,
        ImplementationSpecificError,
        UnsupportedProtocolVersion,
        ClientIdentifierNotValid,
        BadUserNameOrPassword,
        NotAuthorized,
        ServerUnavailable,
        ServerBusy,
        Banned,
        ServerShuttingDown,
        BadAuthenticationMethod,
        KeepAliveTimeout,
        SessionTakenOver,
        TopicFilterInvalid,
        TopicNameInvalid,
        PacketIdentifierInUse,
        PacketIdentifierNotFound,
        ReceiveMaximumExceeded,
        TopicAliasInvalid,
        PacketTooLarge,
        MessageRateTooHigh,
        QuotaExceeded,
        AdministrativeAction,
        PayloadFormatInvalid,
        RetainNotSupported,
        QoSNotSupported,
        UseAnotherServer,
        ServerMoved,
        SharedSubscriptionsNotSupported,
        ConnectionRateExceeded,
        MaximumConnectTime,
        SubscriptionIdentifiersNotSupported,
        WildcardSubscriptionsNotSupported,
    ]
};

impl ReasonCode {
    /// Looks a byte up; `None` for a value the spec does not define.
    pub fn from_u8(b: u8) -> Option<Self> {
        ALL_REASON_CODES.iter().copied().find(|c| *c as u8 == b)
    }

    /// True for codes 0x80 and above, which the spec calls failures.
    pub const fn is_error(self) -> bool {
        self as u8 >= 0x80
    }
}

/// Which packet a reason code is read from; each has its own allow list (spec §2.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReasonContext {
    /// CONNACK.
    ConnAck,
    /// PUBACK and PUBREC.
    PubAckRec,
    /// PUBREL and PUBCOMP.
    PubRelComp,
    /// SUBACK, one code per filter.
    SubAck,
    /// UNSUBACK, one code per filter.
    UnsubAck,
    /// DISCONNECT.
    Disconnect,
    /// AUTH.
    Auth,
}

impl ReasonContext {
    const fn allowed(self) -> &'static [u8] {
        match self {
            ReasonContext::ConnAck => &[
                0x00, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8A, 0x8C, 0x90, 0x95,
                0x97, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9F,
            ],
            ReasonContext::PubAckRec => &[0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99],
            ReasonContext::PubRelComp => &[0x00, 0x92],
            ReasonContext::SubAck => {
                &[0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8F, 0x91, 0x97, 0x9E, 0xA1, 0xA2]
            }
            ReasonContext::UnsubAck => &[0x00, 0x11, 0x80, 0x83, 0x87, 0x8F, 0x91],
            ReasonContext::Disconnect => &[
                0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8B, 0x8D, 0x8E, 0x8F, 0x90, 0x93, 0x94,
                0x95, 0x96, 0x97, 0x98, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9E, 0x9F, 0xA0, 0xA1, 0xA2,
            ],
            ReasonContext::Auth => &[0x00, 0x18, 0x19],
        }
    }

    /// The reason code for `b` if this packet may carry it.
    pub fn parse(self, b: u8) -> Option<ReasonCode> {
        if self.allowed().contains(&b) {
            ReasonCode::from_u8(b)
        } else {
            None
        }
    }

    /// True if this packet may carry the byte `b`.
    pub fn allows_byte(self, b: u8) -> bool {
        self.allowed().contains(&b)
    }

    /// True if this packet may carry `code`.
    pub fn allows(self, code: ReasonCode) -> bool {
        self.allowed().contains(&(code as u8))
    }

    /// All the codes this packet may carry (for generators and tests).
    pub fn codes(self) -> impl Iterator<Item = ReasonCode> {
        self.allowed().iter().filter_map(|b| ReasonCode::from_u8(*b))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_round_trips_through_its_byte() {
        for c in ALL_REASON_CODES {
            assert_eq!(ReasonCode::from_u8(c as u8), Some(c));
        }
        assert_eq!(ReasonCode::from_u8(0x03), None);
        assert_eq!(ReasonCode::from_u8(0xFF), None);
    }

    #[test]
    fn allow_lists_reject_codes_of_other_packets() {
        assert_eq!(ReasonContext::Auth.parse(0x87), None);
        assert_eq!(ReasonContext::PubRelComp.parse(0x92), Some(ReasonCode::PacketIdentifierNotFound));
        assert_eq!(ReasonContext::PubAckRec.parse(0x92), None);
        assert_eq!(ReasonContext::SubAck.parse(0x02), Some(ReasonCode::GrantedQoS2));
        assert!(ReasonContext::Disconnect.codes().all(|c| ReasonContext::Disconnect.allows(c)));
        assert_eq!(ReasonContext::Disconnect.codes().count(), 29);
    }
}
