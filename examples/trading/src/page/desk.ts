// The order desk: places orders through client.send() and turns every answer into the journal.
// The answers come from four places — the send()'s own result, the result of an order a reload
// left in the outbox (`restored-settled`), a push when a resting order trades, and the exchange's
// list of the user's orders fetched on every (re)connection — and all are keyed by clientOrderId.
import type { LifelineClient } from '@lifeline/sdk';
import type { OrderRequest, OrderUpdate, OrderView, Side } from '../shared/market.js';
import type { Journal } from './journal.js';
import { QUERY_TIMEOUT_MS } from './setup.js';

/** A send()'s failure as the desk reads it: may the exchange have the order? */
interface SendFailure {
  readonly code?: string;
  readonly message: string;
  readonly maybeDelivered?: boolean;
}

const newClientOrderId = (): string => `o-${Date.now().toString(36)}-${crypto.getRandomValues(new Uint32Array(1))[0]!.toString(36)}`;

export class Desk {
  /** Orders this page load is waiting on: sent here, or restored from the outbox. */
  private readonly live = new Set<string>();
  private started = false;

  constructor(
    private readonly client: LifelineClient,
    private readonly journal: Journal,
    /** The deadline of an order's send(): past it, its outcome is unknown if it left the page. */
    private readonly orderTimeoutMs: number,
  ) {}

  /** Listens to the client; call once, before `connect()` (the outbox is restored by it). */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.client.on('restored', ({ ids }) => ids.forEach((id) => this.live.add(id)));
    this.client.on('restored-settled', (outcome) => {
      if ('error' in outcome && outcome.error !== undefined) this.failed(outcome.id, outcome.error as SendFailure);
      else this.answered(outcome.id, (outcome as { result: unknown }).result as OrderView);
    });
    this.client.on('message', (data) => {
      const update = data as unknown as OrderUpdate;
      if (update?.type === 'order-update') this.journal.update(update.order);
    });
    this.client.on('state', (state) => {
      if (state === 'open') void this.reconcile();
    });
  }

  place(order: { symbol: string; side: Side; price: number; qty: number }): string {
    const clientOrderId = newClientOrderId();
    const request: OrderRequest = { op: 'order', clientOrderId, ...order };
    this.journal.add({ ...order, clientOrderId, status: 'queued', filled: 0, fills: [], placedAt: Date.now() });
    this.live.add(clientOrderId);
    // The clientOrderId is the message id too: the outbox keeps it across a reload, and the
    // exchange's idempotency check and the Lifeline server's dedup name the same order.
    this.client
      .send<OrderView>(request, { id: clientOrderId, timeoutMs: this.orderTimeoutMs })
      .then((view) => this.answered(clientOrderId, view), (error: SendFailure) => this.failed(clientOrderId, error));
    return clientOrderId;
  }

  cancel(clientOrderId: string): void {
    this.query<OrderView | { status: 'unknown' }>({ op: 'cancel', clientOrderId }).then((view) => {
      if (view !== undefined && 'clientOrderId' in view) this.journal.update(view);
    });
  }

  /** Asks the exchange about an order whose outcome is unknown; the answer settles it for good. */
  resolve(clientOrderId: string): void {
    this.query<OrderView>({ op: 'status', clientOrderId }).then((view) => view && this.journal.update(view));
  }

  private answered(clientOrderId: string, view: OrderView): void {
    this.live.delete(clientOrderId);
    this.journal.update(view);
  }

  private failed(clientOrderId: string, error: SendFailure): void {
    this.live.delete(clientOrderId);
    // The page is going away (or the client closed): the message stays in the outbox for the next load.
    if (error.code === 'ERR_CLOSED') return;
    // The handler ran (it threw, or its result was evicted from the server's cache before the
    // retransmission asked for it), or the message left the page: in each case it may have executed.
    const mayHaveExecuted = error.maybeDelivered === true || error.code === 'ERR_REMOTE' || error.code === 'ERR_RESULT_EVICTED';
    if (mayHaveExecuted) {
      // Never place it again blindly: ask the exchange, which also closes the id if it never arrived.
      this.journal.mark(clientOrderId, 'unknown', error.message);
      if (this.client.state === 'open') this.resolve(clientOrderId);
    } else {
      this.journal.mark(clientOrderId, 'not-sent', error.message);
    }
  }

  /** On every connection: the exchange's view of this user's orders, and a verdict for each unknown one. */
  private async reconcile(): Promise<void> {
    const list = await this.query<{ orders: OrderView[] }>({ op: 'orders' });
    for (const view of list?.orders ?? []) this.journal.update(view);
    for (const entry of this.journal.entries()) {
      // Queued by an earlier load but neither restored nor sent by this one (e.g. its outbox
      // entry was lost): the same as an unknown outcome.
      const orphan = entry.status === 'queued' && !this.live.has(entry.clientOrderId);
      if (orphan || entry.status === 'unknown') this.resolve(entry.clientOrderId);
    }
  }

  private async query<R>(request: unknown): Promise<R | undefined> {
    try {
      return await this.client.send<R>(request, { timeoutMs: QUERY_TIMEOUT_MS });
    } catch {
      return undefined; // retried at the next connection
    }
  }
}
