/**
 * An error meant for the client. A handler throws it to refuse a request (access denied, bad
 * input, not found...); the client gets `{"id", "type", "error": error, "data": data}`.
 * Any other exception is logged and answered with "Internal server error." only.
 */
export class HandlerError extends Error {
  /** What the client receives as `error`: a string or a structured JSON value. */
  readonly error: unknown;
  /** Optional data sent beside the error. */
  readonly data: unknown;

  constructor(error: unknown, options: { data?: unknown } = {}) {
    super(typeof error === 'string' ? error : JSON.stringify(error));
    this.name = 'HandlerError';
    this.error = error;
    this.data = options.data;
  }
}
