import { createWebSocketHandler, defineHandler, defineHandlers } from '../../lambdas/rohrpost';
import { roundTrip } from '../support/events';
import { HandlerRegistry } from '../../lambdas/rohrpost/protocol/registry';

const noop = () => undefined;

describe('handler registry', () => {
  test('a handler registers under one type or a list of types', () => {
    const one = defineHandler('a', noop);
    const many = defineHandler(['b', 'c'], noop);
    const registry = new HandlerRegistry([one, many]);
    expect(registry.get('a')).toBe(one);
    expect(registry.get('b')).toBe(many);
    expect(registry.get('c')).toBe(many);
    expect(registry.types).toEqual(['a', 'b', 'c']);
  });

  test('registering a type twice fails at registration and names the type', () => {
    const registry = new HandlerRegistry([defineHandler(['ping', 'other'], noop)]);
    expect(() => registry.register(defineHandler(['x', 'ping'], noop))).toThrow(
      "Message type 'ping' already has a handler; each type can have only one.",
    );
    expect(registry.get('x')).toBeUndefined();
  });

  test('only registered types are found, never inherited names', () => {
    const registry = new HandlerRegistry([defineHandler('ping', noop)]);
    for (const name of ['__proto__', 'constructor', 'toString', 'hasOwnProperty', '__defineGetter__']) {
      expect(registry.get(name)).toBeUndefined();
    }
  });

  test.each([[[]], [['']], [[42 as unknown as string]]])('defineHandler refuses the types %j', (types) => {
    expect(() => defineHandler(types, noop)).toThrow(/at least one message type|non-empty strings/);
  });

  test('defineHandlers gives each type of a module its own function', async () => {
    const handler = createWebSocketHandler({
      handlers: [
        defineHandlers({
          'note.create': (_request, context) => context.reply('created'),
          'note.delete': (_request, context) => context.reply('deleted'),
          '42': (_request, context) => context.reply('numbered'),
        }),
      ],
    });
    expect(await roundTrip(handler, '{"id": 1, "type": "note.create"}')).toBe(
      '{"id":1,"type":"note.create","data":"created"}',
    );
    expect(await roundTrip(handler, '{"id": 2, "type": "note.delete"}')).toBe(
      '{"id":2,"type":"note.delete","data":"deleted"}',
    );
    expect(await roundTrip(handler, '{"id": 3, "type": 42}')).toBe('{"id":3,"type":42,"data":"numbered"}');
  });
});
