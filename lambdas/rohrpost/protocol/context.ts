import type { MessageParts } from './message';
import type { GroupPosition } from './position';
import type { AuthorizerContext, WebSocketRequestContext } from './websocket-event';

/** What became of a message sent to a group. */
export interface FanOutResult {
  /** Members the message was posted to, gone ones included. */
  readonly members: number;
  readonly delivered: number;
  /** Members whose connection was gone; they were removed from all their groups. */
  readonly gone: number;
}

export interface SendOptions {
  /** Close the connection after this message. @default false */
  close?: boolean;
}

export interface ReplyOptions extends SendOptions {
  /** The reply's type. @default the request's type */
  type?: string;
}

export interface ErrorReplyOptions extends ReplyOptions {
  /** Data to carry beside the error. @default none */
  data?: unknown;
}

export interface JoinOptions {
  /**
   * The position the client's copy of the group is at, from its last subscribe reply or
   * subscription-update: the messages it missed since are sent to this connection, oldest
   * first, before the handler's reply. @default nothing is recovered
   */
  readonly since?: GroupPosition;
}

export interface JoinResult {
  /** The group's position as the connection joined; later messages have higher seqs. @default absent when groups keep no history */
  readonly position?: GroupPosition;
  /** With `since`: whether every message after it was sent; when not, the client must refetch. */
  readonly recovered?: boolean;
}

/** The calling connection's groups. */
export interface GroupOperations {
  /**
   * Adds this connection to the group (one DynamoDB write, and one read of the group's
   * position); joining twice is the same as once.
   */
  join(group: string, options?: JoinOptions): Promise<JoinResult>;
  /** Removes this connection from the group (one DynamoDB write). */
  leave(group: string): Promise<void>;
  /**
   * Sends a message to every member of a group, this connection too if it is one (the
   * original's `send_to_group`); a message without `id` gets a random one.
   */
  send(group: string, message: MessageParts): Promise<FanOutResult>;
}

/**
 * The function's structured logger (Powertools' Logger): a JSON line with the fields given,
 * the request id, the connection and the message type.
 */
export interface HandlerLogger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

/** What a handler gets besides the request: who is calling, and how to answer. */
export interface HandlerContext {
  /** API Gateway's id of the calling connection. */
  readonly connectionId: string;
  /** What the `$connect` authorizer returned for this connection; empty without one. */
  readonly identity: AuthorizerContext;
  /** API Gateway's request context of this message, unchanged. */
  readonly requestContext: WebSocketRequestContext;
  /**
   * Sends a message on this connection (the original's `send_message`); a message without `id`
   * gets a random one. Messages arrive in the order they are sent.
   */
  send(message: MessageParts, options?: SendOptions): void;
  /** Answers the request: its id, its type (or `options.type`) and `data` (`send_success`). */
  reply(data?: unknown, options?: ReplyOptions): void;
  /** Answers the request with an error (`send_error`). Throwing a `HandlerError` does the same. */
  replyError(error: unknown, options?: ErrorReplyOptions): void;
  /** Joining, leaving and sending to groups. */
  readonly groups: GroupOperations;
  /** Where the handler logs; its lines carry the request id, the connection and the message type. */
  readonly logger: HandlerLogger;
}
