// Lifeline's main demo: a client sends 20 messages to an echo server through a fault proxy that
// cuts the connection partway. The output shows the reconnect, the replay of what was not yet
// acknowledged, and that every message was acknowledged once and handled once.
import { pathToFileURL } from 'node:url';
import { createClient } from '@lifeline/sdk';
import { createServer } from '@lifeline/server';
import { FaultProxy } from '@lifeline/fault-proxy';

const COUNT = 20;
const CUT_AFTER_ACKS = 6;

/** Runs the demo; resolves with a summary, logs through `log`. */
export async function runDemo({ log = console.log, count = COUNT, cutAfterAcks = CUT_AFTER_ACKS } = {}) {
  const handled = new Map(); // message id -> handler calls
  const server = createServer({
    port: 0,
    host: '127.0.0.1',
    // A handler that takes a little time, so that messages are in flight when the cut comes.
    handler: async (data, ctx) => {
      handled.set(ctx.id, (handled.get(ctx.id) ?? 0) + 1);
      await new Promise((resolve) => setTimeout(resolve, 15));
      return { echo: data.n, seq: ctx.seq };
    },
  });
  await server.listen();
  const proxy = await FaultProxy.start({ target: { port: server.port } });
  log(`server on 127.0.0.1:${server.port}, fault proxy on 127.0.0.1:${proxy.port}`);

  const client = createClient({
    url: proxy.url(),
    reconnect: { minDelayMs: 100, maxDelayMs: 1_000 },
  });
  client.on('state', (state, info) => log(`client  ${info?.from ?? '?'} → ${state}${info?.reason ? ` (${info.reason})` : ''}`));
  client.on('resumed', (info) => log(`client  resumed the session; retransmitted ${info?.replayed ?? '?'} unacknowledged message(s)`));
  client.on('session-lost', (info) => log(`client  session lost; ${info.unknown} message(s) of unknown outcome re-sent`));

  try {
    await client.connect({ timeoutMs: 5_000 });
    const acks = new Map(); // id -> times acked
    let acked = 0;
    const sends = [];
    for (let n = 1; n <= count; n++) {
      const id = `order-${n}`;
      sends.push(
        client.send({ n }, { id, timeoutMs: 15_000 }).then((result) => {
          acks.set(id, (acks.get(id) ?? 0) + 1);
          acked++;
          log(`ack     ${id.padEnd(9)} → ${JSON.stringify(result)}`);
          if (acked === cutAfterAcks) log(`proxy   cut ${proxy.cutAll()} connection(s) after ${acked} acks`);
        }),
      );
    }
    log(`client  sent ${count} messages (pipelined)`);
    await Promise.all(sends);

    const handledOnce = [...handled.values()].every((calls) => calls === 1);
    const ackedOnce = [...acks.values()].every((times) => times === 1);
    const summary = {
      sent: count,
      acked: acks.size,
      handlerCalls: [...handled.values()].reduce((a, b) => a + b, 0),
      cuts: proxy.cuts,
      ok: acks.size === count && handled.size === count && handledOnce && ackedOnce && proxy.cuts > 0,
    };
    log(
      `summary ${summary.sent} sent, ${summary.acked} acked once each, ${summary.handlerCalls} handler calls, ` +
        `${summary.cuts} connection cut(s) → ${summary.ok ? 'every message acknowledged and handled exactly once' : 'MISMATCH'}`,
    );
    return summary;
  } finally {
    await client.close({ timeoutMs: 2_000 });
    await proxy.close();
    await server.close({ timeoutMs: 2_000 });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  runDemo()
    .then((summary) => process.exit(summary.ok ? 0 : 1))
    .catch((error) => {
      console.error(error);
      process.exit(1);
    });
}
