import { ApiGatewayManagementApiClient } from '@aws-sdk/client-apigatewaymanagementapi';
import type { IncomingMessage } from 'node:http';
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { Connections } from './connections';
import { ConnectionGoneError } from './connections';
import type { SigningCredentials } from './sigv4';
import { RequestSigner } from './sigv4';

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
  /** A request that takes longer is abandoned and tried again. @default 10000 */
  readonly timeoutMs?: number;
}

const RETRYABLE = new Set([429, 500, 502, 503, 504]);
const BACKOFF_BASE_MS = 100;
const BACKOFF_CAP_MS = 2_000;

/**
 * `Connections` for fan-out: PostToConnection and DeleteConnection as the SDK sends them (same
 * path and SigV4 signature, with the SDK's credentials and region), without the SDK's
 * per-request pipeline, which costs most of a millisecond of CPU per post. Requests
 * share kept-alive sockets; throttling and server errors are retried with exponential backoff
 * and full jitter; a 410 is a `ConnectionGoneError`.
 */
export class SignedConnections implements Connections {
  private readonly url: URL;
  private readonly agent: HttpAgent | HttpsAgent;
  private readonly send: typeof httpRequest;
  private readonly credentials: () => Promise<SigningCredentials>;
  private readonly region: () => Promise<string>;
  private signer: RequestSigner | undefined;
  private readonly maxAttempts: number;
  private readonly timeoutMs: number;

  constructor(endpoint: string, options: SignedConnectionsOptions = {}) {
    this.url = new URL(endpoint);
    const secure = this.url.protocol === 'https:';
    const agentOptions = { keepAlive: true, maxSockets: options.maxSockets ?? 50 };
    this.agent = secure ? new HttpsAgent(agentOptions) : new HttpAgent(agentOptions);
    this.send = secure ? httpsRequest : httpRequest;
    // The SDK resolves the credentials (memoised, refreshed before they expire) and the region.
    const { config } = new ApiGatewayManagementApiClient({ endpoint });
    this.credentials = () => config.credentials();
    this.region = () => config.region();
    this.maxAttempts = options.maxAttempts ?? 5;
    this.timeoutMs = options.timeoutMs ?? 10_000;
  }

  async post(connectionId: string, payload: string): Promise<void> {
    const status = await this.request('POST', connectionId, payload);
    if (status === 410) throw new ConnectionGoneError(connectionId);
  }

  async close(connectionId: string): Promise<void> {
    await this.request('DELETE', connectionId);
  }

  /** Sends until the API answers with success or 410; returns the status. */
  private async request(method: 'POST' | 'DELETE', connectionId: string, body?: string): Promise<number> {
    for (let attempt = 1; ; attempt++) {
      let failure: Error;
      try {
        const response = await this.attempt(method, connectionId, body);
        if (response.status < 300 || response.status === 410) return response.status;
        failure = new ManagementApiError(response.status, response.errorType, response.message);
      } catch (error) {
        failure = error as Error; // a network error or a timeout: worth another try
      }
      const retryable = !(failure instanceof ManagementApiError) || RETRYABLE.has(failure.status);
      if (!retryable || attempt >= this.maxAttempts) throw failure;
      const ceiling = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** attempt);
      await new Promise((resolve) => setTimeout(resolve, Math.random() * ceiling));
    }
  }

  private async attempt(method: string, connectionId: string, body?: string) {
    const path = `${this.url.pathname.replace(/\/$/, '')}/@connections/${encodeURIComponent(connectionId)}`;
    const headers: Record<string, string> = { host: this.url.host };
    if (body !== undefined) {
      headers['content-type'] = 'application/octet-stream';
      headers['content-length'] = String(Buffer.byteLength(body));
    }
    this.signer ??= new RequestSigner('execute-api', await this.region());
    const signature = this.signer.sign({ method, path, headers, body: body ?? '' }, await this.credentials());
    return new Promise<{ status: number; errorType: string; message: string }>((resolve, reject) => {
      const outgoing = this.send(
        {
          agent: this.agent,
          method,
          hostname: this.url.hostname,
          port: this.url.port,
          path,
          headers: { ...headers, ...signature },
          timeout: this.timeoutMs,
        },
        (response: IncomingMessage) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('end', () => {
            const status = response.statusCode ?? 0;
            const errorType = String(response.headers['x-amzn-errortype'] ?? '').split(':')[0] ?? '';
            resolve({
              status,
              errorType,
              message: status < 300 ? '' : Buffer.concat(chunks).toString('utf8').slice(0, 500),
            });
          });
          response.on('error', reject);
        },
      );
      outgoing.on('timeout', () => outgoing.destroy(new Error(`No answer within ${this.timeoutMs} ms`)));
      outgoing.on('error', reject);
      // A string body goes out with the headers in one write; a Buffer would take a second one.
      outgoing.end(body);
    });
  }
}

const byEndpoint = new Map<string, SignedConnections>();

/** One `SignedConnections` per endpoint for the life of the Lambda instance, created on first use. */
export function signedConnectionsAt(endpoint: string, maxSockets = 50): SignedConnections {
  let connections = byEndpoint.get(endpoint);
  if (!connections) {
    connections = new SignedConnections(endpoint, { maxSockets });
    byEndpoint.set(endpoint, connections);
  }
  return connections;
}
