#!/usr/bin/env python3
"""Logging TCP relay used to capture real MQTT clients' bytes as test data.

Usage: capture-relay.py LISTEN_PORT BROKER_PORT OUT_FILE
Each accepted connection is relayed to 127.0.0.1:BROKER_PORT; every chunk is
appended to OUT_FILE as "c <hex>" (client to broker) or "s <hex>" (broker to
client), with a "# connection N" line per connection. Test fixture tool only.
"""
import socket, sys, threading

listen_port, broker_port, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
lock = threading.Lock()
count = 0


def pump(src, dst, tag, f):
    while True:
        try:
            data = src.recv(65536)
        except OSError:
            data = b""
        if not data:
            try:
                dst.shutdown(socket.SHUT_WR)
            except OSError:
                pass
            return
        with lock:
            f.write(f"{tag} {data.hex()}\n")
            f.flush()
        dst.sendall(data)


def main():
    global count
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", listen_port))
    srv.listen()
    f = open(out, "a")
    while True:
        c, _ = srv.accept()
        b = socket.create_connection(("127.0.0.1", broker_port))
        count += 1
        with lock:
            f.write(f"# connection {count}\n")
        threading.Thread(target=pump, args=(c, b, "c", f), daemon=True).start()
        threading.Thread(target=pump, args=(b, c, "s", f), daemon=True).start()


main()
