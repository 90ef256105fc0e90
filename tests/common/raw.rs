//! A minimal blocking MQTT client on our codec, for byte-exact assertions about what
//! the proxy answers (reason codes, closes).
#![allow(dead_code)]

use bytes::{Bytes, BytesMut};
use mqtt_proxy::mqtt::{self, Connect, ConnectProperties, MqttStr, Packet, Protocol};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// A raw client.
pub struct Raw {
    pub stream: TcpStream,
    pub protocol: Protocol,
    buf: BytesMut,
}

/// A SUBSCRIBE of `filters`, each at `qos`, no properties.
pub fn subscribe_packet(pkid: u16, filters: &[&str], qos: mqtt::QoS) -> Packet {
    let filters = filters
        .iter()
        .map(|f| mqtt::SubscribeFilter {
            filter: MqttStr::try_from(f.to_string()).expect("filter"),
            options: mqtt::SubscriptionOptions { qos, ..Default::default() },
        })
        .collect();
    Packet::Subscribe(mqtt::Subscribe { pkid, filters, properties: Default::default() })
}

/// A CONNECT packet.
pub fn connect_packet(protocol: Protocol, client_id: &'static str, keep_alive: u16) -> Packet {
    Packet::Connect(Box::new(Connect {
        protocol,
        clean_start: true,
        keep_alive,
        client_id: MqttStr::from_static(client_id),
        will: None,
        username: None,
        password: None,
        properties: ConnectProperties::default(),
    }))
}

impl Raw {
    /// Opens a TCP connection (no MQTT yet). Reads give up after 10 s so a broken
    /// proxy fails the test instead of hanging it.
    pub fn open(addr: SocketAddr, protocol: Protocol) -> Raw {
        let stream = TcpStream::connect(addr).expect("connect");
        stream.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
        Raw { stream, protocol, buf: BytesMut::new() }
    }

    /// Opens a TCP connection from `source` (an address of the loopback range).
    pub fn open_from(source: std::net::IpAddr, addr: SocketAddr, protocol: Protocol) -> Raw {
        let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("socket");
        s.bind(&SocketAddr::new(source, 0).into()).expect("bind source");
        s.connect(&addr.into()).expect("connect");
        let stream: TcpStream = s.into();
        stream.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
        Raw { stream, protocol, buf: BytesMut::new() }
    }

    /// Opens and sends CONNECT; returns the client and the first packet back.
    pub fn connect(
        addr: SocketAddr,
        protocol: Protocol,
        client_id: &'static str,
        keep_alive: u16,
    ) -> (Raw, Option<Packet>) {
        let mut c = Raw::open(addr, protocol);
        c.send(&connect_packet(protocol, client_id, keep_alive));
        let p = c.recv();
        (c, p)
    }

    /// Sends a packet.
    pub fn send(&mut self, p: &Packet) {
        let b = p.to_bytes(self.protocol).expect("encode");
        self.send_bytes(&b);
    }

    /// Sends raw bytes (errors ignored: the proxy may have closed already).
    pub fn send_bytes(&mut self, b: &[u8]) {
        let _ = self.stream.write_all(b);
    }

    /// The next packet, or `None` when the connection closed.
    pub fn recv(&mut self) -> Option<Packet> {
        let f = self.recv_frame()?;
        Some(mqtt::decode(&f, self.protocol).expect("valid packet from the proxy"))
    }

    /// The next frame as received, or `None` when the connection closed.
    pub fn recv_frame(&mut self) -> Option<mqtt::Frame> {
        loop {
            if let Some(f) = mqtt::Frame::split(&mut self.buf, usize::MAX).expect("valid frames") {
                return Some(f);
            }
            let mut chunk = [0u8; 65536];
            match self.stream.read(&mut chunk) {
                Ok(0) => return None,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return None,
                Err(e) => panic!("read failed (timeout?): {e}"),
            }
        }
    }

    /// The next packet if one arrives within `wait` (`None`: nothing came).
    pub fn recv_within(&mut self, wait: Duration) -> Option<Packet> {
        self.stream.set_read_timeout(Some(wait)).expect("timeout");
        let r = loop {
            if let Some(f) = mqtt::Frame::split(&mut self.buf, usize::MAX).expect("valid frames") {
                break Some(mqtt::decode(&f, self.protocol).expect("valid packet from the proxy"));
            }
            let mut chunk = [0u8; 65536];
            match self.stream.read(&mut chunk) {
                Ok(0) => panic!("the proxy closed the connection"),
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e)
                    if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) =>
                {
                    break None
                }
                Err(e) => panic!("read failed: {e}"),
            }
        };
        self.stream.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
        r
    }

    /// Reads until the connection closes; returns the packets seen before the close.
    pub fn recv_until_closed(&mut self) -> Vec<Packet> {
        let mut v = Vec::new();
        while let Some(p) = self.recv() {
            v.push(p);
        }
        v
    }
}

/// A payload of `n` bytes.
pub fn payload(n: usize) -> Bytes {
    Bytes::from((0..n).map(|i| (i % 251) as u8).collect::<Vec<u8>>())
}
