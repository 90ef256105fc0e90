//! Why a proxied connection ended, whose fault it was, and what each side is told.
//!
//! One enum for every way a session ends, so logs, metrics and the wire answers are
//! decided in one place: MQTT 5.0 clients get a DISCONNECT with the reason code
//! (3.1.1 clients just see the socket close), and the upstream is closed *without*
//! DISCONNECT unless the client itself said goodbye, so the broker publishes the
//! client's will exactly when a broker would. A session whose token expires is ended
//! by the proxy with 0xA0 (Maximum connect time).

use crate::mqtt::{DecodeError, ReasonCode};
use std::fmt;

/// Who caused the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The device / client.
    Client,
    /// The broker.
    Upstream,
    /// The proxy itself (shutdown, limits).
    Proxy,
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Side::Client => "client",
            Side::Upstream => "upstream",
            Side::Proxy => "proxy",
        })
    }
}

/// How a session ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Close {
    /// The client sent DISCONNECT (forwarded to the broker).
    ClientDisconnect,
    /// The client closed the socket or it failed.
    ClientGone(String),
    /// The client sent bytes that break the protocol.
    ClientProtocol(DecodeError),
    /// Nothing from the client for 1.5 × keep alive.
    KeepAliveTimeout,
    /// The broker sent DISCONNECT (forwarded to a 5.0 client).
    UpstreamDisconnect,
    /// The broker closed the socket or it failed.
    UpstreamGone(String),
    /// The broker sent bytes that break the protocol.
    UpstreamProtocol(DecodeError),
    /// The proxy is shutting down.
    Shutdown,
    /// The client's token expired (5.0: DISCONNECT 0xA0).
    TokenExpired,
    /// A 3.1.1 client published where its ACL denies it, with `disconnect` configured.
    Denied(String),
    /// A 5.0 re-authentication failed (DISCONNECT 0x87).
    ReauthFailed,
    /// An invalid payload on a rule that says `disconnect` (5.0: DISCONNECT 0x99).
    InvalidPayload(String),
    /// A publish above its topic's QoS (5.0: DISCONNECT 0x9B) or retained where the
    /// topic forbids it (0x9A): PUBACK cannot carry these codes.
    TopicLimit(String, ReasonCode),
    /// The client published faster than `limits.publish_rate` allows, with
    /// `disconnect` configured (5.0: DISCONNECT 0x96).
    RateExceeded,
}

impl Close {
    /// Whose doing it was.
    pub fn side(&self) -> Side {
        match self {
            Close::ClientDisconnect
            | Close::ClientGone(_)
            | Close::ClientProtocol(_)
            | Close::KeepAliveTimeout
            | Close::Denied(_)
            | Close::ReauthFailed
            | Close::InvalidPayload(_)
            | Close::TopicLimit(..)
            | Close::RateExceeded => Side::Client,
            Close::UpstreamDisconnect | Close::UpstreamGone(_) | Close::UpstreamProtocol(_) => Side::Upstream,
            Close::Shutdown | Close::TokenExpired => Side::Proxy,
        }
    }

    /// The DISCONNECT reason a 5.0 client gets, or `None` when it gets none (it left,
    /// or the broker's own DISCONNECT was already forwarded).
    pub fn client_reason(&self) -> Option<ReasonCode> {
        match self {
            Close::ClientDisconnect | Close::ClientGone(_) | Close::UpstreamDisconnect => None,
            Close::ClientProtocol(e) => Some(ReasonCode::from(e)),
            Close::KeepAliveTimeout => Some(ReasonCode::KeepAliveTimeout),
            // 0x88 Server unavailable is not a valid DISCONNECT code; 0x80 is.
            Close::UpstreamGone(_) | Close::UpstreamProtocol(_) => Some(ReasonCode::UnspecifiedError),
            Close::Shutdown => Some(ReasonCode::ServerShuttingDown),
            Close::TokenExpired => Some(ReasonCode::MaximumConnectTime),
            Close::Denied(_) | Close::ReauthFailed => Some(ReasonCode::NotAuthorized),
            Close::InvalidPayload(_) => Some(ReasonCode::PayloadFormatInvalid),
            Close::TopicLimit(_, r) => Some(*r),
            Close::RateExceeded => Some(ReasonCode::MessageRateTooHigh),
        }
    }

    /// A short label for logs and metrics.
    pub fn label(&self) -> &'static str {
        match self {
            Close::ClientDisconnect => "client_disconnect",
            Close::ClientGone(_) => "client_gone",
            Close::ClientProtocol(_) => "client_protocol_error",
            Close::KeepAliveTimeout => "keep_alive_timeout",
            Close::UpstreamDisconnect => "upstream_disconnect",
            Close::UpstreamGone(_) => "upstream_gone",
            Close::UpstreamProtocol(_) => "upstream_protocol_error",
            Close::Shutdown => "shutdown",
            Close::TokenExpired => "token_expired",
            Close::Denied(_) => "acl_denied",
            Close::ReauthFailed => "reauth_failed",
            Close::InvalidPayload(_) => "invalid_payload",
            Close::TopicLimit(..) => "topic_limit",
            Close::RateExceeded => "message_rate",
        }
    }
}

impl fmt::Display for Close {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Close::ClientGone(why) | Close::UpstreamGone(why) => {
                write!(f, "{}: {why}", self.label())
            }
            Close::ClientProtocol(e) | Close::UpstreamProtocol(e) => {
                write!(f, "{}: {e}", self.label())
            }
            _ => f.write_str(self.label()),
        }
    }
}
