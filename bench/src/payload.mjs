/**
 * The one payload every peer sends: a ~100-byte JSON order, the same object for every message.
 * Every peer pays for its own JSON encoding of it, as an application would.
 */
export const PAYLOAD = Object.freeze({
  op: 'order',
  sym: 'ACME',
  side: 'buy',
  qty: 100,
  px: 101.25,
  account: 'acc-000042',
  ref: 'bench-01',
});

/** What every acknowledging server answers (the handler's "small result"). */
export const RESULT = Object.freeze({ ok: true });

export const PAYLOAD_BYTES = Buffer.byteLength(JSON.stringify(PAYLOAD));
