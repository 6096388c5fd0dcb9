import type { WebSocketResult } from '../lambdas/rohrpost/deploy';
import type { Invokable } from './gateway';
import { FunctionError } from './lambda/function-error';

/** API Gateway gave up waiting for the function. */
class IntegrationTimeout extends Error {
  constructor() {
    super('the integration timed out');
  }
}

/** Invokes a route's function, giving up after API Gateway's integration timeout. */
export function invokeRoute(
  fn: Invokable,
  event: unknown,
  integrationTimeoutMs: number,
): Promise<WebSocketResult | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, rejectTimeout) => {
    timer = setTimeout(() => rejectTimeout(new IntegrationTimeout()), integrationTimeoutMs);
  });
  return Promise.race([fn.invoke(event) as Promise<WebSocketResult | undefined>, timeout]).finally(() =>
    clearTimeout(timer),
  );
}

/** What API Gateway tells a client whose route failed: a timeout, or anything else. */
export function routeFailureMessage(error: unknown): 'Endpoint request timed out' | 'Internal server error' {
  const timedOut =
    error instanceof IntegrationTimeout || (error instanceof FunctionError && error.reason === 'timeout');
  return timedOut ? 'Endpoint request timed out' : 'Internal server error';
}
