/*
 * What the page and the server say to each other over `client.send()`, and the names both check.
 * The page imports this file too: one definition of a valid room, user and line.
 */

/** A room name: lower-case letters, digits and dashes, 1–32 characters (its channel is `room:<name>`). */
export const ROOM_NAME = /^[a-z0-9][a-z0-9-]{0,31}$/;
/** A user name, the identity `authenticate` accepts: 1–24 of A–Z a–z 0–9 _ -. */
export const USER_NAME = /^[A-Za-z0-9_-]{1,24}$/;
/** A client's id for one line: what makes a re-sent line publish once. */
export const CLIENT_MSG_ID = /^[A-Za-z0-9_-]{1,64}$/;

export const roomChannel = (room: string): string => `room:${room}`;
export const typingChannel = (room: string): string => `typing:${room}`;

/** What the page sends (`client.send(request)`); the server's handler answers each. */
export type ChatRequest =
  | { readonly op: 'rooms' }
  | { readonly op: 'join'; readonly room: string }
  | { readonly op: 'say'; readonly room: string; readonly text: string; readonly clientMsgId: string }
  | { readonly op: 'typing'; readonly room: string };

export interface RoomSummary {
  readonly name: string;
  /** Distinct user names present in the room. */
  readonly members: number;
}

/** The answer to `join`: subscribe to the room from `from` in `epoch` to get its history, then live. */
export interface JoinResult {
  readonly room: string;
  readonly epoch: string;
  /** The room's latest offset when the server answered. */
  readonly offset: number;
  /** Subscribe `since: { offset: from, epoch }`: up to `historyOnJoin` lines before `offset` come first. */
  readonly from: number;
}

/** One chat line as published to `room:<name>`. */
export interface ChatLine {
  readonly user: string;
  readonly text: string;
  readonly clientMsgId: string;
}

/** One typing notice as published to `typing:<name>`. */
export interface TypingNotice {
  readonly user: string;
}

/** What the member's `identity` in presence holds (the server's `channels.presence`). */
export interface MemberIdentity {
  readonly user: string;
}

/** The `code` of an error the handler throws: the client sees it as `RemoteError.remoteCode`. */
export const ChatErrorCode = {
  BadRequest: 'CHAT_BAD_REQUEST',
  BadRoom: 'CHAT_BAD_ROOM',
  TooManyRooms: 'CHAT_TOO_MANY_ROOMS',
  EmptyText: 'CHAT_EMPTY_TEXT',
  TextTooLong: 'CHAT_TEXT_TOO_LONG',
  RateLimited: 'CHAT_RATE_LIMITED',
} as const;
export type ChatErrorCode = (typeof ChatErrorCode)[keyof typeof ChatErrorCode];
