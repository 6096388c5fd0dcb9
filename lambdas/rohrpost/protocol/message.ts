import { nodeCrypto } from './node-crypto';

/** Any value JSON can carry. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** The parts of a rohrpost message; every part is optional (PROTOCOL.md §3). */
export interface MessageParts {
  /** Correlates a reply with its request. `undefined` generates a random id (server-initiated message). */
  id?: unknown;
  /** The message type; omitted from the message when empty. */
  type?: unknown;
  /** Present only on errors: a string or a structured value. */
  error?: unknown;
  /** The payload; omitted when absent, `null` or an empty object. */
  data?: unknown;
}

/** A message as it goes on the wire, keys in protocol order. */
export interface Message {
  id: unknown;
  type?: unknown;
  error?: unknown;
  data?: unknown;
}

const LARGEST_GENERATED_ID = 2 ** 47;

/** A random positive integer, the id of a server-initiated message. */
export function generateMessageId(): number {
  return nodeCrypto().randomInt(1, LARGEST_GENERATED_ID);
}

/**
 * Builds a message with the original rohrpost's rules, except that every given id is kept,
 * falsy ones (`0`, `false`, `null`) included, so that clients can always correlate.
 */
export function buildMessage(parts: MessageParts): Message {
  const message: Message = { id: parts.id === undefined ? generateMessageId() : parts.id };
  if (parts.type !== undefined && parts.type !== null && parts.type !== '') message.type = parts.type;
  if (parts.error !== undefined && parts.error !== null) message.error = parts.error;
  if (!isEmptyData(parts.data)) message.data = parts.data;
  return message;
}

/** An error reply to a frame that is not a usable request: it has only `error`. */
export function buildProtocolError(error: string): string {
  return JSON.stringify({ error });
}

function isEmptyData(data: unknown): boolean {
  if (data === undefined || data === null) return true;
  if (typeof data !== 'object' || Array.isArray(data)) return false;
  for (const _key in data) return false;
  return true;
}
