import { afterEach, describe, expect, it } from 'vitest';
import type { FaultProxy } from '@lifeline/fault-proxy';
import { AckTimeoutError, type LifelineClient } from '@lifeline/sdk';
import type { LifelineServer, ServerOptions } from '@lifeline/server';
import { client as newClient, closeAll, gate, nextEvent, startProxy, startServer, urlOf } from '@lifeline/test-kit';
import { describeError } from '../src/describe-error.js';
import { rawPeer } from '../src/raw-peer.js';

/**
 * Bugs found by the chaos and fuzz suites, each kept as a minimal regression test of the
 * documented behaviour now that it is fixed.
 */

afterEach(closeAll);

/** Resolve when `check()` holds, re-checked on each call of the returned `poke`; reject after `ms`. */
function condition(check: () => boolean, ms = 5_000): { poke: () => void; done: Promise<void> } {
  let poke = () => {};
  const done = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('condition not met in time')), ms);
    poke = () => {
      if (!check()) return;
      clearTimeout(timer);
      resolve();
    };
  });
  return { poke, done };
}

async function serverAndClient(): Promise<{ server: LifelineServer; client: LifelineClient; url: string }> {
  // authenticate returns the credentials as the identity, as a demo or a JWT-claims setup would.
  const server = await startServer({ authenticate: (auth) => auth ?? false });
  const url = urlOf(server);
  const client = newClient(url, { auth: { user: 'alice' }, reconnect: false });
  await client.connect({ timeoutMs: 5_000 });
  return { server, client, url };
}

/**
 * A server behind the fault proxy and a connected client, for the window tests: `onFresh` runs
 * on every non-duplicate arrival at the server (before its handler).
 */
async function windowStage(
  maxInFlight: number,
  handler: ServerOptions['handler'],
  onFresh: () => void,
): Promise<{ proxy: FaultProxy; client: LifelineClient }> {
  const server = await startServer({
    maxInFlight,
    handler,
    plugins: [{ name: 'count', onReceive: (e) => void (e.duplicate || onFresh()) }],
  });
  const proxy = await startProxy(server.port);
  const client = newClient(proxy.url(), { reconnect: { minDelayMs: 5, maxDelayMs: 20 } });
  return { proxy, client };
}

describe('FIXED: identityKey ignored `__proto__` keys (packages/server/src/identity.ts, sortKeys)', () => {
  // protocol.md, Resume: a resume is allowed only when "the authenticated identity is the same one
  // that opened it". sortKeys copies each key with `sorted[k] = …`; for k === '__proto__' that
  // calls the Object.prototype.__proto__ setter instead of defining a property, so the key
  // vanishes from the JSON and { user: 'alice', __proto__: {…} } gets the same identity key as
  // { user: 'alice' }. A holder of the token with that other identity takes over the session.
  // (Since issue 9 another identity is answered as for an unknown session: a new session of its
  // own, `resumed: false`, where it used to get 4403. The bug's harm, a takeover, is what is pinned.)
  it('a resume by an identity that differs only by a __proto__ key never takes over the session', async () => {
    const { server, client, url } = await serverAndClient();
    const drops: number[] = [];
    client.on('disconnect', ({ code }) => drops.push(code));
    // The resume token is the handshake's secret; the test reads it where the client keeps it.
    const { sid, token } = (client as unknown as { handshake: { ticket: { sid: string; token: string } } }).handshake.ticket;
    const resume = `"resume":{"sid":${JSON.stringify(sid)},"token":${JSON.stringify(token)},"seq":0}`;

    // Control: a different identity with the right token gets a session of its own.
    const mallory = await rawPeer(url, { kind: 'text', text: `{"t":"hello","v":1,"auth":{"user":"mallory"},${resume}}` }, undefined);
    expect(mallory).toMatchObject({ welcomed: true, end: 'open' });

    const other = await rawPeer(url, { kind: 'text', text: `{"t":"hello","v":1,"auth":{"user":"alice","__proto__":{"role":"admin"}},${resume}}` }, undefined);
    expect(other).toMatchObject({ welcomed: true, end: 'open' }); // the bug: welcomed into alice's session, alice closed with 4409
    expect(drops).toEqual([]);
    expect(server.sessions.get(sid)?.state).toBe('attached');
    expect(client.sessionId).toBe(sid);
  });
});

describe('FIXED: the result cache could evict the outcome of a message the client still waits for (seed 88)', () => {
  // protocol.md: "The cache holds at least `win` outcomes, so a client that respects the window
  // always gets an answer." The client's window counts messages in flight
  // (packages/session/src/outbox.ts, pump: `this.inFlight.size < win`), but on a resume
  // (packages/session/src/replay.ts, reconcile → outbox.purgeZombies) it forgets messages whose
  // deadline passed after transmission, freeing their window slots, while their seqs were
  // handled by the server and still take slots in its result cache (packages/server/src/results.ts,
  // capacity = maxInFlight, evicted oldest seq first). The seq span of unanswered messages then
  // exceeds `win`, and a message whose ack was lost is answered ERR_RESULT_EVICTED: it was
  // processed, and its result is lost to the client (found by chaos seed 88 of the first 300).
  it('a message whose ack is lost twice, with timed-out messages behind it, still gets its result', async () => {
    const held = gate();
    const handled: string[] = [];
    let received = 0;
    const receipt = { poke: () => {} };
    const { proxy, client } = await windowStage(
      4, // welcome.win = 4, result cache = 4
      async (data, ctx) => {
        if (ctx.id === 'm') await held.promise;
        handled.push(ctx.id);
        receipt.poke();
        return data;
      },
      () => (received++, receipt.poke()),
    );
    await client.connect({ timeoutMs: 5_000 });

    // m (seq 1) is held by its handler; z1–z3 (seqs 2–4) reach the server and time out on the client.
    let waitFor = condition(() => received === 4);
    receipt.poke = waitFor.poke;
    const m = client.send('m', { id: 'm', timeoutMs: 10_000 });
    const zombies = ['z1', 'z2', 'z3'].map((id) => client.send(id, { id, timeoutMs: 100 }).catch((e: unknown) => e));
    await waitFor.done;
    for (const z of await Promise.all(zombies)) expect(z).toBeInstanceOf(AckTimeoutError);
    // The zombies hold the window (4) on this connection, so n1–n3 wait in the queue.
    const later = ['n1', 'n2', 'n3'].map((id) => client.send(id, { id, timeoutMs: 10_000 }));

    // Cut: on the resume the server has accepted seqs 1–4, so the client keeps z1–z3 in its window
    // (retransmitted only to fetch their acks) and n1–n3 keep waiting: the seq span stays within 4.
    let resumed = nextEvent(client, 'resumed');
    proxy.cutAll();
    await resumed;

    // m's ack is lost again (a silent link) while the server handles seqs 1–4.
    proxy.silence();
    waitFor = condition(() => handled.length === 4);
    receipt.poke = waitFor.poke;
    held.open();
    await waitFor.done;
    resumed = nextEvent(client, 'resumed');
    proxy.heal();
    proxy.cutAll();
    await resumed;

    expect(await Promise.all(later)).toEqual(['n1', 'n2', 'n3']);
    expect(await m).toBe('m'); // before the fix: RemoteError ERR_RESULT_EVICTED
    expect(handled.filter((id) => id === 'm')).toHaveLength(1);
    expect(handled).toEqual(['m', 'z1', 'z2', 'z3', 'n1', 'n2', 'n3']);
  });
});

describe('FIXED: a client that respects the window was closed with 4400 after a few resumes (same root cause)', () => {
  // The server closes a connection when its handler queue would pass `maxInFlight`
  // (packages/server/src/inbound.ts, receive → limits.brokeWindow, now Inbound closing its link; while the bug stood it had
  // been loosened to twice that). A slow handler plus sends whose deadline passes after
  // transmission: on every resume the client forgot those messages (outbox.purgeZombies) and
  // filled their window slots with new ones, while the server still queued the forgotten ones
  // behind the slow handler. Each resume added a slot's worth, until the well-behaved client got
  // 4400 (fatal: it closes, every send rejects with ClosedError). Same root cause as above.
  it('a slow handler, sends that time out, and three reconnects do not get the client closed', async () => {
    const held = gate();
    let received = 0;
    const receipt = { poke: () => {} };
    const { proxy, client } = await windowStage(
      2, // welcome.win = 2: the server refuses a message that would pass it while busy
      async (data, ctx) => {
        if (ctx.id === 'm') await held.promise;
        return data;
      },
      () => (received++, receipt.poke()),
    );
    const fatal: number[] = [];
    client.on('disconnect', ({ code, willReconnect }) => void (willReconnect || fatal.push(code)));
    await client.connect({ timeoutMs: 5_000 });

    const settled = (p: Promise<unknown>) => p.then((v) => v, describeError);
    const m = settled(client.send('m', { id: 'm', timeoutMs: 10_000 })); // held by its handler throughout
    // Each round: a send times out on the client (the first one after reaching the server), then
    // the link is cut and the session resumed.
    for (const id of ['z1', 'z2', 'z3']) {
      const z = await client.send(id, { id, timeoutMs: 100 }).catch((e: unknown) => e);
      expect(z).toBeInstanceOf(AckTimeoutError);
      const resumed = nextEvent(client, 'resumed');
      proxy.cutAll();
      await resumed;
    }
    expect(received).toBe(2); // m and z1: z1 kept its window slot, so z2 and z3 never left
    const last = settled(client.send('w', { id: 'w', timeoutMs: 10_000 }));
    held.open();
    // Before the fix both rejected: ClosedError "… the client broke the window", close 4400.
    expect(await Promise.all([m, last])).toEqual(['m', 'w']);
    expect(fatal).toEqual([]);
  });
});
