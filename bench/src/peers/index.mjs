/**
 * The peers of one run, in table order. `server: false` means the peer talks to an external
 * server (Mosquitto). `memory` / `replay` say whether those figures are meaningful for the peer
 * (a string is the reason they are not); `maxInFlight` caps the in-flight memory measurement;
 * `local` (a string) says why the one-process load shape does not apply; `tasks`, when given, are
 * the only tasks the peer runs.
 */
export const PEERS = [
  {
    key: 'raw-ws',
    label: 'raw ws echo',
    module: 'raw-ws.mjs',
    options: {},
    memory: 'no per-message state',
    replay: 'no acks',
    note: 'reference: the server echoes the bytes, the client counts echoes',
  },
  {
    key: 'naive-ack',
    label: 'hand-written ack (ws)',
    module: 'naive-ack.mjs',
    options: {},
    memory: true,
    replay: 'none: what a drop loses stays pending',
    note: 'Map of pending promises keyed by id; server replies {id, result}',
  },
  {
    key: 'socketio',
    label: 'Socket.IO emitWithAck',
    module: 'socketio.mjs',
    options: {},
    memory: true,
    replay: 'none without retries',
    note: 'websocket transport only',
  },
  {
    key: 'socketio-retries',
    label: 'Socket.IO retries',
    module: 'socketio.mjs',
    options: { retries: 3, ackTimeout: 10_000 },
    memory: true,
    replay: true,
    note: '`retries: 3, ackTimeout: 10000`: one packet in flight at a time, at-least-once',
  },
  {
    key: 'mqtt-qos1',
    label: 'MQTT QoS 1 (Mosquitto)',
    module: 'mqtt.mjs',
    options: { qos: 1 },
    server: false,
    broker: true,
    memory: true,
    maxInFlight: 65_535,
    local: 'the broker is the server and runs in its own process',
    replay: 'not measured',
    note: 'mqtt.js → Mosquitto; the ack is the broker PUBACK, no application handler',
  },
  {
    key: 'mqtt-qos2',
    label: 'MQTT QoS 2 (Mosquitto)',
    module: 'mqtt.mjs',
    options: { qos: 2 },
    server: false,
    broker: true,
    memory: true,
    maxInFlight: 65_535,
    local: 'the broker is the server and runs in its own process',
    replay: 'not measured',
    note: 'the ack is PUBCOMP (PUBLISH, PUBREC, PUBREL, PUBCOMP)',
  },
  {
    key: 'lifeline',
    label: 'Lifeline send()',
    module: 'lifeline.mjs',
    options: { metrics: false },
    lifeline: true,
    memory: true,
    replay: true,
    note: 'createClient → createServer, handler returns a small result',
  },
  {
    key: 'lifeline-1024',
    label: 'Lifeline, window 1,024',
    module: 'lifeline.mjs',
    options: { maxInFlight: 1_024 },
    lifeline: true,
    tasks: ['shapes'],
    memory: true,
    replay: true,
    note: '`maxInFlight: 1024` on the client and the server: the default before issue 14\'s `got`, and a shared engine\'s still (one node: 65,535); a burst of 50,000 waits behind it in its send loop; load shapes only',
  },
  {
    key: 'lifeline-msgpack',
    label: 'Lifeline, MessagePack',
    module: 'lifeline.mjs',
    options: { codec: 'msgpack' },
    lifeline: true,
    memory: true,
    replay: true,
    note: 'the `msgpack` codec on both sides (binary WebSocket messages), the same payload and result',
  },
  {
    key: 'lifeline-metrics',
    label: 'Lifeline + metrics',
    module: 'lifeline.mjs',
    options: { metrics: true },
    lifeline: true,
    memory: true,
    replay: true,
    note: '`metrics()` plugin on the client and on the server',
  },
  {
    key: 'lifeline-file-outbox',
    label: 'Lifeline + file outbox',
    module: 'lifeline.mjs',
    options: { fileOutbox: true },
    lifeline: true,
    memory: true,
    replay: true,
    note: 'durable outbox: `fileOutbox()` in a temporary directory, one synchronous append per send and one per batch of acks',
  },
];

export const REFERENCE = 'raw-ws';

/** Whether a peer (its spec, or its aggregate in a report) runs `task` at all: `tasks` limits it. */
export function runsTask(peer, task) {
  return peer.tasks === undefined || peer.tasks.includes(task);
}
