import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { CloseCode } from '@lifeline/sdk';
import { client, closeAll, startServer } from '@lifeline/test-kit';

afterEach(closeAll);

const hello = JSON.stringify({ t: 'hello', v: 1 });

/** A raw peer that sends `frames` (after `open`) and resolves with the close code it got. */
function rawPeer(url: string, frames: Array<string | Buffer>, timeoutMs = 5_000): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error(`no close within ${timeoutMs} ms for ${String(frames[0]).slice(0, 40)}`));
    }, timeoutMs);
    ws.on('open', () => {
      for (const f of frames) ws.send(f);
    });
    ws.on('error', () => {});
    ws.on('close', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}

describe('guarantee 7: bad input gets a clear answer, and nothing else breaks', () => {
  it('each bad peer is closed with its documented code while a good client carries on', async () => {
    let sessions = 0;
    const server = await startServer({
      handshakeTimeoutMs: 300,
      maxPayloadBytes: 64 * 1024,
      handler: (data) => data,
    });
    server.on('session', () => sessions++);
    const protocolErrors: number[] = [];
    server.on('protocol-error', (e: { code: number }) => protocolErrors.push(e.code));
    const url = `ws://127.0.0.1:${server.port}`;

    const good = client(url);
    await good.connect({ timeoutMs: 5_000 });
    const goodSends = Array.from({ length: 200 }, (_, i) => good.send({ i }, { timeoutMs: 20_000 }));

    const deep = `{"t":"msg","seq":1,"id":"a","ts":1,"d":${'['.repeat(5_000)}${']'.repeat(5_000)}}`;
    const cases: Array<[string, Array<string | Buffer>, number]> = [
      ['non-JSON', ['this is not json'], CloseCode.BadFrame],
      ['binary junk', [Buffer.from([0xde, 0xad, 0xbe, 0xef])], CloseCode.BadFrame],
      ['an unknown frame', [hello, '{"t":"launch","missiles":true}'], CloseCode.BadFrame],
      ['wrong types in a known frame', [hello, '{"t":"msg","seq":"one","id":1,"ts":"x","d":1}'], CloseCode.BadFrame],
      ['a future protocol version', ['{"t":"hello","v":2}'], CloseCode.UnsupportedVersion],
      ['an oversized frame', [hello, `{"t":"msg","seq":1,"id":"a","ts":1,"d":"${'x'.repeat(100 * 1024)}"}`], CloseCode.MessageTooBig],
      ['deep nesting', [hello, deep], CloseCode.BadFrame],
      ['data before hello', ['{"t":"msg","seq":1,"id":"a","ts":1,"d":1}'], CloseCode.BadFrame],
      ['a forged resume token', [JSON.stringify({ t: 'hello', v: 1, resume: { sid: good.sessionId, token: 'forged', seq: 0 } })], CloseCode.Forbidden],
      ['a peer that never says hello', [], CloseCode.HandshakeTimeout],
    ];
    const codes = await Promise.all(cases.map(([, frames]) => rawPeer(url, frames)));
    expect(Object.fromEntries(cases.map(([name], i) => [name, codes[i]]))).toEqual(
      Object.fromEntries(cases.map(([name, , code]) => [name, code])),
    );

    expect(await Promise.all(goodSends)).toEqual(Array.from({ length: 200 }, (_, i) => ({ i })));
    expect(good.state).toBe('open');
    // The good client's session was never replaced or resumed by the forger.
    expect(await good.send('still here', { timeoutMs: 5_000 })).toBe('still here');
    expect(protocolErrors.length).toBeGreaterThanOrEqual(cases.length - 1);
    // The server still accepts new clients.
    const later = client(url);
    await later.connect({ timeoutMs: 5_000 });
    expect(await later.send(1, { timeoutMs: 5_000 })).toBe(1);
    expect(sessions).toBeGreaterThanOrEqual(2);
  });
});
