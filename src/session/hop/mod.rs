//! The session state machine of a transparent hop: what to do with each frame, in
//! each direction, after CONNECT. Pure: no sockets, no clock (the relay measures
//! time and asks here only about frames).
//!
//! Every frame is fully validated (a PUBLISH is read in place, without copying) and
//! then forwarded as the same bytes; a CONNACK may be rewritten, to tell an MQTT 5.0
//! client the keep alive the proxy enforces, and with a topic ACL the
//! [`Authorizer`] may drop, answer or rewrite PUBLISH, SUBSCRIBE and SUBACK. Packets that flow the wrong
//! way (a client sending CONNACK, a broker sending SUBSCRIBE, a second CONNECT) end
//! the session as protocol errors of the side that sent them.

use super::authorize::Authorizer;
use super::close::Close;
use super::mount::Mount;
use super::refuse::{reply, Dropped, Policy};
use crate::mqtt::{
    self, kind, Ack, AckKind, DecodeError, Frame, MqttStr, Packet, Protocol, PublishProperties, PublishView,
    QoS, ReasonCode,
};
use crate::schema::{Direction, OnInvalidV3, OnInvalidV5, Schemas};
use std::borrow::Cow;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::sync::Arc;

mod payload;

pub use super::verdict::{Rejection, Verdict};

/// A keep alive under the cap (0 means "none", which the cap also replaces).
fn capped(keep_alive: u16, cap: Option<u16>) -> u16 {
    match cap {
        Some(c) if keep_alive == 0 || keep_alive > c => c,
        _ => keep_alive,
    }
}

/// Topic aliases one side has set (5.0), so aliased PUBLISHes can be judged by topic.
type Aliases = RefCell<HashMap<u16, String>>;

/// The topic of a PUBLISH (`topic`: its topic as the client sees it), resolving
/// (and recording) a topic alias; `None` for an alias never set (the receiver
/// answers 0x94 itself).
fn resolve<'a>(aliases: &Aliases, props: Option<&PublishProperties>, topic: &'a str) -> Option<Cow<'a, str>> {
    match (topic.is_empty(), props.and_then(|p| p.topic_alias)) {
        (false, Some(a)) => {
            aliases.borrow_mut().insert(a, topic.to_string());
            Some(Cow::Borrowed(topic))
        }
        (false, None) => Some(Cow::Borrowed(topic)),
        (true, Some(a)) => aliases.borrow().get(&a).cloned().map(Cow::Owned),
        (true, None) => None,
    }
}

/// Counts a driver reports to the metrics (see [`Session::take_drops`]).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Drops {
    /// Publishes the ACL refused (dropped, or answered with 0x87).
    pub acl_publish: u64,
    /// Subscription filters the ACL refused.
    pub acl_subscribe: u64,
    /// Broker deliveries outside the session's mount point (dropped).
    pub outside_mount: u64,
}

/// Per-session facts the verdicts depend on.
#[derive(Debug)]
pub struct Session {
    /// Version from the client's CONNECT.
    pub protocol: Protocol,
    /// Keep alive the proxy enforces, seconds (0: none). May change at CONNACK.
    pub keep_alive: Cell<u16>,
    /// Keep-alive cap from the config, to announce to 5.0 clients.
    cap: Option<u16>,
    connack_seen: Cell<bool>,
    /// Topic ACL enforcement, when the listener has one (boxed: most sessions have
    /// none, and every idle session would carry its size).
    pub authorizer: Option<Box<Authorizer>>,
    /// The 5.0 Authentication Method the proxy authenticated (re-auth stays here).
    auth_method: Option<MqttStr>,
    /// Payload validation rules (none: nothing is checked).
    schemas: Option<Arc<Schemas>>,
    /// Client → broker topic aliases (tracked when publishes are inspected).
    aliases_up: Aliases,
    /// Broker → client topic aliases (tracked when deliveries are inspected).
    aliases_down: Aliases,
    /// Client QoS 2 publishes refused here.
    dropped_up: Dropped,
    /// Broker QoS 2 deliveries dropped here.
    dropped_down: Dropped,
    /// The route's mount point.
    mount: Option<Mount>,
    /// Deliveries dropped for being outside the mount point, not yet reported.
    outside_mount: Cell<u64>,
    /// Topic aliases are not offered to the client (multi-broker sessions).
    no_topic_aliases: bool,
    /// The largest packet the proxy reads (promised to 5.0 clients in CONNACK).
    max_packet_size: Option<u32>,
    /// Session Expiry Interval to tell a 5.0 client in CONNACK (the proxy capped
    /// what it asked for before the broker saw it).
    session_expiry: Option<u32>,
    /// The client id the proxy made up for the client (5.0 CONNACK tells it).
    assigned_client_id: Option<MqttStr>,
    /// The most client → broker topic aliases the proxy lets a session have (each
    /// alias it tracks holds a copy of a topic).
    alias_cap: u16,
    /// The Topic Alias Maximum the client was told (from the CONNACK on).
    alias_max: Cell<u16>,
}

impl Session {
    /// A session for a client that sent CONNECT with `keep_alive`, under `cap`.
    pub fn new(protocol: Protocol, keep_alive: u16, cap: Option<u16>) -> Self {
        Session {
            protocol,
            keep_alive: Cell::new(capped(keep_alive, cap)),
            cap,
            connack_seen: Cell::new(false),
            authorizer: None,
            auth_method: None,
            schemas: None,
            aliases_up: Aliases::default(),
            aliases_down: Aliases::default(),
            dropped_up: Dropped::default(),
            dropped_down: Dropped::default(),
            mount: None,
            outside_mount: Cell::default(),
            no_topic_aliases: false,
            max_packet_size: None,
            session_expiry: None,
            assigned_client_id: None,
            alias_cap: u16::MAX,
            alias_max: Cell::new(0),
        }
    }

    /// The same session, telling a 5.0 client at most `cap` topic aliases (the
    /// broker's Topic Alias Maximum if smaller) and refusing a larger alias
    /// (DISCONNECT 0x94) before tracking it.
    pub fn with_topic_alias_cap(mut self, cap: u16) -> Self {
        self.alias_cap = cap;
        self
    }

    /// A client PUBLISH's Topic Alias is within what the CONNACK announced.
    fn alias_allowed(&self, props: Option<&PublishProperties>) -> Result<(), DecodeError> {
        match props.and_then(|p| p.topic_alias) {
            Some(a) if a > self.alias_max.get() => Err(DecodeError::TopicAliasTooLarge(a)),
            _ => Ok(()),
        }
    }

    /// The same session, telling a 5.0 client in CONNACK the client id the proxy
    /// made up for it [MQTT-3.2.2-16].
    pub fn with_assigned_client_id(mut self, id: Option<&str>) -> Self {
        self.assigned_client_id = id.and_then(|i| MqttStr::try_from(i.to_string()).ok());
        self
    }

    /// The same session, promising a 5.0 client no packet larger than `max` bytes
    /// (the proxy's own limit) in its CONNACK, or the broker's if smaller, so the
    /// client never sends one the proxy must refuse.
    pub fn with_max_packet_size(mut self, max: usize) -> Self {
        self.max_packet_size = Some(u32::try_from(max).unwrap_or(u32::MAX));
        self
    }

    /// The same session, for a client whose CONNECT asked for `asked` seconds of
    /// session expiry when at most `max` are allowed: a 5.0 CONNACK then tells it
    /// the capped value [MQTT-3.2.2.3.2] (the broker was sent the capped one).
    pub fn with_session_expiry_cap(mut self, asked: Option<u32>, max: Option<u32>) -> Self {
        if let (Some(a), Some(m)) = (asked, max) {
            if a > m && self.protocol.is_v5() {
                self.session_expiry = Some(m);
            }
        }
        self
    }

    /// The same session, not offering topic aliases in CONNACK.
    pub fn without_topic_aliases(mut self) -> Self {
        self.no_topic_aliases = true;
        self
    }

    /// The same session under a mount point.
    pub fn with_mount(mut self, prefix: Option<String>) -> Self {
        self.mount = prefix.map(Mount);
        self
    }

    /// The same session, validating payloads (when some rule exists).
    pub fn with_schemas(mut self, s: &Arc<Schemas>) -> Self {
        if !s.rules.is_empty() {
            self.schemas = Some(s.clone());
        }
        self
    }

    /// True when the proxy may answer the broker itself (dropped deliveries), so
    /// writes to the broker must take turns.
    pub fn answers_upstream(&self) -> bool {
        self.mount.is_some() || self.checks(Direction::Deliver)
    }

    fn checks(&self, dir: Direction) -> bool {
        self.schemas.as_ref().is_some_and(|s| s.checks(dir))
    }

    /// True once the broker's CONNACK went through (before it, the proxy may not
    /// send the client a DISCONNECT).
    pub fn connack_seen(&self) -> bool {
        self.connack_seen.get()
    }

    /// What the session refused or dropped since the last call (for live metrics):
    /// publishes and filters its ACL refused, deliveries outside its mount point.
    pub fn take_drops(&self) -> Drops {
        let (acl_publish, acl_subscribe) = self.authorizer.as_ref().map_or((0, 0), |a| a.take_unreported());
        Drops { acl_publish, acl_subscribe, outside_mount: self.outside_mount.take() }
    }

    /// The same session, having done 5.0 enhanced authentication with `method`.
    pub fn with_auth_method(mut self, method: MqttStr) -> Self {
        self.auth_method = Some(method);
        self
    }

    /// The same session, enforcing a topic ACL.
    pub fn with_authorizer(mut self, a: Authorizer) -> Self {
        self.authorizer = Some(Box::new(a));
        self
    }

    /// ACL and validation decisions for the client's PUBLISH, SUBSCRIBE and PUBREL
    /// (`None`: no opinion, forward as usual).
    fn inspect(&self, frame: &Frame) -> Option<Verdict> {
        let v = self.protocol;
        match frame.packet_type() {
            kind::PUBLISH
                if self.authorizer.is_some() || self.mount.is_some() || self.checks(Direction::Publish) =>
            {
                Some(self.publish_up(frame))
            }
            kind::UNSUBSCRIBE
                if self.mount.is_some()
                    || self.authorizer.as_deref().is_some_and(Authorizer::counts_subscriptions) =>
            {
                Some(self.unsubscribe(frame))
            }
            kind::SUBSCRIBE if self.authorizer.is_some() || self.mount.is_some() => {
                Some(self.subscribe(frame))
            }
            kind::PUBREL if self.authorizer.is_some() || self.checks(Direction::Publish) => {
                match mqtt::decode(frame, v) {
                    Ok(Packet::Ack(ack)) => self.dropped_up.pubrel(0, ack.pkid, v),
                    _ => None,
                }
            }
            _ => None,
        }
    }

    /// Full format checks of a frame from the client (`from_client`) or a broker.
    fn check(&self, frame: &Frame, from_client: bool) -> Result<(), DecodeError> {
        if frame.packet_type() == kind::PUBLISH && from_client {
            PublishView::parse_client(frame, self.protocol).map(|_| ())
        } else if frame.packet_type() == kind::PUBLISH {
            PublishView::parse(frame, self.protocol).map(|_| ())
        } else {
            mqtt::decode(frame, self.protocol).map(|_| ())
        }
    }

    /// A frame from the client.
    pub fn from_client(&self, frame: &Frame) -> Verdict {
        use kind::*;
        match frame.packet_type() {
            CONNECT | CONNACK | SUBACK | UNSUBACK | PINGRESP => {
                return Verdict::End(Close::ClientProtocol(DecodeError::UnexpectedPacket(
                    frame.packet_type(),
                )))
            }
            _ => {}
        }
        if let (AUTH, Some(m)) = (frame.packet_type(), &self.auth_method) {
            return self.auth(frame, m);
        }
        // Inspected frames are fully parsed already: their verdict stands.
        if let Some(v) = self.inspect(frame) {
            return v;
        }
        match self.check(frame, true) {
            Err(e) => Verdict::End(Close::ClientProtocol(e)),
            Ok(()) if frame.packet_type() == DISCONNECT => Verdict::ForwardThenEnd(Close::ClientDisconnect),
            Ok(()) => Verdict::Forward,
        }
    }

    /// A frame from the broker. `client_keep_alive` is what the client's CONNECT asked.
    pub fn from_upstream(&self, frame: &Frame, client_keep_alive: u16) -> Verdict {
        self.from_link(0, frame, client_keep_alive)
    }

    /// A frame from broker link `link` of a session (0 on a single-broker session).
    pub fn from_link(&self, link: usize, frame: &Frame, client_keep_alive: u16) -> Verdict {
        use kind::*;
        let t = frame.packet_type();
        let protocol_error = |e| Verdict::End(Close::UpstreamProtocol(e));
        if !self.connack_seen.get() {
            if t != CONNACK {
                return protocol_error(DecodeError::UnexpectedPacket(t));
            }
            self.connack_seen.set(true);
            return match mqtt::decode(frame, self.protocol) {
                Ok(Packet::ConnAck(ack)) => self.on_connack(ack, client_keep_alive),
                Ok(_) => protocol_error(DecodeError::UnexpectedPacket(t)),
                Err(e) => protocol_error(e),
            };
        }
        match t {
            CONNECT | CONNACK | SUBSCRIBE | UNSUBSCRIBE | PINGREQ => {
                return protocol_error(DecodeError::UnexpectedPacket(t))
            }
            _ => {}
        }
        if t == PUBLISH && (self.mount.is_some() || self.checks(Direction::Deliver)) {
            return self.deliver(link, frame);
        }
        if t == PUBREL && (self.mount.is_some() || self.checks(Direction::Deliver)) {
            if let Ok(Packet::Ack(ack)) = mqtt::decode(frame, self.protocol) {
                if let Some(v) = self.dropped_down.pubrel(link, ack.pkid, self.protocol) {
                    return v;
                }
            }
        }
        if let (SUBACK, Some(a)) = (t, &self.authorizer) {
            return match mqtt::decode(frame, self.protocol) {
                Ok(Packet::SubAck(ack)) => a.suback(ack, self.protocol),
                Ok(_) => Verdict::Forward,
                Err(e) => protocol_error(e),
            };
        }
        match self.check(frame, false) {
            Err(e) => protocol_error(e),
            Ok(()) if t == DISCONNECT => Verdict::ForwardThenEnd(Close::UpstreamDisconnect),
            Ok(()) => Verdict::Forward,
        }
    }

    fn on_connack(&self, mut ack: mqtt::ConnAck, client_keep_alive: u16) -> Verdict {
        if ack.reason.is_error() {
            // The broker refused; it closes next. Nothing may follow a failed CONNACK.
            return Verdict::ForwardThenEnd(Close::UpstreamDisconnect);
        }
        // What the client will use: the broker's Server Keep Alive if it set one
        // (5.0), else its own; the proxy enforces it, capped.
        let asked = ack.properties.server_keep_alive.unwrap_or(client_keep_alive);
        let effective = capped(asked, self.cap);
        self.keep_alive.set(effective);
        let mut changed = false;
        if effective != asked && self.protocol.is_v5() {
            ack.properties.server_keep_alive = Some(effective);
            changed = true;
        }
        // Enhanced authentication was done here: a successful CONNACK must carry the
        // client's Authentication Method [MQTT-4.12.0-5].
        if let Some(m) = &self.auth_method {
            ack.properties.authentication_method = Some(m.clone());
            changed = true;
        }
        let broker_max = ack.properties.maximum_packet_size;
        if let (Some(max), true) = (self.max_packet_size, self.protocol.is_v5()) {
            if broker_max.is_none_or(|b| b > max) {
                ack.properties.maximum_packet_size = Some(max);
                changed = true;
            }
        }
        if let Some(cap) = self.session_expiry {
            if ack.properties.session_expiry_interval.is_none_or(|b| b > cap) {
                ack.properties.session_expiry_interval = Some(cap);
                changed = true;
            }
        }
        if let (Some(id), true) = (&self.assigned_client_id, self.protocol.is_v5()) {
            ack.properties.assigned_client_identifier = Some(id.clone());
            changed = true;
        }
        if self.no_topic_aliases && ack.properties.topic_alias_maximum.is_some() {
            ack.properties.topic_alias_maximum = None;
            changed = true;
        }
        if ack.properties.topic_alias_maximum.is_some_and(|m| m > self.alias_cap) {
            ack.properties.topic_alias_maximum = Some(self.alias_cap).filter(|c| *c > 0);
            changed = true;
        }
        self.alias_max.set(ack.properties.topic_alias_maximum.unwrap_or(0));
        if !changed {
            return Verdict::Forward;
        }
        match Packet::ConnAck(ack).to_bytes(self.protocol) {
            Ok(b) => Verdict::Replace(b),
            Err(_) => Verdict::Forward,
        }
    }

    /// A client AUTH while the proxy did the enhanced authentication: only
    /// re-authentication with the same method is valid, and it stays here.
    fn auth(&self, frame: &Frame, method: &MqttStr) -> Verdict {
        match mqtt::decode(frame, self.protocol) {
            Ok(Packet::Auth(a))
                if a.reason == ReasonCode::ReAuthenticate
                    && a.properties.authentication_method.as_ref() == Some(method) =>
            {
                match a.properties.authentication_data.as_deref().map(std::str::from_utf8) {
                    Some(Ok(token)) => Verdict::Reauthenticate(token.to_string()),
                    _ => Verdict::End(Close::ReauthFailed),
                }
            }
            Ok(_) => Verdict::End(Close::ClientProtocol(DecodeError::UnexpectedPacket(kind::AUTH))),
            Err(e) => Verdict::End(Close::ClientProtocol(e)),
        }
    }

    /// The answer to a successful re-authentication.
    pub fn reauth_ok(&self) -> Verdict {
        let mut a = mqtt::Auth::new(ReasonCode::Success);
        a.properties.authentication_method = self.auth_method.clone();
        match Packet::Auth(a).to_bytes(self.protocol) {
            Ok(b) => Verdict::Reply(b),
            Err(_) => Verdict::End(Close::ReauthFailed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mqtt::{ConnAck, MqttStr, ReasonCode};
    use bytes::Bytes;

    fn frame(p: &Packet, v: Protocol) -> Frame {
        Frame::from_bytes(p.to_bytes(v).expect("encodes"), usize::MAX).expect("frames")
    }

    #[test]
    fn second_connect_and_server_packets_from_client_are_protocol_errors() {
        let s = Session::new(Protocol::V5, 30, None);
        let f = frame(&Packet::PingResp, Protocol::V5);
        assert_eq!(s.from_client(&f), Verdict::End(Close::ClientProtocol(DecodeError::UnexpectedPacket(13))));
        let f = frame(&Packet::PingReq, Protocol::V5);
        assert_eq!(s.from_client(&f), Verdict::Forward);
        let f = frame(&Packet::Disconnect(Default::default()), Protocol::V5);
        assert_eq!(s.from_client(&f), Verdict::ForwardThenEnd(Close::ClientDisconnect));
    }

    #[test]
    fn upstream_must_start_with_connack() {
        let s = Session::new(Protocol::V311, 30, None);
        let p = Packet::Publish(mqtt::Publish::new(MqttStr::from_static("a"), Bytes::new()));
        assert!(matches!(
            s.from_upstream(&frame(&p, Protocol::V311), 30),
            Verdict::End(Close::UpstreamProtocol(_))
        ));
        let s = Session::new(Protocol::V311, 30, None);
        let ok = Packet::ConnAck(ConnAck::new(ReasonCode::Success, false));
        assert_eq!(s.from_upstream(&frame(&ok, Protocol::V311), 30), Verdict::Forward);
        assert_eq!(s.from_upstream(&frame(&p, Protocol::V311), 30), Verdict::Forward);
    }

    #[test]
    fn refused_connack_ends_after_forwarding() {
        let s = Session::new(Protocol::V5, 30, None);
        let no = Packet::ConnAck(ConnAck::new(ReasonCode::NotAuthorized, false));
        assert_eq!(
            s.from_upstream(&frame(&no, Protocol::V5), 30),
            Verdict::ForwardThenEnd(Close::UpstreamDisconnect)
        );
    }

    #[test]
    fn keep_alive_cap_is_announced_to_v5_clients_only() {
        let ok = Packet::ConnAck(ConnAck::new(ReasonCode::Success, false));
        let s = Session::new(Protocol::V5, 0, Some(60));
        assert_eq!(s.keep_alive.get(), 60);
        let Verdict::Replace(b) = s.from_upstream(&frame(&ok, Protocol::V5), 0) else {
            panic!("not rewritten")
        };
        let Ok(Packet::ConnAck(a)) = mqtt::decode_bytes(b, Protocol::V5, 1024) else { panic!("bad CONNACK") };
        assert_eq!(a.properties.server_keep_alive, Some(60));
        let s = Session::new(Protocol::V311, 600, Some(60));
        assert_eq!(s.keep_alive.get(), 60);
        assert_eq!(s.from_upstream(&frame(&ok, Protocol::V311), 600), Verdict::Forward);
    }
}
