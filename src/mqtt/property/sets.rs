//! The property set of each packet kind: which properties it may carry, with their
//! Rust types. One declarative macro writes the struct, its decoding hook (`set`,
//! which rejects properties the packet may not carry and repeats the spec forbids)
//! and its encoding walk (`each`). The wire rules themselves live in the parent
//! module.

use super::id;
use crate::mqtt::string::MqttStr;
use bytes::Bytes;

/// Defines a packet's property set: single-valued fields, optionally one repeatable
/// field, and the user properties every set has.
macro_rules! property_set {
    (
        $(#[$doc:meta])* $name:ident {
            $( $(#[$fdoc:meta])* $field:ident : $ty:ty = $pid:path, )*
        }
        $( many $(#[$mdoc:meta])* $mfield:ident : $mty:ty = $mpid:path; )?
    ) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Default, PartialEq, Eq)]
        pub struct $name {
            $( $(#[$fdoc])* pub $field: Option<$ty>, )*
            $( $(#[$mdoc])* pub $mfield: Vec<$mty>, )?
            /// User Property pairs, in the order they were received.
            pub user: Vec<(MqttStr, MqttStr)>,
        }

        impl $crate::mqtt::property::PropertySet for $name {
            fn set(&mut self, pid: u8, v: $crate::mqtt::property::Value<'_>, base: &bytes::Bytes) -> Result<(), $crate::mqtt::DecodeError> {
                match pid {
                    $( $pid => $crate::mqtt::property::set_once(&mut self.$field, pid, v, base), )*
                    $( $mpid => $crate::mqtt::property::push(&mut self.$mfield, pid, v, base), )?
                    $crate::mqtt::property::id::USER_PROPERTY => $crate::mqtt::property::push(&mut self.user, pid, v, base),
                    _ => Err($crate::mqtt::DecodeError::PropertyNotAllowed(pid)),
                }
            }

            fn each(&self, f: &mut dyn FnMut(u8, &dyn $crate::mqtt::property::DynField)) {
                $( if let Some(x) = &self.$field { f($pid, x); } )*
                $( for x in &self.$mfield { f($mpid, x); } )?
                for x in &self.user { f($crate::mqtt::property::id::USER_PROPERTY, x); }
            }
        }

        impl $name {
            /// True when no property is set.
            pub fn is_empty(&self) -> bool {
                $crate::mqtt::property::PropertySet::is_empty(self)
            }
        }
    };
}

property_set! {
    /// CONNECT properties (spec §3.1.2.11).
    ConnectProperties {
        /// Session Expiry Interval, seconds.
        session_expiry_interval: u32 = id::SESSION_EXPIRY_INTERVAL,
        /// Receive Maximum (non-zero).
        receive_maximum: u16 = id::RECEIVE_MAXIMUM,
        /// Maximum Packet Size (non-zero).
        maximum_packet_size: u32 = id::MAXIMUM_PACKET_SIZE,
        /// Topic Alias Maximum.
        topic_alias_maximum: u16 = id::TOPIC_ALIAS_MAXIMUM,
        /// Request Response Information (0/1).
        request_response_information: u8 = id::REQUEST_RESPONSE_INFORMATION,
        /// Request Problem Information (0/1).
        request_problem_information: u8 = id::REQUEST_PROBLEM_INFORMATION,
        /// Authentication Method.
        authentication_method: MqttStr = id::AUTHENTICATION_METHOD,
        /// Authentication Data.
        authentication_data: Bytes = id::AUTHENTICATION_DATA,
    }
}

property_set! {
    /// Will properties in the CONNECT payload (spec §3.1.3.2).
    WillProperties {
        /// Will Delay Interval, seconds.
        will_delay_interval: u32 = id::WILL_DELAY_INTERVAL,
        /// Payload Format Indicator (0/1).
        payload_format_indicator: u8 = id::PAYLOAD_FORMAT_INDICATOR,
        /// Message Expiry Interval, seconds.
        message_expiry_interval: u32 = id::MESSAGE_EXPIRY_INTERVAL,
        /// Content Type.
        content_type: MqttStr = id::CONTENT_TYPE,
        /// Response Topic.
        response_topic: MqttStr = id::RESPONSE_TOPIC,
        /// Correlation Data.
        correlation_data: Bytes = id::CORRELATION_DATA,
    }
}

property_set! {
    /// CONNACK properties (spec §3.2.2.3).
    ConnAckProperties {
        /// Session Expiry Interval, seconds.
        session_expiry_interval: u32 = id::SESSION_EXPIRY_INTERVAL,
        /// Receive Maximum (non-zero).
        receive_maximum: u16 = id::RECEIVE_MAXIMUM,
        /// Maximum QoS (0/1).
        maximum_qos: u8 = id::MAXIMUM_QOS,
        /// Retain Available (0/1).
        retain_available: u8 = id::RETAIN_AVAILABLE,
        /// Maximum Packet Size (non-zero).
        maximum_packet_size: u32 = id::MAXIMUM_PACKET_SIZE,
        /// Assigned Client Identifier.
        assigned_client_identifier: MqttStr = id::ASSIGNED_CLIENT_IDENTIFIER,
        /// Topic Alias Maximum.
        topic_alias_maximum: u16 = id::TOPIC_ALIAS_MAXIMUM,
        /// Reason String.
        reason_string: MqttStr = id::REASON_STRING,
        /// Wildcard Subscription Available (0/1).
        wildcard_subscription_available: u8 = id::WILDCARD_SUBSCRIPTION_AVAILABLE,
        /// Subscription Identifiers Available (0/1).
        subscription_identifier_available: u8 = id::SUBSCRIPTION_IDENTIFIER_AVAILABLE,
        /// Shared Subscription Available (0/1).
        shared_subscription_available: u8 = id::SHARED_SUBSCRIPTION_AVAILABLE,
        /// Server Keep Alive, seconds.
        server_keep_alive: u16 = id::SERVER_KEEP_ALIVE,
        /// Response Information.
        response_information: MqttStr = id::RESPONSE_INFORMATION,
        /// Server Reference.
        server_reference: MqttStr = id::SERVER_REFERENCE,
        /// Authentication Method.
        authentication_method: MqttStr = id::AUTHENTICATION_METHOD,
        /// Authentication Data.
        authentication_data: Bytes = id::AUTHENTICATION_DATA,
    }
}

property_set! {
    /// PUBLISH properties (spec §3.3.2.3).
    PublishProperties {
        /// Payload Format Indicator (0/1).
        payload_format_indicator: u8 = id::PAYLOAD_FORMAT_INDICATOR,
        /// Message Expiry Interval, seconds.
        message_expiry_interval: u32 = id::MESSAGE_EXPIRY_INTERVAL,
        /// Topic Alias (non-zero).
        topic_alias: u16 = id::TOPIC_ALIAS,
        /// Response Topic.
        response_topic: MqttStr = id::RESPONSE_TOPIC,
        /// Correlation Data.
        correlation_data: Bytes = id::CORRELATION_DATA,
        /// Content Type.
        content_type: MqttStr = id::CONTENT_TYPE,
    }
    many
    /// Subscription Identifiers (server to client; one per matching subscription).
    subscription_identifiers: u32 = id::SUBSCRIPTION_IDENTIFIER;
}

property_set! {
    /// Properties of PUBACK, PUBREC, PUBREL, PUBCOMP, SUBACK and UNSUBACK.
    AckProperties {
        /// Reason String.
        reason_string: MqttStr = id::REASON_STRING,
    }
}

property_set! {
    /// SUBSCRIBE properties (spec §3.8.2.1).
    SubscribeProperties {
        /// Subscription Identifier (1 to 268,435,455).
        subscription_identifier: u32 = id::SUBSCRIPTION_IDENTIFIER,
    }
}

property_set! {
    /// UNSUBSCRIBE properties (spec §3.10.2.1): user properties only.
    UnsubscribeProperties {}
}

property_set! {
    /// DISCONNECT properties (spec §3.14.2.2).
    DisconnectProperties {
        /// Session Expiry Interval, seconds.
        session_expiry_interval: u32 = id::SESSION_EXPIRY_INTERVAL,
        /// Reason String.
        reason_string: MqttStr = id::REASON_STRING,
        /// Server Reference.
        server_reference: MqttStr = id::SERVER_REFERENCE,
    }
}

property_set! {
    /// AUTH properties (spec §3.15.2.2).
    AuthProperties {
        /// Authentication Method.
        authentication_method: MqttStr = id::AUTHENTICATION_METHOD,
        /// Authentication Data.
        authentication_data: Bytes = id::AUTHENTICATION_DATA,
        /// Reason String.
        reason_string: MqttStr = id::REASON_STRING,
    }
}
