// `npm run trading`: the exchange and its page on http://127.0.0.1:<port>/ until Ctrl-C.
//   node examples/trading/dist/server/main.js [--port 8080]
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startTrading } from './app.js';

const STOP_TIMEOUT_MS = 5_000;

const { values } = parseArgs({ options: { port: { type: 'string' } } });
const port = Number(values.port ?? process.env.PORT ?? 8080);
if (!Number.isInteger(port) || port < 0 || port > 65_535) {
  console.error(`--port must be an integer 0–65535, got ${String(values.port ?? process.env.PORT)}`);
  process.exit(2);
}

// Built into dist/server/main.js; the page is built into dist/page.
const staticDir = fileURLToPath(new URL('../page/', import.meta.url));
startTrading({ staticDir, port, log: (line) => console.log(line) }).then(
  ({ url, close }) => {
    console.log(`Lifeline trading example on ${url}  (open ${url}?user=bob in another window; Ctrl-C to stop)`);
    const stop = (): void => {
      console.log('stopping…');
      setTimeout(() => process.exit(1), STOP_TIMEOUT_MS).unref();
      close().then(() => process.exit(0));
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  },
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
