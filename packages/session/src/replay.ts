import { PROTOCOL_VERSION, type Codec, type Json, type WelcomeFrame } from '@lifeline/protocol';
import { DEFAULT_CODEC, type HelloFields } from '@lifeline/protocol/internal';
import type { Inbox } from './inbox.js';
import type { Outbox } from './outbox.js';

/**
 * Resume and replay (DESIGN.md guarantee 3, docs/protocol.md#welcome-server--client-answer-to-hello):
 * what the client presents in `hello`, and what it does with the server's answer.
 */

/** The session a `welcome` gave us: presented in the next `hello` to resume it. */
export interface SessionTicket {
  readonly sid: string;
  readonly token: string;
}

/**
 * The first frame on every connection. No `resume` on the very first one; no `codecs` when the
 * client speaks JSON alone (their absence means just that).
 */
export function helloFields(
  auth: Json | undefined,
  win: number,
  ticket: SessionTicket | undefined,
  delivered: number,
  codecs: readonly Codec[],
  nonce?: string,
): HelloFields {
  const hello: { -readonly [K in keyof HelloFields]: HelloFields[K] } = { v: PROTOCOL_VERSION, win };
  if (auth !== undefined) hello.auth = auth;
  if (ticket !== undefined) hello.resume = { sid: ticket.sid, token: ticket.token, seq: delivered };
  if (codecs.length !== 1 || codecs[0]?.name !== DEFAULT_CODEC) hello.codecs = codecs.map((c) => c.name);
  if (nonce !== undefined) hello.nonce = nonce;
  return hello;
}

export type WelcomeOutcome =
  /** The first session of this client. */
  | { readonly kind: 'new' }
  /** The server still held our session: unacknowledged messages were retransmitted. */
  | { readonly kind: 'resumed'; readonly replayed: number }
  /** The server did not know our session: these messages' outcome is unknown; they go again. */
  | { readonly kind: 'lost'; readonly unknown: number; readonly ids: string[] };

/**
 * Apply a `welcome` to both directions. Called once per connection, after the window and size
 * limits of the welcome are set; what goes again is written by the queue's next pump.
 */
export function reconcile(welcome: WelcomeFrame, previous: SessionTicket | undefined, outbox: Outbox, inbox: Inbox): WelcomeOutcome {
  // Timed-out messages are never handled late: those the server never accepted are forgotten here;
  // those it accepted are retransmitted with the rest only to fetch their acks (duplicates there).
  const resumed = previous !== undefined && welcome.resumed && welcome.sid === previous.sid;
  outbox.purgeZombies(resumed ? welcome.seq : 0);
  if (previous === undefined) return { kind: 'new' };
  // Resumed: every message sent without an ack goes again, in seq order, with the same seq, id
  // and bytes. The server answers those it already processed from its result cache.
  if (resumed) return { kind: 'resumed', replayed: outbox.retransmit() };
  inbox.resetSession();
  const ids = outbox.restartInFlight();
  return { kind: 'lost', unknown: ids.length, ids };
}
