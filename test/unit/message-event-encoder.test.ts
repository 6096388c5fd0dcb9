import { messageEvent, messageEventEncoder } from '../../sandbox/events';
import { eventJson } from '../../sandbox/lambda/function-protocol';
import { testConnection } from '../support/events';

/** The gateway writes each frame's `$default` event as JSON directly: it must be the event `messageEvent` builds. */
describe('messageEventEncoder', () => {
  const now = Date.UTC(2026, 11, 7, 5, 50, 1, 234);
  /** The two events, with the fields that are random in each made equal. */
  function both(body: string, connection = testConnection()) {
    const { event, requestId } = messageEventEncoder(connection)(body, now);
    const encoded = JSON.parse(eventJson(event)) as ReturnType<typeof messageEvent>;
    const built = messageEvent(connection, body, now);
    expect(encoded.requestContext.requestId).toBe(requestId);
    for (const field of ['requestId', 'messageId', 'extendedRequestId'] as const) {
      expect(encoded.requestContext[field]).toMatch(/^[A-Za-z0-9+/=-]{16,36}$/);
      encoded.requestContext[field] = built.requestContext[field];
    }
    return { encoded, built };
  }

  test('writes the same event as messageEvent', () => {
    const { encoded, built } = both('{"id":1,"type":"ping"}');
    expect(encoded).toEqual(built);
    expect(encoded.requestContext.requestTime).toBe('07/Dec/2026:05:50:01 +0000');
  });

  test('escapes any body, and carries the authorizer context and a missing user agent as messageEvent does', () => {
    const connection = testConnection({
      userAgent: undefined,
      authorizer: { principalId: 'alice "the" admin', groups: 'a\nb' },
    });
    const { encoded, built } = both('{"text":"quotes \\" and \\\\, ünïcödé, \\u2028"}\n\t', connection);
    expect(encoded).toEqual(built);
    expect(encoded.body).toBe(built.body);
  });

  test('gives every frame new ids', () => {
    const encode = messageEventEncoder(testConnection());
    const events = [0, 1, 2].map(
      () => JSON.parse(eventJson(encode('{}', now).event)) as ReturnType<typeof messageEvent>,
    );
    for (const field of ['requestId', 'messageId', 'extendedRequestId'] as const) {
      expect(new Set(events.map((event) => event.requestContext[field])).size).toBe(3);
    }
  });
});
