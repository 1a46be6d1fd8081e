import { useState } from 'react';
import { act, fireEvent, render, screen, waitFor } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { type Json, type SendOptions } from '@lifeline/sdk';
import { client as kitClient, gate, startServer, urlOf } from '@lifeline/test-kit';
import { LifelineProvider, useSend, type SendOutcome } from '../src/index.js';
import { optionsFor } from './setup.js';

const WAIT = { timeout: 10_000 };

/** A button that sends `data`; the status and the last outcome are rendered for the test to read. */
function Order({ data, options }: { data: Json; options?: SendOptions }) {
  const [send, { pending, result, error, maybeDelivered }] = useSend();
  const [outcome, setOutcome] = useState<SendOutcome>();
  return (
    <div>
      <button onClick={() => void send(data, options).then(setOutcome)}>send</button>
      <p
        data-testid="status"
        data-pending={String(pending)}
        data-result={result === undefined ? '' : JSON.stringify(result)}
        data-error={error?.name ?? ''}
        data-maybe={String(maybeDelivered)}
        data-outcome={outcome === undefined ? '' : String(outcome.ok)}
      />
    </div>
  );
}

const status = () => screen.getByTestId('status').dataset;

describe('useSend', () => {
  it('is pending until the server app answers, then holds its result', async () => {
    const answer = gate<Json>();
    let handled = 0;
    const server = await startServer({
      handler: async (data) => {
        handled++;
        return { filled: data, price: await answer.promise };
      },
    });
    render(
      <LifelineProvider options={optionsFor(urlOf(server))}>
        <Order data={{ op: 'buy', qty: 1 }} />
      </LifelineProvider>,
    );
    expect(status().pending).toBe('false');
    fireEvent.click(screen.getByText('send'));
    expect(status().pending).toBe('true');
    await waitFor(() => expect(handled).toBe(1), WAIT); // reached the handler, which waits on the test
    expect(status().pending).toBe('true');
    act(() => answer.open(101));
    await waitFor(() => expect(status().pending).toBe('false'), WAIT);
    expect(JSON.parse(status().result as string)).toEqual({ filled: { op: 'buy', qty: 1 }, price: 101 });
    expect(status().error).toBe('');
    expect(status().outcome).toBe('true');
  });

  it('an ack that never comes: AckTimeoutError with maybeDelivered true (the order may exist)', async () => {
    const never = gate<Json>();
    let handled = 0;
    const server = await startServer({
      handler: () => {
        handled++;
        return never.promise;
      },
    });
    render(
      <LifelineProvider options={optionsFor(urlOf(server))}>
        <Order data={{ op: 'buy' }} options={{ timeoutMs: 300 }} />
      </LifelineProvider>,
    );
    fireEvent.click(screen.getByText('send'));
    await waitFor(() => expect(status().error).toBe('AckTimeoutError'), WAIT);
    expect(handled).toBe(1);
    expect(status().maybe).toBe('true');
    expect(status().pending).toBe('false');
    expect(status().outcome).toBe('false'); // the promise resolved with the failure: no unhandled rejection
  });

  it('a message that never left the machine: maybeDelivered false', async () => {
    const server = await startServer();
    const client = kitClient(urlOf(server), optionsFor(urlOf(server))); // never connected: the send waits in the queue
    render(
      <LifelineProvider client={client}>
        <Order data={{ op: 'buy' }} options={{ timeoutMs: 200 }} />
      </LifelineProvider>,
    );
    fireEvent.click(screen.getByText('send'));
    await waitFor(() => expect(status().error).toBe('AckTimeoutError'), WAIT);
    expect(status().maybe).toBe('false');
  });

  it('a handler that throws: RemoteError, delivered', async () => {
    const server = await startServer({
      handler: () => {
        throw new Error('insufficient funds');
      },
    });
    render(
      <LifelineProvider options={optionsFor(urlOf(server))}>
        <Order data={{ op: 'buy' }} />
      </LifelineProvider>,
    );
    fireEvent.click(screen.getByText('send'));
    await waitFor(() => expect(status().error).toBe('RemoteError'), WAIT);
    expect(status().maybe).toBe('true');
  });

  it('a client closed under a pending send: ClosedError with its maybeDelivered', async () => {
    const never = gate<Json>();
    let handled = 0;
    const server = await startServer({
      handler: () => {
        handled++;
        return never.promise;
      },
    });
    const client = kitClient(urlOf(server), optionsFor(urlOf(server)));
    await client.connect({ timeoutMs: 5_000 });
    render(
      <LifelineProvider client={client}>
        <Order data={{ op: 'buy' }} />
      </LifelineProvider>,
    );
    fireEvent.click(screen.getByText('send'));
    await waitFor(() => expect(handled).toBe(1), WAIT);
    await act(() => client.close({ timeoutMs: 1_000 }));
    await waitFor(() => expect(status().error).toBe('ClosedError'), WAIT);
    expect(status().maybe).toBe('true');
  });
});
