/** Every error the client rejects with or reports is one of these. */
export class RohrpostClientError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The server answered the call with an error reply. */
export class RohrpostError extends RohrpostClientError {
  /** The reply's `error`: a string, or whatever structured value the handler gave. */
  readonly error: unknown;
  /** The reply's `data`, if it had any. */
  readonly data: unknown;

  constructor(
    /** The type of the request that failed. */
    readonly type: string,
    error: unknown,
    data?: unknown,
  ) {
    super(typeof error === 'string' ? error : `The server refused '${type}': ${JSON.stringify(error)}`);
    this.error = error;
    this.data = data;
  }
}

/** No reply came within the call's timeout. */
export class TimeoutError extends RohrpostClientError {
  constructor(
    readonly type: string,
    readonly timeoutMs: number,
  ) {
    super(`No reply to '${type}' within ${timeoutMs} ms.`);
  }
}

/** The call's AbortSignal fired before the reply came. */
export class AbortError extends RohrpostClientError {
  constructor(
    readonly type: string,
    reason?: unknown,
  ) {
    super(`The call '${type}' was aborted.`, { cause: reason });
  }
}

/** The connection the call was sent on closed before the reply came, or the client was closed. */
export class ConnectionClosedError extends RohrpostClientError {
  constructor(
    readonly type: string,
    readonly code?: number,
    readonly reason?: string,
  ) {
    super(
      code === undefined
        ? `The client was closed before '${type}' was answered.`
        : `The connection closed (${code}${reason ? ` ${reason}` : ''}) before '${type}' was answered.`,
    );
  }
}
