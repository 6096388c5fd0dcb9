import type { IncomingMessage, ServerResponse } from 'node:http';
import { STATUS_CODES } from 'node:http';

/**
 * Test faults: the next posts to `@connections` fail with the given HTTP statuses, as a
 * throttled (429) or failing (5xx) management API would answer them.
 */
export class PostFailures {
  private readonly statuses: number[] = [];

  inject(...statuses: number[]): void {
    this.statuses.push(...statuses);
  }

  /** How many injected failures have not happened yet. */
  get pending(): number {
    return this.statuses.length;
  }

  /** Answers the request with the next failure; false, having written nothing, when none is due. */
  serve(request: IncomingMessage, response: ServerResponse): boolean {
    if (request.method !== 'POST' || this.statuses.length === 0 || !request.url?.includes('/@connections/')) {
      return false;
    }
    const status = this.statuses.shift()!;
    const errorType = status === 429 ? 'LimitExceededException' : 'InternalServerErrorException';
    request.resume();
    response.writeHead(status, { 'content-type': 'application/json', 'x-amzn-ErrorType': errorType });
    response.end(JSON.stringify({ message: STATUS_CODES[status] }));
    return true;
  }
}
