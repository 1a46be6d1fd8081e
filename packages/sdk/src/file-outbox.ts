/**
 * `@lifeline/sdk/file-outbox`: the durable outbox in a file, for Node (it imports `node:fs`, so
 * it lives apart from the browser-safe main entry).
 *
 * ```ts
 * import { createClient } from '@lifeline/sdk';
 * import { fileOutbox } from '@lifeline/sdk/file-outbox';
 * const client = createClient({ url, outbox: fileOutbox('./orders.outbox') });
 * ```
 */
export { fileOutbox } from '@lifeline/session/file-outbox';
export type { FileOutbox, FileOutboxOptions } from '@lifeline/session/file-outbox';
