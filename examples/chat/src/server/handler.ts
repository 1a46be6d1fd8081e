import type { HandlerContext, Json, LifelineServer } from '@lifeline/server';
import {
  CLIENT_MSG_ID,
  roomChannel,
  typingChannel,
  type ChatLine,
  type JoinResult,
  type MemberIdentity,
  type RoomSummary,
  type TypingNotice,
} from '../shared/protocol.js';
import { ChatError, RateLimiter } from './limits.js';
import type { Rooms } from './rooms.js';
import type { ResolvedChatOptions } from './options.js';

/** The user name `authenticate` gave this session. */
export function userOf(ctx: Pick<HandlerContext, 'session'>): string {
  return (ctx.session.identity as MemberIdentity).user;
}

/**
 * The server's handler: every request of the page comes here once, in the order the page sent
 * it (guarantee 1), and every chat line is published by it — a client cannot publish itself.
 */
export function chatHandler(server: LifelineServer, rooms: Rooms, o: ResolvedChatOptions) {
  const says = new RateLimiter(o.rate);
  const typings = new RateLimiter(o.typingRate);

  async function join(room: string): Promise<JoinResult> {
    const channel = roomChannel(room);
    const { offset, epoch } = await server.history(channel, { limit: 0 });
    // The oldest line worth showing: `historyOnJoin` back, or the oldest the history still keeps.
    const wanted = Math.max(0, offset - o.historyOnJoin);
    const page = await server.history(channel, { since: wanted, limit: 1 });
    const first = page.epoch === epoch ? page.publications[0]?.offset : undefined;
    return { room, epoch, offset, from: first === undefined ? offset : first - 1 };
  }

  async function list(): Promise<{ rooms: RoomSummary[] }> {
    const rooms_ = await Promise.all(
      rooms.list().map(async (name) => {
        const members = await server.presence(roomChannel(name));
        return { name, members: new Set(members.map((m) => (m.identity as MemberIdentity | undefined)?.user)).size };
      }),
    );
    return { rooms: rooms_ };
  }

  async function say(user: string, request: Record<string, unknown>): Promise<{ offset: number }> {
    const room = rooms.open(request.room);
    const { text, clientMsgId } = request;
    if (typeof clientMsgId !== 'string' || !CLIENT_MSG_ID.test(clientMsgId)) {
      throw new ChatError('CHAT_BAD_REQUEST', 'clientMsgId must be 1-64 characters of A-Z a-z 0-9 _ -');
    }
    if (typeof text !== 'string' || text.trim() === '') throw new ChatError('CHAT_EMPTY_TEXT', 'a line needs some text');
    // Counted in code points, as a user counts characters (an emoji is one).
    const length = [...text].length;
    if (length > o.maxTextLength) throw new ChatError('CHAT_TEXT_TOO_LONG', `a line is at most ${o.maxTextLength} characters, this one has ${length}`);
    if (!says.take(user)) {
      throw new ChatError('CHAT_RATE_LIMITED', `too many lines: ${o.rate.burst} at once, then ${o.rate.perSecond}/s; wait ${says.waitSeconds(user)} s`);
    }
    const line: ChatLine = { user, text: text.trim(), clientMsgId };
    // The handler runs once per message id; the publish id also makes a line re-sent under a new
    // session (after `session-lost`, guarantee 3) land once while it is in the history.
    const { offset } = await server.publish(roomChannel(room), line as unknown as Json, { id: `${user}/${clientMsgId}` });
    return { offset };
  }

  async function typing(user: string, request: Record<string, unknown>): Promise<{ shown: boolean }> {
    const room = rooms.open(request.room);
    // Best effort: a notice over the rate is dropped, not an error.
    if (!typings.take(user)) return { shown: false };
    const notice: TypingNotice = { user };
    await server.publish(typingChannel(room), notice as unknown as Json);
    return { shown: true };
  }

  return async (data: Json, ctx: HandlerContext): Promise<unknown> => {
    if (typeof data !== 'object' || data === null || Array.isArray(data)) throw new ChatError('CHAT_BAD_REQUEST', 'a request is an object with an op');
    const request = data as Record<string, unknown>;
    switch (request.op) {
      case 'rooms':
        return list();
      case 'join':
        return join(rooms.open(request.room));
      case 'say':
        return say(userOf(ctx), request);
      case 'typing':
        return typing(userOf(ctx), request);
      default:
        throw new ChatError('CHAT_BAD_REQUEST', `unknown op ${JSON.stringify(String(request.op)).slice(0, 40)}`);
    }
  };
}
