/** Why an invocation produced no result, in Lambda's terms. */
export class FunctionError extends Error {
  constructor(
    readonly functionName: string,
    readonly reason: 'handler-error' | 'timeout' | 'crash' | 'init-error' | 'stopped' | 'throttled',
    message: string,
    readonly remoteStack?: string,
  ) {
    super(`${functionName}: ${message}`);
    this.name = 'FunctionError';
  }
}
