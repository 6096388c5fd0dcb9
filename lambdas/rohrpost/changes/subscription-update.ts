import { nodeCrypto } from '../protocol/node-crypto';
import type { GroupPosition } from '../protocol/position';
import { EPOCH_LENGTH } from '../protocol/position';
import type { Change } from './change';
import { UndeliverableChangeError } from './change';
import type { Notice } from './notices';

/** The message every member of a group receives (PROTOCOL.md §4). */
export interface SubscriptionUpdate {
  readonly id: number;
  readonly type: 'subscription-update';
  readonly data: Notice & { readonly seq?: number; readonly epoch?: string };
}

const ID_RANGE = 2 ** 48 - 1;

/**
 * The id of a stream record's message to a group: a positive integer derived from the record
 * and the group, so that a retried record sends the very same message and clients can drop
 * the duplicate.
 */
export function notificationId(recordId: string, group: string): number {
  const digest = nodeCrypto().createHash('sha256').update(recordId).update('\0').update(group).digest();
  return (digest.readUIntBE(0, 6) % ID_RANGE) + 1;
}

/** The message for a notice, with its place in the group's history when the group keeps one. */
export function subscriptionUpdate(notice: Notice, id: number, position?: GroupPosition): SubscriptionUpdate {
  const { group, type, object } = notice;
  return {
    id,
    type: 'subscription-update',
    data: position
      ? { group, type, object, seq: position.seq, epoch: position.epoch }
      : { group, type, object },
  };
}

/** The largest id and position a message can carry: a notice that fits with them fits with any. */
const WIDEST_POSITION: GroupPosition = { epoch: 'x'.repeat(EPOCH_LENGTH), seq: Number.MAX_SAFE_INTEGER };

export interface FittedNotice {
  readonly notice: Notice;
  /** The object was reduced to the keys ("changed, refetch"). */
  readonly reduced: boolean;
  /** The size of the message with the whole object. */
  readonly fullBytes: number;
}

/**
 * The notice, its object reduced to the keys (plus `updated_fields` on updates) when its message
 * would exceed `limitBytes`. A notice that does not fit even then can never be sent.
 */
export function fitNotice(notice: Notice, change: Change, limitBytes: number): FittedNotice {
  const size = (candidate: Notice) =>
    Buffer.byteLength(JSON.stringify(subscriptionUpdate(candidate, ID_RANGE, WIDEST_POSITION)));
  const fullBytes = size(notice);
  if (fullBytes <= limitBytes) return { notice, reduced: false, fullBytes };
  const smaller = [
    notice.type === 'update' ? { ...change.keys, updated_fields: change.updatedFields } : undefined,
    change.keys,
  ];
  for (const object of smaller) {
    if (!object) continue;
    const reduced = { ...notice, object };
    if (size(reduced) <= limitBytes) return { notice: reduced, reduced: true, fullBytes };
  }
  throw new UndeliverableChangeError(
    `The notification for ${JSON.stringify(change.keys)} exceeds ${limitBytes} bytes even with keys only.`,
  );
}
