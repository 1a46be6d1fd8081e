import { createContext } from 'react';
import type { LifelineClient } from '@lifeline/sdk';

/** The client the nearest `LifelineProvider` gives its tree; `null` outside any provider. */
export const ClientContext = createContext<LifelineClient | null>(null);
ClientContext.displayName = 'LifelineClient';
