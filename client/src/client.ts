import type { BackoffOptions } from './backoff';
import { backoffDelay } from './backoff';
import { Emitter } from './emitter';
import {
  AbortError,
  ConnectionClosedError,
  RohrpostClientError,
  RohrpostError,
  TimeoutError,
} from './errors';
import type { FeedResult, GroupPosition, Update } from './group-feed';
import type { WebSocketConstructor } from './socket';
import { Connection } from './socket';
import type { GroupRef } from './subscription';
import { Subscription } from './subscription';

export interface RohrpostClientOptions {
  /** The WebSocket URL: `wss://<api>.execute-api.<region>.amazonaws.com/prod`, or the sandbox's. */
  readonly url: string;
  /**
   * The WebSocket implementation: `ws` on Node 20, for example.
   * @default globalThis.WebSocket (browsers, Node 22+)
   */
  readonly WebSocket?: WebSocketConstructor;
  /**
   * Called before every (re)connect; its token goes into the URL for the `$connect` authorizer
   * and into every message as `auth_jwt`. @default no token
   */
  readonly token?: () => string | undefined | Promise<string | undefined>;
  /** The query parameter the token is passed in. @default 'token' */
  readonly tokenParameter?: string;
  /** Send the token as `auth_jwt` on every message, as rohrpost-js does. @default true */
  readonly authJwt?: boolean;
  /** How long a call waits for its reply, offline time included. @default 10000 */
  readonly callTimeoutMs?: number;
  /** How long to wait between reconnects; `false` never reconnects. @default {initialDelayMs: 500, maxDelayMs: 30000} */
  readonly reconnect?: BackoffOptions | false;
  /**
   * A ping after this long without a message keeps API Gateway's 10-minute idle timeout away,
   * and a ping unanswered within `timeoutMs` means the socket is dead. @default {intervalMs: 60000, timeoutMs: 10000}
   */
  readonly keepAlive?: { readonly intervalMs?: number; readonly timeoutMs?: number };
  /**
   * When a connection is this old, a new one is opened and resubscribed before the old one is
   * closed, ahead of API Gateway's 2-hour limit. @default 6600000 (1 hour 50 minutes)
   */
  readonly maxConnectionAgeMs?: number;
  /** How long messages wait for a missing one before the client recovers it from the history. @default 3000 */
  readonly gapTimeoutMs?: number;
}

export type ClientState = 'connecting' | 'open' | 'reconnecting' | 'closed';

/** A message the server sent on its own that is no reply and no `subscription-update`. */
export interface ServerMessage {
  readonly id?: unknown;
  readonly type?: unknown;
  readonly error?: unknown;
  readonly data?: unknown;
  readonly [key: string]: unknown;
}

export interface ClientEvents {
  /** A connection opened; `rollover` when it replaces one ahead of the 2-hour limit. */
  open: { readonly rollover: boolean };
  /**
   * The connection closed; unless the client was closed, it reconnects. `opened` is false when
   * it never opened: its handshake was refused (by the `$connect` authorizer, say) or the server
   * was unreachable, which a browser cannot tell apart (both close with 1006).
   */
  close: {
    readonly code: number;
    readonly reason: string;
    readonly willReconnect: boolean;
    readonly opened: boolean;
  };
  /** The next connection attempt is scheduled. */
  reconnecting: { readonly attempt: number; readonly delayMs: number };
  /** A resubscribe after a reconnect: whether the messages missed meanwhile were all delivered. */
  recovered: { readonly group: string; readonly recovered: boolean; readonly missed: number };
  /** Something went wrong that no call rejected with: a failed subscribe, a listener that threw. */
  error: RohrpostClientError;
  /** A server-initiated message of any type but `subscription-update`. */
  message: ServerMessage;
}

interface PendingCall {
  readonly type: string;
  readonly message: Record<string, unknown>;
  resolve(data: unknown): void;
  reject(error: RohrpostClientError): void;
  /** The connection it was sent on; unset while it waits for one. */
  connection?: Connection;
}

const NORMAL_CLOSURE = 1000;
/** Closed by the client because a ping went unanswered. */
const KEEP_ALIVE_FAILED = 4000;

/**
 * A rohrpost client that never misses an update: calls with timeouts and cancellation,
 * subscriptions that recover what they missed across reconnects (PROTOCOL.md §5), reconnects
 * with exponential backoff and full jitter, keep-alive pings, and a seamless rollover before
 * API Gateway's 2-hour limit. It connects when created.
 */
export class RohrpostClient {
  private readonly emitter: Emitter<ClientEvents>;
  private readonly WebSocketImpl: WebSocketConstructor;
  private readonly pending = new Map<string, PendingCall>();
  private readonly subscriptions = new Map<string, Subscription<unknown>>();
  /** Subscriptions by the group name the server replied with, which updates carry. */
  private readonly byName = new Map<string, Subscription<unknown>>();
  private current: Connection | undefined;
  /** A connection opened to replace the current one before its age limit. */
  private successor: Connection | undefined;
  private token: string | undefined;
  private nextId = 0;
  private attempt = 0;
  private stateValue: ClientState = 'connecting';
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private keepAliveTimer: ReturnType<typeof setTimeout> | undefined;
  private rolloverTimer: ReturnType<typeof setTimeout> | undefined;
  private reporting = false;

  constructor(private readonly options: RohrpostClientOptions) {
    const WebSocketImpl = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (!WebSocketImpl) {
      throw new RohrpostClientError(
        'No WebSocket implementation: pass one as the WebSocket option (`import WebSocket from "ws"`), or use Node 22+.',
      );
    }
    this.WebSocketImpl = WebSocketImpl;
    this.emitter = new Emitter((error) => this.report(error));
    void this.connect(false);
  }

  get state(): ClientState {
    return this.stateValue;
  }

  /** A getter, so that a check after an `await` is not narrowed away. */
  private get isClosed(): boolean {
    return this.stateValue === 'closed';
  }

  on<K extends keyof ClientEvents>(name: K, listener: (event: ClientEvents[K]) => void): () => void {
    return this.emitter.on(name, listener);
  }

  /**
   * Sends a request and resolves with its reply's `data`. Rejects with `RohrpostError` for an
   * error reply, `TimeoutError`, `AbortError`, or `ConnectionClosedError` when the connection
   * it was sent on closes first. Made while offline, it is sent once connected, within its timeout.
   */
  call<T = unknown>(
    type: string,
    data?: unknown,
    options: { readonly timeoutMs?: number; readonly signal?: AbortSignal } = {},
  ): Promise<T> {
    return this.request(type, data, {}, options) as Promise<T>;
  }

  /**
   * Subscribes to a group; the subscription lasts across reconnects until `unsubscribe`. With
   * `since`, a position saved from an earlier subscription, it starts by recovering what was
   * missed since then.
   */
  subscribe<T = unknown>(group: GroupRef, options: { readonly since?: GroupPosition } = {}): Subscription<T> {
    const key = JSON.stringify(group);
    const existing = this.subscriptions.get(key);
    if (existing) return existing as Subscription<T>;
    const subscription = new Subscription<T>(
      group,
      (leaving) => this.leave(leaving as Subscription<unknown>),
      (error) => this.report(error),
    );
    subscription.feed.position = options.since;
    this.subscriptions.set(key, subscription as Subscription<unknown>);
    if (this.current?.isOpen) void this.sendSubscribe(subscription as Subscription<unknown>, this.current);
    return subscription;
  }

  /** Leaves a group subscribed to with `subscribe`. */
  unsubscribe(group: GroupRef): Promise<void> {
    const subscription = this.subscriptions.get(JSON.stringify(group));
    return subscription ? this.leave(subscription) : Promise.resolve();
  }

  /** Closes the connection for good: pending calls reject with `ConnectionClosedError`. */
  close(): void {
    if (this.isClosed) return;
    this.stateValue = 'closed';
    for (const timer of [this.reconnectTimer, this.keepAliveTimer, this.rolloverTimer]) clearTimeout(timer);
    for (const subscription of this.subscriptions.values()) clearTimeout(subscription.gapTimer);
    for (const [id, call] of this.pending) {
      this.pending.delete(id);
      call.reject(new ConnectionClosedError(call.type));
    }
    this.successor?.close(NORMAL_CLOSURE, 'client closed');
    this.current?.close(NORMAL_CLOSURE, 'client closed');
  }

  /** Drops the connection as a network failure would, to try recovery; the client reconnects. */
  dropConnection(): void {
    this.current?.close(KEEP_ALIVE_FAILED, 'dropped on purpose');
  }

  // Connecting

  private async connect(rollover: boolean): Promise<void> {
    if (this.isClosed) return;
    let url: string;
    try {
      this.token = await this.options.token?.();
      url = this.urlWithToken();
    } catch (error) {
      this.report(new RohrpostClientError('The token provider failed; retrying.', { cause: error }));
      if (!rollover) this.scheduleReconnect();
      return;
    }
    if (this.isClosed) return;
    let socket;
    try {
      socket = new this.WebSocketImpl(url);
    } catch (error) {
      this.report(
        new RohrpostClientError(`Cannot open a WebSocket to ${this.options.url}.`, { cause: error }),
      );
      if (!rollover) this.scheduleReconnect();
      return;
    }
    const connection = new Connection(socket, {
      open: (opened) => this.opened(opened),
      message: (from, message) => this.received(from, message),
      close: (closed, code, reason) => this.connectionClosed(closed, code, reason),
    });
    if (rollover) this.successor = connection;
    else this.current = connection;
  }

  private urlWithToken(): string {
    if (this.token === undefined) return this.options.url;
    const url = new URL(this.options.url);
    url.searchParams.set(this.options.tokenParameter ?? 'token', this.token);
    return url.toString();
  }

  private opened(connection: Connection): void {
    if (this.isClosed) return void connection.close(NORMAL_CLOSURE, 'client closed');
    if (connection === this.successor) return void this.rollOver(connection);
    this.stateValue = 'open';
    this.emitter.emit('open', { rollover: false });
    for (const subscription of this.subscriptions.values()) void this.sendSubscribe(subscription, connection);
    this.flush(connection);
    this.keepAlive();
    this.scheduleRollover();
  }

  /** Sends the calls made while there was no open connection. */
  private flush(connection: Connection): void {
    for (const call of this.pending.values()) if (!call.connection) this.transmit(call, connection);
  }

  private connectionClosed(connection: Connection, code: number, reason: string): void {
    for (const [id, call] of this.pending) {
      if (call.connection !== connection) continue;
      this.pending.delete(id);
      call.reject(new ConnectionClosedError(call.type, code, reason));
    }
    if (connection === this.successor) {
      this.successor = undefined;
      // The connection it was to replace died meanwhile: reconnect as after any drop.
      if (!this.current && !this.isClosed) this.scheduleReconnect();
      return;
    }
    if (connection !== this.current) return; // one replaced by a rollover
    clearTimeout(this.keepAliveTimer);
    clearTimeout(this.rolloverTimer);
    const willReconnect = !this.isClosed && this.options.reconnect !== false;
    this.emitter.emit('close', { code, reason, willReconnect, opened: connection.opened });
    if (this.isClosed) return;
    this.current = undefined;
    // A successor being subscribed takes over when it is done; otherwise, reconnect.
    if (this.successor) this.stateValue = 'reconnecting';
    else if (willReconnect) this.scheduleReconnect();
    else this.close();
  }

  private scheduleReconnect(): void {
    if (this.isClosed || this.reconnectTimer) return;
    const delayMs = backoffDelay(this.attempt, this.options.reconnect || undefined);
    this.stateValue = 'reconnecting';
    this.emitter.emit('reconnecting', { attempt: ++this.attempt, delayMs });
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      void this.connect(false);
    }, delayMs);
  }

  /** A ping when the connection has been quiet; an unanswered ping ends it. */
  private keepAlive(): void {
    clearTimeout(this.keepAliveTimer);
    const connection = this.current;
    if (!connection?.isOpen) return;
    const { intervalMs = 60_000, timeoutMs = 10_000 } = this.options.keepAlive ?? {};
    this.keepAliveTimer = setTimeout(() => {
      this.request('ping', undefined, {}, { timeoutMs }, connection).then(
        () => undefined,
        (error) => {
          if (error instanceof TimeoutError)
            connection.close(KEEP_ALIVE_FAILED, 'keep-alive ping unanswered');
        },
      );
    }, intervalMs);
  }

  private scheduleRollover(): void {
    clearTimeout(this.rolloverTimer);
    this.rolloverTimer = setTimeout(
      () => void this.connect(true),
      this.options.maxConnectionAgeMs ?? 6_600_000,
    );
  }

  /**
   * The successor is open: it subscribes to every group (recovering from the positions the
   * old connection reached), then takes over, and the old connection closes once its calls are
   * answered. The groups' members include both connections meanwhile, so nothing is missed.
   */
  private rollOver(successor: Connection): void {
    const resubscribed = [...this.subscriptions.values()].map((subscription) =>
      this.sendSubscribe(subscription, successor),
    );
    void Promise.all(resubscribed).then(() => {
      if (this.isClosed || this.successor !== successor || !successor.isOpen) return;
      const previous = this.current;
      this.current = successor;
      this.successor = undefined;
      this.stateValue = 'open';
      this.emitter.emit('open', { rollover: true });
      this.flush(successor);
      this.keepAlive();
      this.scheduleRollover();
      if (previous) this.retire(previous);
    });
  }

  /** Closes a replaced connection once no call waits for a reply on it. */
  private retire(connection: Connection): void {
    const waiting = () => [...this.pending.values()].some((call) => call.connection === connection);
    const deadline = Date.now() + (this.options.callTimeoutMs ?? 10_000);
    const check = () => {
      if (waiting() && Date.now() < deadline) return void setTimeout(check, 50);
      connection.close(NORMAL_CLOSURE, 'rolled over to a new connection');
    };
    check();
  }

  // Calls

  private request(
    type: string,
    data: unknown,
    extra: Record<string, unknown>,
    { timeoutMs, signal }: { readonly timeoutMs?: number; readonly signal?: AbortSignal },
    connection?: Connection,
  ): Promise<unknown> {
    if (this.isClosed) return Promise.reject(new ConnectionClosedError(type));
    if (signal?.aborted) return Promise.reject(new AbortError(type, signal.reason));
    const id = `c${++this.nextId}`;
    const message: Record<string, unknown> = { id, type, ...(data !== undefined && { data }), ...extra };
    const limit = timeoutMs ?? this.options.callTimeoutMs ?? 10_000;
    return new Promise((resolve, reject) => {
      const settle = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', aborted);
        this.pending.delete(id);
      };
      const aborted = () => {
        settle();
        reject(new AbortError(type, signal?.reason));
      };
      const timer = setTimeout(() => {
        settle();
        reject(new TimeoutError(type, limit));
      }, limit);
      signal?.addEventListener('abort', aborted, { once: true });
      const call: PendingCall = {
        type,
        message,
        resolve: (value) => (settle(), resolve(value)),
        reject: (error) => (settle(), reject(error)),
      };
      this.pending.set(id, call);
      const target = connection ?? this.current;
      if (target?.isOpen) this.transmit(call, target);
      else if (connection) call.reject(new ConnectionClosedError(type));
    });
  }

  /** Sends a call, with the token of the connection it goes on as `auth_jwt`. */
  private transmit(call: PendingCall, connection: Connection): void {
    call.connection = connection;
    const withToken =
      this.token !== undefined && this.options.authJwt !== false
        ? { ...call.message, auth_jwt: this.token }
        : call.message;
    if (!connection.send(withToken)) call.reject(new ConnectionClosedError(call.type));
  }

  // Receiving

  private received(connection: Connection, message: Record<string, unknown>): void {
    if (connection === this.current) {
      // A server that answers is serving: the next drop starts the backoff afresh.
      this.attempt = 0;
      this.keepAlive();
    }
    const call = typeof message.id === 'string' ? this.pending.get(message.id) : undefined;
    if (call) {
      if (message.error !== undefined) call.reject(new RohrpostError(call.type, message.error, message.data));
      else call.resolve(message.data);
      return;
    }
    if (message.type === 'subscription-update') return this.receivedUpdate(message);
    this.emitter.emit('message', message);
  }

  private receivedUpdate(message: Record<string, unknown>): void {
    const data = message.data as Record<string, unknown> | undefined;
    if (typeof data?.group !== 'string') return;
    const subscription = this.byName.get(data.group);
    if (!subscription) return; // a group left a moment ago
    const object = data.object as { updated_fields?: unknown } | undefined;
    const update: Update = {
      group: data.group,
      type: data.type as Update['type'],
      object,
      ...(Array.isArray(object?.updated_fields) && { updatedFields: object.updated_fields as string[] }),
      ...(typeof data.seq === 'number' && { seq: data.seq }),
      ...(typeof data.epoch === 'string' && { epoch: data.epoch }),
      id: message.id,
    };
    this.deliver(subscription, subscription.feed.received(update));
  }

  // Subscriptions

  /** Sends a subscribe on `connection`, recovering from the feed's position; resolves when settled. */
  private async sendSubscribe(subscription: Subscription<unknown>, connection: Connection): Promise<void> {
    const since = subscription.feed.subscribing();
    let reply: { group?: unknown; epoch?: unknown; seq?: unknown; recovered?: unknown } | undefined;
    try {
      reply = (await this.request(
        'subscribe',
        subscription.group,
        since ? { since } : {},
        {},
        connection,
      )) as typeof reply | undefined;
    } catch (error) {
      this.deliver(subscription, subscription.feed.abandoned());
      if (!this.subscriptions.has(JSON.stringify(subscription.group))) return;
      if (error instanceof RohrpostError) {
        // Refused: the subscription has ended.
        this.subscriptions.delete(JSON.stringify(subscription.group));
        if (subscription.name !== undefined) this.byName.delete(subscription.name);
        subscription.emitter.emit('error', error);
        this.report(error);
      } else if (error instanceof TimeoutError && connection === this.current && connection.isOpen) {
        void this.sendSubscribe(subscription, connection);
      }
      return;
    }
    if (!this.subscriptions.has(JSON.stringify(subscription.group))) return;
    if (typeof reply?.group === 'string' && reply.group !== subscription.name) {
      if (subscription.name !== undefined) this.byName.delete(subscription.name);
      subscription.name = reply.group;
      this.byName.set(reply.group, subscription);
    }
    const result = subscription.feed.replied(reply ?? {}, since);
    const position = subscription.feed.position;
    const recovered = since && typeof reply?.recovered === 'boolean' ? reply.recovered : undefined;
    subscription.emitter.emit('subscribed', {
      group: subscription.name ?? '',
      ...(position && { position }),
      ...(recovered !== undefined && { recovered }),
    });
    if (since && recovered !== undefined) {
      this.emitter.emit('recovered', {
        group: subscription.name ?? '',
        recovered,
        missed: recovered && typeof reply?.seq === 'number' ? reply.seq - since.seq : 0,
      });
    }
    this.deliver(subscription, result);
  }

  private deliver(subscription: Subscription<unknown>, result: FeedResult): void {
    for (const update of result.applied) subscription.emitter.emit('update', update);
    if (result.refetch) {
      subscription.emitter.emit('refetch', {
        group: subscription.name ?? '',
        ...(subscription.feed.position && { position: subscription.feed.position }),
      });
    }
    if (result.resubscribe && this.current?.isOpen) void this.sendSubscribe(subscription, this.current);
    this.watchGap(subscription);
  }

  /** Messages waiting for a missing one too long: recover it from the history. */
  private watchGap(subscription: Subscription<unknown>): void {
    if (!subscription.feed.hasGap) {
      clearTimeout(subscription.gapTimer);
      subscription.gapTimer = undefined;
      return;
    }
    subscription.gapTimer ??= setTimeout(() => {
      subscription.gapTimer = undefined;
      if (subscription.feed.hasGap && this.current?.isOpen)
        void this.sendSubscribe(subscription, this.current);
    }, this.options.gapTimeoutMs ?? 3_000);
  }

  private async leave(subscription: Subscription<unknown>): Promise<void> {
    const key = JSON.stringify(subscription.group);
    if (this.subscriptions.get(key) !== subscription) return;
    this.subscriptions.delete(key);
    if (subscription.name !== undefined) this.byName.delete(subscription.name);
    clearTimeout(subscription.gapTimer);
    if (!this.current?.isOpen) return;
    await this.request('unsubscribe', subscription.group, {}, {});
  }

  /**
   * Hands an error no call rejects with to the `error` listeners, or, without any, to the
   * console: never to an unhandled exception, which would end a Node process.
   */
  private report(error: unknown): void {
    const reported =
      error instanceof RohrpostClientError
        ? error
        : new RohrpostClientError('A listener threw an error.', { cause: error });
    if (this.reporting || !this.emitter.has('error')) return void console.error('rohrpost client:', reported);
    this.reporting = true;
    try {
      this.emitter.emit('error', reported);
    } finally {
      this.reporting = false;
    }
  }
}
