/**
 * What the client needs of a WebSocket: the browser's, Node 22's global one, or `ws`'s. The
 * handlers take `never` so that every implementation's own event types fit.
 */
export interface WebSocketLike {
  readonly readyState: number;
  onopen: ((event: never) => void) | null;
  onmessage: ((event: never) => void) | null;
  onclose: ((event: never) => void) | null;
  onerror: ((event: never) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

export type WebSocketConstructor = new (url: string) => WebSocketLike;

const OPEN = 1;

/** What a connection tells its owner. */
export interface ConnectionEvents {
  open(connection: Connection): void;
  message(connection: Connection, message: Record<string, unknown>): void;
  close(connection: Connection, code: number, reason: string): void;
}

/**
 * One WebSocket: it parses frames, and reports its close exactly once, also when the client
 * gives up on it first (a dead socket may take minutes to report its own close).
 */
export class Connection {
  private closed = false;
  private openedValue = false;

  constructor(
    private readonly socket: WebSocketLike,
    private readonly events: ConnectionEvents,
  ) {
    socket.onopen = () => {
      this.openedValue = true;
      events.open(this);
    };
    socket.onmessage = ({ data }: { readonly data: unknown }) => {
      // A socket the client gave up on may still deliver during its closing handshake: not to us.
      if (this.closed) return;
      if (typeof data !== 'string') return; // the server sends text frames only
      let message: unknown;
      try {
        message = JSON.parse(data);
      } catch {
        return;
      }
      if (typeof message === 'object' && message !== null && !Array.isArray(message)) {
        events.message(this, message as Record<string, unknown>);
      }
    };
    socket.onclose = ({ code, reason }: { readonly code: number; readonly reason: string }) =>
      this.ended(code, reason);
    socket.onerror = () => undefined; // a close event follows every error
  }

  /** Whether the handshake ever completed. */
  get opened(): boolean {
    return this.openedValue;
  }

  get isOpen(): boolean {
    return !this.closed && this.socket.readyState === OPEN;
  }

  /** Sends one message as JSON; false when the socket is not open. */
  send(message: object): boolean {
    if (!this.isOpen) return false;
    this.socket.send(JSON.stringify(message));
    return true;
  }

  /** Closes the socket and reports the close at once, without waiting for the socket's own. */
  close(code: number, reason: string): void {
    try {
      this.socket.close(code, reason);
    } catch {
      // Closing a socket that never opened can throw in some implementations: it is gone either way.
    }
    this.ended(code, reason);
  }

  private ended(code: number, reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.events.close(this, code, reason);
  }
}
