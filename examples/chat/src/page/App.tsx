import { useState, type FormEvent } from 'react';
import { LifelineProvider } from '@lifeline/react';
import { webStorageOutbox, type ClientOptions, type StoredMessage } from '@lifeline/sdk';
import { USER_NAME } from '../shared/protocol.js';
import { Chat } from './Chat.js';
import { PendingStore } from './pending.js';

const USER_KEY = 'lifeline-chat:user';

/** The page's WebSocket: `/ws` on the origin that served it. */
function wsUrl(): string {
  return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;
}

export function App() {
  const [user, setUser] = useState(() => localStorage.getItem(USER_KEY) ?? '');
  if (!USER_NAME.test(user)) {
    return (
      <Login
        onLogin={(name) => {
          localStorage.setItem(USER_KEY, name);
          setUser(name);
        }}
      />
    );
  }
  const signOut = (): void => {
    localStorage.removeItem(USER_KEY);
    setUser('');
  };
  // A new user is a new client: the key makes the provider start over with its options.
  return <Session key={user} user={user} onSignOut={signOut} />;
}

function Session({ user, onSignOut }: { user: string; onSignOut: () => void }) {
  const [setup] = useState(() => {
    // One outbox per user name: what a reload interrupted is sent again, once, under its id.
    const outbox = webStorageOutbox({ prefix: `lifeline-chat:outbox:${user}` });
    const pending = new PendingStore();
    // webStorageOutbox reads synchronously (its type says so; OutboxStore's load() may be async).
    pending.seed((outbox as { load(): readonly StoredMessage[] }).load());
    const options: ClientOptions = {
      url: wsUrl(),
      auth: { user },
      outbox,
      // A chat reconnects quickly, and a link that flaps should not push the backoff to its maximum.
      reconnect: { minDelayMs: 250, maxDelayMs: 5_000, minUptimeMs: 2_000 },
    };
    return { options, pending };
  });
  return (
    <LifelineProvider options={setup.options}>
      <Chat user={user} pending={setup.pending} onSignOut={onSignOut} />
    </LifelineProvider>
  );
}

function Login({ onLogin }: { onLogin: (name: string) => void }) {
  const [name, setName] = useState('');
  const valid = USER_NAME.test(name);
  const submit = (event: FormEvent): void => {
    event.preventDefault();
    if (valid) onLogin(name);
  };
  return (
    <main className="login">
      <h1>Lifeline chat</h1>
      <form onSubmit={submit}>
        <label>
          Your name
          <input data-testid="login-name" autoFocus value={name} maxLength={24} onChange={(e) => setName(e.target.value)} placeholder="alice" />
        </label>
        <button data-testid="login" type="submit" disabled={!valid}>
          Enter
        </button>
        <p className="hint">1–24 letters, digits, _ or -. The name is the whole credential: this is a demo.</p>
      </form>
    </main>
  );
}
