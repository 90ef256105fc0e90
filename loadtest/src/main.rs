//! `mqtt-loadtest`: drives an MQTT server (the proxy, or a broker directly) and
//! reports what came out.
//!
//! Scenarios:
//! - `pubsub` (see `pubsub.rs`): N publishers, M subscribers, QoS 0/1/2, 3.1.1 or
//!   5.0, TCP or TLS, fixed rate or unlimited; latency from a send timestamp in
//!   each payload (hdrhistogram), and loss / duplicates / reordering per publisher
//!   from sequence numbers (`track.rs`).
//! - `connect` (see `connect.rs`): CONNECT → CONNACK as fast as possible, optionally
//!   with TLS and a JWT per connection (unique, minted before the run, or one
//!   repeated), measuring connects/s and latency.
//!
//! - `fleet` (see `fleet.rs`, `device.rs`, `ledger.rs`): N devices with persistent
//!   QoS 1 sessions that reconnect and resume, for failover runs (what was
//!   acknowledged and never delivered, duplicates, Session Present on reconnect).
//! - `idle` (see `idle.rs`): N connections held with pings, for memory per
//!   connection; `--source-ips` spreads client addresses over 127.0.0.0/8.
//!
//! One OS thread per client with blocking sockets (`idle`: one thread in all): simple and adequate for tens of
//! clients. Uses the proxy's own codec (`mqtt_proxy::mqtt`) for every packet.

mod client;
mod connect;
mod device;
mod fleet;
mod idle;
mod ledger;
mod payload;
mod plot;
mod pubsub;
mod report;
mod track;

use anyhow::Result;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(version, about = "Load-test harness for MQTT servers")]
struct Cli {
    #[command(subcommand)]
    scenario: Scenario,
}

#[derive(Subcommand)]
enum Scenario {
    /// N publishers, M subscribers: throughput, latency, loss, duplicates, reordering.
    Pubsub(pubsub::PubSubArgs),
    /// Connection storm: CONNECT/CONNACK rate and latency (TLS, JWT optional).
    Connect(connect::ConnectArgs),
    /// Devices with persistent QoS 1 sessions that reconnect: loss and duplicates across failover.
    Fleet(fleet::FleetArgs),
    /// N connections held open with pings, for memory per connection.
    Idle(idle::IdleArgs),
    /// The page for a scale series from `scripts/bench.sh scale` (JSON points in, HTML out).
    Plot(plot::PlotArgs),
}

fn main() -> Result<()> {
    match Cli::parse().scenario {
        Scenario::Connect(args) => connect::run(args),
        Scenario::Pubsub(args) => pubsub::run(args),
        Scenario::Fleet(args) => fleet::run(args),
        Scenario::Idle(args) => idle::run(args),
        Scenario::Plot(args) => plot::run(args),
    }
}
