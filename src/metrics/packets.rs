//! Packets read from each side by MQTT packet type, PUBLISH split by QoS, with
//! their bytes: `mqtt_proxy_packets_total{direction,type}`,
//! `mqtt_proxy_packet_bytes_total{direction,type}` and
//! `mqtt_proxy_messages_total{direction,qos}`. Counted per frame from its first
//! byte (two single-writer counters, no branch beyond the PUBLISH split).

use super::Counter;
use std::fmt::Write as _;

/// Slots: packet types 0–15 (3 unused: PUBLISH goes to 16 + QoS).
const SLOTS: usize = 19;

/// The slot of a frame whose first byte is `first`.
#[inline]
fn slot(first: u8) -> usize {
    match first >> 4 {
        3 => 16 + usize::from((first >> 1) & 3).min(2),
        t => usize::from(t),
    }
}

/// The `type` label of slot `i` (PUBLISH slots: `publish`).
fn type_label(i: usize) -> &'static str {
    const NAMES: [&str; 16] = [
        "reserved",
        "connect",
        "connack",
        "publish",
        "puback",
        "pubrec",
        "pubrel",
        "pubcomp",
        "subscribe",
        "suback",
        "unsubscribe",
        "unsuback",
        "pingreq",
        "pingresp",
        "disconnect",
        "auth",
    ];
    NAMES.get(i).copied().unwrap_or("publish")
}

/// One core's packet counters: `[up, down]`.
#[derive(Debug, Default)]
pub struct Packets {
    count: [[Counter; SLOTS]; 2],
    bytes: [[Counter; SLOTS]; 2],
}

impl Packets {
    /// Counts a frame of `len` bytes whose first byte is `first`, read from the client (`up`) or a broker.
    #[inline]
    pub fn add(&self, up: bool, first: u8, len: usize) {
        let (d, s) = (usize::from(!up), slot(first));
        self.count[d][s].add(1);
        self.bytes[d][s].add(len as u64);
    }

    /// Packets read from the client (`up`) or brokers, all types.
    pub fn total(&self, up: bool) -> u64 {
        self.count[usize::from(!up)].iter().map(Counter::get).sum()
    }
}

/// Appends the three families, summed over `cores`.
pub fn render(out: &mut String, cores: &[&Packets]) {
    let sum = |f: &dyn Fn(&Packets) -> u64| cores.iter().map(|c| f(c)).sum::<u64>();
    let dirs = [(0, "up"), (1, "down")];
    for (name, help, which) in [
        ("mqtt_proxy_packets_total", "MQTT packets read, by direction (up: from clients) and type.", 0),
        ("mqtt_proxy_packet_bytes_total", "Bytes of the MQTT packets read, by direction and type.", 1),
    ] {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
        for (d, dir) in dirs {
            for t in (0..16).filter(|&t| t != 0) {
                let slots: &[usize] = if t == 3 { &[16, 17, 18] } else { &[t] };
                let v = sum(&|p| {
                    let c = if which == 0 { &p.count[d] } else { &p.bytes[d] };
                    slots.iter().map(|&s| c[s].get()).sum()
                });
                let _ = writeln!(out, "{name}{{direction=\"{dir}\",type=\"{}\"}} {v}", type_label(t));
            }
        }
    }
    let name = "mqtt_proxy_messages_total";
    let _ = writeln!(out, "# HELP {name} PUBLISH packets read, by direction and QoS.\n# TYPE {name} counter");
    for (d, dir) in dirs {
        for q in 0..3 {
            let v = sum(&|p| p.count[d][16 + q].get());
            let _ = writeln!(out, "{name}{{direction=\"{dir}\",qos=\"{q}\"}} {v}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn by_type_and_qos() {
        let p = Packets::default();
        p.add(true, 0x10, 20); // CONNECT
        p.add(true, 0x30, 10); // PUBLISH QoS 0
        p.add(true, 0x32, 12); // QoS 1
        p.add(true, 0x3d, 14); // QoS 2, DUP, RETAIN
        p.add(false, 0x20, 4); // CONNACK
        assert_eq!((p.total(true), p.total(false)), (4, 1));
        let mut out = String::new();
        render(&mut out, &[&p, &p]);
        for line in [
            "mqtt_proxy_packets_total{direction=\"up\",type=\"connect\"} 2\n",
            "mqtt_proxy_packets_total{direction=\"up\",type=\"publish\"} 6\n",
            "mqtt_proxy_packet_bytes_total{direction=\"up\",type=\"publish\"} 72\n",
            "mqtt_proxy_packets_total{direction=\"down\",type=\"connack\"} 2\n",
            "mqtt_proxy_messages_total{direction=\"up\",qos=\"2\"} 2\n",
            "mqtt_proxy_messages_total{direction=\"down\",qos=\"0\"} 0\n",
        ] {
            assert!(out.contains(line), "{line}{out}");
        }
        assert!(!out.contains("reserved"));
    }
}
