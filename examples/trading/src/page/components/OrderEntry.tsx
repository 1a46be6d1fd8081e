import { useState, type FormEvent } from 'react';
import { SYMBOLS, type Side } from '../../shared/market.js';
import type { Desk } from '../desk.js';

/** Price in dollars as typed → integer cents, or NaN. */
const toCents = (text: string): number => (/^\d+(\.\d{1,2})?$/.test(text.trim()) ? Math.round(Number(text) * 100) : NaN);

export function OrderEntry({ desk, symbol, onSymbol, price, onPrice }: { desk: Desk; symbol: string; onSymbol: (s: string) => void; price: string; onPrice: (p: string) => void }) {
  const [side, setSide] = useState<Side>('buy');
  const [qty, setQty] = useState('1');
  const [error, setError] = useState<string | undefined>();
  const submit = (event: FormEvent): void => {
    event.preventDefault();
    const cents = toCents(price);
    const n = Number(qty);
    if (!Number.isFinite(cents) || cents < 1) return setError('price: dollars and cents, e.g. 64999.50');
    if (!Number.isInteger(n) || n < 1) return setError('qty: a whole number ≥ 1');
    setError(undefined);
    desk.place({ symbol, side, price: cents, qty: n });
  };
  return (
    <form className="panel entry" onSubmit={submit} data-form="order">
      <h2>Order entry</h2>
      <label>
        symbol
        <select name="symbol" value={symbol} onChange={(e) => onSymbol(e.target.value)}>
          {SYMBOLS.map((s) => (
            <option key={s}>{s}</option>
          ))}
        </select>
      </label>
      <div className="sides">
        {(['buy', 'sell'] as const).map((s) => (
          <label key={s} className={`side ${s} ${side === s ? 'on' : ''}`}>
            <input type="radio" name="side" value={s} checked={side === s} onChange={() => setSide(s)} />
            {s}
          </label>
        ))}
      </div>
      <label>
        limit price ($)
        <input name="price" inputMode="decimal" value={price} onChange={(e) => onPrice(e.target.value)} />
      </label>
      <label>
        qty
        <input name="qty" inputMode="numeric" value={qty} onChange={(e) => setQty(e.target.value)} />
      </label>
      <button type="submit" className={side}>
        {side} {symbol}
      </button>
      {error && <p className="error">{error}</p>}
      <p className="hint">Orders placed offline wait in the durable outbox, survive a reload, and execute once.</p>
    </form>
  );
}
