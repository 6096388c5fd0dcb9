import WebSocket from 'ws';
import { WAIT_GUARD_MS } from './hang-guard';

/** A WebSocket client for tests: every frame it receives can be awaited in order. */
export class TestSocket {
  readonly received: string[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  private waiting: Array<(text: string) => void> = [];
  private read = 0;

  private constructor(readonly socket: WebSocket) {
    socket.on('message', (data: Buffer) => {
      this.received.push(data.toString());
      this.waiting.shift()?.(data.toString());
    });
    this.closed = new Promise((resolve) =>
      socket.on('close', (code, reason) => resolve({ code, reason: reason.toString() })),
    );
  }

  /** Opens a connection; rejects with the HTTP status when the handshake is refused. */
  static open(url: string, options: { onOpen?: (socket: WebSocket) => void } = {}): Promise<TestSocket> {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(url.replace('ws://localhost', 'ws://127.0.0.1'));
      const client = new TestSocket(socket);
      socket.once('open', () => {
        options.onOpen?.(socket);
        resolve(client);
      });
      socket.once('unexpected-response', (_request, response) => {
        reject(new HandshakeRefused(response.statusCode ?? 0));
        response.resume();
        socket.terminate();
      });
      socket.once('error', reject);
    });
  }

  /** Sends a text frame: a string as it is, anything else as JSON. */
  send(message: unknown): void {
    this.socket.send(typeof message === 'string' ? message : JSON.stringify(message));
  }

  /** The next frame not yet read, however long it takes to come; `timeoutMs` guards against a hang. */
  next(timeoutMs = WAIT_GUARD_MS): Promise<string> {
    if (this.read < this.received.length) return Promise.resolve(this.received[this.read++]!);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no message within ${timeoutMs} ms`)), timeoutMs);
      this.waiting.push((text) => {
        clearTimeout(timer);
        this.read++;
        resolve(text);
      });
    });
  }

  /** The next frame, parsed. */
  async nextJson<T = Record<string, unknown>>(timeoutMs?: number): Promise<T> {
    return JSON.parse(await this.next(timeoutMs)) as T;
  }

  /** Sends and returns the next frame. */
  async ask(message: unknown): Promise<string> {
    this.send(message);
    return this.next();
  }

  /** Sends and returns the next frame, parsed. */
  async askJson<T = Record<string, unknown>>(message: unknown): Promise<T> {
    this.send(message);
    return this.nextJson<T>();
  }

  async close(): Promise<void> {
    if (this.socket.readyState === WebSocket.OPEN) this.socket.close(1000);
    await this.closed;
  }
}

export class HandshakeRefused extends Error {
  constructor(readonly statusCode: number) {
    super(`handshake refused with ${statusCode}`);
  }
}
