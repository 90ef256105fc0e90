// One Aedes broker node of the cluster test's second layout (scripts/cluster-test.sh).
// Nodes share Redis twice over: mqemitter-redis carries every publish to every
// node (so a subscriber on node A gets a message published on node B), and
// aedes-persistence-redis holds sessions, subscriptions and queued QoS 1 messages
// (so a persistent session survives the loss of the node that held it).
//
//   node aedes-node.mjs <listen-host> <listen-port> <redis-host> <redis-port> <node-id> [ack]
//
// ack: `stock` (default) runs Aedes as published, which acknowledges a QoS 1
// PUBLISH before storing it; `after-persist` loads ack-after-persist.mjs first, so
// the PUBACK follows the store (see that file for why).
//
// Prints "aedes <id> listening" when it accepts connections. Test use only.
import net from 'node:net'
import { register } from 'node:module'

const [host, port, redisHost, redisPort, id, ack = 'stock'] = process.argv.slice(2)
if (!id || !['stock', 'after-persist'].includes(ack)) {
  console.error('usage: node aedes-node.mjs <host> <port> <redis-host> <redis-port> <id> [stock|after-persist]')
  process.exit(2)
}
if (ack === 'after-persist') register('./ack-after-persist.mjs', import.meta.url)
const { Aedes } = await import('aedes')
const { default: mqemitterRedis } = await import('mqemitter-redis')
const { default: persistenceRedis } = await import('aedes-persistence-redis')
const redis = { host: redisHost, port: Number(redisPort), family: 4 }
const aedes = await Aedes.createBroker({
  id,
  mq: mqemitterRedis(redis),
  persistence: persistenceRedis({ ...redis, maxSessionDelivery: 1000 })
})
aedes.on('connectionError', (client, err) => {
  console.error(`aedes ${id}: connection error ${client ? client.id : '?'}: ${err.message}`)
})
const server = net.createServer(aedes.handle)
server.listen(Number(port), host, () => console.log(`aedes ${id} listening on ${host}:${port} (ack ${ack})`))
