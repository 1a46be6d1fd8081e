import { useConnectionState } from '@lifeline/react';
import { formatPrice } from '../../shared/market.js';
import type { Desk } from '../desk.js';
import type { JournalEntry } from '../journal.js';

/** What each status means to the trader, in words: an unknown outcome is never shown as a failure. */
function statusText(e: JournalEntry, online: boolean): string {
  switch (e.status) {
    case 'queued':
      return online ? 'sending…' : 'queued (offline)';
    case 'unknown':
      return 'unknown outcome — checking';
    case 'not-sent':
      return 'not sent (did not execute)';
    case 'void':
      return 'did not execute';
    case 'partial':
      return `partly filled ${e.filled}/${e.qty}`;
    default:
      return e.status;
  }
}

export function OrdersView({ desk, entries }: { desk: Desk; entries: readonly JournalEntry[] }) {
  const { state } = useConnectionState();
  const online = state === 'open';
  const orders = [...entries].reverse();
  const fills = entries
    .flatMap((e) => e.fills.map((f) => ({ ...f, side: e.side, symbol: e.symbol, clientOrderId: e.clientOrderId })))
    .sort((a, b) => b.tradeId - a.tradeId)
    .slice(0, 50);
  return (
    <section className="panel orders">
      <h2>Orders</h2>
      <table>
        <thead>
          <tr>
            <th>order</th>
            <th>side</th>
            <th className="num">qty</th>
            <th className="num">price</th>
            <th>status</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {orders.slice(0, 30).map((e) => (
            <tr key={e.clientOrderId} data-order={e.clientOrderId} data-status={e.status} data-filled={e.filled}>
              <td className="id" title={e.note ?? e.reason ?? ''}>
                {e.symbol} {e.clientOrderId.slice(-6)}
              </td>
              <td className={e.side === 'buy' ? 'bid' : 'ask'}>{e.side}</td>
              <td className="num">{e.qty}</td>
              <td className="num">{formatPrice(e.price)}</td>
              <td className={`status ${e.status}`}>{statusText(e, online)}</td>
              <td>
                {(e.status === 'resting' || e.status === 'partial') && (
                  <button type="button" onClick={() => desk.cancel(e.clientOrderId)}>
                    cancel
                  </button>
                )}
                {e.status === 'unknown' && (
                  <button type="button" onClick={() => desk.resolve(e.clientOrderId)} disabled={!online}>
                    check
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <h2>Fills</h2>
      <table data-fills>
        <thead>
          <tr>
            <th>trade</th>
            <th>order</th>
            <th>side</th>
            <th className="num">qty</th>
            <th className="num">price</th>
          </tr>
        </thead>
        <tbody>
          {fills.map((f) => (
            <tr key={`${f.tradeId}-${f.clientOrderId}`} data-fill={f.tradeId} data-order={f.clientOrderId}>
              <td>#{f.tradeId}</td>
              <td className="id">{f.clientOrderId.slice(-6)}</td>
              <td className={f.side === 'buy' ? 'bid' : 'ask'}>{f.side}</td>
              <td className="num">{f.qty}</td>
              <td className="num">{formatPrice(f.price)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
