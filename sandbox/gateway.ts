import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { RawData, WebSocket } from 'ws';
import { WebSocketServer } from 'ws';
import type { WebSocketResult } from '../lambdas/rohrpost/deploy';
import { localSignatureVerifier } from './aws-local';
import { ConnectionRate } from './connection-rate';
import type { ConnectionDetails, HandshakeDetails, MessageEventEncoder } from './events';
import { connectEvent, disconnectEvent, generateGatewayId, messageEventEncoder } from './events';
import { FrameSizeGuard } from './frame-guard';
import type { HandshakeAuthorizer } from './handshake';
import { authorizeHandshake, handshakeOf, refuseHandshake } from './handshake';
import type { ConnectionInfo, ManagedConnections } from './management-api';
import { serveManagementApi } from './management-api';
import type { PageServer } from './page-server';
import { PostFailures } from './post-failures';
import type { RequestRate } from './request-quota';
import { ACCOUNT_REQUEST_QUOTA, TokenBucket } from './request-quota';
import { invokeRoute, routeFailureMessage } from './route-invocation';

/** API Gateway's quotas, shortened in tests. */
export interface GatewayLimits {
  readonly maxFrameBytes: number;
  readonly maxMessageBytes: number;
  readonly idleTimeoutMs: number;
  readonly maxConnectionMs: number;
  readonly integrationTimeoutMs: number;
  /** Handshakes a second before API Gateway answers 429; `Infinity` for no limit. */
  readonly newConnectionsPerSecond: number;
}

/** An HTTP service on the gateway's port: `serve` answers a request and returns true, or returns false having written nothing. */
export interface HttpService {
  serve(request: IncomingMessage, response: ServerResponse): boolean;
}

/** Something the gateway can invoke: a local Lambda function. */
export interface Invokable {
  invoke(event: unknown): Promise<unknown>;
}

export interface GatewayFunctions {
  /** Serves `$connect`, `$disconnect` and `$default`. */
  readonly websocket: Invokable;
  /** A REQUEST authorizer run before `$connect`. */
  readonly authorizer?: HandshakeAuthorizer;
}

/** What the gateway tells the sandbox's log. */
export interface GatewayReporter {
  connected(connectionId: string, sourceIp: string): void;
  refused(status: number, reason: string): void;
  disconnected(connectionId: string, code: number, reason: string): void;
  frame(direction: 'in' | 'out', connectionId: string, text: string): void;
  invoked(route: string, connectionId: string, milliseconds: number, outcome: string): void;
  failed(message: string): void;
}

export interface GatewayOptions {
  readonly host: string;
  readonly port: number;
  readonly stage: string;
  readonly apiId: string;
  readonly region: string;
  readonly limits: GatewayLimits;
  readonly reporter: GatewayReporter;
  /** Local stand-ins for other AWS services (the dead-letter queue, an identity provider's keys), asked in turn on the same port. @default none */
  readonly services?: readonly HttpService[];
  /** A web page served at the root URL, on the same port. @default none */
  readonly page?: PageServer;
  /**
   * The account's request quota, which every `@connections` request (POST, GET, DELETE) takes
   * from; beyond it the management API answers 429. @default 10,000 a second, bursts of 5,000
   */
  readonly postRate?: RequestRate;
}

interface LiveConnection {
  readonly details: ConnectionDetails;
  readonly handshake: HandshakeDetails;
  readonly socket: WebSocket;
  /** Its frames' `$default` events, in JSON. */
  readonly encode: MessageEventEncoder;
  lastActiveAt: number;
  idleTimer: NodeJS.Timeout;
  readonly lifetimeTimer: NodeJS.Timeout;
  /** A frame API Gateway refuses arrived (too big, binary): nothing more from this client is delivered. */
  refused: boolean;
}

/** API Gateway closes idle and over-age connections with "going away". */
const GOING_AWAY = 1001;
const MESSAGE_TOO_BIG = 1009;
const UNSUPPORTED_DATA = 1003;

/**
 * The sandbox's API Gateway WebSocket API: it completes a handshake only after the authorizer
 * and `$connect` allow it, turns frames into the events API Gateway sends, delivers route
 * responses, enforces the frame, message, idle and lifetime limits, calls `$disconnect` when a
 * socket closes, and serves the management API (`@connections`) on the same port.
 */
export class Gateway implements ManagedConnections {
  private readonly server = createServer((request, response) => this.serveHttp(request, response));
  private readonly sockets: WebSocketServer;
  private readonly connections = new Map<string, LiveConnection>();
  private readonly disconnecting = new Set<Promise<void>>();
  private functions: GatewayFunctions | undefined;
  /** Set by `stop`: from then on no handshake succeeds, so that reconnecting clients cannot keep it waiting. */
  private stopping = false;
  private readonly postFailures = new PostFailures();
  private readonly signatures = localSignatureVerifier('execute-api');
  private readonly connectionRate: ConnectionRate;
  private readonly requestQuota: TokenBucket;

  constructor(private readonly options: GatewayOptions) {
    this.connectionRate = new ConnectionRate(options.limits.newConnectionsPerSecond);
    this.requestQuota = new TokenBucket(options.postRate ?? ACCOUNT_REQUEST_QUOTA);
    this.sockets = new WebSocketServer({
      noServer: true,
      maxPayload: options.limits.maxMessageBytes,
      perMessageDeflate: false,
    });
    this.server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
      socket.on('error', () => undefined);
      this.upgrade(request, socket as Socket, head).catch((error: unknown) => {
        options.reporter.failed(`handshake failed: ${(error as Error).stack ?? String(error)}`);
        refuseHandshake(socket, 500);
      });
    });
  }

  /** Binds the port; connections are refused with 503 until `attach` gives the gateway its functions. */
  async listen(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.options.port, this.options.host, () => resolve());
    });
  }

  attach(functions: GatewayFunctions): void {
    this.functions = functions;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** Where the gateway serves HTTP: `http://<host>:<port>`. */
  get origin(): string {
    return `http://${this.options.host}:${this.port}`;
  }

  /** The management API's endpoint, for ROHRPOST_MANAGEMENT_ENDPOINT and the SDK client. */
  get managementEndpoint(): string {
    return `${this.origin}/${this.options.stage}`;
  }

  /** Makes the next posts to `@connections` fail with these HTTP statuses, as a throttled API would (429). */
  injectPostFailures(...statuses: number[]): void {
    this.postFailures.inject(...statuses);
  }

  /** How many injected failures have not happened yet. */
  get pendingPostFailures(): number {
    return this.postFailures.pending;
  }

  /** Closes every connection (their `$disconnect` runs) and the server. */
  async stop(): Promise<void> {
    this.stopping = true;
    // No new connections from here on; the callback runs once every one of them has ended.
    const unlistened = new Promise<void>((resolve) => this.server.close(() => resolve()));
    const sockets = [...this.connections.values()].map((connection) => connection.socket);
    const closed = Promise.all(
      sockets.map((socket) => new Promise((resolve) => socket.once('close', resolve))),
    );
    for (const socket of sockets) socket.close(GOING_AWAY, 'Going away');
    await within(2_000, closed);
    // Clients that did not answer the close handshake are cut off.
    for (const socket of sockets) socket.terminate();
    await closed;
    await within(5_000, Promise.all([...this.disconnecting]));
    this.sockets.close();
    this.server.closeAllConnections();
    await unlistened;
  }

  // ManagedConnections: the management API's view of the live connections.

  send(connectionId: string, message: string): boolean {
    const connection = this.connections.get(connectionId);
    if (!connection || connection.socket.readyState !== connection.socket.OPEN) return false;
    this.deliver(connection, message);
    return true;
  }

  close(connectionId: string): boolean {
    const connection = this.connections.get(connectionId);
    if (!connection) return false;
    connection.socket.close(1000);
    return true;
  }

  info(connectionId: string): ConnectionInfo | undefined {
    const connection = this.connections.get(connectionId);
    if (!connection) return undefined;
    const { connectedAt, sourceIp, userAgent } = connection.details;
    return { connectedAt, lastActiveAt: connection.lastActiveAt, sourceIp, userAgent };
  }

  private serveHttp(request: IncomingMessage, response: ServerResponse): void {
    if (this.postFailures.serve(request, response)) return;
    if (this.options.services?.some((service) => service.serve(request, response))) return;
    if (serveManagementApi(request, response, this, this.signatures, this.requestQuota)) return;
    if (this.options.page?.serve(request, response)) return;
    if (this.isWebSocketPath(request.url)) {
      response.writeHead(426, { 'content-type': 'text/plain', upgrade: 'websocket' });
      return void response.end('This is a WebSocket endpoint: connect with a WebSocket client.\n');
    }
    response.writeHead(403, { 'content-type': 'application/json' }).end('{"message":"Forbidden"}');
  }

  private isWebSocketPath(url: string | undefined): boolean {
    const path = (url ?? '/').split('?')[0]!;
    return path === '/' || path === `/${this.options.stage}` || path === `/${this.options.stage}/`;
  }

  private async upgrade(request: IncomingMessage, socket: Socket, head: Buffer): Promise<void> {
    const { reporter } = this.options;
    if (!this.isWebSocketPath(request.url)) return refuseHandshake(socket, 403);
    const functions = this.functions;
    if (!functions || this.stopping) return refuseHandshake(socket, 503);
    if (!this.connectionRate.take()) {
      reporter.refused(429, `over ${this.options.limits.newConnectionsPerSecond} new connections a second`);
      return refuseHandshake(socket, 429);
    }

    const handshake = handshakeOf(request, socket);
    const details: ConnectionDetails = {
      connectionId: generateGatewayId(),
      connectedAt: Date.now(),
      apiId: this.options.apiId,
      stage: this.options.stage,
      domainName: request.headers.host ?? `${this.options.host}:${this.port}`,
      sourceIp: socket.remoteAddress ?? '127.0.0.1',
      userAgent: request.headers['user-agent'],
    };

    let connection = details;
    if (functions.authorizer) {
      const authorization = await authorizeHandshake(functions.authorizer, details, handshake, this.options);
      if (!authorization.allowed) {
        reporter.refused(authorization.status, 'by the authorizer');
        return refuseHandshake(socket, authorization.status);
      }
      connection = { ...details, authorizer: authorization.context };
    }

    const started = Date.now();
    const status = await this.invoke(functions.websocket, connectEvent(connection, handshake)).then(
      (result) => (result && typeof result.statusCode === 'number' ? result.statusCode : 200),
      () => 500,
    );
    reporter.invoked('$connect', details.connectionId, Date.now() - started, String(status));
    if (status < 200 || status > 299) {
      reporter.refused(status, 'by $connect');
      return refuseHandshake(socket, status);
    }
    if (socket.destroyed || this.stopping) {
      // The client left, or the gateway began to stop, while $connect ran: the disconnect is
      // still reported, as API Gateway reports it.
      if (!socket.destroyed) refuseHandshake(socket, 503);
      this.trackDisconnect(functions, connection, handshake, { code: 1006, reason: '' });
      return;
    }
    this.sockets.handleUpgrade(request, socket, head, (webSocket) =>
      this.open(webSocket, socket, connection, handshake),
    );
  }

  private open(
    webSocket: WebSocket,
    socket: Socket,
    details: ConnectionDetails,
    handshake: HandshakeDetails,
  ): void {
    const { limits, reporter } = this.options;
    const connection: LiveConnection = {
      details,
      handshake,
      socket: webSocket,
      encode: messageEventEncoder(details),
      lastActiveAt: Date.now(),
      idleTimer: setTimeout(() => webSocket.close(GOING_AWAY, 'Going away'), limits.idleTimeoutMs),
      lifetimeTimer: setTimeout(() => webSocket.close(GOING_AWAY, 'Going away'), limits.maxConnectionMs),
      refused: false,
    };
    this.connections.set(details.connectionId, connection);

    // Runs before ws reads the bytes, so an oversized frame is never delivered.
    const guard = new FrameSizeGuard(limits.maxFrameBytes);
    socket.prependListener('data', (chunk: Buffer) => {
      if (!connection.refused && !guard.accept(chunk)) {
        connection.refused = true;
        webSocket.close(MESSAGE_TOO_BIG, 'Message too big');
      }
    });
    webSocket.on('message', (data, isBinary) => this.receive(connection, data, isBinary));
    webSocket.on('error', (error) => reporter.failed(`connection ${details.connectionId}: ${error.message}`));
    webSocket.on('close', (code, reason) => this.closed(connection, code, reason.toString()));
    reporter.connected(details.connectionId, details.sourceIp);
  }

  private receive(connection: LiveConnection, data: RawData, isBinary: boolean): void {
    if (connection.refused || !this.functions) return;
    const buffer = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as Buffer);
    const { details } = connection;
    if (isBinary) {
      // API Gateway takes text frames only.
      connection.refused = true;
      this.options.reporter.frame('in', details.connectionId, `<${buffer.length} binary bytes: refused>`);
      return void connection.socket.close(UNSUPPORTED_DATA, 'Binary frames are not supported');
    }
    this.touch(connection);
    const text = buffer.toString('utf8');
    this.options.reporter.frame('in', details.connectionId, text);
    const started = Date.now();
    const { event, requestId } = connection.encode(text, started);
    void this.invoke(this.functions.websocket, event).then(
      (result) => {
        this.options.reporter.invoked(
          '$default',
          details.connectionId,
          Date.now() - started,
          String(result?.statusCode ?? 200),
        );
        if (typeof result?.body === 'string' && result.body !== '') this.respond(connection, result.body);
      },
      (error: unknown) => {
        const message = routeFailureMessage(error);
        this.options.reporter.invoked('$default', details.connectionId, Date.now() - started, message);
        if (message === 'Internal server error') {
          this.options.reporter.failed(`$default failed: ${(error as Error).message}`);
        }
        this.respond(connection, JSON.stringify({ message, connectionId: details.connectionId, requestId }));
      },
    );
  }

  /** Sends a route response, which is subject to the same size limit as any message. */
  private respond(connection: LiveConnection, body: string): void {
    const size = Buffer.byteLength(body);
    if (size > this.options.limits.maxMessageBytes) {
      this.options.reporter.failed(
        `route response of ${size} bytes to ${connection.details.connectionId} not sent: the limit is ${this.options.limits.maxMessageBytes}`,
      );
      return;
    }
    if (connection.socket.readyState === connection.socket.OPEN) this.deliver(connection, body);
  }

  private deliver(connection: LiveConnection, message: string): void {
    this.touch(connection);
    this.options.reporter.frame('out', connection.details.connectionId, message);
    connection.socket.send(message);
  }

  private touch(connection: LiveConnection): void {
    connection.lastActiveAt = Date.now();
    connection.idleTimer.refresh();
  }

  private closed(connection: LiveConnection, code: number, reason: string): void {
    clearTimeout(connection.idleTimer);
    clearTimeout(connection.lifetimeTimer);
    this.connections.delete(connection.details.connectionId);
    this.options.reporter.disconnected(connection.details.connectionId, code, reason);
    if (this.functions)
      this.trackDisconnect(this.functions, connection.details, connection.handshake, { code, reason });
  }

  private trackDisconnect(
    functions: GatewayFunctions,
    details: ConnectionDetails,
    handshake: HandshakeDetails,
    close: { code: number; reason: string },
  ): void {
    const started = Date.now();
    const done = this.invoke(functions.websocket, disconnectEvent(details, handshake, close)).then(
      (result) =>
        this.options.reporter.invoked(
          '$disconnect',
          details.connectionId,
          Date.now() - started,
          String(result?.statusCode ?? 200),
        ),
      (error: unknown) => this.options.reporter.failed(`$disconnect failed: ${(error as Error).message}`),
    );
    this.disconnecting.add(done);
    void done.finally(() => this.disconnecting.delete(done));
  }

  private invoke(fn: Invokable, event: unknown): Promise<WebSocketResult | undefined> {
    return invokeRoute(fn, event, this.options.limits.integrationTimeoutMs);
  }
}

/** Waits for `promise`, but no longer than `milliseconds`. */
function within(milliseconds: number, promise: Promise<unknown>): Promise<unknown> {
  return Promise.race([promise, new Promise((resolve) => setTimeout(resolve, milliseconds).unref())]);
}
