//! A minimal HTTP endpoint for Prometheus: `GET /metrics` returns
//! [`super::Registry::render`]; anything else is 404.
//!
//! It runs on its own OS thread with blocking sockets, off the cores' data path,
//! one request at a time with short timeouts (a scrape is tiny). It is not a general
//! web server.

use super::Registry;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;
use tracing::debug;

/// Binds `addr` and serves scrapes on a new thread; returns the bound address.
pub fn serve(addr: SocketAddr, registry: Registry) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind(addr)?;
    let bound = listener.local_addr()?;
    std::thread::Builder::new().name("metrics".into()).spawn(move || {
        for stream in listener.incoming().flatten() {
            if let Err(e) = answer(stream, &registry) {
                debug!(error = %e, "metrics request failed");
            }
        }
    })?;
    Ok(bound)
}

fn answer(mut s: TcpStream, registry: &Registry) -> std::io::Result<()> {
    s.set_read_timeout(Some(Duration::from_secs(2)))?;
    s.set_write_timeout(Some(Duration::from_secs(2)))?;
    let mut req = [0u8; 1024];
    let mut n = 0;
    while n < req.len() && !req[..n].windows(4).any(|w| w == b"\r\n\r\n") {
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
    write!(
        s,
        "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}
