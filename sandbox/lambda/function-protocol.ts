/**
 * Messages between the sandbox and a function's worker thread. Events and results cross as JSON
 * text, as they reach and leave Lambda: a string is copied in one piece, where an object is
 * cloned field by field; and what JSON cannot carry does not reach the other side.
 */

/** An event already in JSON, which an instance passes on as it is. */
export class JsonEvent {
  constructor(readonly json: string) {}
}

/** The event as the worker receives it. */
export function eventJson(event: unknown): string {
  if (event instanceof JsonEvent) return event.json;
  return JSON.stringify(event) ?? 'null';
}

export interface WorkerData {
  /** The folder of the function's code, as Lambda unpacks it (`/var/task`). */
  readonly directory: string;
  /** `<file>.<export>`, as Lambda reads it: `index.handler`. */
  readonly handler: string;
  readonly functionName: string;
  readonly memorySize: number;
}

export interface InvocationRequest {
  readonly id: number;
  /** The event, JSON. */
  readonly event: string;
  /** Epoch milliseconds when the invocation times out. */
  readonly deadline: number;
}

export interface SerializedError {
  readonly name: string;
  readonly message: string;
  readonly stack?: string;
}

/**
 * What a function wrote to standard output and standard error, in order: the stream (1 or 2, as
 * the file descriptors) and the text of each write.
 */
export type Output = Array<1 | 2 | string>;

export type WorkerMessage =
  | { readonly kind: 'ready' }
  | { readonly kind: 'init-error'; readonly error: SerializedError }
  /** `result` is the handler's result as JSON (`null` for none); `output`, what it wrote meanwhile. */
  | { readonly kind: 'result'; readonly id: number; readonly result: string; readonly output?: Output }
  | { readonly kind: 'error'; readonly id: number; readonly error: SerializedError; readonly output?: Output }
  /** Output written between invocations, or during one that has not finished within an event-loop turn. */
  | { readonly kind: 'output'; readonly output: Output };

export function serializeError(error: unknown): SerializedError {
  if (error instanceof Error) return { name: error.name, message: error.message, stack: error.stack };
  return { name: 'Error', message: String(error) };
}
