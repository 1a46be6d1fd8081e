import { afterEach, describe, expect, it } from 'vitest';
import { REDIS_URL, RawClient, closeAll, redisAdmin, startCluster, testPrefix, type AnyFrame } from '@lifeline/test-kit';

// A resume with the previous token (the welcome that rotated it was lost with its link) is taken
// only while the session is detached. On several nodes, a holder that died never detaches it:
// the client was told 1013 "try again later" at every attempt until the session's keys expired
// (multinode chaos seed 1706: 44 s of them). A holder whose node heartbeat is older than
// `nodeTimeoutMs` now counts as detached, as it does for taking over a claim.

afterEach(closeAll);

const NODE_TIMEOUT_MS = 1_000;
/** Resume attempts on the surviving node: each is a real handshake, answered by welcome or 1013. */
const MAX_ATTEMPTS = 60;
const DEADLINE_MS = 15_000;

/** One resume on `url`: the welcome, or the close code and the `bye`'s `retryMs` when the server refused it. */
async function resumeOnce(url: string, resume: AnyFrame): Promise<{ welcome?: AnyFrame; code?: number; retryMs?: number }> {
  const raw = await RawClient.open(url);
  raw.send({ t: 'hello', v: 1, resume });
  return raw.next((f) => f.t === 'welcome', 5_000).then(
    (welcome) => ({ welcome }),
    async () => ({ code: (await raw.closed).code, retryMs: raw.pending.find((f) => f.t === 'bye')?.retryMs as number | undefined }),
  );
}

describe('a lost welcome, and then its node dies (guarantee 10)', () => {
  it("the previous token is refused (1013) while the holder node lives, and resumes the session once that node's heartbeat is stale", async () => {
    const admin = await redisAdmin();
    const prefix = testPrefix(admin, 'llmn');
    const config = { redisUrl: REDIS_URL, keyPrefix: prefix, recordUrl: REDIS_URL, recordPrefix: `${prefix}test:`, handlerDelayMs: 1, server: { nodeTimeoutMs: NODE_TIMEOUT_MS } };
    const cluster = await startCluster(0, config, admin);
    const [a, b] = [await cluster.add(false), await cluster.add(false)];
    const [urlA, urlB] = [`ws://127.0.0.1:${a.port}`, `ws://127.0.0.1:${b.port}`];

    // A session on node A; its client goes, so it is detached.
    const first = await RawClient.connect(urlA);
    const { sid, token: previous } = first.welcome as { sid: string; token: string };
    first.client.ws.close();
    await first.client.closedWith();

    // Resumed on A: the token rotates, and that welcome is "lost": the client still holds `previous`.
    const lost = await resumeOnce(urlA, { sid, token: previous, seq: 0 });
    expect(lost.welcome).toMatchObject({ t: 'welcome', sid, resumed: true });
    expect(lost.welcome?.token).not.toBe(previous);

    // A holds the session on a live link: the previous token may not take it over.
    expect((await resumeOnce(urlB, { sid, token: previous, seq: 0 })).code).toBe(1013);

    await a.kill();
    const started = Date.now();
    let resumed: AnyFrame | undefined;
    const refusals: number[] = [];
    for (let attempt = 0; attempt < MAX_ATTEMPTS && resumed === undefined && Date.now() - started < DEADLINE_MS; attempt++) {
      const answer = await resumeOnce(urlB, { sid, token: previous, seq: 0 });
      if (answer.welcome !== undefined) resumed = answer.welcome;
      else {
        refusals.push(answer.code as number);
        // Back off as a client does after 1013 (`retryMs`), capped so the attempts span the deadline.
        await new Promise((resolve) => setTimeout(resolve, Math.min(answer.retryMs ?? 100, 250)));
      }
    }
    // Every refusal before A's death was known is 1013; then the same session, resumed, with a new token.
    expect(refusals.every((code) => code === 1013)).toBe(true);
    expect(resumed).toMatchObject({ t: 'welcome', sid, resumed: true });
    expect(resumed?.token).not.toBe(previous);
    expect(cluster.crashes()).toEqual([]);
  });
});
