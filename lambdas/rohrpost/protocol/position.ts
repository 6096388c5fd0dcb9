import { nodeCrypto } from './node-crypto';

/**
 * A place in a group's history: the `seq` of a message (or of the latest one) and the `epoch`
 * that `seq` counts in. A new epoch means the group's history was lost and counting restarted.
 */
export interface GroupPosition {
  readonly epoch: string;
  readonly seq: number;
}

/** Length of every epoch: 8 characters of base64url, 48 random bits. */
export const EPOCH_LENGTH = 8;

/** A fresh epoch, for a group whose history starts (again). */
export function newEpoch(): string {
  return nodeCrypto().randomBytes(6).toString('base64url');
}

export const SINCE_ERROR =
  'Field \'since\' must be {"epoch": "<epoch>", "seq": <seq>}, as the last subscribe reply or subscription-update of the group gave them.';

/** The `since` of a subscribe request: a position, `undefined` when absent (or null), else `Error`. */
export function parseSince(value: unknown): GroupPosition | undefined | Error {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'object' || Array.isArray(value)) return new Error(SINCE_ERROR);
  const { epoch, seq } = value as Record<string, unknown>;
  if (typeof epoch !== 'string' || epoch === '' || epoch.length > 64) return new Error(SINCE_ERROR);
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 0) return new Error(SINCE_ERROR);
  return { epoch, seq };
}
