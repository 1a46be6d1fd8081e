import { applyBookDelta, applyTicker, bookChannel, formatPrice, tickerChannel, type BookDelta, type BookState, type Level, type TickerState } from '../../shared/market.js';
import { useFeed, type FeedState } from '../use-feed.js';

const DEPTH = 10;

function feedNote(feed: FeedState<unknown>): string {
  const gaps = feed.gaps === 0 ? '' : ` · ${feed.gaps} gap${feed.gaps === 1 ? '' : 's'} recovered by snapshot`;
  return `${feed.status} · offset ${feed.offset}${gaps}`;
}

/** The ticker and the order book of one symbol, each rebuilt from snapshot + publications. */
export function MarketView({ symbol, onPrice }: { symbol: string; onPrice: (cents: number) => void }) {
  const book = useFeed<BookState, BookDelta>(bookChannel(symbol), applyBookDelta);
  const ticker = useFeed<TickerState | null, TickerState>(tickerChannel(symbol), applyTicker);
  const t = ticker.value;
  const row = (side: 'bid' | 'ask') => ([price, qty]: Level) => (
    <tr key={price} data-level={side} data-price={price} data-qty={qty} onClick={() => onPrice(price)}>
      <td className={side}>{formatPrice(price)}</td>
      <td className="num">{qty}</td>
    </tr>
  );
  const asks = (book.value?.asks ?? []).slice(0, DEPTH);
  const bids = (book.value?.bids ?? []).slice(0, DEPTH);
  return (
    <section className="panel market">
      <h2>{symbol}</h2>
      <div className="ticker" data-ticker={symbol} data-status={ticker.status} data-offset={ticker.offset} data-gaps={ticker.gaps}>
        <span className="last">{t?.last == null ? '–' : formatPrice(t.last)}</span>
        <span>bid {t?.bid == null ? '–' : formatPrice(t.bid)}</span>
        <span>ask {t?.ask == null ? '–' : formatPrice(t.ask)}</span>
        <span>vol {t?.volume ?? 0}</span>
        <small>{feedNote(ticker)}</small>
      </div>
      <table
        className="book"
        data-book={symbol}
        data-status={book.status}
        data-offset={book.offset}
        data-gaps={book.gaps}
        data-snapshots={book.snapshots}
        data-depth={DEPTH}
      >
        <thead>
          <tr>
            <th>price</th>
            <th className="num">qty</th>
          </tr>
        </thead>
        <tbody>{[...asks].reverse().map(row('ask'))}</tbody>
        <tbody className="spread">
          <tr>
            <td colSpan={2}>{book.status === 'live' ? `spread ${asks[0] && bids[0] ? formatPrice(asks[0][0] - bids[0][0]) : '–'}` : `${book.status}…`}</td>
          </tr>
        </tbody>
        <tbody>{bids.map(row('bid'))}</tbody>
      </table>
      <small className="note">{feedNote(book)}</small>
    </section>
  );
}
