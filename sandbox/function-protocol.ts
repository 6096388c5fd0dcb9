/** Messages between the sandbox and a function's worker thread. */

export interface WorkerData {
  /** The bundled JavaScript file to load. */
  readonly bundle: string;
  /** The TypeScript entry it was built from, for messages. */
  readonly entry: string;
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
