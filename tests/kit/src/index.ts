// The helpers every package's tests share; each file holds one kind. Tests import this through
// the vitest alias and the tsconfig paths, on source, like every @lifeline package.
export { onCleanup, closeAll } from './cleanup.js';
export { manualClock } from './clock.js';
export { client, fastReconnect } from './clients.js';
export { next, nextEvent, until, reach, type Emitter, type EventArgs } from './events.js';
export { MiB, mib, memory, report, type Memory } from './memory.js';
export { poll, turn } from './polling.js';
export { gate, settle } from './promises.js';
export { RawClient, takeFrame, type AnyFrame, type FrameQueue, type RawAck } from './raw-client.js';
export { nextSession, startProxy, startServer, startSilentServer, startWsServer, urlOf, type WsServer } from './servers.js';
export { WireClient, clientFrame, type WireClientOptions } from './wire.js';
export { WAIT_MS, within } from './within.js';
export { Balancer, startBalancer } from './balancer.js';
export { PortTakenError, REDIS_URL, deleteKeys, freePort, redisAdmin, spawnOwnRedis, spawnOwnRedisOnFreePort, startRedis, testPrefix, type PrivateRedis } from './redis.js';
export { LifelineNode, startNode, type NodeConfig } from './nodes.js';
export { startCluster, type Cluster } from './cluster.js';
