import type { AddressInfo } from 'node:net';
import type { WebSocket } from 'ws';
import { WebSocketServer } from 'ws';
import { WAIT_GUARD_MS } from './hang-guard';

export interface ScriptedConnection {
  readonly url: string;
  readonly socket: WebSocket;
  readonly received: Array<Record<string, unknown>>;
  send(message: unknown): void;
}

/**
 * A WebSocket server on 127.0.0.1 whose answers a test scripts: it records each connection's
 * URL and messages, and answers each message with `respond` (nothing when it returns undefined).
 */
export class ScriptedServer {
  readonly connections: ScriptedConnection[] = [];
  /** Handshakes refused while this is positive; each refusal counts it down. */
  refuseNext = 0;
  private readonly server: WebSocketServer;

  private constructor(
    server: WebSocketServer,
    private readonly respond: (message: Record<string, unknown>, connection: ScriptedConnection) => unknown,
  ) {
    this.server = server;
    server.on('connection', (socket, request) => {
      const connection: ScriptedConnection = {
        url: request.url ?? '/',
        socket,
        received: [],
        send: (message) => socket.send(typeof message === 'string' ? message : JSON.stringify(message)),
      };
      this.connections.push(connection);
      socket.on('message', (data: Buffer) => {
        const message = JSON.parse(data.toString()) as Record<string, unknown>;
        connection.received.push(message);
        const answer = this.respond(message, connection);
        if (answer !== undefined) connection.send(answer);
      });
    });
  }

  /** Starts a server; by default it answers `ping` with `pong` and anything else with an echo. */
  static async start(
    respond: (message: Record<string, unknown>, connection: ScriptedConnection) => unknown = (message) =>
      message.type === 'ping'
        ? { id: message.id, type: 'pong' }
        : { id: message.id, type: message.type, data: message.data },
  ): Promise<ScriptedServer> {
    const server = new WebSocketServer({
      host: '127.0.0.1',
      port: 0,
      verifyClient: (_info, done) => {
        if (scripted.refuseNext <= 0) return done(true);
        scripted.refuseNext--;
        done(false, 503);
      },
    });
    const scripted: ScriptedServer = new ScriptedServer(server, respond);
    await new Promise((resolve) => server.once('listening', resolve));
    return scripted;
  }

  get url(): string {
    return `ws://127.0.0.1:${(this.server.address() as AddressInfo).port}/`;
  }

  /** The latest connection, waiting for the `count`-th one (`timeoutMs` guards against a hang). */
  async connection(
    count = this.connections.length || 1,
    timeoutMs = WAIT_GUARD_MS,
  ): Promise<ScriptedConnection> {
    const deadline = Date.now() + timeoutMs;
    while (this.connections.length < count) {
      if (Date.now() > deadline) throw new Error(`no connection number ${count} within ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    return this.connections[count - 1]!;
  }

  async stop(): Promise<void> {
    for (const client of this.server.clients) client.terminate();
    await new Promise((resolve) => this.server.close(resolve));
  }
}
