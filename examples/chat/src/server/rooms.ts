import { ROOM_NAME } from '../shared/protocol.js';
import { ChatError } from './limits.js';

/**
 * The rooms that exist: the configured ones, plus those users open, up to `maxRooms` in all.
 * Each room is two channels with their own history, so the count bounds the server's memory.
 */
export class Rooms {
  private readonly names: Set<string>;

  constructor(
    initial: readonly string[],
    private readonly maxRooms: number,
  ) {
    for (const name of initial) if (!ROOM_NAME.test(name)) throw new TypeError(`rooms: ${JSON.stringify(name)} is not a room name (${ROOM_NAME})`);
    if (initial.length > maxRooms) throw new TypeError(`rooms: ${initial.length} rooms configured, maxRooms is ${maxRooms}`);
    this.names = new Set(initial);
  }

  list(): string[] {
    return [...this.names];
  }

  has(name: string): boolean {
    return this.names.has(name);
  }

  /** The room, opened if it is new; `ChatError` for a bad name or one room too many. */
  open(name: unknown): string {
    if (typeof name !== 'string' || !ROOM_NAME.test(name)) {
      throw new ChatError('CHAT_BAD_ROOM', 'a room name is 1-32 characters of a-z, 0-9 and -, starting with a letter or digit');
    }
    if (!this.names.has(name)) {
      if (this.names.size >= this.maxRooms) throw new ChatError('CHAT_TOO_MANY_ROOMS', `this server holds at most ${this.maxRooms} rooms`);
      this.names.add(name);
    }
    return name;
  }
}
