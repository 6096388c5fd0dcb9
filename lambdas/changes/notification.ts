import type { DynamoDBRecord } from 'aws-lambda';
import type { NotificationRule } from '../config';
import { generateMessageId } from '../protocol/message';
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

/** Code that decides a table's group and object; it takes precedence over the rule's template and list. */
export interface NotificationHooks {
  /** The table's label in rohrpost.config.ts. */
  readonly table: string;
  /** The group to notify. */
  readonly group?: (change: Change) => string;
  /** What the message carries as `object`. */
  readonly object?: (change: Change) => unknown;
}

/** Declares the hooks of one table; a module in lambdas/notification-hooks/ exports the result. */
export function defineNotificationHooks(
  table: string,
  hooks: Omit<NotificationHooks, 'table'>,
): NotificationHooks {
  return Object.freeze({ table, ...hooks });
}

/** The message every member of a group receives (PROTOCOL.md §4). */
export interface SubscriptionUpdate {
  readonly id: number;
  readonly type: 'subscription-update';
  readonly data: { readonly group: string; readonly type: ChangeType; readonly object: unknown };
}

export interface Notification {
  readonly group: string;
  readonly message: SubscriptionUpdate;
}

const EVENT_TYPES: Record<string, ChangeType> = { INSERT: 'create', MODIFY: 'update', REMOVE: 'delete' };

/** The change a stream record describes. */
export function changeOf(record: DynamoDBRecord, table: string): Change {
  const type = EVENT_TYPES[record.eventName ?? ''];
  const stream = record.dynamodb;
  if (!type || !stream?.Keys) throw new Error(`Not a change record: ${record.eventName} ${record.eventID}`);
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

/**
 * The notification for a change, or `undefined` when the rule says to send nothing. The group
 * and the object each come from the most specific source: the hook, then the rule, then the
 * defaults (`<label>-<key>` and the key attributes).
 */
export function notificationFor(
  change: Change,
  rule: NotificationRule,
  hooks?: NotificationHooks,
): Notification | undefined {
  if (change.expired && rule.expiredItems === 'skip') return undefined;
  const group = hooks?.group ? hooks.group(change) : groupName(change, rule.group);
  if (typeof group !== 'string' || group === '') {
    throw new Error(
      `The group of a change to table '${change.table}' must be a non-empty string, not ${JSON.stringify(group)}.`,
    );
  }
  let object = hooks?.object
    ? hooks.object(change)
    : rule.object
      ? project(change.item, rule.object)
      : change.keys;
  if (change.type === 'update' && isPlainObject(object)) {
    const sent = Object.keys(object);
    if (rule.alwaysSend === false && !change.updatedFields.some((field) => sent.includes(field)))
      return undefined;
    if (!('updated_fields' in object)) object = { ...object, updated_fields: change.updatedFields };
  }
  return {
    group,
    message: {
      id: generateMessageId(),
      type: 'subscription-update',
      data: { group, type: change.type, object },
    },
  };
}

/** The notification's wire form, reduced to the keys ("changed, refetch") when it is over `limitBytes`. */
export function payloadWithin(
  notification: Notification,
  change: Change,
  limitBytes: number,
): { readonly payload: string; readonly reduced: boolean; readonly fullBytes: number } {
  const payload = JSON.stringify(notification.message);
  const fullBytes = Buffer.byteLength(payload);
  if (fullBytes <= limitBytes) return { payload, reduced: false, fullBytes };
  const smaller = [
    change.type === 'update' ? { ...change.keys, updated_fields: change.updatedFields } : undefined,
    change.keys,
  ];
  for (const object of smaller) {
    if (!object) continue;
    const reduced = JSON.stringify({
      ...notification.message,
      data: { ...notification.message.data, object },
    });
    if (Buffer.byteLength(reduced) <= limitBytes) return { payload: reduced, reduced: true, fullBytes };
  }
  throw new Error(
    `The notification for ${JSON.stringify(change.keys)} exceeds ${limitBytes} bytes even with keys only.`,
  );
}

function groupName(change: Change, template: string | undefined): string {
  if (template === undefined) {
    const key = Object.values(change.keys).map(String).join('-');
    return `${change.table.toLowerCase()}-${key}`;
  }
  return template.replace(/\{([^{}]+)\}/g, (_placeholder, name: string) => {
    const value = change.item[name];
    if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
      throw new Error(
        `The group template '${template}' of table '${change.table}' needs the attribute '${name}' as a ` +
          `string or number; item ${JSON.stringify(change.keys)} has ${JSON.stringify(value)}.`,
      );
    }
    return String(value);
  });
}

function project(item: PlainItem, names: readonly string[]): PlainItem {
  const object: PlainItem = {};
  for (const name of names) if (name in item) object[name] = item[name];
  return object;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
