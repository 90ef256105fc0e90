//! What one connection costs in memory while it is idle, kept under test so it
//! cannot grow unnoticed: the connection's task (the `conn::serve` future: admit,
//! hop and finish with everything they hold across awaits), the largest
//! per-connection allocation; the others are the two sockets' glommio state and a
//! partial frame, if any (quiet directions hold no read buffer: `io.rs`).
//!
//! Measured, not estimated: `size_of_val` of a real `serve` future built on a real
//! accepted socket (never polled). Nothing here runs on the data path.

#[cfg(test)]
mod tests {
    use super::super::{conn, listeners::Life, tenants::Tenants, Core, Snapshot};
    use crate::config::Config;
    use crate::metrics::Registry;
    use std::rc::Rc;
    use std::sync::Arc;

    /// Bytes of the connection task (4,048 today, debug and release alike:
    /// the reload snapshot, the listener's life, the client's local address, the
    /// per-source slot and the publish pacer took the 176 bytes over 3,872). 4 KiB is
    /// also where the allocator's next size class starts: a task just above it costs
    /// 5 KiB per connection.
    const TASK_BOUND: usize = 4096;

    #[test]
    fn the_connection_task_stays_small() {
        let yaml = "listeners:\n  - name: l\n    bind: 127.0.0.1:0\n    upstream: b\n\
                    upstreams:\n  - name: b\n    servers: [\"127.0.0.1:1\"]\n";
        let config = Config::parse(yaml, |_| None).expect("config");
        let snap = Arc::new(Snapshot::new(config, Vec::new(), Vec::new(), 1));
        let size = glommio::LocalExecutorBuilder::default()
            .spawn(move || async move {
                let core = Rc::new(Core::new(
                    snap.clone(),
                    Registry::new(Vec::new()).register(),
                    Tenants::default(),
                    Arc::default(),
                ));
                let listener = glommio::net::TcpListener::bind("127.0.0.1:0").expect("bind");
                let addr = listener.local_addr().expect("addr");
                let _client = glommio::net::TcpStream::connect(addr).await.expect("connect");
                let accepted = listener.accept().await.expect("accept");
                let task = conn::serve(core, snap, accepted, addr, 0, Rc::new(Life::default()));
                std::mem::size_of_val(&task)
            })
            .expect("executor")
            .join()
            .expect("join");
        eprintln!("connection task: {size} bytes (bound {TASK_BOUND})");
        assert!(size <= TASK_BOUND, "the connection task grew to {size} bytes (bound {TASK_BOUND})");
    }
}
