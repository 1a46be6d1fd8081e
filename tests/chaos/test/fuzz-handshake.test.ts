import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, type LifelineClient } from '@lifeline/sdk';
import { createServer, type LifelineServer, type ProtocolErrorInfo } from '@lifeline/server';
import { fuzzParams } from '../src/fuzz-params.js';
import { expectHandshake, type HandshakeContext } from '../src/handshake-oracle.js';
import { firstMessage, secondMessage, show, withLiveSid } from '../src/handshake-messages.js';
import { rawPeer } from '../src/raw-peer.js';

/**
 * Fuzzing the server's handshake (docs/reliability.md#fuzz): raw `ws` peers send fuzzed first
 * and second messages to a real server on port 0. Each connection is welcomed (valid hello) or
 * closed with a documented code, exactly as src/handshake-oracle.ts reads docs/protocol.md; each
 * refusal is reported as a 'protocol-error'; the server reports an 'error' exactly when
 * `authenticate` threw (its backend is down: 1013, the client retries) and never otherwise; and a
 * good SDK client keeps working throughout, on the same session, never disconnected.
 *
 *   FUZZ_HANDSHAKES=3000 npm test -w @lifeline/chaos-tests -- test/fuzz-handshake.test.ts   more runs
 *   FUZZ_SEED=<seed> [FUZZ_PATH=<path>] …                                                    replay a failure
 */

const RUNS = Number(process.env.FUZZ_HANDSHAKES ?? 500);
const MAX_PAYLOAD = 16 * 1024;
const MAX_IN_FLIGHT = 64;
/**
 * Long enough that a bad first message is always read before it: at 150 ms a fresh-clone
 * `.ci/run` (four suites at once) closed one with 4408 before the server read it (expected
 * 4400). Only the peers that send nothing (about 1 in 100) wait it out.
 */
const HANDSHAKE_MS = 1_000;

/** The test server's `authenticate`: refuses "deny", null and false (→ 4401), throws for "throw" (→ 1013). */
const refuses = (auth: unknown) => auth === 'deny' || auth === null || auth === false;
const throws = (auth: unknown) => auth === 'throw';
const identityOf = (auth: unknown): unknown => (auth === undefined ? 'anonymous' : auth);
function authenticate(auth: unknown): unknown {
  if (throws(auth)) throw new Error('authenticate threw');
  if (refuses(auth)) return false;
  return identityOf(auth);
}
const GOOD = { user: 'good' };

let server: LifelineServer;
let good: LifelineClient;
let url: string;
const serverErrors: unknown[] = [];
const protocolErrors: ProtocolErrorInfo[] = [];
let goodDisconnects = 0;
let evicted = 0;
let goodSid: string | undefined;

beforeAll(async () => {
  server = createServer({
    port: 0,
    host: '127.0.0.1',
    handshakeTimeoutMs: HANDSHAKE_MS,
    maxPayloadBytes: MAX_PAYLOAD,
    maxInFlight: MAX_IN_FLIGHT,
    authenticate,
    handler: (data) => ({ echo: data }),
  });
  server.on('error', (e) => serverErrors.push(e));
  server.on('protocol-error', (info) => protocolErrors.push(info));
  // Sessions a newer one of the same identity displaced (maxSessionsPerIdentity): not left detached.
  server.on('session', (s) => s.on('close', ({ reason }) => void (reason === 'evicted' && evicted++)));
  await server.listen();
  url = `ws://127.0.0.1:${server.port}`;
  good = createClient({ url, auth: GOOD, reconnect: { minDelayMs: 5, maxDelayMs: 50 } });
  good.on('disconnect', () => goodDisconnects++);
  await good.connect({ timeoutMs: 5_000 });
  goodSid = good.sessionId;
});

afterAll(async () => {
  await good?.close({ timeoutMs: 1_000 });
  await server?.close({ timeoutMs: 1_000 });
});

const context = (): HandshakeContext => ({
  maxPayloadBytes: MAX_PAYLOAD,
  liveSid: good.sessionId as string,
  liveIdentity: GOOD,
  identityOf,
  refuses,
  throws,
  maxHeld: MAX_IN_FLIGHT + 64,
});

describe('fuzz: the server handshake', () => {
  it(`${RUNS} fuzzed connections: each welcomed or closed with its documented code; the server and a good client carry on`, async () => {
    let n = 0;
    let leftDetached = 0;
    const seen = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(firstMessage(MAX_PAYLOAD), secondMessage(MAX_PAYLOAD), async (first0, second0) => {
        const ctx = context();
        const first = withLiveSid(first0, ctx.liveSid);
        const second = withLiveSid(second0, ctx.liveSid);
        const expected = expectHandshake(first, second, ctx);
        const goodReply = good.send({ n: ++n }, { timeoutMs: 5_000 });
        const errorsBefore = protocolErrors.length;
        const serverErrorsBefore = serverErrors.length;
        const got = await rawPeer(url, first, second);
        const where = `first=${show(first)} second=${show(second)} expected ${expected.why}: welcome ${expected.welcome}, end ${[...expected.ends].join('|')}; got welcomed=${got.welcomed} end=${got.end} (${got.reason})`;
        if (expected.welcome === 'yes' && !got.welcomed) throw new Error(`not welcomed: ${where}`);
        if (expected.welcome === 'no' && got.welcomed) throw new Error(`welcomed: ${where}`);
        if (!expected.ends.has(got.end)) throw new Error(`wrong end: ${where}`);
        // Every refusal is observable: one 'protocol-error' with the code the peer got, or for a
        // throwing authenticate (the server's own trouble) one 'error'.
        const reported = protocolErrors.slice(errorsBefore).map((e) => e.code);
        const failures = serverErrors.slice(serverErrorsBefore);
        const threw = expected.why === 'authenticate threw';
        if (got.end !== 'open' && got.end !== 1000 && got.end !== 1013 && !reported.includes(got.end)) throw new Error(`close ${got.end} not reported as protocol-error (${reported.join(',')}): ${where}`);
        if (failures.length !== (threw ? 1 : 0)) throw new Error(`${failures.length} server errors (${failures.map(String).join('; ')}): ${where}`);
        if (threw) expect(((failures[0] as Error).cause as Error).message).toBe('authenticate threw');
        expect(await goodReply).toEqual({ echo: { n } });
        if (got.welcomed && got.end !== 'open' && got.end !== 1000) leftDetached++;
        const key = String(got.end);
        seen.set(key, (seen.get(key) ?? 0) + 1);
      }),
      fuzzParams(RUNS),
    );
    // The good client never noticed: same session, never dropped, still answered.
    expect(goodDisconnects).toBe(0);
    expect(good.state).toBe('open');
    expect(good.sessionId).toBe(goodSid);
    expect(await good.send('still here', { timeoutMs: 5_000 })).toEqual({ echo: 'still here' });
    // Cases that ended cleanly said bye 1000 and ended their session; a welcomed peer closed for
    // bad input leaves its session detached (resumable until resumeWindowMs), never attached.
    const others = [...server.sessions.values()].filter((s) => s.id !== goodSid);
    expect(others.length).toBe(leftDetached - evicted);
    expect(others.every((s) => s.state === 'detached')).toBe(true);
    expect(server.sessions.get(goodSid as string)?.state).toBe('attached');
    console.log(`handshake fuzz: ${RUNS} connections, outcomes ${JSON.stringify(Object.fromEntries(seen))}`);
    // And the mix of outcomes is broad (a generator bug would collapse it). Welcomed peers that
    // stay open numbered 23, 31, 33, 40, 45, 47 and 56 of 500 in seven unseeded runs (a
    // fresh-clone npm test failed on 23 against the RUNS / 20 this line had): fast-check's
    // generation is far more variable than independent draws, so the floor is RUNS / 50.
    expect(seen.get('open') ?? 0).toBeGreaterThan(RUNS / 50);
    expect(seen.get('4400') ?? 0).toBeGreaterThan(RUNS / 10);
    for (const code of ['4401', '4403', '1013']) expect(seen.get(code) ?? 0, `outcomes ${JSON.stringify(Object.fromEntries(seen))}`).toBeGreaterThan(0);
  }, 120_000);

  it('a new client can still connect and is served after the fuzzing', async () => {
    const later = createClient({ url, auth: { user: 'later' }, reconnect: false });
    await later.connect({ timeoutMs: 5_000 });
    expect(await later.send(1, { timeoutMs: 5_000 })).toEqual({ echo: 1 });
    await later.close({ timeoutMs: 1_000 });
  });
});
