import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RequestSignatureVerifier } from '../request-signature';
import { FunctionError } from './function-error';
import type { LocalFunction } from './local-function';

/** Lambda takes synchronous payloads up to 6 MB. */
const MAX_PAYLOAD_BYTES = 6 * 1024 * 1024;
const INVOKE_PATH = /^\/2015-03-31\/functions\/([^/]+)\/invocations$/;

/**
 * The sandbox's Lambda API: Invoke (`POST /2015-03-31/functions/{name}/invocations`), as
 * @aws-sdk/client-lambda sends it, for the functions the sandbox runs, so that tools such as
 * `npm run redrive` invoke a function the same way locally and on AWS. Requests must be signed
 * (SigV4, `lambda`) with the sandbox's credentials. A function error is answered as Lambda
 * answers it: 200, `X-Amz-Function-Error: Unhandled`, and the error as JSON.
 */
export class LambdaApi {
  constructor(
    private readonly functions: ReadonlyMap<string, LocalFunction>,
    private readonly verifier: Pick<RequestSignatureVerifier, 'verify'>,
  ) {}

  /** Serves an Invoke request; returns false, having written nothing, for any other request. */
  serve(request: IncomingMessage, response: ServerResponse): boolean {
    const url = request.url ?? '/';
    const queryStart = url.indexOf('?');
    const path = queryStart === -1 ? url : url.slice(0, queryStart);
    const match = INVOKE_PATH.exec(path);
    if (!match || request.method !== 'POST') return false;
    const query = new URLSearchParams(queryStart === -1 ? '' : url.slice(queryStart + 1));
    void this.invoke(match[1]!, path, query, request, response).catch(() => response.destroy());
    return true;
  }

  private async invoke(
    encodedName: string,
    path: string,
    query: URLSearchParams,
    request: IncomingMessage,
    response: ServerResponse,
  ): Promise<void> {
    const body = await readBody(request);
    if (body === undefined) {
      return sendError(response, 413, 'RequestTooLargeException', 'The payload is over 6 MB.');
    }
    const refusal = await this.verifier.verify({
      method: 'POST',
      path,
      query,
      headers: request.headers,
      body,
    });
    if (refusal) return sendError(response, 403, refusal.errorType, refusal.message);
    const invocationType = request.headers['x-amz-invocation-type'] ?? 'RequestResponse';
    if (invocationType !== 'RequestResponse') {
      return sendError(
        response,
        400,
        'InvalidParameterValueException',
        `The sandbox invokes synchronously only, not ${String(invocationType)}.`,
      );
    }
    let name: string;
    try {
      name = decodeURIComponent(encodedName);
    } catch {
      return sendError(response, 400, 'InvalidParameterValueException', 'The function name is not valid.');
    }
    const fn = this.functions.get(name.split(':').at(-1)!);
    if (!fn) return sendError(response, 404, 'ResourceNotFoundException', `Function not found: ${name}`);
    let event: unknown;
    try {
      event = body.length === 0 ? {} : JSON.parse(body.toString('utf8'));
    } catch {
      return sendError(
        response,
        400,
        'InvalidRequestContentException',
        'Could not parse request body into json.',
      );
    }
    try {
      const result = await fn.invoke(event);
      response
        .writeHead(200, { 'content-type': 'application/json', 'x-amz-executed-version': '$LATEST' })
        .end(JSON.stringify(result ?? null));
    } catch (error) {
      if (error instanceof FunctionError && error.reason === 'throttled') {
        return sendError(response, 429, 'TooManyRequestsException', 'Rate Exceeded.');
      }
      const failure = error as Error;
      response
        .writeHead(200, { 'content-type': 'application/json', 'x-amz-function-error': 'Unhandled' })
        .end(JSON.stringify({ errorType: failure.name, errorMessage: failure.message }));
    }
  }
}

async function readBody(request: IncomingMessage): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size <= MAX_PAYLOAD_BYTES) chunks.push(chunk);
  }
  return size > MAX_PAYLOAD_BYTES ? undefined : Buffer.concat(chunks, size);
}

function sendError(response: ServerResponse, status: number, type: string, message: string): void {
  response
    .writeHead(status, { 'content-type': 'application/json', 'x-amzn-errortype': type })
    .end(JSON.stringify({ Type: 'User', message }));
}
