import type { AuthorizeSubscription } from '../../lambdas/rohrpost';
import { createWebSocketHandler, HandlerError, subscriptionHandlers } from '../../lambdas/rohrpost';
import { defaultGroupName } from '../../lambdas/rohrpost/runtime/subscriptions';
import type { MembershipStore } from '../../lambdas/rohrpost/storage/membership';
import { roundTrip } from '../support/events';
import { recordingLogger } from '../support/recording-logger';

/** A store that fails the test if a refused subscription ever reaches it. */
const untouchable: MembershipStore = {
  join: () => Promise.reject(new Error('a refused subscription must not join')),
  leave: () => Promise.reject(new Error('not expected')),
  leaveAll: () => Promise.reject(new Error('not expected')),
  members: () => {
    throw new Error('not expected');
  },
};

const handlerWith = (authorize?: AuthorizeSubscription) =>
  createWebSocketHandler({ handlers: [subscriptionHandlers({ authorize })], membership: () => untouchable });

describe('subscribe refusals', () => {
  test('without an authorization function, every subscription is refused', async () => {
    const reply = await roundTrip(
      handlerWith(),
      '{"id": 4, "type": "subscribe", "auth_jwt": "t", "data": {"type": "note", "id": 1}}',
    );
    expect(reply).toBe('{"id":4,"type":"subscribe","error":"Not allowed to subscribe to this group."}');
  });

  test('a refusal tells the developer, in the log, where the authorize function that refused is', async () => {
    const logger = recordingLogger();
    const handler = createWebSocketHandler({
      handlers: [subscriptionHandlers({ authorize: () => undefined })],
      membership: () => untouchable,
      logger,
    });
    await roundTrip(handler, '{"id": 5, "type": "subscribe", "data": {"type": "todo", "id": 1}}');
    expect(logger.entries).toEqual([
      {
        level: 'info',
        message: 'Subscription refused: the authorize function of subscriptionHandlers returned no group',
        fields: {
          group: { type: 'todo', id: 1 },
          defaultName: 'todo-1',
          definedIn: expect.stringMatching(/test[/\\]unit[/\\]subscriptions\.test\.ts:\d+:\d+$/),
        },
      },
    ]);
  });

  test('undefined from the authorization function refuses', async () => {
    const reply = await roundTrip(
      handlerWith(() => undefined),
      '{"id": 5, "type": "subscribe", "data": {"type": "user", "id": 1}}',
    );
    expect(reply).toBe('{"id":5,"type":"subscribe","error":"Not allowed to subscribe to this group."}');
  });

  test('a group name over 1,024 bytes is a bad request with a clear error, and nothing is stored', async () => {
    const handler = handlerWith(({ defaultName }) => defaultName);
    const request = { id: 7, type: 'subscribe', data: { type: 'note', id: 'x'.repeat(1020) } };
    for (const type of ['subscribe', 'unsubscribe']) {
      expect(JSON.parse((await roundTrip(handler, JSON.stringify({ ...request, type })))!)).toEqual({
        id: 7,
        type,
        error: 'A group name has at most 1024 bytes; this one has 1025.',
      });
    }
  });

  test('a HandlerError from it is the reply', async () => {
    const handler = handlerWith(() => {
      throw new HandlerError('Token expired.');
    });
    expect(
      await roundTrip(handler, '{"id": 6, "type": "subscribe", "data": {"type": "note", "id": 1}}'),
    ).toBe('{"id":6,"type":"subscribe","error":"Token expired."}');
  });

  test('it sees the request (auth_jwt included), the group, its default name and the identity', async () => {
    const seen: unknown[] = [];
    const handler = handlerWith((subscription) => {
      seen.push(
        subscription.request.auth_jwt,
        subscription.group,
        subscription.defaultName,
        subscription.identity,
      );
      return undefined;
    });
    await roundTrip(
      handler,
      '{"id": 7, "type": "subscribe", "auth_jwt": "jwt", "data": {"type": "note", "id": 5}}',
    );
    expect(seen).toEqual(['jwt', { type: 'note', id: 5 }, 'note-5', {}]);
  });

  test('unsubscribing from a group with no name to resolve is an error that says what to send', async () => {
    const reply = await roundTrip(handlerWith(), '{"id": 8, "type": "unsubscribe", "data": "what"}');
    expect(reply).toBe(
      '{"id":8,"type":"unsubscribe","error":"Unknown group: send the group you subscribed to as data, e.g. {\\"type\\": \\"note\\", \\"id\\": 5}."}',
    );
  });
});

describe('unsubscribe', () => {
  /** A store that records what was left. */
  function leaving() {
    const left: string[] = [];
    const membership: MembershipStore = {
      ...untouchable,
      leave: (group) => (left.push(group), Promise.resolve()),
    };
    return { left, membership };
  }

  test.each<[string, AuthorizeSubscription]>([
    ['throws', () => Promise.reject(new Error('the token service is down'))],
    ['throws a HandlerError', () => Promise.reject(new HandlerError('Token expired.'))],
    ['refuses', () => undefined],
  ])('works when authorize %s: leaving only needs the name', async (_name, authorize) => {
    const { left, membership } = leaving();
    const handler = createWebSocketHandler({
      handlers: [subscriptionHandlers({ authorize })],
      membership: () => membership,
    });
    expect(
      await roundTrip(handler, '{"id": 9, "type": "unsubscribe", "data": {"type": "note", "id": 5}}'),
    ).toBe('{"id":9,"type":"unsubscribe","data":{"group":"note-5"}}');
    expect(left).toEqual(['note-5']);
  });

  test('leaves the group authorize names when it names one', async () => {
    const { left, membership } = leaving();
    const handler = createWebSocketHandler({
      handlers: [subscriptionHandlers({ authorize: ({ defaultName }) => `tenant-a/${defaultName}` })],
      membership: () => membership,
    });
    await roundTrip(handler, '{"id": 9, "type": "unsubscribe", "data": {"type": "note", "id": 5}}');
    expect(left).toEqual(['tenant-a/note-5']);
  });
});

describe('default group names', () => {
  test.each([
    [{ type: 'note', id: 5 }, 'note-5'],
    [{ type: 'collection', id: 'abc' }, 'collection-abc'],
    [{ type: 'note', id: 5, extra: true }, 'note-5'],
    [{ type: 'note' }, undefined],
    [{ type: '', id: 1 }, undefined],
    [{ type: 'note', id: '' }, undefined],
    [{ type: 'note', id: { nested: 1 } }, undefined],
    ['note-5', undefined],
    [null, undefined],
    [undefined, undefined],
  ])('%j → %j', (group, name) => {
    expect(defaultGroupName(group as never)).toBe(name);
  });
});
