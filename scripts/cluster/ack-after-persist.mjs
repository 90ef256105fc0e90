// Test-only Node module hook for the cluster test's Aedes layout: makes Aedes 1.2
// acknowledge a QoS 1 PUBLISH after the broker has stored it, not before.
//
// Stock Aedes (lib/handlers/publish.js, also 2.0.0-beta.1) writes the PUBACK first
// and only then runs broker.publish, which stores the message for its subscribers
// (aedes-persistence-redis: SET packet + RPUSH to each subscriber's queue). A node
// killed between the two has acknowledged a message that exists nowhere: the
// publisher will not send it again and no queue holds it. For QoS 2 Aedes already
// stores first and answers after; this hook gives QoS 1 the same order.
//
// It rewrites that one `case 1:` block of the module's source as Node loads it
// (nothing under node_modules changes) and throws if the block is not there, so an
// Aedes upgrade cannot silently run unpatched. Loaded by aedes-node.mjs through
// module.register when started with ack=after-persist.
const TARGET = '/node_modules/aedes/lib/handlers/publish.js'

const STOCK = `    case 1:
      write(client, new PubAck(packet), function (err) {
        if (err) { return done(err) }
        client.broker.publish(packet, client, done)
      })
      break`

const AFTER_PERSIST = `    case 1:
      client.broker.publish(packet, client, function (err) {
        if (err) { return done(err) }
        write(client, new PubAck(packet), done)
      })
      break`

export async function load (url, context, nextLoad) {
  const result = await nextLoad(url, context)
  if (!url.endsWith(TARGET)) return result
  const source = Buffer.from(result.source).toString('utf8')
  if (!source.includes(STOCK)) {
    throw new Error(`ack-after-persist: ${url} has no stock QoS 1 block (Aedes changed); update the hook`)
  }
  return { ...result, source: source.replace(STOCK, AFTER_PERSIST), shortCircuit: true }
}
