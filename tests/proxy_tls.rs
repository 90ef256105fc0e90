//! TLS listeners (rustls on ring): real clients over TLS with server verification,
//! PKCS#12 keystores, client certificates, SNI, and clean failures (wrong name,
//! expired certificate, missing client certificate, plaintext on the TLS port) after
//! which the listener keeps serving.

mod common;
use common::broker::Mosquitto;
use common::certs::Pki;
use common::cli::{publish, Sub};
use common::proxy::Proxy;
use common::raw::{connect_packet, Raw};
use mqtt_proxy::mqtt::{self, Packet, Protocol, ReasonCode};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::Arc;

fn tls_config(broker: &str, tls: &str) -> String {
    format!(
        "listeners:\n  - name: tls\n    bind: 127.0.0.1:0\n    upstream: broker\n    tls:\n{tls}\
         upstreams:\n  - name: broker\n    servers: [\"{broker}\"]\n"
    )
}

/// A plain listener in front of a TLS broker on `localhost:port`; `extra` adds keys
/// to the upstream's `tls:` section.
fn upstream_tls_config(port: u16, ca: &Path, extra: &str) -> String {
    format!(
        "listeners:\n  - name: plain\n    bind: 127.0.0.1:0\n    upstream: broker\n\
         upstreams:\n  - name: broker\n    servers: [\"localhost:{port}\"]\n    tls:\n      ca: {}\n{extra}",
        ca.display()
    )
}

fn pem_tls(cert: &Path, key: &Path) -> String {
    format!(
        "      cert: {}\n      key: {}\n      alpn: [mqtt]\n      handshake_timeout: 2s\n",
        cert.display(),
        key.display()
    )
}

type TlsClient = rustls::StreamOwned<rustls::ClientConnection, TcpStream>;

/// Reads the next MQTT 5.0 packet from a TLS client.
fn next_packet(tls: &mut TlsClient, buf: &mut bytes::BytesMut) -> Result<Packet, String> {
    let mut chunk = [0u8; 256];
    loop {
        if let Some(f) = mqtt::Frame::split(buf, 1 << 20).expect("frame") {
            return mqtt::decode(&f, Protocol::V5).map_err(|e| e.to_string());
        }
        let n = tls.read(&mut chunk).map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("closed".into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// A blocking rustls client: returns the CONNACK reason after an MQTT CONNECT, or
/// the handshake/IO error.
fn tls_connect(
    addr: std::net::SocketAddr,
    ca: &Path,
    name: &str,
    client: Option<(&Path, &Path)>,
) -> Result<ReasonCode, String> {
    tls_session(addr, ca, name, client, "tls-client").map(|(_, r)| r)
}

/// Like [`tls_connect`], keeping the session open.
fn tls_session(
    addr: std::net::SocketAddr,
    ca: &Path,
    name: &str,
    client: Option<(&Path, &Path)>,
    client_id: &'static str,
) -> Result<(TlsClient, ReasonCode), String> {
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(ca).expect("ca") {
        roots.add(c.expect("cert")).expect("root");
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots);
    let mut cfg = match client {
        None => builder.with_no_client_auth(),
        Some((cert, key)) => {
            let chain = CertificateDer::pem_file_iter(cert).expect("cert").map(|c| c.expect("c")).collect();
            builder
                .with_client_auth_cert(chain, PrivateKeyDer::from_pem_file(key).expect("key"))
                .expect("client auth")
        }
    };
    cfg.alpn_protocols = vec![b"mqtt".to_vec()];
    let conn =
        rustls::ClientConnection::new(Arc::new(cfg), ServerName::try_from(name.to_string()).expect("name"))
            .expect("client");
    let sock = TcpStream::connect(addr).expect("tcp");
    sock.set_read_timeout(Some(std::time::Duration::from_secs(10))).expect("timeout");
    let mut tls = rustls::StreamOwned::new(conn, sock);
    let connect = connect_packet(Protocol::V5, client_id, 30).to_bytes(Protocol::V5).expect("encode");
    tls.write_all(&connect).map_err(|e| e.to_string())?;
    let mut buf = bytes::BytesMut::new();
    match next_packet(&mut tls, &mut buf)? {
        Packet::ConnAck(a) => Ok((tls, a.reason)),
        other => Err(format!("unexpected {other:?}")),
    }
}

#[test]
fn mosquitto_clients_over_tls_with_verification() {
    let pki = Pki::new();
    let broker = Mosquitto::start();
    let proxy = Proxy::start(&tls_config(&broker.addr(), &pem_tls(&pki.server_cert, &pki.server_key)));
    let p = proxy.port();
    let ca = pki.ca.display().to_string();
    for v in ["311", "5"] {
        let mut sub = Sub::start(p, &["-V", v, "--cafile", &ca, "-t", "zilla", "-C", "1"]);
        publish(p, &["-V", v, "--cafile", &ca, "-t", "zilla", "-m", "Hello, world"]);
        assert_eq!(sub.next_message().as_deref(), Some("zilla Hello, world"), "v{v}");
    }
}

#[test]
fn failures_are_clean_and_the_listener_keeps_serving() {
    let pki = Pki::new();
    let broker = Mosquitto::start();
    let proxy = Proxy::start(&tls_config(&broker.addr(), &pem_tls(&pki.server_cert, &pki.server_key)));
    // Wrong name: the client refuses the certificate.
    let e = tls_connect(proxy.addr, &pki.ca, "wrong.example.com", None).expect_err("wrong SNI");
    assert!(e.contains("certificate") || e.contains("NotValidForName"), "{e}");
    // Plaintext MQTT on the TLS port: closed, no CONNACK.
    let mut plain = Raw::open(proxy.addr, Protocol::V5);
    plain.send(&connect_packet(Protocol::V5, "plain", 30));
    let mut rest = Vec::new();
    let _ = plain.stream.read_to_end(&mut rest);
    assert!(!rest.starts_with(&[0x20]), "a CONNACK over plaintext: {rest:02x?}");
    // A silent client: cut at the handshake timeout.
    let mut silent = TcpStream::connect(proxy.addr).expect("tcp");
    silent.set_read_timeout(Some(std::time::Duration::from_secs(10))).expect("timeout");
    assert_eq!(silent.read(&mut [0u8; 16]).unwrap_or(0), 0);
    // And a correct client still gets through.
    assert_eq!(tls_connect(proxy.addr, &pki.ca, "localhost", None), Ok(ReasonCode::Success));
    let log = proxy.wait_log("handshake timed out");
    assert!(log.matches("closed: TLS handshake failed").count() >= 3, "{log}");
}

#[test]
fn expired_server_certificate_is_refused_by_clients() {
    let pki = Pki::new();
    let broker = Mosquitto::start();
    let proxy = Proxy::start(&tls_config(&broker.addr(), &pem_tls(&pki.expired_cert, &pki.expired_key)));
    let e = tls_connect(proxy.addr, &pki.ca, "localhost", None).expect_err("expired");
    assert!(e.contains("Expired") || e.contains("expired"), "{e}");
}

#[test]
fn client_certificate_required() {
    let pki = Pki::new();
    let broker = Mosquitto::start();
    let tls = format!(
        "{}      client_auth:\n        mode: required\n        ca: {}\n",
        pem_tls(&pki.server_cert, &pki.server_key),
        pki.ca.display()
    );
    let proxy = Proxy::start(&tls_config(&broker.addr(), &tls));
    assert!(tls_connect(proxy.addr, &pki.ca, "localhost", None).is_err(), "no client certificate");
    let with = tls_connect(proxy.addr, &pki.ca, "localhost", Some((&pki.client_cert, &pki.client_key)));
    assert_eq!(with, Ok(ReasonCode::Success));
}

#[test]
fn pkcs12_keystore_with_password_from_the_environment() {
    let pki = Pki::new();
    let broker = Mosquitto::start();
    let p12 = pki.server_p12("TEST-ONLY-keystore-password");
    // The password comes through `${VAR:-default}` substitution (here its default).
    let tls = format!(
        "      pkcs12: {}\n      password: ${{KEYSTORE_PASSWORD:-TEST-ONLY-keystore-password}}\n",
        p12.display()
    );
    let proxy = Proxy::start(&tls_config(&broker.addr(), &tls));
    assert_eq!(tls_connect(proxy.addr, &pki.ca, "localhost", None), Ok(ReasonCode::Success));
}

#[test]
fn certificates_chosen_by_sni() {
    let pki = Pki::new();
    let other = Pki::new();
    let broker = Mosquitto::start();
    // Default: the other PKI's certificate; for "localhost": ours.
    let tls = format!(
        "      cert: {}\n      key: {}\n      sni:\n        - name: localhost\n          cert: {}\n          key: {}\n",
        other.server_cert.display(),
        other.server_key.display(),
        pki.server_cert.display(),
        pki.server_key.display()
    );
    let proxy = Proxy::start(&tls_config(&broker.addr(), &tls));
    assert_eq!(tls_connect(proxy.addr, &pki.ca, "localhost", None), Ok(ReasonCode::Success));
    assert_eq!(tls_connect(proxy.addr, &other.ca, "localhost", None).map_err(|_| ()), Err(()));
}

#[test]
fn tls_to_the_broker() {
    let pki = Pki::new();
    let broker = Mosquitto::start_with(common::broker::free_port(), &pki.mosquitto_tls());
    let upstream_tls = |ca: &Path| upstream_tls_config(broker.port, ca, "");
    let proxy = Proxy::start(&upstream_tls(&pki.ca));
    let mut sub = Sub::start(proxy.port(), &["-t", "over/tls", "-C", "1"]);
    publish(proxy.port(), &["-t", "over/tls", "-m", "sealed"]);
    assert_eq!(sub.next_message().as_deref(), Some("over/tls sealed"));
    // A broker whose certificate does not chain to the configured CA is unavailable.
    let stranger = Pki::new();
    let proxy = Proxy::start(&upstream_tls(&stranger.ca));
    let (_c, ack) = Raw::connect(proxy.addr, Protocol::V5, "x", 30);
    assert!(matches!(ack, Some(Packet::ConnAck(a)) if a.reason == ReasonCode::ServerUnavailable));
    proxy.wait_log("upstream connect failed");
}

#[test]
fn client_certificate_names_the_session_for_acls() {
    let pki = Pki::new();
    let broker = Mosquitto::start();
    let tls = format!(
        "{}      client_auth:\n        mode: required\n        ca: {}\n",
        pem_tls(&pki.server_cert, &pki.server_key),
        pki.ca.display()
    );
    let yaml = tls_config(&broker.addr(), &tls).replace(
        "    upstream: broker\n    tls:",
        "    upstream: broker\n    acl:\n      publish: [\"devices/{sub}/#\"]\n    tls:",
    );
    let proxy = Proxy::start(&yaml);
    // The client certificate's CN is "device-42".
    let (mut tls, reason) = tls_session(
        proxy.addr,
        &pki.ca,
        "localhost",
        Some((&pki.client_cert, &pki.client_key)),
        "cert-client",
    )
    .expect("session");
    assert_eq!(reason, ReasonCode::Success);
    let mut buf = bytes::BytesMut::new();
    for (topic, pkid, expected) in [
        ("devices/device-42/t", 1, ReasonCode::NoMatchingSubscribers),
        ("devices/device-7/t", 2, ReasonCode::NotAuthorized),
    ] {
        let p = mqtt::Publish {
            qos: mqtt::QoS::AtLeastOnce,
            pkid,
            ..mqtt::Publish::new(mqtt::MqttStr::from_static(topic), bytes::Bytes::from_static(b"x"))
        };
        tls.write_all(&Packet::Publish(p).to_bytes(Protocol::V5).expect("encode")).expect("write");
        match next_packet(&mut tls, &mut buf) {
            Ok(Packet::Ack(a)) => assert_eq!((a.pkid, a.reason), (pkid, expected), "{topic}"),
            other => panic!("{topic}: expected PUBACK, got {other:?}"),
        }
    }
}

#[test]
fn client_certificate_towards_a_broker_that_requires_one() {
    let pki = Pki::new();
    let conf = format!("{}require_certificate true\n", pki.mosquitto_tls());
    let broker = Mosquitto::start_with(common::broker::free_port(), &conf);
    let config = |identity: &str| upstream_tls_config(broker.port, &pki.ca, identity);
    let with =
        format!("      cert: {}\n      key: {}\n", pki.client_cert.display(), pki.client_key.display());
    let proxy = Proxy::start(&config(&with));
    let (_c, ack) = Raw::connect(proxy.addr, Protocol::V5, "with-cert", 30);
    assert!(matches!(&ack, Some(Packet::ConnAck(a)) if a.reason == ReasonCode::Success), "{ack:?}");
    let proxy = Proxy::start(&config(""));
    let (_c, ack) = Raw::connect(proxy.addr, Protocol::V5, "without", 30);
    assert!(matches!(&ack, Some(Packet::ConnAck(a)) if a.reason == ReasonCode::ServerUnavailable), "{ack:?}");
}

#[test]
fn the_server_name_picks_the_route() {
    let (by_name, by_default) = (Mosquitto::start(), Mosquitto::start());
    let pki = Pki::new();
    let yaml = format!(
        "listeners:\n  - name: tls\n    bind: 127.0.0.1:0\n    upstream: fallback\n    tls:\n{}\
         upstreams:\n  - name: named\n    servers: [\"{}\"]\n  - name: fallback\n    servers: [\"{}\"]\n\
         routes:\n  - sni: \"local*\"\n    upstream: named\n",
        pem_tls(&pki.server_cert, &pki.server_key),
        by_name.addr(),
        by_default.addr()
    );
    let proxy = Proxy::start(&yaml);
    // SNI `localhost` → the named group; an IP address sends no SNI → the listener's.
    let (_a, r) = tls_session(proxy.addr, &pki.ca, "localhost", None, "sni-named").expect("TLS");
    assert_eq!(r, ReasonCode::Success);
    let (_b, r) = tls_session(proxy.addr, &pki.ca, "127.0.0.1", None, "sni-none").expect("TLS");
    assert_eq!(r, ReasonCode::Success);
    let log = proxy.wait_log_count("session routed", 2);
    let upstream_of = |id: &str| {
        log.lines()
            .find(|l| l.contains("session routed") && l.contains(id))
            .and_then(|l| l.split_whitespace().find_map(|w| w.strip_prefix("upstream=")))
            .map(str::to_string)
    };
    assert_eq!(upstream_of("sni-named").as_deref(), Some("named"));
    assert_eq!(upstream_of("sni-none").as_deref(), Some("fallback"));
}
