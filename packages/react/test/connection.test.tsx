import { StrictMode } from 'react';
import { render, screen, waitFor } from '@testing-library/react';
import { describe, expect, it, vi } from 'vitest';
import type { LifelineClient } from '@lifeline/sdk';
import { client as kitClient, poll, startProxy, startServer, urlOf } from '@lifeline/test-kit';
import { LifelineProvider, useClient, useConnectionState } from '../src/index.js';
import { optionsFor } from './setup.js';

const WAIT = { timeout: 10_000 };

function Status() {
  const { state, reconnects, lastDowntimeMs } = useConnectionState();
  return (
    <p data-testid="status" data-state={state} data-reconnects={reconnects} data-downtime={lastDowntimeMs ?? ''}>
      {state}
    </p>
  );
}

const status = () => screen.getByTestId('status');

describe('LifelineProvider and useConnectionState', () => {
  it('follows the connection across a network cut: reconnecting, then open with one reconnect and its downtime', async () => {
    const server = await startServer();
    const proxy = await startProxy(server.port);
    render(
      <LifelineProvider options={optionsFor(proxy.url())}>
        <Status />
      </LifelineProvider>,
    );
    await waitFor(() => expect(status().dataset.state).toBe('open'), WAIT);
    expect(status().dataset.reconnects).toBe('0');
    expect(status().dataset.downtime).toBe('');

    // Refusing while cut holds the client in `reconnecting` long enough for the page to show it.
    proxy.refuse(true);
    expect(proxy.cutAll()).toBe(1);
    await waitFor(() => expect(status().dataset.state).toBe('reconnecting'), WAIT);
    proxy.refuse(false);
    await waitFor(() => expect(status().dataset.state).toBe('open'), WAIT);
    expect(status().dataset.reconnects).toBe('1');
    expect(Number(status().dataset.downtime)).toBeGreaterThanOrEqual(0);
    expect(server.sessions.size).toBe(1); // resumed, not a second session
  });

  it('given a client, neither connects nor closes it', async () => {
    const server = await startServer();
    const client = kitClient(urlOf(server), optionsFor(urlOf(server)));
    const connect = vi.spyOn(client, 'connect');
    const close = vi.spyOn(client, 'close');
    const { unmount } = render(
      <LifelineProvider client={client}>
        <Status />
      </LifelineProvider>,
    );
    expect(status().dataset.state).toBe('idle');
    await client.connect({ timeoutMs: 5_000 });
    await waitFor(() => expect(status().dataset.state).toBe('open'), WAIT);
    unmount();
    expect(connect).toHaveBeenCalledTimes(1); // the test's own call
    expect(close).not.toHaveBeenCalled();
    expect(client.state).toBe('open');
  });

  it('under StrictMode leaves exactly one open client, and closes each client it made once', async () => {
    const server = await startServer();
    const seen: LifelineClient[] = [];
    const closes = new Map<LifelineClient, ReturnType<typeof vi.spyOn>>();
    function Probe() {
      const client = useClient();
      // Spied during render, before the provider's effects run (and StrictMode re-runs them).
      if (!closes.has(client)) {
        seen.push(client);
        closes.set(client, vi.spyOn(client, 'close'));
      }
      return null;
    }
    const { unmount } = render(
      <StrictMode>
        <LifelineProvider options={optionsFor(urlOf(server))}>
          <Probe />
          <Status />
        </LifelineProvider>
      </StrictMode>,
    );
    await waitFor(() => expect(status().dataset.state).toBe('open'), WAIT);
    const current = seen.at(-1) as LifelineClient;
    expect(seen.length).toBeLessThanOrEqual(2);
    for (const client of seen.slice(0, -1)) {
      expect(client.state).toBe('closed');
      expect(closes.get(client)).toHaveBeenCalledTimes(1);
    }
    expect(seen.filter((c) => c.state === 'open')).toEqual([current]);
    // A session the StrictMode's first client may have opened is ended by its close (bye).
    await poll(() => server.sessions.size === 1, 'one session on the server', 5_000);
    console.log(`StrictMode: ${seen.length} client(s) seen by the tree, ${server.sessions.size} session(s) on the server`);

    unmount();
    expect(closes.get(current)).toHaveBeenCalledTimes(1);
    await poll(() => current.state === 'closed' && server.sessions.size === 0, 'the owned client closed and its session ended', 5_000);
  });

  it('reports a failed first connect to onConnectError', async () => {
    const proxy = await startProxy(1); // nothing listens on port 1
    proxy.refuse(true);
    const onConnectError = vi.fn();
    render(
      <LifelineProvider options={optionsFor(proxy.url(), { connectTimeoutMs: 200 })} connect={{ timeoutMs: 300 }} onConnectError={onConnectError}>
        <Status />
      </LifelineProvider>,
    );
    await waitFor(() => expect(onConnectError).toHaveBeenCalledTimes(1), WAIT);
    expect((onConnectError.mock.calls[0]?.[0] as Error).name).toMatch(/Error$/);
  });

  it('throws outside a provider, and without client or options', () => {
    vi.spyOn(console, 'error').mockImplementation(() => {});
    expect(() => render(<Status />)).toThrow(/inside a <LifelineProvider>/);
    // @ts-expect-error: one of the two props is required
    expect(() => render(<LifelineProvider />)).toThrow(TypeError);
  });
});
