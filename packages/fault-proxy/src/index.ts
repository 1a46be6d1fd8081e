export { FaultProxy } from './proxy.js';
export type { FaultProxyOptions, ProxyTarget } from './proxy.js';
export type { PipeMode } from './pipe.js';
