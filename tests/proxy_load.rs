//! Many real clients at once (rumqttc, an independent MQTT client), spread over the
//! proxy's cores: every message is accounted for, on 3.1.1 and 5.0.

mod common;
use common::broker::Mosquitto;
use common::proxy::{config, Proxy};
use std::collections::HashSet;
use std::time::Duration;

const CLIENTS_V311: usize = 200;
const CLIENTS_V5: usize = 50;
const MESSAGES: usize = 20;

/// Defines a client task: subscribes to its own topic, publishes MESSAGES at `$qos`
/// once subscribed, and returns how many distinct payloads came back. rumqttc's 3.1.1
/// and 5.0 clients have the same shape but different types, hence the macro.
macro_rules! client {
    ($name:ident, $client:path, $options:path, $event:path, $packet:path, $qos:expr, $prefix:literal) => {
        async fn $name(port: u16, i: usize) -> usize {
            use $event as Event;
            use $packet as Packet;
            let mut opts = <$options>::new(format!("{}-{i}", $prefix), "127.0.0.1", port);
            opts.set_keep_alive(Duration::from_secs(30));
            let (client, mut ev) = <$client>::new(opts, 64);
            let topic = format!("{}/{i}", $prefix);
            client.subscribe(&topic, $qos).await.expect("subscribe");
            let mut got = HashSet::new();
            let mut subscribed = false;
            while got.len() < MESSAGES {
                match ev.poll().await.expect("connection stays up") {
                    Event::Incoming(Packet::SubAck(_)) if !subscribed => {
                        subscribed = true;
                        for n in 0..MESSAGES {
                            client.publish(&topic, $qos, false, n.to_string()).await.expect("publish");
                        }
                    }
                    Event::Incoming(Packet::Publish(p)) => {
                        got.insert(String::from_utf8_lossy(&p.payload).to_string());
                    }
                    _ => {}
                }
            }
            client.disconnect().await.expect("disconnect");
            while ev.poll().await.is_ok() {}
            got.len()
        }
    };
}

client!(
    v311_client,
    rumqttc::AsyncClient,
    rumqttc::MqttOptions,
    rumqttc::Event,
    rumqttc::Packet,
    rumqttc::QoS::AtLeastOnce,
    "load"
);
client!(
    v5_client,
    rumqttc::v5::AsyncClient,
    rumqttc::v5::MqttOptions,
    rumqttc::v5::Event,
    rumqttc::v5::mqttbytes::v5::Packet,
    rumqttc::v5::mqttbytes::QoS::ExactlyOnce,
    "load5"
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_concurrent_clients_every_message_accounted_for() {
    let broker = Mosquitto::start();
    let proxy = Proxy::start(&config(&[broker.addr()], ""));
    let port = proxy.port();
    let mut tasks = Vec::new();
    for i in 0..CLIENTS_V311 {
        tasks.push(tokio::spawn(v311_client(port, i)));
    }
    for i in 0..CLIENTS_V5 {
        tasks.push(tokio::spawn(v5_client(port, i)));
    }
    let mut total = 0;
    for t in tasks {
        total += tokio::time::timeout(Duration::from_secs(60), t)
            .await
            .expect("client finished")
            .expect("client ok");
    }
    assert_eq!(total, (CLIENTS_V311 + CLIENTS_V5) * MESSAGES);
    let log = proxy.wait_log_count("reason=client_disconnect", CLIENTS_V311 + CLIENTS_V5);
    let cores: HashSet<&str> = log
        .lines()
        .filter(|l| l.contains("connection opened"))
        .filter_map(|l| l.split_whitespace().find(|w| w.starts_with("core=")))
        .collect();
    assert!(cores.len() >= 2, "connections all landed on one core: {cores:?}");
}
