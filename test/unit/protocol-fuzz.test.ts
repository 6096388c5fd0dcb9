import fc from 'fast-check';
import { handler } from '../../lambdas/websocket';
import { frame } from '../support/events';

/**
 * Whatever arrives, the websocket Lambda answers with exactly one well-formed JSON object and
 * never throws: an error reply for anything that is not a usable request, `pong` for a ping.
 */
async function answer(body: string): Promise<Record<string, unknown>> {
  const result = await handler(frame(body));
  expect(result.statusCode).toBe(200);
  expect(typeof result.body).toBe('string');
  const reply: unknown = JSON.parse(result.body!);
  expect(reply).toEqual(expect.any(Object));
  expect(Array.isArray(reply)).toBe(false);
  return reply as Record<string, unknown>;
}

function isUsableRequest(value: unknown): value is { id: unknown; type: unknown } {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    'id' in value &&
    'type' in value &&
    numbersIn(value.id).every((n) => Number.isFinite(n) && !Object.is(n, -0) && Math.abs(n) < 2 ** 53)
  );
}

/** Every number in a JSON value: an id's must survive JSON.stringify as the client wrote them (PROTOCOL.md §1). */
function numbersIn(value: unknown): number[] {
  if (typeof value === 'number') return [value];
  if (typeof value !== 'object' || value === null) return [];
  return Object.values(value).flatMap(numbersIn);
}

async function checkReplyTo(body: string): Promise<void> {
  const reply = await answer(body);
  let request: unknown;
  try {
    request = JSON.parse(body);
  } catch {
    request = undefined;
  }
  if (isUsableRequest(request) && request.type === 'ping') {
    expect(reply.id).toEqual(request.id);
    expect(reply.type).toBe('pong');
    expect(reply).not.toHaveProperty('error');
  } else {
    expect(typeof reply.error).toBe('string');
    if (isUsableRequest(request)) expect(reply.id).toEqual(request.id);
  }
}

const KNOWN_KEYS = ['id', 'type', 'data', '__proto__', 'constructor', 'auth_jwt'];
const jsonValue = fc.jsonValue();
const requestLike = fc.record(
  {
    id: jsonValue,
    type: fc.oneof(fc.constantFrom('ping', 'pong', '', '__proto__', 'toString', 'constructor'), jsonValue),
    data: jsonValue,
    auth_jwt: fc.string(),
  },
  { requiredKeys: [] },
);
const objectWithOddKeys = fc.dictionary(fc.oneof(fc.constantFrom(...KNOWN_KEYS), fc.string()), jsonValue);

describe('arbitrary input never crashes the websocket Lambda', () => {
  const runs = { numRuns: 400 };

  test('arbitrary strings', async () => {
    await fc.assert(fc.asyncProperty(fc.string({ unit: 'binary' }), checkReplyTo), runs);
  });

  test('arbitrary JSON values', async () => {
    await fc.assert(
      fc.asyncProperty(jsonValue, (value) => checkReplyTo(JSON.stringify(value))),
      runs,
    );
  });

  test('arbitrary objects, near-requests included', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(requestLike, objectWithOddKeys), (value) =>
        checkReplyTo(JSON.stringify(value)),
      ),
      runs,
    );
  });

  test('raw texts that put __proto__ into the parsed object', async () => {
    await fc.assert(
      fc.asyncProperty(jsonValue, jsonValue, (id, proto) =>
        checkReplyTo(`{"id": ${JSON.stringify(id)}, "type": "ping", "__proto__": ${JSON.stringify(proto)}}`),
      ),
      runs,
    );
  });
});
