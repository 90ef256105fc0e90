//! The packets the proxy itself says before it closes a client connection (a
//! CONNACK refusal, a DISCONNECT with the reason): written with a short deadline,
//! so a client that does not read cannot hold the connection open.

use super::io::Shared;
use crate::mqtt::{Packet, Protocol};
use futures_lite::{future, AsyncWriteExt};
use std::time::Duration;

/// How long a goodbye packet (CONNACK refusal, DISCONNECT) may take to write.
const GOODBYE_TIMEOUT: Duration = Duration::from_secs(2);

/// Writes one packet the proxy itself answers with, giving up after a short time.
pub(super) async fn send(stream: &mut Shared, packet: &Packet, protocol: Protocol) {
    let Ok(bytes) = packet.to_bytes(protocol) else {
        return;
    };
    let write = async {
        let _ = stream.write_all(&bytes).await;
        let _ = stream.flush().await;
    };
    future::or(write, glommio::timer::sleep(GOODBYE_TIMEOUT)).await;
}
