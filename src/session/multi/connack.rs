//! One CONNACK for the client from the CONNACKs of every link opened at CONNECT.
//!
//! The session's own broker (link 0) decides success or refusal; the others narrow
//! what the client is promised, since it talks to all of them through one session:
//! Session Present only if every link has its session; Receive Maximum, Maximum
//! QoS, Maximum Packet Size, Topic Alias Maximum and Server Keep Alive the minimum;
//! Retain, Wildcard, Subscription Identifier and Shared Subscription Available only
//! if all say so. Pure.

use crate::mqtt::ConnAck;

fn min_some<T: Ord + Copy>(a: Option<T>, b: Option<T>) -> Option<T> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, None) => x,
        (None, y) => y,
    }
}

/// "Available" flags: absent means available (1); any 0 wins.
fn all_available(a: Option<u8>, b: Option<u8>) -> Option<u8> {
    match (a, b) {
        (Some(0), _) | (_, Some(0)) => Some(0),
        (None, y) => y,
        (x, _) => x,
    }
}

/// Narrows `acc` (link 0's CONNACK, as combined so far) by another link's answer;
/// `None`: that link failed to open, so its session is not there.
pub fn narrow(acc: &mut ConnAck, other: Option<&ConnAck>) {
    let Some(o) = other else {
        acc.session_present = false;
        return;
    };
    acc.session_present &= o.session_present;
    let (p, q) = (&mut acc.properties, &o.properties);
    p.receive_maximum = min_some(p.receive_maximum, q.receive_maximum);
    p.maximum_qos = min_some(p.maximum_qos, q.maximum_qos);
    p.maximum_packet_size = min_some(p.maximum_packet_size, q.maximum_packet_size);
    p.server_keep_alive = min_some(p.server_keep_alive, q.server_keep_alive);
    // Absent means 0 for Topic Alias Maximum: the minimum of "none" is none.
    p.topic_alias_maximum = match (p.topic_alias_maximum, q.topic_alias_maximum) {
        (Some(x), Some(y)) => Some(x.min(y)),
        _ => None,
    };
    p.retain_available = all_available(p.retain_available, q.retain_available);
    p.wildcard_subscription_available =
        all_available(p.wildcard_subscription_available, q.wildcard_subscription_available);
    p.subscription_identifier_available =
        all_available(p.subscription_identifier_available, q.subscription_identifier_available);
    p.shared_subscription_available =
        all_available(p.shared_subscription_available, q.shared_subscription_available);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mqtt::ReasonCode;

    #[test]
    fn the_strictest_promise_wins() {
        let mut a = ConnAck::new(ReasonCode::Success, true);
        a.properties.receive_maximum = Some(100);
        a.properties.maximum_packet_size = Some(1 << 20);
        a.properties.topic_alias_maximum = Some(10);
        let mut b = ConnAck::new(ReasonCode::Success, true);
        b.properties.receive_maximum = Some(20);
        b.properties.maximum_qos = Some(1);
        b.properties.retain_available = Some(0);
        b.properties.server_keep_alive = Some(30);
        narrow(&mut a, Some(&b));
        let p = &a.properties;
        assert!(a.session_present);
        assert_eq!(
            (p.receive_maximum, p.maximum_qos, p.maximum_packet_size),
            (Some(20), Some(1), Some(1 << 20))
        );
        assert_eq!(
            (p.retain_available, p.server_keep_alive, p.topic_alias_maximum),
            (Some(0), Some(30), None)
        );
        assert_eq!(p.wildcard_subscription_available, None, "absent everywhere: available");
    }

    #[test]
    fn session_present_needs_every_link() {
        let mut a = ConnAck::new(ReasonCode::Success, true);
        narrow(&mut a, Some(&ConnAck::new(ReasonCode::Success, false)));
        assert!(!a.session_present);
        let mut a = ConnAck::new(ReasonCode::Success, true);
        narrow(&mut a, None);
        assert!(!a.session_present, "a link that failed has no session");
    }
}
