//! proptest strategies for valid packets of each protocol version.
#![allow(dead_code)]

use bytes::Bytes;
use mqtt_proxy::mqtt::*;
use proptest::collection::vec;
use proptest::option::of;
use proptest::prelude::*;

pub fn text() -> impl Strategy<Value = MqttStr> {
    "[a-zA-Z0-9 _./é漢-]{0,12}".prop_map(|s| MqttStr::try_from(s).expect("valid"))
}

pub fn topic_name() -> impl Strategy<Value = MqttStr> {
    "[a-z0-9$]{1,6}(/[a-z0-9]{0,6}){0,4}".prop_map(|s| MqttStr::try_from(s).expect("valid"))
}

pub fn topic_filter() -> impl Strategy<Value = MqttStr> {
    let level = prop_oneof![Just("+".to_string()), "[a-z0-9]{0,5}"];
    (vec(level, 1..5), any::<bool>(), 0u8..6).prop_map(|(levels, hash, share)| {
        let mut f = levels.join("/");
        if f.is_empty() {
            f.push('x');
        }
        if hash {
            f.push_str("/#");
        }
        if share == 0 {
            f = format!("$share/grp/{f}");
        }
        MqttStr::try_from(f).expect("valid")
    })
}

pub fn bin() -> impl Strategy<Value = Bytes> {
    vec(any::<u8>(), 0..40).prop_map(Bytes::from)
}

pub fn qos() -> impl Strategy<Value = QoS> {
    prop_oneof![Just(QoS::AtMostOnce), Just(QoS::AtLeastOnce), Just(QoS::ExactlyOnce)]
}

pub fn user() -> impl Strategy<Value = Vec<(MqttStr, MqttStr)>> {
    vec((text(), text()), 0..3)
}

fn flag() -> impl Strategy<Value = Option<u8>> {
    of(0u8..=1)
}

fn nz16() -> impl Strategy<Value = Option<u16>> {
    of(1u16..)
}

fn nz32() -> impl Strategy<Value = Option<u32>> {
    of(1u32..)
}

pub fn publish_props() -> impl Strategy<Value = PublishProperties> {
    (
        flag(),
        of(any::<u32>()),
        nz16(),
        of(topic_name()),
        of(bin()),
        of(text()),
        vec(1u32..268_435_455, 0..3),
        user(),
    )
        .prop_map(|(pfi, mei, ta, rt, cd, ct, sids, user)| PublishProperties {
            payload_format_indicator: pfi,
            message_expiry_interval: mei,
            topic_alias: ta,
            response_topic: rt,
            correlation_data: cd,
            content_type: ct,
            subscription_identifiers: sids,
            user,
        })
}

pub fn publish(p: Protocol) -> impl Strategy<Value = Publish> {
    let props = if p.is_v5() { publish_props().boxed() } else { Just(PublishProperties::default()).boxed() };
    (qos(), any::<bool>(), any::<bool>(), topic_name(), 1u16.., props, vec(any::<u8>(), 0..200)).prop_map(
        |(qos, dup, retain, topic, pkid, properties, payload)| Publish {
            dup: dup && qos != QoS::AtMostOnce,
            qos,
            retain,
            topic,
            pkid: if qos == QoS::AtMostOnce { 0 } else { pkid },
            properties,
            payload: Bytes::from(payload),
        },
    )
}

fn connect_props() -> impl Strategy<Value = ConnectProperties> {
    (of(any::<u32>()), nz16(), nz32(), of(any::<u16>()), flag(), flag(), of(text()), of(bin()), user())
        .prop_map(|(sei, rm, mps, tam, rri, rpi, am, ad, user)| ConnectProperties {
            session_expiry_interval: sei,
            receive_maximum: rm,
            maximum_packet_size: mps,
            topic_alias_maximum: tam,
            request_response_information: rri,
            request_problem_information: rpi,
            // Authentication Data needs a method (a Protocol Error otherwise).
            authentication_data: ad.filter(|_| am.is_some()),
            authentication_method: am,
            user,
        })
}

fn will_props() -> impl Strategy<Value = WillProperties> {
    (of(any::<u32>()), flag(), of(any::<u32>()), of(text()), of(topic_name()), of(bin()), user()).prop_map(
        |(wdi, pfi, mei, ct, rt, cd, user)| WillProperties {
            will_delay_interval: wdi,
            payload_format_indicator: pfi,
            message_expiry_interval: mei,
            content_type: ct,
            response_topic: rt,
            correlation_data: cd,
            user,
        },
    )
}

pub fn connect(p: Protocol) -> impl Strategy<Value = Connect> {
    let v5 = p.is_v5();
    let props = if v5 { connect_props().boxed() } else { Just(ConnectProperties::default()).boxed() };
    let wprops = if v5 { will_props().boxed() } else { Just(WillProperties::default()).boxed() };
    let will = of((topic_name(), bin(), qos(), any::<bool>(), wprops)).prop_map(|w| {
        w.map(|(topic, payload, qos, retain, properties)| LastWill {
            topic,
            payload,
            qos,
            retain,
            properties,
        })
    });
    (any::<bool>(), any::<u16>(), "[a-zA-Z0-9]{1,23}", will, of(text()), of(bin()), props).prop_map(
        move |(clean_start, keep_alive, id, will, username, password, properties)| Connect {
            protocol: p,
            clean_start,
            keep_alive,
            client_id: MqttStr::try_from(id).expect("valid"),
            will,
            // Before 5.0 a password needs a user name.
            username: if v5 {
                username
            } else {
                username.or_else(|| password.as_ref().map(|_| MqttStr::from_static("u")))
            },
            password,
            properties,
        },
    )
}

pub fn ack_props(p: Protocol) -> BoxedStrategy<AckProperties> {
    if p.is_v5() {
        (of(text()), user()).prop_map(|(reason_string, user)| AckProperties { reason_string, user }).boxed()
    } else {
        Just(AckProperties::default()).boxed()
    }
}

fn reason_in(ctx: ReasonContext, p: Protocol) -> BoxedStrategy<ReasonCode> {
    if p.is_v5() {
        proptest::sample::select(ctx.codes().collect::<Vec<_>>()).boxed()
    } else {
        Just(ReasonCode::Success).boxed()
    }
}

pub fn ack(p: Protocol) -> impl Strategy<Value = Ack> {
    let kinds = prop_oneof![
        Just(AckKind::PubAck),
        Just(AckKind::PubRec),
        Just(AckKind::PubRel),
        Just(AckKind::PubComp)
    ];
    (kinds, 1u16..).prop_flat_map(move |(kind, pkid)| {
        let ctx = match kind {
            AckKind::PubAck | AckKind::PubRec => ReasonContext::PubAckRec,
            _ => ReasonContext::PubRelComp,
        };
        (reason_in(ctx, p), ack_props(p)).prop_map(move |(reason, properties)| Ack {
            kind,
            pkid,
            reason,
            properties,
        })
    })
}

pub fn subscribe(p: Protocol) -> impl Strategy<Value = Subscribe> {
    let v5 = p.is_v5();
    let opts = (qos(), any::<bool>(), any::<bool>(), 0u8..3).prop_map(move |(qos, nl, rap, rh)| {
        SubscriptionOptions {
            qos,
            no_local: v5 && nl,
            retain_as_published: v5 && rap,
            retain_handling: match (v5, rh) {
                (true, 1) => RetainHandling::OnNewSubscribe,
                (true, 2) => RetainHandling::Never,
                _ => RetainHandling::OnSubscribe,
            },
        }
    });
    let filters = vec((topic_filter(), opts), 1..5).prop_map(|v| {
        v.into_iter()
            .map(|(filter, mut options)| {
                if filter.starts_with("$share/") {
                    options.no_local = false;
                }
                SubscribeFilter { filter, options }
            })
            .collect()
    });
    let props = if v5 {
        (of(1u32..268_435_455), user())
            .prop_map(|(subscription_identifier, user)| SubscribeProperties { subscription_identifier, user })
            .boxed()
    } else {
        Just(SubscribeProperties::default()).boxed()
    };
    (1u16.., filters, props).prop_map(|(pkid, filters, properties)| Subscribe { pkid, filters, properties })
}

pub fn packet(p: Protocol) -> BoxedStrategy<Packet> {
    let v5 = p.is_v5();
    let suback_codes = if v5 {
        proptest::sample::select(ReasonContext::SubAck.codes().collect::<Vec<_>>()).boxed()
    } else {
        proptest::sample::select(vec![
            ReasonCode::Success,
            ReasonCode::GrantedQoS1,
            ReasonCode::GrantedQoS2,
            ReasonCode::UnspecifiedError,
        ])
        .boxed()
    };
    let unsub_props = if v5 {
        user().prop_map(|user| UnsubscribeProperties { user }).boxed()
    } else {
        Just(UnsubscribeProperties::default()).boxed()
    };
    let unsuback = (
        1u16..,
        vec(proptest::sample::select(ReasonContext::UnsubAck.codes().collect::<Vec<_>>()), 1..4),
        ack_props(p),
    )
        .prop_map(move |(pkid, reasons, properties)| UnsubAck {
            pkid,
            reasons: if v5 { reasons } else { vec![] },
            properties,
        });
    let connack_props = if v5 {
        (
            (of(any::<u32>()), nz16(), flag(), flag(), nz32(), of(text()), of(any::<u16>()), of(text())),
            (flag(), flag(), flag(), of(any::<u16>()), of(text()), of(text()), of(text()), of(bin()), user()),
        )
            .prop_map(|((a, b, c, d, e, f, g, h), (i, j, k, l, m, n, o, q, user))| ConnAckProperties {
                session_expiry_interval: a,
                receive_maximum: b,
                maximum_qos: c,
                retain_available: d,
                maximum_packet_size: e,
                assigned_client_identifier: f,
                topic_alias_maximum: g,
                reason_string: h,
                wildcard_subscription_available: i,
                subscription_identifier_available: j,
                shared_subscription_available: k,
                server_keep_alive: l,
                response_information: m,
                server_reference: n,
                authentication_method: o,
                authentication_data: q,
                user,
            })
            .boxed()
    } else {
        Just(ConnAckProperties::default()).boxed()
    };
    let connack_reasons = if v5 {
        proptest::sample::select(ReasonContext::ConnAck.codes().collect::<Vec<_>>()).boxed()
    } else {
        proptest::sample::select(vec![
            ReasonCode::Success,
            ReasonCode::UnsupportedProtocolVersion,
            ReasonCode::ClientIdentifierNotValid,
            ReasonCode::ServerUnavailable,
            ReasonCode::BadUserNameOrPassword,
            ReasonCode::NotAuthorized,
        ])
        .boxed()
    };
    let disconnect = if v5 {
        (reason_in(ReasonContext::Disconnect, p), of(any::<u32>()), of(text()), of(text()), user())
            .prop_map(|(reason, sei, rs, sr, user)| Disconnect {
                reason,
                properties: DisconnectProperties {
                    session_expiry_interval: sei,
                    reason_string: rs,
                    server_reference: sr,
                    user,
                },
            })
            .boxed()
    } else {
        Just(Disconnect::default()).boxed()
    };
    let mut options = vec![
        connect(p).prop_map(|c| Packet::Connect(Box::new(c))).boxed(),
        (any::<bool>(), connack_reasons, connack_props)
            .prop_map(|(sp, reason, properties)| {
                Packet::ConnAck(ConnAck {
                    session_present: sp && reason == ReasonCode::Success,
                    reason,
                    properties,
                })
            })
            .boxed(),
        publish(p).prop_map(Packet::Publish).boxed(),
        ack(p).prop_map(Packet::Ack).boxed(),
        subscribe(p).prop_map(Packet::Subscribe).boxed(),
        (1u16.., vec(suback_codes, 1..5), ack_props(p))
            .prop_map(|(pkid, reasons, properties)| Packet::SubAck(SubAck { pkid, reasons, properties }))
            .boxed(),
        (1u16.., vec(topic_filter(), 1..4), unsub_props)
            .prop_map(|(pkid, filters, properties)| {
                Packet::Unsubscribe(Unsubscribe { pkid, filters, properties })
            })
            .boxed(),
        unsuback.prop_map(Packet::UnsubAck).boxed(),
        Just(Packet::PingReq).boxed(),
        Just(Packet::PingResp).boxed(),
        disconnect.prop_map(Packet::Disconnect).boxed(),
    ];
    if v5 {
        options.push(
            (reason_in(ReasonContext::Auth, p), of(text()), of(bin()), of(text()), user())
                .prop_map(|(reason, am, ad, rs, user)| {
                    Packet::Auth(Auth {
                        reason,
                        properties: AuthProperties {
                            authentication_method: am,
                            authentication_data: ad,
                            reason_string: rs,
                            user,
                        },
                    })
                })
                .boxed(),
        );
    }
    proptest::strategy::Union::new(options).boxed()
}
