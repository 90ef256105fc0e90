//! A minimal HTTP endpoint for Prometheus: `GET /metrics` returns
//! [`super::Registry::render`]; anything else is 404.
//!
//! It runs on OS threads of its own with blocking sockets, off the cores' data path:
//! [`WORKERS`] threads accept from the one listener and answer, each request gets
//! [`REQUEST_TIME`] in all (reading and writing, however slowly the client trickles
//! its bytes), and connections beyond those being answered wait in the kernel's
//! (bounded) accept queue. So a slow or hostile client holds at most one worker for
//! at most [`REQUEST_TIME`]. It is not a general web server.

use super::Registry;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};
use tracing::debug;

/// Requests answered at once.
pub const WORKERS: usize = 4;
/// The whole time one request may take.
pub const REQUEST_TIME: Duration = Duration::from_secs(2);

/// Binds `addr` and serves scrapes on threads of their own; returns the bound address.
pub fn serve(addr: SocketAddr, registry: Registry) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind(addr)?;
    let bound = listener.local_addr()?;
    for i in 0..WORKERS {
        let (listener, registry) = (listener.try_clone()?, registry.clone());
        std::thread::Builder::new().name(format!("metrics-{i}")).spawn(move || {
            for stream in listener.incoming().flatten() {
                if let Err(e) = answer(stream, &registry, Instant::now() + REQUEST_TIME) {
                    debug!(error = %e, "metrics request failed");
                }
            }
        })?;
    }
    Ok(bound)
}

/// Time left until `deadline`, or a timeout error once it passed.
fn left(deadline: Instant) -> std::io::Result<Duration> {
    match deadline.checked_duration_since(Instant::now()) {
        Some(d) if !d.is_zero() => Ok(d),
        _ => Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "request took too long")),
    }
}

fn answer(mut s: TcpStream, registry: &Registry, deadline: Instant) -> std::io::Result<()> {
    let mut req = [0u8; 1024];
    let mut n = 0;
    while n < req.len() && !req[..n].windows(4).any(|w| w == b"\r\n\r\n") {
        s.set_read_timeout(Some(left(deadline)?))?;
        match s.read(&mut req[n..])? {
            0 => break,
            k => n += k,
        }
    }
    let head = String::from_utf8_lossy(&req[..n]);
    let (status, body) = if head.starts_with("GET /metrics ") || head.starts_with("GET /metrics?") {
        ("200 OK", registry.render())
    } else {
        ("404 Not Found", "not found\n".to_string())
    };
    s.set_write_timeout(Some(left(deadline)?))?;
    write!(
        s,
        "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}
