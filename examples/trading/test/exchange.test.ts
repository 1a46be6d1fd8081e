// The matching engine and its answers, without a browser: price-time priority, the idempotent
// clientOrderId, the status query that closes an unknown id, and a snapshot that is exactly the
// book at its offset.
import { afterEach, describe, expect, it } from 'vitest';
import { closeAll, startServer } from '@lifeline/test-kit';
import { Exchange } from '../src/server/exchange.js';
import { applyBookDelta, bookChannel, emptyBook, type BookDelta, type BookState, type OrderRequest } from '../src/shared/market.js';

const order = (clientOrderId: string, side: 'buy' | 'sell', price: number, qty: number): OrderRequest => ({ op: 'order', symbol: 'BTC-USD', side, price, qty, clientOrderId });

async function exchange(): Promise<Exchange> {
  const server = await startServer({ handler: () => null });
  const ex = new Exchange(server, { bookEveryMs: 10_000, tickerEveryMs: 10_000 });
  await ex.start();
  afterEach(() => ex.stop());
  return ex;
}

describe('Exchange', () => {
  afterEach(closeAll);

  it('matches by price, then time, at the resting price', async () => {
    const ex = await exchange();
    expect(ex.place('bob', order('s1', 'sell', 101_00, 2)).status).toBe('resting');
    expect(ex.place('carol', order('s2', 'sell', 100_00, 2)).status).toBe('resting');
    expect(ex.place('dave', order('s3', 'sell', 100_00, 2)).status).toBe('resting');
    const taken = ex.place('alice', order('b1', 'buy', 102_00, 5));
    expect(taken.status).toBe('filled');
    // Best price first (100.00), and at 100.00 carol (earlier) before dave; then 101.00.
    expect(taken.fills.map((f) => [f.price, f.qty])).toEqual([
      [100_00, 2],
      [100_00, 2],
      [101_00, 1],
    ]);
    expect(ex.order('carol', 's2')?.status).toBe('filled');
    expect(ex.order('bob', 's1')).toMatchObject({ status: 'partial', filled: 1 });
    expect(ex.book('BTC-USD')).toEqual({ bids: [], asks: [[101_00, 1]] });
  });

  it('executes a clientOrderId once and answers a repeat with the first result', async () => {
    const ex = await exchange();
    ex.place('bob', order('s1', 'sell', 100_00, 10));
    const first = ex.place('alice', order('b1', 'buy', 100_00, 3));
    const again = ex.place('alice', order('b1', 'buy', 100_00, 3));
    expect(again).toEqual({ ...first, duplicate: true });
    expect(ex.executions.get('alice/b1')).toBe(1);
    expect(ex.order('bob', 's1')?.filled).toBe(3);
    // Another user's id is another order.
    ex.place('carol', order('b1', 'buy', 100_00, 1));
    expect(ex.order('bob', 's1')?.filled).toBe(4);
  });

  it('rejects malformed orders in the result, and a status query closes an id it never saw', async () => {
    const ex = await exchange();
    expect(ex.place('alice', order('bad', 'buy', 0, 1))).toMatchObject({ status: 'rejected', reason: expect.stringContaining('price') });
    expect(ex.status('alice', 'late')).toMatchObject({ status: 'void' });
    // The order arrives after the query (a copy still on its way): it is not executed.
    expect(ex.place('alice', order('late', 'buy', 100_00, 1))).toMatchObject({ status: 'void', duplicate: true });
    expect(ex.executions.get('alice/late')).toBeUndefined();
  });

  it('snapshots the published book with the offset it reflects', async () => {
    const ex = await exchange();
    ex.place('bob', order('s1', 'sell', 100_00, 5));
    ex.place('bob', order('s2', 'buy', 99_00, 5));
    await ex.flush();
    ex.place('alice', order('b1', 'buy', 100_00, 2));
    await ex.flush();
    const snap = ex.snapshot(bookChannel('BTC-USD')) as { state: BookState; offset: number };
    expect(snap.state).toEqual(ex.book('BTC-USD'));
    expect(snap.state).toEqual({ bids: [[99_00, 5]], asks: [[100_00, 3]] });
    // Replaying the channel's history from the start gives the same book.
    const feed = ex.bookFeed('BTC-USD');
    expect(feed.snapshot().offset).toBe(snap.offset);
  });
});
