import { ApiGatewayManagementApiClient } from '@aws-sdk/client-apigatewaymanagementapi';
import type { IncomingMessage } from 'node:http';
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { Connections } from './connections';
import { ConnectionGoneError } from './connections';
import { StandardRetryStrategy } from '@smithy/core/retry';
import type { RetryErrorType } from '@smithy/types';
import { ClockOffset } from './clock-offset';
import { Deadlines } from './deadlines';
import { RequestSigner } from './sigv4';

/** Credentials as the SDK's provider resolves them: keys, maybe a session token and an expiry. */
type ResolvedCredentials = Awaited<ReturnType<ApiGatewayManagementApiClient['config']['credentials']>>;

/** The management API refused a request for a reason other than a gone connection. */
export class ManagementApiError extends Error {
  constructor(
    readonly status: number,
    readonly errorType: string,
    message: string,
  ) {
    super(`The management API answered ${status} ${errorType}: ${message}`);
    this.name = 'ManagementApiError';
  }
}

export interface SignedConnectionsOptions {
  /** Requests in flight at most; more wait for a socket. @default 50 */
  readonly maxSockets?: number;
  /** Tries per request when the API throttles (429) or fails (5xx, network). @default 5 */
  readonly maxAttempts?: number;
  /** This machine's clock, corrected by the API's `Date` header when it is off. @default Date.now */
  readonly clock?: () => number;
  /** A request that takes longer is abandoned and tried again. @default 10000 */
  readonly timeoutMs?: number;
  /** Where credentials come from. @default the SDK's default chain (in Lambda, the function's role) */
  readonly credentials?: () => Promise<ResolvedCredentials>;
  /** Told of every answer that throttled (429), retried or not: a pacer slows down. @default nothing */
  readonly onThrottled?: () => void;
}

const TRANSIENT_STATUSES = new Set([500, 502, 503, 504]);
const THROTTLING_ERROR_TYPES = new Set([
  'LimitExceededException',
  'TooManyRequestsException',
  'ThrottlingException',
]);
/** Credentials this close to expiring are resolved again, as the SDK's own refresh window. */
const CREDENTIALS_REFRESH_MS = 5 * 60 * 1000;

/**
 * `Connections` for fan-out: PostToConnection and DeleteConnection as the SDK sends them (same
 * path and SigV4 signature, with the SDK's credentials and region), without the SDK's
 * per-request pipeline, which costs most of a millisecond of CPU per post. Requests
 * share kept-alive sockets; throttling and server errors are retried with exponential backoff
 * and full jitter; a 410 is a `ConnectionGoneError`.
 */
export class SignedConnections implements Connections {
  private readonly url: URL;
  private readonly basePath: string;
  private readonly agent: HttpAgent | HttpsAgent;
  private readonly send: typeof httpRequest;
  private readonly config: ApiGatewayManagementApiClient['config'];
  private signer: RequestSigner | undefined;
  private credentials: ResolvedCredentials | undefined;
  /** The headers of the last payload posted: a fan-out posts one payload to every member. */
  private postHeaders: { body: string; headers: Record<string, string> } | undefined;
  private readonly deleteHeaders: Record<string, string>;
  private readonly retries: StandardRetryStrategy;
  private readonly clock: ClockOffset;
  private readonly deadlines: Deadlines;
  private readonly onThrottled: (() => void) | undefined;

  constructor(endpoint: string, options: SignedConnectionsOptions = {}) {
    this.url = new URL(endpoint);
    this.basePath = `${this.url.pathname.replace(/\/$/, '')}/@connections/`;
    this.retries = new StandardRetryStrategy(options.maxAttempts ?? 5);
    this.onThrottled = options.onThrottled;
    this.clock = new ClockOffset(options.clock);
    const secure = this.url.protocol === 'https:';
    this.deadlines = new Deadlines(options.timeoutMs ?? 10_000);
    const agentOptions = { keepAlive: true, maxSockets: options.maxSockets ?? 50 };
    this.agent = secure ? new HttpsAgent(agentOptions) : new HttpAgent(agentOptions);
    this.send = secure ? httpsRequest : httpRequest;
    this.deleteHeaders = { host: this.url.host };
    // The SDK resolves the credentials (memoised, refreshed before they expire) and the region.
    this.config = new ApiGatewayManagementApiClient({ endpoint, credentials: options.credentials }).config;
  }

  async post(connectionId: string, payload: string): Promise<void> {
    const status = await this.request('POST', connectionId, this.headersFor(payload), payload);
    if (status === 410) throw new ConnectionGoneError(connectionId);
  }

  async close(connectionId: string): Promise<void> {
    await this.request('DELETE', connectionId, this.deleteHeaders, '');
  }

  private headersFor(payload: string): Record<string, string> {
    if (this.postHeaders?.body !== payload) {
      this.postHeaders = {
        body: payload,
        headers: {
          host: this.url.host,
          'content-type': 'application/octet-stream',
          'content-length': String(Buffer.byteLength(payload)),
        },
      };
    }
    return this.postHeaders.headers;
  }

  /**
   * Sends until the API answers with success or 410, and returns the status. Throttling (429),
   * server errors (5xx), network errors, timeouts and a signature refused because of this
   * machine's clock are retried as the SDK's standard retry strategy retries them, from the
   * same budget: one instance's posts cannot turn throttling into a retry storm. Anything
   * else (a 4xx, credentials that cannot be resolved) is thrown at once.
   */
  private async request(
    method: 'POST' | 'DELETE',
    connectionId: string,
    headers: Record<string, string>,
    body: string,
  ): Promise<number> {
    const path = this.basePath + encodeURIComponent(connectionId);
    const signer = this.signer ?? (await this.createSigner());
    let token = await this.retries.acquireInitialRetryToken('');
    for (;;) {
      const credentials = this.freshCredentials() ?? (await this.resolveCredentials());
      const offset = this.clock.offset;
      const signature = signer.sign({ method, path, headers, body }, credentials, this.clock.date());
      let failure: Error;
      let errorType: RetryErrorType;
      try {
        const sentAt = Date.now();
        const answer = await this.attempt(method, path, { ...headers, ...signature }, body);
        this.clock.observe(answer.date, Date.now() - sentAt);
        if (answer.status < 300 || answer.status === 410) {
          this.retries.recordSuccess(token);
          return answer.status;
        }
        failure = new ManagementApiError(answer.status, answer.errorType, answer.message);
        errorType = retryErrorType(answer.status, answer.errorType, this.clock.corrected(offset));
        if (errorType === 'THROTTLING') this.onThrottled?.();
      } catch (error) {
        failure = error as Error; // the request failed on the network or timed out
        errorType = 'TRANSIENT';
      }
      try {
        token = await this.retries.refreshRetryTokenForRetry(token, { errorType });
      } catch {
        throw failure; // not retryable, out of attempts, or out of the retry budget
      }
    }
  }

  private async createSigner(): Promise<RequestSigner> {
    this.signer = new RequestSigner('execute-api', await this.config.region());
    return this.signer;
  }

  /** The credentials in hand, unless they are about to expire: the SDK refreshes them then. */
  private freshCredentials(): ResolvedCredentials | undefined {
    const expiration = this.credentials?.expiration?.getTime() ?? Infinity;
    return expiration - Date.now() > CREDENTIALS_REFRESH_MS ? this.credentials : undefined;
  }

  private async resolveCredentials(): Promise<ResolvedCredentials> {
    this.credentials = await this.config.credentials();
    return this.credentials;
  }

  private attempt(method: string, path: string, headers: Record<string, string>, body: string) {
    return new Promise<Answer>((resolve, reject) => {
      const outgoing = this.send(
        { agent: this.agent, method, hostname: this.url.hostname, port: this.url.port, path, headers },
        (response: IncomingMessage) => {
          // The API answered: the deadline is met, however long the body takes to read.
          this.deadlines.end(outgoing);
          const status = response.statusCode ?? 0;
          const date = response.headers.date;
          response.on('error', reject);
          if (status < 300 || status === 410) {
            response.on('end', () => resolve({ status, date, errorType: '', message: '' }));
            response.resume();
            return;
          }
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('end', () =>
            resolve({
              status,
              date,
              errorType: String(response.headers['x-amzn-errortype'] ?? '').split(':')[0] ?? '',
              message: Buffer.concat(chunks).toString('utf8').slice(0, 500),
            }),
          );
        },
      );
      this.deadlines.start(outgoing);
      outgoing.on('close', () => this.deadlines.end(outgoing));
      outgoing.on('error', reject);
      // A string body goes out with the headers in one write; a Buffer would take a second one.
      outgoing.end(body);
    });
  }
}

interface Answer {
  readonly status: number;
  /** The `Date` header: the API's clock. */
  readonly date: string | undefined;
  readonly errorType: string;
  readonly message: string;
}

/** How the SDK's retry strategy treats a failed request: only throttling and transient errors are retried. */
function retryErrorType(status: number, errorType: string, clockCorrected: boolean): RetryErrorType {
  if (status === 429 || THROTTLING_ERROR_TYPES.has(errorType)) return 'THROTTLING';
  if (TRANSIENT_STATUSES.has(status) || clockCorrected) return 'TRANSIENT';
  return status >= 500 ? 'SERVER_ERROR' : 'CLIENT_ERROR';
}
