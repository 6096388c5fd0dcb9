import type { DynamoDBRecord } from 'aws-lambda';
import type { Change } from '../../lambdas/changes/notification';
import {
  changeOf,
  defineNotificationHooks,
  notificationFor,
  payloadWithin,
} from '../../lambdas/changes/notification';

const ARN = 'arn:aws:dynamodb:us-east-1:123456789012:table/Notes-1A2B/stream/2026-01-01T00:00:00.000';

function record(
  eventName: 'INSERT' | 'MODIFY' | 'REMOVE',
  images: { keys?: object; newImage?: object; oldImage?: object },
  userIdentity?: object,
): DynamoDBRecord {
  return {
    eventID: '1',
    eventName,
    eventSourceARN: ARN,
    dynamodb: {
      Keys: (images.keys ?? { id: { S: 'n1' } }) as never,
      NewImage: images.newImage as never,
      OldImage: images.oldImage as never,
      SequenceNumber: '100',
    },
    ...(userIdentity && { userIdentity }),
  };
}

const created = changeOf(
  record('INSERT', { newImage: { id: { S: 'n1' }, title: { S: 'Hi' }, body: { S: 'text' } } }),
  'Notes',
);
const updated = changeOf(
  record('MODIFY', {
    oldImage: { id: { S: 'n1' }, title: { S: 'Hi' }, body: { S: 'text' } },
    newImage: { id: { S: 'n1' }, title: { S: 'Hello' }, body: { S: 'text' }, tags: { SS: ['x'] } },
  }),
  'Notes',
);
const deleted = changeOf(record('REMOVE', { oldImage: { id: { S: 'n1' }, title: { S: 'Hello' } } }), 'Notes');

describe('changes from stream records', () => {
  test('INSERT, MODIFY and REMOVE are create, update and delete', () => {
    expect(created).toEqual({
      table: 'Notes',
      type: 'create',
      item: { id: 'n1', title: 'Hi', body: 'text' },
      keys: { id: 'n1' },
      updatedFields: [],
      expired: false,
    });
    expect(updated).toMatchObject({
      type: 'update',
      updatedFields: ['tags', 'title'],
      oldItem: { title: 'Hi' },
    });
    expect(deleted).toMatchObject({ type: 'delete', item: { id: 'n1', title: 'Hello' }, expired: false });
  });

  test("a deletion by DynamoDB's TTL is marked expired", () => {
    const ttl = { type: 'Service', principalId: 'dynamodb.amazonaws.com' };
    expect(changeOf(record('REMOVE', { oldImage: { id: { S: 'n1' } } }, ttl), 'Notes').expired).toBe(true);
  });

  test('a stream without images still yields the keys', () => {
    expect(changeOf(record('REMOVE', {}), 'Notes')).toMatchObject({ item: { id: 'n1' }, keys: { id: 'n1' } });
  });
});

describe('the notification for a change (PROTOCOL.md §4)', () => {
  test('the defaults: group <label lower-cased>-<key>, object the keys', () => {
    const notification = notificationFor(created, {})!;
    expect(notification.group).toBe('notes-n1');
    expect(notification.message).toEqual({
      id: expect.any(Number),
      type: 'subscription-update',
      data: { group: 'notes-n1', type: 'create', object: { id: 'n1' } },
    });
  });

  test('a composite key joins its values', () => {
    const change = changeOf(
      record('INSERT', {
        keys: { stream: { S: 'orders' }, seq: { N: '7' } },
        newImage: { stream: { S: 'orders' }, seq: { N: '7' } },
      }),
      'Events',
    );
    expect(notificationFor(change, {})!.group).toBe('events-orders-7');
  });

  test('a template names the group; a projection picks the object', () => {
    const notification = notificationFor(created, {
      group: 'note-{id}-{title}',
      object: ['id', 'title', 'missing'],
    })!;
    expect(notification.message.data).toEqual({
      group: 'note-n1-Hi',
      type: 'create',
      object: { id: 'n1', title: 'Hi' },
    });
  });

  test('hooks win over the rule', () => {
    const hooks = defineNotificationHooks('Notes', {
      group: (change: Change) => `custom-${change.type}`,
      object: (change: Change) => ({ length: String(change.item.body).length }),
    });
    const notification = notificationFor(created, { group: 'note-{id}', object: ['id'] }, hooks)!;
    expect(notification.message.data).toEqual({
      group: 'custom-create',
      type: 'create',
      object: { length: 4 },
    });
  });

  test('an update carries updated_fields, unless the object has that key already', () => {
    expect(notificationFor(updated, { object: ['id'] })!.message.data.object).toEqual({
      id: 'n1',
      updated_fields: ['tags', 'title'],
    });
    const hooks = defineNotificationHooks('Notes', { object: () => ({ updated_fields: 'mine' }) });
    expect(notificationFor(updated, {}, hooks)!.message.data.object).toEqual({ updated_fields: 'mine' });
  });

  test('with alwaysSend off, an update that changes none of the object is not sent', () => {
    expect(notificationFor(updated, { object: ['id', 'body'], alwaysSend: false })).toBeUndefined();
    expect(notificationFor(updated, { object: ['id', 'title'], alwaysSend: false })).toBeDefined();
    expect(notificationFor(updated, { object: ['id', 'body'] })).toBeDefined();
    expect(notificationFor(created, { object: ['body'], alwaysSend: false })).toBeDefined();
  });

  test('TTL expiries are sent by default and can be skipped', () => {
    const expired = { ...deleted, expired: true };
    expect(notificationFor(expired, {})?.message.data.type).toBe('delete');
    expect(notificationFor(expired, { expiredItems: 'skip' })).toBeUndefined();
    expect(notificationFor(deleted, { expiredItems: 'skip' })).toBeDefined();
  });

  test('a template attribute the item lacks is an error that names it', () => {
    expect(() => notificationFor(created, { group: 'note-{author}' })).toThrow(
      `The group template 'note-{author}' of table 'Notes' needs the attribute 'author' as a string or number; item {"id":"n1"} has undefined.`,
    );
  });

  test('a hook that names no group is an error', () => {
    const hooks = defineNotificationHooks('Notes', { group: () => '' });
    expect(() => notificationFor(created, {}, hooks)).toThrow('must be a non-empty string');
  });

  test('every member gets the same message id, a fresh one per notification', () => {
    const first = notificationFor(created, {})!.message.id;
    const second = notificationFor(created, {})!.message.id;
    expect(Number.isSafeInteger(first) && first > 0).toBe(true);
    expect(first).not.toBe(second);
  });
});

describe('the payload limit', () => {
  const big = changeOf(
    record('MODIFY', {
      oldImage: { id: { S: 'n1' }, body: { S: 'short' } },
      newImage: { id: { S: 'n1' }, body: { S: 'x'.repeat(2_000) } },
    }),
    'Notes',
  );
  const notification = notificationFor(big, { object: ['id', 'body'] })!;

  test('a message within the limit is sent whole', () => {
    const { payload, reduced } = payloadWithin(notification, big, 10_000);
    expect(reduced).toBe(false);
    expect(JSON.parse(payload)).toEqual(notification.message);
  });

  test('a larger one is sent with the keys and the updated fields: "changed, refetch"', () => {
    const { payload, reduced, fullBytes } = payloadWithin(notification, big, 1_000);
    expect(reduced).toBe(true);
    expect(fullBytes).toBeGreaterThan(2_000);
    expect(JSON.parse(payload)).toEqual({
      ...notification.message,
      data: { ...notification.message.data, object: { id: 'n1', updated_fields: ['body'] } },
    });
  });

  test('when even that is too large, the keys alone', () => {
    const many = { ...big, updatedFields: Array.from({ length: 200 }, (_, i) => `field${i}`) };
    const { payload } = payloadWithin(notification, many, 1_000);
    expect((JSON.parse(payload) as { data: { object: unknown } }).data.object).toEqual({ id: 'n1' });
  });

  test('when nothing fits, it is an error rather than a silent drop', () => {
    expect(() => payloadWithin(notification, big, 50)).toThrow('exceeds 50 bytes even with keys only');
  });
});
