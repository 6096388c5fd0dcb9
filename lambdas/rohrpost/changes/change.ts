import type { DynamoDBRecord } from 'aws-lambda';
import type { PlainItem } from './attribute-values';
import { toPlainItem } from './attribute-values';
import { updatedFields } from './diff';

export type ChangeType = 'create' | 'update' | 'delete';

/** One item's change, as a hook sees it. */
export interface Change {
  /** The table's label in rohrpost.config.ts. */
  readonly table: string;
  readonly type: ChangeType;
  /** The item after the change; for `delete`, the item as it was. */
  readonly item: PlainItem;
  /** The item before the change, for `update` and `delete`. */
  readonly oldItem?: PlainItem;
  /** The item's key attributes. */
  readonly keys: PlainItem;
  /** For `update`: the sorted names of the top-level attributes that changed. Otherwise empty. */
  readonly updatedFields: readonly string[];
  /** True for a deletion by DynamoDB's TTL. */
  readonly expired: boolean;
}

/**
 * A change that can never be notified, whatever the retries: a group name that is not one, a
 * message too large even as keys. It is dead-lettered at once instead of being retried.
 */
export class UndeliverableChangeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UndeliverableChangeError';
  }
}

const EVENT_TYPES: Record<string, ChangeType> = { INSERT: 'create', MODIFY: 'update', REMOVE: 'delete' };

/** The change a stream record describes. */
export function changeOf(record: DynamoDBRecord, table: string): Change {
  const type = EVENT_TYPES[record.eventName ?? ''];
  const stream = record.dynamodb;
  if (!type || !stream?.Keys) {
    throw new UndeliverableChangeError(`Not a change record: ${record.eventName} ${record.eventID}`);
  }
  const keysImage = stream.Keys;
  const newImage = stream.NewImage ?? keysImage;
  const oldImage = stream.OldImage;
  const identity = record.userIdentity as { type?: string; principalId?: string } | undefined;
  return {
    table,
    type,
    item: toPlainItem(type === 'delete' ? (oldImage ?? keysImage) : newImage),
    ...(oldImage && { oldItem: toPlainItem(oldImage) }),
    keys: toPlainItem(keysImage),
    updatedFields: type === 'update' && oldImage ? updatedFields(oldImage, newImage) : [],
    expired:
      type === 'delete' && identity?.type === 'Service' && identity.principalId === 'dynamodb.amazonaws.com',
  };
}
