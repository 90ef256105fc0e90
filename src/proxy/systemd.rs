//! systemd's readiness protocol (`Type=notify`): a datagram to `$NOTIFY_SOCKET`
//! saying `READY=1` once every core listens, `RELOADING=1` and `READY=1` around a
//! config reload, `STOPPING=1` when the proxy starts to drain. Without
//! `$NOTIFY_SOCKET` (not under systemd) nothing is sent. Best effort: a failed
//! send is ignored (systemd then times the start out and says so).

use std::os::unix::net::UnixDatagram;

/// Sends `state` (e.g. `READY=1`) to systemd, if it is listening.
pub fn notify(state: &str) {
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else { return };
    let Ok(sock) = UnixDatagram::unbound() else { return };
    let bytes = path.as_encoded_bytes();
    let _ = match bytes.strip_prefix(b"@") {
        // An abstract socket (Linux): `@name`.
        Some(name) => {
            use std::os::linux::net::SocketAddrExt;
            std::os::unix::net::SocketAddr::from_abstract_name(name)
                .and_then(|addr| sock.send_to_addr(state.as_bytes(), &addr))
        }
        None => sock.send_to(state.as_bytes(), &path),
    };
}
