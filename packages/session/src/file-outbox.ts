import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { OldestFirst, type OutboxStore, type StoredMessage } from './outbox-store.js';

/** The file store: synchronous, so `load()` returns the list itself. */
export interface FileOutbox extends OutboxStore {
  load(): StoredMessage[];
  close(): void;
}

/**
 * A durable outbox in a file, for Node (`@lifeline/sdk/file-outbox`): queued messages survive a
 * process restart or crash. The file is a log of JSON lines, `{"a":id,"d":data}` when a message
 * is kept and `{"r":[ids]}` when messages are forgotten, appended with synchronous writes: a
 * message is in the file (the OS page cache, so it survives the process; with `fsync: true`, on
 * the disk, so it survives a power cut too) before `send()` returns. The log is rewritten without the forgotten entries when
 * it is opened and whenever forgotten entries outnumber kept ones (and number over 1024), into a
 * temporary file renamed over it, so a crash mid-rewrite leaves the old log whole. A crash mid-
 * append leaves a torn last line, which is ignored; a bad line anywhere else makes `load()` throw
 * rather than silently drop a message. One file per client, in one process at a time.
 */
export interface FileOutboxOptions {
  /**
   * `fsync` after every write, so a kept message survives a power cut or a kernel crash too, at
   * the price of a disk flush per `send()` (milliseconds on many disks, not microseconds).
   * @default false
   */
  fsync?: boolean;
}

export function fileOutbox(path: string, options: FileOutboxOptions = {}): FileOutbox {
  if (typeof path !== 'string' || path.length === 0) throw new TypeError('fileOutbox: expected a file path');
  const durable = options.fsync === true;
  // Kept entries in log order; `seq` orders them, `id` finds them. Read from the file on first use.
  let opened = false;
  let live = new Map<number, StoredMessage>();
  let byId = new OldestFirst<number>();
  let seq = 0;
  let dead = 0;
  let fd: number | undefined;

  const keep = (m: StoredMessage): void => {
    const n = seq++;
    live.set(n, m);
    byId.add(m.id, n);
  };

  const forget = (id: string): boolean => {
    const n = byId.take(id);
    return n !== undefined && live.delete(n);
  };

  const rewrite = (): void => {
    if (fd !== undefined) closeSync(fd);
    const lines = [...live.values()].map(addLine).join('');
    const tmp = `${path}.tmp`;
    const out = openSync(tmp, 'w');
    try {
      writeSync(out, lines);
      if (durable) fsyncSync(out);
    } finally {
      closeSync(out);
    }
    renameSync(tmp, path);
    dead = 0;
    fd = openSync(path, 'a');
  };

  const append = (line: string): void => {
    writeSync(fd as number, line);
    if (durable) fsyncSync(fd as number);
  };

  const open = (): Map<number, StoredMessage> => {
    if (opened) return live;
    live = new Map();
    byId = new OldestFirst();
    if (existsSync(path)) {
      const lines = readFileSync(path, 'utf8').split('\n');
      lines.forEach((line, i) => {
        if (line === '') return;
        let entry: { a?: unknown; d?: unknown; r?: unknown };
        try {
          entry = JSON.parse(line) as typeof entry;
        } catch (error) {
          if (i === lines.length - 1) return; // torn by a crash mid-append: never acknowledged as kept
          throw new Error(`${path}:${i + 1}: not a JSON line of the outbox log`, { cause: error });
        }
        if (typeof entry.a === 'string') keep({ id: entry.a, data: JSON.stringify(entry.d) });
        else if (Array.isArray(entry.r)) for (const id of entry.r) if (typeof id === 'string') forget(id);
      });
    }
    rewrite();
    opened = true;
    return live;
  };

  return {
    load() {
      return [...open().values()];
    },
    add(message) {
      open();
      append(addLine(message));
      keep(message);
    },
    remove(ids) {
      open();
      const gone = ids.filter(forget);
      if (gone.length === 0) return;
      append(`${JSON.stringify({ r: gone })}\n`);
      dead += gone.length;
      if (dead > 1024 && dead > live.size) rewrite();
    },
    close() {
      if (fd !== undefined) closeSync(fd);
      fd = undefined;
      opened = false;
    },
  };
}

/** `data` is JSON text already: it goes into the line as it is, not as a string. */
const addLine = (m: StoredMessage): string => `{"a":${JSON.stringify(m.id)},"d":${m.data}}\n`;
