// The page of the React test in Chromium (bundled by esbuild, React's development build, so
// StrictMode runs every effect twice): a provider that owns its client, a channel's publications
// and a send's outcome rendered into the DOM, which the test reads.
import { StrictMode, useEffect } from 'react';
import { createRoot } from 'react-dom/client';
import type { Json } from '@lifeline/sdk';
import { LifelineProvider, useChannel, useConnectionState, useSend, type SendOutcome } from '@lifeline/react';

export interface ReactPage {
  /** Renders the app in StrictMode against `url`, on channel `channel`. */
  mount(url: string, channel: string): void;
  /** Set once the app rendered: `useSend()`'s send. */
  send?: (data: Json) => Promise<SendOutcome<Json>>;
}

const page: ReactPage = {
  mount(url, channel) {
    createRoot(document.getElementById('root')!).render(
      <StrictMode>
        <LifelineProvider options={{ url, reconnect: { minDelayMs: 50, maxDelayMs: 300 } }}>
          <Room channel={channel} />
        </LifelineProvider>
      </StrictMode>,
    );
  },
};

function Room({ channel }: { channel: string }) {
  const { publications, ready, error, gap } = useChannel(channel);
  const { state, reconnects } = useConnectionState();
  const [send, status] = useSend();
  useEffect(() => {
    page.send = send;
  }, [send]);
  return (
    <main>
      <p data-testid="state">{state}</p>
      <p data-testid="reconnects">{reconnects}</p>
      <p data-testid="ready">{ready ? 'ready' : 'not ready'}</p>
      <p data-testid="error">{error?.message ?? ''}</p>
      <p data-testid="gap">{gap === undefined ? '' : JSON.stringify(gap)}</p>
      <p data-testid="send">{status.pending ? 'pending' : JSON.stringify(status.result ?? status.error?.message ?? null)}</p>
      <ol data-testid="publications">
        {publications.map(({ data, meta }) => (
          <li key={meta.offset}>{JSON.stringify(data)}</li>
        ))}
      </ol>
    </main>
  );
}

(window as unknown as { app: ReactPage }).app = page;
