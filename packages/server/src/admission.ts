import type { Socket } from 'node:net';
import { Deadlines, now as monotonic } from '@lifeline/protocol/internal';
import type { Connection } from './connection.js';

/** What one remote address holds before its handshakes finish. */
interface AddressSlots {
  /** TCP connections accepted whose HTTP upgrade request has not arrived yet. */
  raw: number;
  /** Upgraded connections of this address; counted while they are still in their handshake. */
  readonly upgraded: Set<Connection>;
}

/**
 * Slots for connections that have not finished their handshake, counted from the TCP accept
 * (when the server owns its `http.Server`) and per remote address. A socket that sends half an
 * HTTP request and waits is counted against `maxPendingHandshakes` like an upgraded one, and is
 * destroyed after `handshakeTimeoutMs` (Node's own `headersTimeout` is checked only every 30 s);
 * one address holds at most `maxPendingHandshakesPerAddress`, so it cannot lock out the others.
 * One `Deadlines` timer for every raw socket, none per socket.
 */
export class Admission {
  private readonly addresses = new Map<string, AddressSlots>();
  private readonly rawDeadlines: Deadlines<Socket>;
  /** Raw sockets still waiting for their upgrade request, with the address they count against. */
  private readonly rawAddress = new Map<Socket, string>();
  /**
   * Upgraded connections still in their handshake, by the address they count against. Left at
   * `finished` (open or closed), not at close: an entry held for a connection's whole life cost
   * ~40 bytes of every idle session (issue 14).
   */
  private readonly connAddress = new Map<Connection, string>();

  /**
   * One 'close' listener for every raw socket (the socket is its `this`), taken off again at
   * `release`: a closure and a once-wrapper per socket, left on it for its whole life, cost about
   * 240 bytes per connection (issue 14).
   */
  private readonly onRawClose: (this: Socket) => void;

  constructor(
    private readonly handshakeTimeoutMs: number,
    private readonly perAddress: number,
  ) {
    this.rawDeadlines = new Deadlines((socket) => this.expire(socket), { resolutionMs: 50 });
    const admission = this;
    this.onRawClose = function (this: Socket) {
      admission.release(this);
    };
  }

  /** Raw sockets waiting for their upgrade request, all addresses. */
  get raw(): number {
    return this.rawAddress.size;
  }

  /**
   * A TCP connection was accepted. False when its address already holds `perAddress` pending
   * slots: the caller refuses it at once. Otherwise it is counted until `upgraded()` or its close.
   */
  accept(socket: Socket): boolean {
    const address = addressOf(socket);
    if (this.pendingFrom(address) >= this.perAddress) return false;
    this.slots(address).raw++;
    this.rawAddress.set(socket, address);
    this.rawDeadlines.add(socket, monotonic() + this.handshakeTimeoutMs);
    socket.on('close', this.onRawClose);
    return true;
  }

  /** The upgrade request arrived: the socket stops counting as raw (its handshake counts instead). */
  release(socket: Socket): void {
    const address = this.rawAddress.get(socket);
    if (address === undefined) return;
    this.rawAddress.delete(socket);
    this.rawDeadlines.delete(socket);
    socket.removeListener('close', this.onRawClose);
    const slots = this.addresses.get(address);
    if (slots === undefined) return;
    slots.raw--;
    this.forgetIfEmpty(address, slots);
  }

  /** Pending handshakes of the address of `socket` (raw sockets and upgraded ones), this one excluded. */
  pendingOf(socket: { remoteAddress?: string | undefined }): number {
    return this.pendingFrom(addressOf(socket));
  }

  /** An upgraded connection begins its handshake: it counts for its address until it leaves it. */
  upgraded(conn: Connection, socket: { remoteAddress?: string | undefined }): void {
    const address = addressOf(socket);
    this.connAddress.set(conn, address);
    this.slots(address).upgraded.add(conn);
  }

  /** The connection's handshake is over: it opened, or it is gone. It no longer counts. */
  finished(conn: Connection): void {
    const address = this.connAddress.get(conn);
    if (address === undefined) return;
    this.connAddress.delete(conn);
    const slots = this.addresses.get(address);
    if (slots === undefined) return;
    slots.upgraded.delete(conn);
    this.forgetIfEmpty(address, slots);
  }

  stop(): void {
    this.rawDeadlines.clear();
  }

  private pendingFrom(address: string): number {
    const slots = this.addresses.get(address);
    if (slots === undefined) return 0;
    // An opened or closed connection has left already (`finished`); one we are closing ('closing',
    // up to the close grace) stops counting here. The set is at most `perAddress` large.
    for (const conn of slots.upgraded) {
      if (conn.state === 'handshake') continue;
      slots.upgraded.delete(conn);
      this.connAddress.delete(conn);
    }
    this.forgetIfEmpty(address, slots);
    return slots.raw + slots.upgraded.size;
  }

  private slots(address: string): AddressSlots {
    let slots = this.addresses.get(address);
    if (slots === undefined) this.addresses.set(address, (slots = { raw: 0, upgraded: new Set() }));
    return slots;
  }

  private forgetIfEmpty(address: string, slots: AddressSlots): void {
    if (slots.raw === 0 && slots.upgraded.size === 0) this.addresses.delete(address);
  }

  /** No upgrade request within `handshakeTimeoutMs`: a slow-loris socket. */
  private expire(socket: Socket): void {
    this.release(socket);
    socket.destroy();
  }
}

/** What `getpeername` fills: one object for every read, since the address is all that is kept. */
const peer: { address?: string | undefined } = {};

/**
 * The remote address, read from the socket's TCP handle where Node has one: `remoteAddress`
 * would leave `{ address, family, port }` cached on the socket for its whole life, and a socket
 * property it was not made with (~130 bytes of every idle session, issue 14), for an address
 * that is needed only during the handshake. A TLS socket's handle passes the call on to its TCP
 * handle; a socket without one (closed already, or a test's stand-in) is read through
 * `remoteAddress`.
 */
function addressOf(socket: { remoteAddress?: string | undefined }): string {
  const handle = (socket as { _handle?: { getpeername?: (out: object) => number } | null })._handle;
  if (typeof handle?.getpeername === 'function' && (socket as { connecting?: boolean }).connecting !== true) {
    const address = handle.getpeername(peer) === 0 ? peer.address : undefined;
    peer.address = undefined; // not kept alive by the shared object, and unset for the next read
    if (address !== undefined) return address;
  }
  return socket.remoteAddress ?? '';
}
