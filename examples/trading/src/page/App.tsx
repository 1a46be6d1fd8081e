import { useState } from 'react';
import { LifelineProvider } from '@lifeline/react';
import { SYMBOLS, formatPrice } from '../shared/market.js';
import type { Desk } from './desk.js';
import { useJournal, type Journal } from './journal.js';
import type { PageSetup } from './setup.js';
import { ConnectionBar } from './components/ConnectionBar.js';
import { LatencyPanel } from './components/LatencyPanel.js';
import { MarketView } from './components/MarketView.js';
import { OrderEntry } from './components/OrderEntry.js';
import { OrdersView } from './components/OrdersView.js';

export function App({ setup, desk, journal }: { setup: PageSetup; desk: Desk; journal: Journal }) {
  const [symbol, setSymbol] = useState<string>(SYMBOLS[0]);
  const [price, setPrice] = useState('');
  const entries = useJournal(journal);
  return (
    // The page owns its client (made before render, connected by main.tsx): the provider only shares it.
    <LifelineProvider client={setup.client}>
      <ConnectionBar user={setup.user} />
      <main>
        <MarketView key={symbol} symbol={symbol} onPrice={(cents) => setPrice(formatPrice(cents))} />
        <div className="middle">
          <OrderEntry desk={desk} symbol={symbol} onSymbol={setSymbol} price={price} onPrice={setPrice} />
          <OrdersView desk={desk} entries={entries} />
        </div>
        <LatencyPanel metrics={setup.metrics} />
      </main>
    </LifelineProvider>
  );
}
