import { handler } from '../../lambdas/websocket';
import { roundTrip } from '../support/events';

/** The replies of PROTOCOL.md §2 and §3, byte for byte, through the project's websocket Lambda. */
const send = (body: string | undefined) => roundTrip(handler, body);

function parserMessage(text: string): string {
  try {
    JSON.parse(text);
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error(`${text} is valid JSON`);
}

describe('PROTOCOL.md §2: validation, in order, with the exact replies', () => {
  test.each([
    ['an empty body', ''],
    ['a missing body', undefined],
  ])('%s: "Received empty message."', async (_case, body) => {
    expect(await send(body)).toBe('{"error":"Received empty message."}');
  });

  test.each(['not json', '{"id": 1, "type": "ping"', "{'id': 1}", '   ', '{"id":1,}'])(
    'invalid JSON %j: the parser message is passed on',
    async (body) => {
      const expected = JSON.stringify({
        error: `Could not decode JSON message. Error: ${parserMessage(body)}`,
      });
      expect(await send(body)).toBe(expected);
    },
  );

  test.each(['[1, 2, 3]', '42', '"ping"', 'null', 'true', '[]'])('%s is not an object', async (body) => {
    expect(await send(body)).toBe('{"error":"Expected a JSON object as message."}');
  });

  test.each([
    ['{}', 'type'],
    ['{"id": 1}', 'type'],
    ['{"data": {"type": "ping"}, "id": 1}', 'type'],
    ['{"type": "ping"}', 'id'],
    ['{"type": "nope"}', 'id'],
  ])('%s: missing %s (type is checked first)', async (body, field) => {
    expect(await send(body)).toBe(`{"error":"Missing required field '${field}'."}`);
  });

  test('an unknown type is answered with id, type and error', async () => {
    expect(await send('{"id": 7, "type": "nope"}')).toBe(
      `{"id":7,"type":"nope","error":"Unknown message type 'nope'."}`,
    );
  });

  test.each(['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', 'isPrototypeOf'])(
    'the inherited name %s is not a handler',
    async (type) => {
      expect(await send(JSON.stringify({ id: 1, type }))).toBe(
        `{"id":1,"type":"${type}","error":"Unknown message type '${type}'."}`,
      );
    },
  );

  test('a type that is not a string is looked up by its string form and echoed as given', async () => {
    expect(await send('{"id": 8, "type": 42}')).toBe(
      `{"id":8,"type":42,"error":"Unknown message type '42'."}`,
    );
  });

  test('an empty-string type is unknown and the reply omits type', async () => {
    expect(await send('{"id": 8, "type": ""}')).toBe(`{"id":8,"error":"Unknown message type ''."}`);
  });
});

describe('PROTOCOL.md §3: the built-in ping', () => {
  test.each([
    ['{"id": 5, "type": "ping"}', '{"id":5,"type":"pong"}'],
    ['{"id":"abc","type":"ping","data":{"a":1}}', '{"id":"abc","type":"pong","data":{"a":1}}'],
    ['{"id":5,"type":"ping","data":[1,2,3]}', '{"id":5,"type":"pong","data":{"data":[1,2,3]}}'],
    ['{"id":5,"type":"ping","data":null}', '{"id":5,"type":"pong","data":{"data":null}}'],
    ['{"id":5,"type":"ping","data":"text"}', '{"id":5,"type":"pong","data":{"data":"text"}}'],
    ['{"id":5,"type":"ping","data":0}', '{"id":5,"type":"pong","data":{"data":0}}'],
    ['{"id":5,"type":"ping","data":false}', '{"id":5,"type":"pong","data":{"data":false}}'],
    ['{"id":5,"type":"ping","data":{}}', '{"id":5,"type":"pong"}'],
    ['{"id":9,"type":"ping","extra":true}', '{"id":9,"type":"pong"}'],
    ['{"type":"ping","id":1700000000000}', '{"id":1700000000000,"type":"pong"}'],
  ])('%s → %s', async (request, reply) => {
    expect(await send(request)).toBe(reply);
  });

  test.each(['0', 'false', 'null', '""', '{"n":1}', '[1]', '-1.5'])(
    'the id %s is echoed exactly (the original drops falsy ids)',
    async (id) => {
      expect(await send(`{"id": ${id}, "type": "ping"}`)).toBe(
        `{"id":${JSON.stringify(JSON.parse(id))},"type":"pong"}`,
      );
    },
  );

  test.each([
    ['9007199254740991', '9007199254740991'],
    ['-9007199254740991', '-9007199254740991'],
    ['0.1', '0.1'],
    ['1.5e-7', '1.5e-7'],
    ['0.30000000000000004', '0.30000000000000004'],
    ['5e-324', '5e-324'],
    ['"9007199254740993"', '"9007199254740993"'],
    ['"1e-400"', '"1e-400"'],
    // The same number, spelled as JavaScript spells it.
    ['1.0', '1'],
    ['1E3', '1000'],
    ['-2.50e-3', '-0.0025'],
    ['0.0', '0'],
    ['[1e2, {"n": 0.10}]', '[100,{"n":0.1}]'],
  ])('the id %s, whose value JSON.stringify gives back, is echoed as %s', async (id, echoed) => {
    expect(await send(`{"id": ${id}, "type": "ping"}`)).toBe(`{"id":${echoed},"type":"pong"}`);
  });

  const inexactId =
    "Field 'id' holds a number that cannot be echoed exactly (an integer beyond 2^53-1, " +
    "a number beyond a double's range or precision, or -0): send it as a string.";

  test.each([
    '9007199254740993',
    '123456789012345678901234567890',
    '1e400',
    '-1e400',
    '-0',
    '-0.0e7',
    // Underflowing to 0 (or to the nearest subnormal).
    '1e-400',
    '0.1e-9999',
    '-1e-400',
    '4.9e-324',
    // More digits than a double keeps: they would come back as another number.
    '0.10000000000000001',
    '1.00000000000000000001',
    '123456789.123456789',
    '[1, 9007199254740993]',
    '{"n": -0}',
    '[0.5, {"n": [1e-400]}]',
  ])('the id %s cannot be echoed exactly and is refused with an error that says so', async (id) => {
    expect(JSON.parse((await send(`{"id": ${id}, "type": "ping"}`))!)).toEqual({ error: inexactId });
  });

  test.each([
    ['the last of two ids counts, as for JSON.parse', '{"id": 1e-400, "id": 7, "type": "ping"}', true],
    ['the last of two ids counts, as for JSON.parse', '{"id": 7, "type": "ping", "id": 1e-400}', false],
    ['an escaped key is the id', '{"\\u0069d": 1e-400, "type": "ping"}', false],
    ['an id deeper in the message is not the id', '{"data": {"id": 1e-400}, "id": 7, "type": "ping"}', true],
    ['a key ending in "id" is not the id', '{"paid": 7, "id": 1e-400, "type": "ping"}', false],
    [
      'a key ending in "id" after the id is not the id',
      '{"id": 1e-400, "type": "ping", "data": {"said": 7}}',
      false,
    ],
    [
      'strings before the id may hold quotes and brackets',
      '{"type": "ping", "data": ["a \\"} ] 1e-400", {"x": "\\\\"}], "id": 1e-400}',
      false,
    ],
  ])('%s: %s', async (_case, body, echoed) => {
    const reply = JSON.parse((await send(body))!) as Record<string, unknown>;
    expect(reply).toEqual(echoed ? expect.objectContaining({ id: 7, type: 'pong' }) : { error: inexactId });
  });

  test('a message nested deeper than 100 levels is refused with a clear error, not an internal one', async () => {
    const nested = (levels: number) => '['.repeat(levels) + ']'.repeat(levels);
    // 60,000 levels overflow JSON.stringify's stack; the reply never gets that far.
    expect(await send(`{"id": 1, "type": "ping", "data": ${nested(60_000)}}`)).toBe(
      '{"error":"Message nested deeper than 100 levels."}',
    );
    expect(await send(`{"id": 1, "type": "ping", "data": ${nested(100)}}`)).toBe(
      '{"error":"Message nested deeper than 100 levels."}',
    );
    expect(await send(`{"id": 1, "type": "ping", "data": {"x": ${nested(98)}}}`)).toBe(
      `{"id":1,"type":"pong","data":{"x":${nested(98)}}}`,
    );
    // The shortest text nested too deep, and one level less: depth is checked before the object.
    expect(await send(nested(101))).toBe('{"error":"Message nested deeper than 100 levels."}');
    expect(await send(nested(100))).toBe('{"error":"Expected a JSON object as message."}');
  });

  test('a reply over 128 KB, which API Gateway would not deliver, is answered with an error the client can match', async () => {
    const data = { text: 'x'.repeat(128 * 1024 - 40) };
    expect(await send(JSON.stringify({ id: 1, type: 'ping', data }))).toBe(
      '{"id":1,"type":"ping","error":"Message too large: API Gateway delivers at most 131072 bytes."}',
    );
    const fits = { text: 'x'.repeat(128 * 1024 - 60) };
    const reply = JSON.parse((await send(JSON.stringify({ id: 1, type: 'ping', data: fits })))!) as {
      type: string;
      data: { text: string };
    };
    expect([reply.type, reply.data.text.length]).toEqual(['pong', fits.text.length]);
  });
});
