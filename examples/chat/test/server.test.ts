// The chat server without a browser: its requests, limits and errors through the SDK in Node.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, afterAll, describe, expect, it } from 'vitest';
import { RemoteError, UnauthorizedError, type LifelineClient, type Publication } from '@lifeline/sdk';
import { client, closeAll, onCleanup, within } from '@lifeline/test-kit';
import { startChat, type ChatOptions } from '../src/server/index.js';
import type { ChatLine, JoinResult, MemberIdentity } from '../src/shared/protocol.js';

let pageDir: string;
beforeAll(async () => {
  pageDir = await mkdtemp(join(tmpdir(), 'lifeline-chat-page-'));
  await writeFile(join(pageDir, 'index.html'), '<!doctype html><title>chat</title>');
});
afterAll(() => rm(pageDir, { recursive: true, force: true }));
afterEach(closeAll);

async function chat(options: ChatOptions = {}) {
  const server = await startChat({ pageDir, log: () => {}, ...options });
  onCleanup(() => server.close());
  const connect = async (user: string): Promise<LifelineClient> => {
    const c = client(`${server.url.replace('http', 'ws')}ws`, { auth: { user } });
    await c.connect({ timeoutMs: 5_000 });
    return c;
  };
  return { server, connect };
}

/** Rejects unless `promise` rejects with a RemoteError of `code`. */
async function refused(promise: Promise<unknown>, code: string): Promise<RemoteError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(RemoteError);
  expect((error as RemoteError).remoteCode).toBe(code);
  return error as RemoteError;
}

/** The next `count` publications of `sub`'s iterator. */
async function take(iterator: AsyncIterator<Publication>, count: number): Promise<Publication[]> {
  const out: Publication[] = [];
  while (out.length < count) {
    const next = await within(iterator.next(), `publication ${out.length + 1} of ${count}`);
    if (next.done === true) break;
    out.push(next.value);
  }
  return out;
}

describe('chat server', () => {
  it('publishes what a user says; a user who joins later gets the last lines, then live ones, with presence', async () => {
    const { connect } = await chat({ historyOnJoin: 2 });
    const alice = await connect('alice');
    const joined = await alice.send<JoinResult>({ op: 'join', room: 'general' });
    expect(joined).toMatchObject({ room: 'general', offset: 0, from: 0 });
    const aliceSub = alice.subscribe('room:general', { since: { offset: joined.from, epoch: joined.epoch } });
    await aliceSub.ready({ timeoutMs: 5_000 });
    for (const [i, text] of ['one', 'two', 'three'].entries()) {
      const answer = await alice.send({ op: 'say', room: 'general', text: `  ${text} `, clientMsgId: `a${i}` }, { id: `a${i}` });
      expect(answer).toEqual({ offset: i + 1 });
    }

    const bob = await connect('bob');
    const bobJoin = await bob.send<JoinResult>({ op: 'join', room: 'general' });
    expect(bobJoin).toMatchObject({ offset: 3, from: 1, epoch: joined.epoch }); // historyOnJoin: 2
    const bobSub = bob.subscribe('room:general', { since: { offset: bobJoin.from, epoch: bobJoin.epoch } });
    const lines = bobSub.publications()[Symbol.asyncIterator]();
    await bobSub.ready({ timeoutMs: 5_000 });
    await bob.send({ op: 'say', room: 'general', text: 'hi', clientMsgId: 'b0' });
    const got = await take(lines, 3);
    expect(got.map((p) => [p.meta.offset, (p.data as unknown as ChatLine).user, (p.data as unknown as ChatLine).text])).toEqual([
      [2, 'alice', 'two'],
      [3, 'alice', 'three'],
      [4, 'bob', 'hi'],
    ]);

    const members = await aliceSub.presence({ timeoutMs: 5_000 });
    expect(members.map((m) => (m.identity as unknown as MemberIdentity).user).sort()).toEqual(['alice', 'bob']);
    const rooms = await alice.send<{ rooms: Array<{ name: string; members: number }> }>({ op: 'rooms' });
    expect(rooms.rooms).toContainEqual({ name: 'general', members: 2 });
  });

  it('publishes a line re-sent under a new session once (the publish id is the user and the clientMsgId)', async () => {
    const { server, connect } = await chat();
    const alice = await connect('alice');
    const line = { op: 'say', room: 'general', text: 'once', clientMsgId: 'same-id' };
    const first = await alice.send<{ offset: number }>(line, { id: 'm1' });
    // A new message id (as after `session-lost`), the same line: the channel keeps it once.
    const again = await alice.send<{ offset: number }>(line, { id: 'm2' });
    expect(again.offset).toBe(first.offset);
    expect((await server.lifeline.history('room:general')).publications).toHaveLength(1);
  });

  it('refuses bad lines with typed errors: empty, too long, over the rate, a bad room, an unknown op', async () => {
    const { connect } = await chat({ maxTextLength: 10, rate: { burst: 2, perSecond: 0.01 } });
    const alice = await connect('alice');
    const say = (text: string, clientMsgId: string, room = 'general') => alice.send({ op: 'say', room, text, clientMsgId });
    await refused(say('   ', 'e1'), 'CHAT_EMPTY_TEXT');
    const long = await refused(say('x'.repeat(11), 'e2'), 'CHAT_TEXT_TOO_LONG');
    expect(long.message).toMatch(/at most 10 characters/);
    await say('😀'.repeat(10), 'ok1'); // ten characters, twenty UTF-16 units
    await say('fine', 'ok2');
    const rate = await refused(say('more', 'e3'), 'CHAT_RATE_LIMITED');
    expect(rate.message).toMatch(/wait \d+ s/);
    await refused(say('x', 'e4', 'Not A Room'), 'CHAT_BAD_ROOM');
    await refused(say('x', 'bad id!'), 'CHAT_BAD_REQUEST');
    await refused(alice.send({ op: 'publish', channel: 'room:general' }), 'CHAT_BAD_REQUEST');
    await refused(alice.send('hello'), 'CHAT_BAD_REQUEST');
  });

  it('bounds the rooms, drops typing notices over their rate, and refuses other channels and bad names', async () => {
    const { connect } = await chat({ rooms: ['general'], maxRooms: 2, typingRate: { burst: 1, perSecond: 0.01 } });
    const alice = await connect('alice');
    await alice.send({ op: 'join', room: 'second' });
    await refused(alice.send({ op: 'join', room: 'third' }), 'CHAT_TOO_MANY_ROOMS');
    expect(await alice.send({ op: 'typing', room: 'general' })).toEqual({ shown: true });
    expect(await alice.send({ op: 'typing', room: 'general' })).toEqual({ shown: false });

    const secret = alice.subscribe('admin:keys');
    await expect(secret.ready({ timeoutMs: 5_000 })).rejects.toBeInstanceOf(UnauthorizedError);
    const third = alice.subscribe('room:third');
    await expect(third.ready({ timeoutMs: 5_000 })).rejects.toBeInstanceOf(UnauthorizedError);

    const { server } = await chat();
    const nameless = client(`${server.url.replace('http', 'ws')}ws`, { auth: { user: 'no spaces allowed' }, reconnect: false });
    await expect(nameless.connect({ timeoutMs: 5_000 })).rejects.toBeInstanceOf(UnauthorizedError);
  });

  it('serves the page from memory, and nothing outside it', async () => {
    const { server } = await chat();
    const get = (path: string) => fetch(new URL(path, server.url), { signal: AbortSignal.timeout(5_000) });
    const page = await get('/');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await page.text()).toContain('<title>chat</title>');
    expect((await get('/../package.json')).status).toBe(404);
    expect((await get('/%2e%2e/package.json')).status).toBe(404);
    expect((await fetch(new URL('/', server.url), { method: 'POST', signal: AbortSignal.timeout(5_000) })).status).toBe(405);
  });
});
