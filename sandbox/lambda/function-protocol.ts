/** Messages between the sandbox and a function's worker thread. */

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
  readonly event: unknown;
  /** Epoch milliseconds when the invocation times out. */
  readonly deadline: number;
}

export interface SerializedError {
  readonly name: string;
  readonly message: string;
  readonly stack?: string;
}

export type WorkerMessage =
  | { readonly kind: 'ready' }
  | { readonly kind: 'init-error'; readonly error: SerializedError }
  | { readonly kind: 'result'; readonly id: number; readonly result: unknown }
  | { readonly kind: 'error'; readonly id: number; readonly error: SerializedError };

export function serializeError(error: unknown): SerializedError {
  if (error instanceof Error) return { name: error.name, message: error.message, stack: error.stack };
  return { name: 'Error', message: String(error) };
}
