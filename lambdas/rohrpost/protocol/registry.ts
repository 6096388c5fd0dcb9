import type { RohrpostRequest } from './request';
import { typeNameOf } from './request';
import type { HandlerContext } from './context';

/** Handles the requests of one or more message types. */
export type HandleFunction = (request: RohrpostRequest, context: HandlerContext) => void | Promise<void>;

/** A message handler: the types it answers and the function that answers them. */
export interface MessageHandler {
  readonly types: readonly string[];
  readonly handle: HandleFunction;
}

/**
 * Declares a handler for one message type or a list of them, the counterpart of the original's
 * `@rohrpost_handler(...)`. A handler module exports the result as its default export.
 */
export function defineHandler(types: string | readonly string[], handle: HandleFunction): MessageHandler {
  const typeList = typeof types === 'string' ? [types] : [...types];
  if (typeList.length === 0) throw new Error('A handler needs at least one message type.');
  for (const type of typeList) {
    if (typeof type !== 'string' || type === '') {
      throw new Error(`Message types are non-empty strings; got ${JSON.stringify(type)}.`);
    }
  }
  return Object.freeze({ types: Object.freeze(typeList), handle });
}

/**
 * Declares several message types in one module, one function each:
 * `defineHandlers({ 'note.create': create, 'note.delete': remove })`.
 */
export function defineHandlers(handlers: Readonly<Record<string, HandleFunction>>): MessageHandler {
  const byType = new Map(Object.entries(handlers));
  return defineHandler([...byType.keys()], (request, context) =>
    byType.get(typeNameOf(request.type))!(request, context),
  );
}

/** Maps message types to their handlers; only registered types are ever found. */
export class HandlerRegistry {
  private readonly byType = new Map<string, MessageHandler>();

  constructor(handlers: Iterable<MessageHandler> = []) {
    for (const handler of handlers) this.register(handler);
  }

  /** Adds a handler; a type that already has one is an error that names the type. */
  register(handler: MessageHandler): this {
    const taken = handler.types.filter((type) => this.byType.has(type));
    if (taken.length > 0) {
      const names = taken.map((type) => `'${type}'`).join(', ');
      throw new Error(`Message type ${names} already has a handler; each type can have only one.`);
    }
    for (const type of handler.types) this.byType.set(type, handler);
    return this;
  }

  /** The handler registered for `type`, if any. */
  get(type: string): MessageHandler | undefined {
    return this.byType.get(type);
  }

  /** The registered types, in registration order. */
  get types(): string[] {
    return [...this.byType.keys()];
  }
}
