import fc from 'fast-check';
import { handler } from '../../lambdas/websocket';
import { ProtocolErrors } from '../../lambdas/rohrpost/protocol/request';
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

/**
 * The exact value of a JSON number's text, as a fraction of BigInts: an oracle for "the same
 * number" that shares nothing with the handler's own check, which compares digit strings.
 */
function exactValue(text: string): { numerator: bigint; denominator: bigint } {
  const [, mantissa, exponent = '0'] = /^(-?[\d.]+)(?:[eE]([+-]?\d+))?$/.exec(text)!;
  const [whole, fraction = ''] = mantissa!.split('.');
  const power = BigInt(exponent) - BigInt(fraction.length);
  const digits = BigInt(`${whole}${fraction}`);
  return power >= 0n
    ? { numerator: digits * 10n ** power, denominator: 1n }
    : { numerator: digits, denominator: 10n ** -power };
}

function sameNumber(a: string, b: string): boolean {
  const [x, y] = [exactValue(a), exactValue(b)];
  const negativeZero = (text: string, value: typeof x) => text.startsWith('-') && value.numerator === 0n;
  return (
    x.numerator * y.denominator === y.numerator * x.denominator && negativeZero(a, x) === negativeZero(b, y)
  );
}

/** JSON number texts around the edges of doubles: long digit strings, exponents near ±308 and -324, zeros. */
const numberText = fc
  .tuple(
    fc.constantFrom('', '-'),
    fc.oneof(fc.constant('0'), fc.stringMatching(/^[1-9]\d{0,24}$/)),
    fc.option(fc.stringMatching(/^\d{1,24}$/), { nil: undefined }),
    fc.option(fc.tuple(fc.constantFrom('e', 'E'), fc.constantFrom('', '+', '-'), fc.nat(420)), {
      nil: undefined,
    }),
  )
  .map(
    ([sign, whole, fraction, exponent]) =>
      `${sign}${whole}${fraction === undefined ? '' : `.${fraction}`}${exponent?.join('') ?? ''}`,
  );

describe('a number id comes back as the same number, or is refused', () => {
  /**
   * Ways to write the request around its id: the handler finds a plain number id the quick way
   * when the body holds `"id"` once and no backslash, and reads the whole body otherwise.
   */
  const requestAround = fc.constantFrom(
    (id: string) => `{"type": "ping", "id": ${id}}`,
    (id: string) => `{"id":${id},"type":"ping","data":{"note":"a \\"quoted\\" word"}}`,
    (id: string) => `{"type": "ping", "\\u0069d": ${id}}`,
    (id: string) => `{"id": "first", "type": "ping", "id" : ${id}}`,
    (id: string) => `{"type": "ping", "data": {"id": 7}, "id": ${id}}`,
  );

  test('arbitrary number texts, as an id and inside one, however the request is written', async () => {
    await fc.assert(
      fc.asyncProperty(numberText, fc.boolean(), requestAround, async (text, nested, around) => {
        const id = nested ? `{"n": [${text}]}` : text;
        const { body } = await handler(frame(around(id)));
        const echoed = Number(text);
        const exact =
          !(Number.isInteger(echoed) && !Number.isSafeInteger(echoed)) &&
          Number.isFinite(echoed) &&
          sameNumber(text, String(echoed));
        if (!exact) return void expect(JSON.parse(body!)).toEqual({ error: ProtocolErrors.inexactId });
        const reply = /^\{"id":(.*),"type":"pong"(?:,"data":\{.*\})?\}$/.exec(body!);
        expect(reply).not.toBeNull();
        const echoedText = nested ? /^\{"n":\[(.*)\]\}$/.exec(reply![1]!)![1]! : reply![1]!;
        expect(sameNumber(echoedText, text)).toBe(true);
      }),
      { numRuns: 2_000 },
    );
  });
});
