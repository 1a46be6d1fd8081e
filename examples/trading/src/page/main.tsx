import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App.js';
import { Desk } from './desk.js';
import { createJournal } from './journal.js';
import { setUp } from './setup.js';
import './style.css';

const CONNECT_TIMEOUT_MS = 10_000;
const RETRY_MS = [500, 1_000, 2_000, 5_000];
const MAX_CONNECT_ATTEMPTS = 1_000; // about 80 minutes at the longest delay: then the page says so

const setup = setUp(window.location);
const journal = createJournal(window.localStorage, setup.user);
const desk = new Desk(setup.client, journal, setup.orderTimeoutMs);
desk.start();

/**
 * The first connect() fails when the server is unreachable at load (the client is then idle, its
 * queued orders kept): try again with a growing delay. Once connected, the client reconnects by itself.
 */
async function connect(): Promise<void> {
  for (let attempt = 0; attempt < MAX_CONNECT_ATTEMPTS; attempt++) {
    try {
      await setup.client.connect({ timeoutMs: CONNECT_TIMEOUT_MS });
      return;
    } catch (error) {
      if ((error as { code?: string }).code === 'ERR_UNAUTHORIZED' || setup.client.state === 'closed') throw error;
      await new Promise((resolve) => setTimeout(resolve, RETRY_MS[Math.min(attempt, RETRY_MS.length - 1)]));
    }
  }
  throw new Error('could not connect');
}
// Leaving the page ends the session cleanly; what is still pending stays in the outbox for the next load.
window.addEventListener('pagehide', () => void setup.client.close({ timeoutMs: 0 }).catch(() => {}));
connect().catch((error: Error) => {
  document.title = `Lifeline exchange — ${error.message}`;
});

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <App setup={setup} desk={desk} journal={journal} />
  </StrictMode>,
);

// For the browser test: what the page holds, read-only.
(window as unknown as { trading: unknown }).trading = { client: setup.client, journal, metrics: setup.metrics };
