// One Aedes broker node of the cluster test's second layout (scripts/cluster-test.sh).
// Nodes share Redis twice over: mqemitter-redis carries every publish to every
// node (so a subscriber on node A gets a message published on node B), and
// aedes-persistence-redis holds sessions, subscriptions and queued QoS 1 messages
// (so a persistent session survives the loss of the node that held it).
//
//   node aedes-node.mjs <listen-host> <listen-port> <redis-host> <redis-port> <node-id>
//
// Prints "aedes <id> listening" when it accepts connections. Test use only.
import net from 'node:net'
import { Aedes } from 'aedes'
import mqemitterRedis from 'mqemitter-redis'
import persistenceRedis from 'aedes-persistence-redis'

const [host, port, redisHost, redisPort, id] = process.argv.slice(2)
if (!id) {
  console.error('usage: node aedes-node.mjs <host> <port> <redis-host> <redis-port> <id>')
  process.exit(2)
}
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
server.listen(Number(port), host, () => console.log(`aedes ${id} listening on ${host}:${port}`))
