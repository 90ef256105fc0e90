//! The MQTT 3.1, 3.1.1 and 5.0 codec: framing, the fifteen control packets, v5
//! properties and reason codes, topic names and filters.
//!
//! Sans-I/O: no sockets, no runtime, no clock. Bytes come in as a `BytesMut`
//! connection buffer; [`Frame::split`] cuts complete frames (checking the size limit
//! before the body is buffered), [`decode`] parses one frame's exact body into a
//! [`Packet`] whose strings and payloads share the frame's memory, and
//! [`Packet::encode`] writes packets back. Every rule violation is a [`DecodeError`]
//! that maps to the reason code to send (`ReasonCode::from(&err)`) on 5.0, or to a
//! CONNACK return code / close on 3.x.
//!
//! Data flow: connection buffer → `frame` → `packet` (using `wire`, `property`,
//! `string`, `topic`) → the session, which forwards the original frame bytes when it
//! does not need to change the packet.

pub mod error;
pub mod frame;
pub mod packet;
pub mod property;
pub mod reason;
pub mod string;
pub mod surgery;
pub mod topic;
pub mod varint;
pub mod version;
pub mod wire;

pub use error::{DecodeError, EncodeError};
pub use frame::{Frame, FrameCheck, MAX_PACKET_SIZE};
pub use packet::{
    decode, decode_bytes, kind, Ack, AckKind, Auth, ConnAck, Connect, Disconnect, LastWill, Packet, Publish,
    PublishView, QoS, RetainHandling, SubAck, Subscribe, SubscribeFilter, SubscriptionOptions, UnsubAck,
    Unsubscribe,
};
pub use property::{
    AckProperties, AuthProperties, ConnAckProperties, ConnectProperties, DisconnectProperties,
    PublishProperties, SubscribeProperties, UnsubscribeProperties, WillProperties,
};
pub use reason::{ReasonCode, ReasonContext};
pub use string::MqttStr;
pub use surgery::{PINGREQ, PINGRESP};
pub use version::Protocol;
