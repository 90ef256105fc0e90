// MQTT.js under Node through the proxy's WebSocket listener: a subscriber and a
// publisher (MQTT 3.1.1 = protocolVersion 4, or 5), each with the JWT in the user
// name; prints one JSON line with what the subscriber received. Used by
// tests/proxy_websocket.rs. Usage: node pubsub.mjs URL VERSION USERNAME TOPIC [CA_FILE]
import mqtt from "mqtt";
import { readFileSync } from "node:fs";

const [url, version, username, topic, caFile] = process.argv.slice(2);
const options = {
  protocolVersion: Number(version),
  username,
  reconnectPeriod: 0,
  connectTimeout: 10000,
  ...(caFile ? { ca: readFileSync(caFile), servername: "localhost" } : {}),
};
const fail = (what, e) => {
  console.log(JSON.stringify({ ok: false, what, error: String(e && e.message ? e.message : e) }));
  process.exit(1);
};
setTimeout(() => fail("timeout", "no message within 15 s"), 15000).unref();

const connect = (id) =>
  new Promise((resolve, reject) => {
    const c = mqtt.connect(url, { ...options, clientId: id });
    c.once("connect", () => resolve(c));
    c.once("error", reject);
    c.once("close", () => reject(new Error("closed before CONNACK")));
  });

try {
  const sub = await connect(`ws-sub-${version}-${process.pid}`);
  await sub.subscribeAsync(topic, { qos: 1 });
  const received = new Promise((resolve) => sub.on("message", (t, payload) => resolve({ t, payload: payload.toString() })));
  const pub = await connect(`ws-pub-${version}-${process.pid}`);
  const payload = `hello from MQTT.js v${version}`;
  await pub.publishAsync(topic, payload, { qos: 1 });
  const got = await received;
  console.log(JSON.stringify({ ok: true, topic: got.t, payload: got.payload, protocol: sub.options.protocolVersion }));
  await Promise.all([sub.endAsync(), pub.endAsync()]);
  process.exit(0);
} catch (e) {
  fail("mqtt", e);
}
