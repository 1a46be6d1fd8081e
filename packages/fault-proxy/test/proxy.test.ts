import net from 'node:net';
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { closeAll, onCleanup } from '@lifeline/test-kit';
import { FaultProxy } from '../src/index.js';

/** A TCP echo server on an ephemeral loopback port. */
async function echoServer(): Promise<{ port: number; close: () => Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    s.pipe(s);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

async function connect(port: number): Promise<net.Socket> {
  const s = net.connect({ port, host: '127.0.0.1' });
  await once(s, 'connect');
  return s;
}

/** Collect `n` bytes from `s`, counting the reads it took. */
function readBytes(s: net.Socket, n: number): Promise<{ data: Buffer; reads: number }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let got = 0;
    const onData = (c: Buffer) => {
      chunks.push(c);
      got += c.length;
      if (got >= n) {
        s.off('data', onData);
        resolve({ data: Buffer.concat(chunks), reads: chunks.length });
      }
    };
    s.on('data', onData);
    s.once('error', reject);
  });
}

afterEach(closeAll);

async function setup() {
  const echo = await echoServer();
  const proxy = await FaultProxy.start({ target: { port: echo.port } });
  onCleanup(() => echo.close());
  onCleanup(() => proxy.close());
  return { echo, proxy };
}

describe('FaultProxy', () => {
  it('forwards bytes both ways unchanged', async () => {
    const { proxy } = await setup();
    const s = await connect(proxy.port);
    onCleanup(() => void s.destroy());
    const reply = readBytes(s, 5);
    s.write('hello');
    expect((await reply).data.toString()).toBe('hello');
    expect(proxy.connections).toBe(1);
  });

  it('fragments into one-byte writes, order kept', async () => {
    const { proxy } = await setup();
    proxy.fragment(1);
    const s = await connect(proxy.port);
    onCleanup(() => void s.destroy());
    const reply = readBytes(s, 10);
    s.write('0123456789');
    const { data, reads } = await reply;
    expect(data.toString()).toBe('0123456789');
    // One-byte writes in both directions: the client sees more than one read.
    expect(reads).toBeGreaterThan(1);
  });

  it('cutAll destroys open connections on both sides', async () => {
    const { proxy } = await setup();
    const s = await connect(proxy.port);
    s.on('error', () => {});
    const closed = once(s, 'close');
    await new Promise((r) => setImmediate(r));
    expect(proxy.cutAll()).toBe(1);
    await closed;
    expect(proxy.connections).toBe(0);
    expect(proxy.cuts).toBe(1);
  });

  it('silence drops bytes while the socket stays open; heal restores new connections', async () => {
    const { proxy } = await setup();
    proxy.silence();
    const s = await connect(proxy.port);
    onCleanup(() => void s.destroy());
    let received = 0;
    s.on('data', (c: Buffer) => (received += c.length));
    const dropped = once(proxy, 'dropped');
    s.write('lost');
    expect((await dropped)[0]).toBe(4);
    proxy.heal();
    const t = await connect(proxy.port);
    onCleanup(() => void t.destroy());
    const reply = readBytes(t, 2);
    t.write('ok');
    expect((await reply).data.toString()).toBe('ok');
    expect(received).toBe(0);
    expect(s.destroyed).toBe(false);
  });

  it('hold forwards nothing either way, then everything that waited, in order, on release', async () => {
    const { proxy } = await setup();
    const s = await connect(proxy.port);
    onCleanup(() => void s.destroy());
    const first = readBytes(s, 2);
    s.write('ok');
    await first;
    proxy.hold();
    let received = 0;
    const counting = (c: Buffer) => (received += c.length);
    s.on('data', counting);
    s.write('held-');
    s.write('bytes');
    // A new connection during the hold waits too.
    const t = await connect(proxy.port);
    onCleanup(() => void t.destroy());
    t.write('late');
    await new Promise((r) => setTimeout(r, 100));
    expect(received).toBe(0);
    s.off('data', counting);
    const reply = readBytes(s, 10);
    const late = readBytes(t, 4);
    proxy.hold(false);
    expect((await reply).data.toString()).toBe('held-bytes');
    expect((await late).data.toString()).toBe('late');
    expect(proxy.dropped).toBe(0);
  });

  it('delays keep order', async () => {
    const { proxy } = await setup();
    proxy.delay(5, 5);
    const s = await connect(proxy.port);
    onCleanup(() => void s.destroy());
    const reply = readBytes(s, 6);
    s.write('ab');
    s.write('cd');
    s.write('ef');
    expect((await reply).data.toString()).toBe('abcdef');
  });

  it('setTarget sends new connections to a new server', async () => {
    const { proxy } = await setup();
    const other = await echoServer();
    onCleanup(() => other.close());
    proxy.setTarget({ port: other.port });
    const s = await connect(proxy.port);
    onCleanup(() => void s.destroy());
    const reply = readBytes(s, 3);
    s.write('new');
    expect((await reply).data.toString()).toBe('new');
  });

  it('refuse closes new connections at once', async () => {
    const { proxy } = await setup();
    proxy.refuse();
    const s = net.connect({ port: proxy.port, host: '127.0.0.1' });
    s.on('error', () => {});
    await once(s, 'close');
    expect(proxy.accepted).toBe(1);
  });

  it('rejects bad fault parameters with a TypeError', async () => {
    const { proxy } = await setup();
    expect(() => proxy.fragment(-1)).toThrow(TypeError);
    expect(() => proxy.delay(-5)).toThrow(TypeError);
  });
});
