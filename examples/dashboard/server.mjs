// Lifeline's live latency dashboard: an echo server with the metrics plugin, a fault proxy in front
// of it that cuts every connection now and then, and an in-process client that keeps a steady,
// bounded load going through the proxy. An HTTP server on 127.0.0.1 serves the page, its data
// (`GET /api/metrics`: a rolling series of the client's windowed percentiles plus the reconnect
// markers) and the plugin's Prometheus text, client and server side (`GET /metrics`).
//
//   npm run build && node examples/dashboard/server.mjs [--port 8080] [--cut-every-ms 5000]
import http from 'node:http';
import { readFile } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { createClient } from '@lifeline/sdk';
import { createServer } from '@lifeline/server';
import { metrics } from '@lifeline/metrics';
import { FaultProxy } from '@lifeline/fault-proxy';

export const dashboardDefaults = Object.freeze({
  /** HTTP port of the dashboard (0: an ephemeral one). */
  port: 0,
  /** The proxy cuts every connection this often; 0 turns the cuts off. */
  cutEveryMs: 5_000,
  /** One sample of the client's figures this often. */
  sampleEveryMs: 500,
  /** Samples kept (240 × 500 ms = 2 minutes). */
  historySamples: 240,
  /** Reconnect markers kept. */
  historyMarkers: 100,
  /** Client → server messages per second. */
  ratePerSec: 200,
  /** At most this many client sends without an ack (the load is a bounded window). */
  maxOutstanding: 32,
  /** The server pushes one message to the client this often. */
  pushEveryMs: 100,
  /** At most this many server pushes without an ack per session. */
  maxPushOutstanding: 64,
  /** The sliding window of the client's histograms. */
  windowMs: 10_000,
});

const LOAD_TICK_MS = 10;
const SEND_TIMEOUT_MS = 10_000;
const CLOSE_TIMEOUT_MS = 2_000;
const STATIC = new Map([
  ['/', { file: 'index.html', type: 'text/html; charset=utf-8' }],
  ['/index.html', { file: 'index.html', type: 'text/html; charset=utf-8' }],
  ['/app.js', { file: 'app.js', type: 'text/javascript; charset=utf-8' }],
]);
// The page loads nothing from elsewhere (the machine may have no internet, and it needs none).
const CSP = "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:";

/** Appends `item`, dropping the oldest entry once `list` holds more than `max`. */
function append(list, item, max) {
  list.push(item);
  if (list.length > max) list.shift();
}

function positiveInteger(name, value, min = 1) {
  if (!Number.isSafeInteger(value) || value < min) throw new TypeError(`startDashboard: ${name} must be an integer ≥ ${min}, got ${String(value)}`);
  return value;
}

/**
 * Starts the echo server, the proxy, the load and the dashboard's HTTP server. Options are
 * `dashboardDefaults`' keys plus `log(line)`. Resolves with `{ url, close }`; `close()` stops
 * everything (timers, client, proxy, servers) and is safe to call twice.
 */
export async function startDashboard(options = {}) {
  const o = { ...dashboardDefaults, ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) };
  positiveInteger('port', o.port, 0);
  positiveInteger('cutEveryMs', o.cutEveryMs, 0);
  for (const key of ['sampleEveryMs', 'historySamples', 'historyMarkers', 'ratePerSec', 'maxOutstanding', 'pushEveryMs', 'maxPushOutstanding', 'windowMs']) {
    positiveInteger(key, o[key]);
  }
  const log = options.log ?? (() => {});

  const timers = new Set(); // every interval this dashboard started, cleared on close
  const every = (ms, fn) => {
    const t = setInterval(fn, ms);
    timers.add(t);
    return t;
  };
  const stopTimer = (t) => {
    clearInterval(t);
    timers.delete(t);
  };
  let closing;
  const parts = {}; // what has started so far, for close()

  async function close() {
    closing ??= (async () => {
      for (const t of timers) clearInterval(t);
      timers.clear();
      const { http: web, client, proxy, server } = parts;
      if (web) {
        web.closeAllConnections();
        await new Promise((resolve) => web.close(() => resolve()));
      }
      // Sends still pending are rejected with ClosedError by client.close(); they are caught below.
      if (client) await client.close({ timeoutMs: CLOSE_TIMEOUT_MS }).catch(() => {});
      if (proxy) await proxy.close();
      if (server) await server.close({ timeoutMs: CLOSE_TIMEOUT_MS }).catch(() => {});
    })();
    return closing;
  }

  try {
    // One plugin on both the server and the client: it keeps the sides apart (`snapshot({ side })`,
    // the `side` label), so its one Prometheus text declares each family once for both.
    const m = metrics({ windowMs: o.windowMs });

    // The server: an echo handler with a small result, and a steady push to every session.
    const server = (parts.server = createServer({
      port: 0,
      host: '127.0.0.1',
      plugins: [m],
      handler: (data, ctx) => ({ ok: true, n: data?.n ?? null, seq: ctx.seq }),
    }));
    server.on('session', (session) => {
      let tick = 0;
      let pending = 0;
      const push = every(o.pushEveryMs, () => {
        if (pending >= o.maxPushOutstanding) return;
        pending++;
        session
          .send({ tick: ++tick, at: Date.now() }, { timeoutMs: SEND_TIMEOUT_MS })
          .catch(() => {}) // ClosedError when the session ends, AckTimeoutError past the deadline
          .finally(() => pending--);
      });
      session.on('close', () => stopTimer(push));
    });
    await server.listen();

    const proxy = (parts.proxy = await FaultProxy.start({ target: { port: server.port } }));

    // The load: a client sending at `ratePerSec` with at most `maxOutstanding` sends unacknowledged.
    const client = (parts.client = createClient({
      url: proxy.url(),
      plugins: [m],
      // The proxy cuts more often than the default minUptimeMs (5 s): with it the backoff would
      // never reset and every reconnect would wait longer, up to maxDelayMs (flapping-link protection).
      reconnect: { minDelayMs: 100, maxDelayMs: 1_000, minUptimeMs: 1_000 },
    }));
    const markers = [];
    let state = 'idle';
    client.on('state', (to, { from, reason }) => {
      state = to;
      if (to === 'reconnecting') append(markers, { t: Date.now(), reason }, o.historyMarkers);
      if (to === 'open' && from === 'reconnecting') {
        const marker = markers.at(-1);
        if (marker !== undefined && marker.downtimeMs === undefined) marker.downtimeMs = Date.now() - marker.t;
      }
    });
    client.on('resumed', ({ replayed }) => {
      const marker = markers.at(-1);
      if (marker !== undefined) marker.replayed = replayed;
    });
    client.on('error', (error) => log(`client error: ${error.message}`));
    client.on('message', () => {}); // the pushes are counted by the plugin (delivered)

    let outstanding = 0;
    let n = 0;
    await client.connect({ timeoutMs: 5_000 });
    let due = 0;
    every(LOAD_TICK_MS, () => {
      due = Math.min(due + (o.ratePerSec * LOAD_TICK_MS) / 1000, o.maxOutstanding);
      while (due >= 1 && outstanding < o.maxOutstanding && closing === undefined) {
        due--;
        outstanding++;
        client
          .send({ n: ++n }, { timeoutMs: SEND_TIMEOUT_MS })
          .catch(() => {}) // counted by the plugin (`failed`, by code), which the page shows
          .finally(() => outstanding--);
      }
    });

    if (o.cutEveryMs > 0) {
      every(o.cutEveryMs, () => {
        const cut = proxy.cutAll();
        log(`proxy cut ${cut} connection(s)`);
      });
    }

    const samples = [];
    const sample = () => {
      const s = m.snapshot({ side: 'client' });
      append(samples, { t: s.takenAt, ack: s.ackLatency }, o.historySamples);
    };
    sample();
    every(o.sampleEveryMs, sample);

    // Only what the page draws (app.js); /metrics has every figure of both sides.
    const apiMetrics = () => {
      const c = m.snapshot({ side: 'client' });
      const oldest = samples[0]?.t ?? 0;
      return {
        now: Date.now(),
        windowMs: o.windowMs,
        cutEveryMs: o.cutEveryMs,
        ratePerSec: o.ratePerSec,
        state,
        client: {
          ackLatency: c.ackLatency,
          wireLatency: c.wireLatency,
          deliveryLatency: c.deliveryLatency,
          reconnectDowntime: c.reconnectDowntime,
          sent: c.sent,
          acked: c.acked,
          failed: c.failed,
          retransmitted: c.retransmitted,
          delivered: c.delivered,
          reconnects: c.reconnects,
          resumes: c.resumes,
        },
        proxy: { cuts: proxy.cuts },
        series: samples,
        reconnects: markers.filter((marker) => marker.t >= oldest),
      };
    };

    const web = (parts.http = http.createServer((req, res) => {
      handle(req, res).catch((error) => {
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
        res.end(`internal error: ${error.message}\n`);
      });
    }));
    async function handle(req, res) {
      const path = new URL(req.url ?? '/', 'http://127.0.0.1').pathname;
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { allow: 'GET, HEAD' }).end();
        return;
      }
      const common = { 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' };
      if (path === '/api/metrics') {
        res.writeHead(200, { ...common, 'content-type': 'application/json; charset=utf-8' });
        res.end(JSON.stringify(apiMetrics()));
      } else if (path === '/metrics') {
        const text = await m.prometheus();
        res.writeHead(200, { ...common, 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
        res.end(text);
      } else if (STATIC.has(path)) {
        const { file, type } = STATIC.get(path);
        const body = await readFile(new URL(`./${file}`, import.meta.url));
        res.writeHead(200, { ...common, 'content-type': type, 'content-security-policy': CSP });
        res.end(body);
      } else {
        res.writeHead(404, { ...common, 'content-type': 'text/plain; charset=utf-8' }).end('not found\n');
      }
    }
    await new Promise((resolve, reject) => {
      web.once('error', reject);
      web.listen(o.port, '127.0.0.1', () => {
        web.off('error', reject);
        resolve();
      });
    });
    const url = `http://127.0.0.1:${web.address().port}/`;
    log(`dashboard on ${url} (server 127.0.0.1:${server.port}, fault proxy 127.0.0.1:${proxy.port})`);
    return { url, close };
  } catch (error) {
    await close();
    throw error;
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { values } = parseArgs({
    options: { port: { type: 'string' }, 'cut-every-ms': { type: 'string' } },
  });
  const num = (v) => (v === undefined ? undefined : Number(v));
  startDashboard({
    port: num(values.port ?? process.env.PORT),
    cutEveryMs: num(values['cut-every-ms']),
    log: (line) => console.log(line),
  }).then(
    ({ url, close }) => {
      console.log(`open ${url}  (Ctrl-C to stop)`);
      const stop = () => {
        console.log('stopping…');
        const force = setTimeout(() => process.exit(1), 5_000);
        force.unref();
        close().then(() => process.exit(0));
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    },
    (error) => {
      console.error(error);
      process.exit(1);
    },
  );
}
