import type { DynamoDBRecord } from 'aws-lambda';
import type { Change } from '../../lambdas/rohrpost/changes/change';
import { changeOf, UndeliverableChangeError } from '../../lambdas/rohrpost/changes/change';
import type { Notice } from '../../lambdas/rohrpost/changes/notices';
import type { ChangeNotices } from '../../lambdas/rohrpost/changes/notices';
import { defineNotificationHooks, noticesFor } from '../../lambdas/rohrpost/changes/notices';
import {
  fitNotice,
  notificationId,
  subscriptionUpdate,
} from '../../lambdas/rohrpost/changes/subscription-update';
import { EPOCH_LENGTH, newEpoch } from '../../lambdas/rohrpost/protocol/position';

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

/** The notices of a change that names no impossible group. */
function notices(...args: Parameters<typeof noticesFor>) {
  const { notices: sent, undeliverable } = noticesFor(...args);
  expect(undeliverable).toEqual([]);
  return sent;
}

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

describe('what each group hears of a change (PROTOCOL.md §4)', () => {
  const only = (notices: Notice[]) => {
    expect(notices).toHaveLength(1);
    return notices[0]!;
  };

  test('the defaults: group <label lower-cased>-<key>, object the keys', () => {
    expect(notices(created, {})).toEqual([{ group: 'notes-n1', type: 'create', object: { id: 'n1' } }]);
  });

  test('a composite key joins its values', () => {
    const change = changeOf(
      record('INSERT', {
        keys: { stream: { S: 'orders' }, seq: { N: '7' } },
        newImage: { stream: { S: 'orders' }, seq: { N: '7' } },
      }),
      'Events',
    );
    expect(only(notices(change, {})).group).toBe('events-orders-7');
  });

  test('a template names the group; a projection picks the object', () => {
    expect(notices(created, { group: 'note-{id}-{title}', object: ['id', 'title', 'missing'] })).toEqual([
      { group: 'note-n1-Hi', type: 'create', object: { id: 'n1', title: 'Hi' } },
    ]);
  });

  test('several templates notify several groups, each once', () => {
    expect(
      notices(created, { group: ['note-{id}', 'titled-{title}', 'note-{id}'] }).map((n) => n.group),
    ).toEqual(['note-n1', 'titled-Hi']);
  });

  test('a name without placeholders is a group that every change notifies', () => {
    const rule = { group: ['note-{id}', 'notes-all'] };
    expect(notices(created, rule).map((n) => `${n.type} ${n.group}`)).toEqual([
      'create note-n1',
      'create notes-all',
    ]);
    expect(notices(updated, rule).map((n) => `${n.type} ${n.group}`)).toEqual([
      'update note-n1',
      'update notes-all',
    ]);
    expect(notices(deleted, rule).map((n) => `${n.type} ${n.group}`)).toEqual([
      'delete note-n1',
      'delete notes-all',
    ]);
  });

  test('a template whose attribute the item lacks names no group', () => {
    expect(notices(created, { group: ['note-{id}', 'board-{board}'] }).map((n) => n.group)).toEqual([
      'note-n1',
    ]);
    expect(notices(created, { group: 'board-{board}' })).toEqual([]);
  });

  test('hooks win over the rule, and may name several groups', () => {
    const hooks = defineNotificationHooks('Notes', {
      group: (change: Change) => [`custom-${change.type}`, 'all'],
      object: (change: Change) => ({ length: String(change.item.body).length }),
    });
    expect(notices(created, { group: 'note-{id}', object: ['id'] }, hooks)).toEqual([
      { group: 'custom-create', type: 'create', object: { length: 4 } },
      { group: 'all', type: 'create', object: { length: 4 } },
    ]);
  });

  test('an update carries updated_fields, unless the object has that key already', () => {
    expect(only(notices(updated, { object: ['id'] })).object).toEqual({
      id: 'n1',
      updated_fields: ['tags', 'title'],
    });
    const hooks = defineNotificationHooks('Notes', { object: () => ({ updated_fields: 'mine' }) });
    expect(only(notices(updated, {}, hooks)).object).toEqual({ updated_fields: 'mine' });
  });

  test('with alwaysSend off, an update that changes none of the object is not sent', () => {
    expect(notices(updated, { object: ['id', 'body'], alwaysSend: false })).toEqual([]);
    expect(notices(updated, { object: ['id', 'title'], alwaysSend: false })).toHaveLength(1);
    expect(notices(updated, { object: ['id', 'body'] })).toHaveLength(1);
    expect(notices(created, { object: ['body'], alwaysSend: false })).toHaveLength(1);
  });

  test('TTL expiries are sent by default and can be skipped', () => {
    const expired = { ...deleted, expired: true };
    expect(only(notices(expired, {})).type).toBe('delete');
    expect(notices(expired, { expiredItems: 'skip' })).toEqual([]);
    expect(notices(deleted, { expiredItems: 'skip' })).toHaveLength(1);
  });

  describe('an update that moves an item between groups', () => {
    const moved = changeOf(
      record('MODIFY', {
        oldImage: { id: { S: 'n1' }, board: { S: 'a' }, title: { S: 'Hi' } },
        newImage: { id: { S: 'n1' }, board: { S: 'b' }, title: { S: 'Hi' } },
      }),
      'Notes',
    );
    const rule = { group: ['note-{id}', 'board-{board}'], object: ['id', 'board'], alwaysSend: false };

    test('is an update where it stays, a create where it arrives and a delete where it left', () => {
      expect(notices(moved, rule)).toEqual([
        { group: 'note-n1', type: 'update', object: { id: 'n1', board: 'b', updated_fields: ['board'] } },
        { group: 'board-b', type: 'create', object: { id: 'n1', board: 'b' } },
        { group: 'board-a', type: 'delete', object: { id: 'n1', board: 'a' } },
      ]);
    });

    test('the group it left hears of it even when alwaysSend would skip the update', () => {
      const titleOnly = { group: 'board-{board}', object: ['title'], alwaysSend: false };
      expect(notices(moved, titleOnly).map(({ group, type }) => `${type} ${group}`)).toEqual([
        'create board-b',
        'delete board-a',
      ]);
    });

    test('an item that joins its first group is a create there; one that leaves its last, a delete', () => {
      const [joins, leaves] = [
        { oldImage: { id: { S: 'n1' } }, newImage: { id: { S: 'n1' }, board: { S: 'a' } } },
        { oldImage: { id: { S: 'n1' }, board: { S: 'a' } }, newImage: { id: { S: 'n1' } } },
      ].map((images) => changeOf(record('MODIFY', images), 'Notes'));
      expect(notices(joins!, { group: 'board-{board}' })).toEqual([
        { group: 'board-a', type: 'create', object: { id: 'n1' } },
      ]);
      expect(notices(leaves!, { group: 'board-{board}' })).toEqual([
        { group: 'board-a', type: 'delete', object: { id: 'n1' } },
      ]);
    });

    test('a group hook runs for the item after and before the change', () => {
      const seen: unknown[] = [];
      const hooks = defineNotificationHooks('Notes', {
        group: (change: Change) => (seen.push(change.item.board), `board-${String(change.item.board)}`),
      });
      expect(notices(moved, {}, hooks).map((n) => `${n.type} ${n.group}`)).toEqual([
        'create board-b',
        'delete board-a',
      ]);
      expect(seen).toEqual(['b', 'a']);
    });
  });

  describe('groups that can never be sent to', () => {
    const long = changeOf(
      record('INSERT', {
        keys: { id: { S: 'x'.repeat(1_100) } },
        newImage: { id: { S: 'x'.repeat(1_100) } },
      }),
      'Notes',
    );
    test.each<[string, () => ChangeNotices, string]>([
      [
        'a hook that names an empty group',
        () => noticesFor(created, {}, defineNotificationHooks('Notes', { group: () => ['', 'notes-all'] })),
        'A group name is a non-empty string, not "".',
      ],
      [
        'a group name over 1,024 bytes',
        () => noticesFor(long, { group: ['note-{id}', 'notes-all'] }),
        'A group name has at most 1024 bytes; this one has 1105.',
      ],
      [
        'a template attribute that is not a string or number',
        () =>
          noticesFor(
            changeOf(record('INSERT', { newImage: { id: { S: 'n1' }, board: { M: {} } } }), 'Notes'),
            { group: ['board-{board}', 'notes-all'] },
          ),
        "needs the attribute 'board' as a string or number",
      ],
    ])('%s is set apart, and the other groups still hear of the change', (_name, notify, message) => {
      const { notices: sent, undeliverable } = notify();
      expect(sent.map((notice) => notice.group)).toEqual(['notes-all']);
      expect(undeliverable).toEqual([
        { group: expect.any(String), reason: expect.stringContaining(message) },
      ]);
    });

    test('a hook that returns no group names makes the whole change undeliverable', () => {
      const notify = () =>
        noticesFor(created, {}, defineNotificationHooks('Notes', { group: () => 5 as never }));
      expect(notify).toThrow(UndeliverableChangeError);
      expect(notify).toThrow('must return a group name or a list of them, not 5');
    });

    test('an update whose old item named an impossible group reports it once', () => {
      const update = changeOf(
        record('MODIFY', {
          oldImage: { id: { S: 'n1' }, board: { M: {} } },
          newImage: { id: { S: 'n1' }, board: { M: {} }, title: { S: 'x' } },
        }),
        'Notes',
      );
      const { notices: sent, undeliverable } = noticesFor(update, { group: ['board-{board}', 'notes-all'] });
      expect(sent.map((notice) => `${notice.type} ${notice.group}`)).toEqual(['update notes-all']);
      expect(undeliverable.map((problem) => problem.group)).toEqual(['board-{board}']);
    });
  });
});

describe('the message for a notice', () => {
  const notice: Notice = {
    group: 'note-n1',
    type: 'update',
    object: { id: 'n1', updated_fields: ['title'] },
  };

  test("carries its place in the group's history in data, after the object", () => {
    expect(JSON.stringify(subscriptionUpdate(notice, 7, { epoch: 'AbCdEfGh', seq: 12 }))).toBe(
      '{"id":7,"type":"subscription-update","data":{"group":"note-n1","type":"update","object":{"id":"n1","updated_fields":["title"]},"seq":12,"epoch":"AbCdEfGh"}}',
    );
    expect(subscriptionUpdate(notice, 7).data).toEqual(notice);
  });

  test('its id is derived from the record and the group: the same on every attempt', () => {
    const id = notificationId('record-1', 'note-n1');
    expect(notificationId('record-1', 'note-n1')).toBe(id);
    expect(Number.isSafeInteger(id) && id > 0 && id <= 2 ** 48).toBe(true);
    expect(notificationId('record-1', 'board-a')).not.toBe(id);
    expect(notificationId('record-2', 'note-n1')).not.toBe(id);
  });

  test('epochs are random and of one length', () => {
    const epochs = new Set(Array.from({ length: 100 }, newEpoch));
    expect(epochs.size).toBe(100);
    for (const epoch of epochs) expect(epoch).toMatch(new RegExp(`^[A-Za-z0-9_-]{${EPOCH_LENGTH}}$`));
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
  const notice = noticesFor(big, { object: ['id', 'body'] }).notices[0]!;
  const widest = (fitted: Notice) =>
    Buffer.byteLength(
      JSON.stringify(
        subscriptionUpdate(fitted, 2 ** 48, { epoch: newEpoch(), seq: Number.MAX_SAFE_INTEGER }),
      ),
    );

  test('a message within the limit is sent whole', () => {
    expect(fitNotice(notice, big, 10_000)).toEqual({ notice, reduced: false, fullBytes: widest(notice) });
  });

  test('a larger one is sent with the keys and the updated fields: "changed, refetch"', () => {
    const { notice: fitted, reduced, fullBytes } = fitNotice(notice, big, 1_000);
    expect(reduced).toBe(true);
    expect(fullBytes).toBeGreaterThan(2_000);
    expect(fitted).toEqual({ ...notice, object: { id: 'n1', updated_fields: ['body'] } });
  });

  test('the limit holds whatever the seq and epoch the message gets', () => {
    const limit = widest({ ...notice, object: { id: 'n1', updated_fields: ['body'] } });
    expect(fitNotice(notice, big, limit).notice.object).toEqual({ id: 'n1', updated_fields: ['body'] });
    expect(fitNotice(notice, big, limit - 1).notice.object).toEqual({ id: 'n1' });
  });

  test('when even that is too large, the keys alone', () => {
    const many = { ...big, updatedFields: Array.from({ length: 200 }, (_, i) => `field${i}`) };
    expect(fitNotice(notice, many, 1_000).notice.object).toEqual({ id: 'n1' });
  });

  test('when nothing fits, the change can never be notified', () => {
    expect(() => fitNotice(notice, big, 50)).toThrow(UndeliverableChangeError);
    expect(() => fitNotice(notice, big, 50)).toThrow('exceeds 50 bytes even with keys only');
  });
});
