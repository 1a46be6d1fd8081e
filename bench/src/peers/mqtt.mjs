/**
 * MQTT with mqtt.js against the local Mosquitto broker (the broker is the "server": the ack is
 * its PUBACK for QoS 1, PUBCOMP for QoS 2; there is no application handler and no subscriber).
 * `serve()` is only used to measure memory per in-flight message: a fake broker that accepts
 * the connection (CONNACK) and never acknowledges a publish.
 */
import { PAYLOAD } from '../payload.mjs';
import { withDeadline } from '../deadline.mjs';

export const BROKER = { host: '127.0.0.1', port: 1883 };
/** MQTT packet ids are 16 bits: mqtt.js cannot hold more publishes in flight than this. */
export const MAX_IN_FLIGHT = 65_535;

export async function serve() {
  const net = await import('node:net');
  const sockets = new Set();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    // The first bytes are CONNECT: accept (CONNACK, session not present, rc 0). Everything after is swallowed.
    socket.once('data', () => socket.write(Buffer.from([0x20, 0x02, 0x00, 0x00])));
    socket.resume();
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  return {
    port: server.address().port,
    block: () => {},
    release: () => {},
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** options: `{ qos: 1 | 2 }` */
export async function connect({ port = BROKER.port, options }) {
  const mqtt = (await import('mqtt')).default;
  const client = await withDeadline(
    mqtt.connectAsync(`mqtt://${BROKER.host}:${port}`, {
      protocolVersion: 4,
      clean: true,
      keepalive: 0,
      reconnectPeriod: 0,
      connectTimeout: 5_000,
      clientId: `lifeline-bench-${process.pid}`,
    }),
    6_000,
    'mqtt connect',
  );
  const topic = `lifeline-bench/${process.pid}`;
  const opts = { qos: options.qos };
  const peer = {
    onAck: () => {},
    onError: () => {},
    fire() {
      client.publish(topic, JSON.stringify(PAYLOAD), opts, done);
    },
    unflushed: () => client.stream?.writableLength ?? 0,
    close: () => withDeadline(client.endAsync(true), 2_000, 'mqtt close').catch(() => client.stream?.destroy()),
  };
  const done = (error) => (error ? peer.onError(error) : peer.onAck());
  client.on('error', (e) => peer.onError(e));
  return peer;
}
