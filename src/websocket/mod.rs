//! MQTT over WebSocket (MQTT 5.0 section 6, RFC 6455), sans-I/O: the HTTP/1.1
//! upgrade a `ws`/`wss` listener answers ([`handshake`]) and the frames that carry
//! the MQTT byte stream afterwards ([`frames`]). The proxy's I/O layer
//! (`proxy::websocket`) turns a socket into a plain byte stream with these, so
//! the guard, ACLs, routing and validation see exactly what they see on TCP; to
//! brokers it is plain MQTT. No I/O, no clock.

pub mod frames;
pub mod handshake;
