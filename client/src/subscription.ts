import { Emitter } from './emitter';
import type { RohrpostClientError } from './errors';
import type { GroupPosition, Update } from './group-feed';
import { GroupFeed } from './group-feed';

/** What a client subscribes to: a group object such as `{"type": "note", "id": 5}`, or a name. */
export type GroupRef =
  string | { readonly type: string; readonly id: string | number; readonly [key: string]: unknown };

export interface SubscriptionEvents<T> {
  /** A change of the group, in seq order, each once. */
  update: Update<T>;
  /** The server confirmed the subscription, after every (re)connect. */
  subscribed: {
    /** The group's name on the server. */
    readonly group: string;
    /** Where the group stood; absent from servers without history. */
    readonly position?: GroupPosition;
    /** After a reconnect: whether every message missed meanwhile was delivered. */
    readonly recovered?: boolean;
  };
  /** Messages were missed and cannot be recovered: fetch the group's state afresh. */
  refetch: { readonly group: string; readonly position?: GroupPosition };
  /** The server refused the subscription; it has ended. */
  error: RohrpostClientError;
}

/** A subscription to one group, alive across reconnects until `unsubscribe()`. */
export class Subscription<T = unknown> {
  /** The group's name on the server, once it replied. */
  name: string | undefined;
  /** @internal */
  readonly feed = new GroupFeed();
  /** @internal */
  readonly emitter: Emitter<SubscriptionEvents<T>>;
  /** @internal */
  gapTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    /** What was subscribed to, as sent in `data`. */
    readonly group: GroupRef,
    private readonly leave: (subscription: Subscription<T>) => Promise<void>,
    onListenerError: (error: unknown) => void,
  ) {
    this.emitter = new Emitter(onListenerError);
  }

  /** Where the application's copy of the group stands: save it to resume from it later. */
  get position(): GroupPosition | undefined {
    return this.feed.position;
  }

  on<K extends keyof SubscriptionEvents<T>>(
    name: K,
    listener: (event: SubscriptionEvents<T>[K]) => void,
  ): () => void {
    return this.emitter.on(name, listener);
  }

  /** Leaves the group; resolves when the server confirmed, or at once when offline. */
  unsubscribe(): Promise<void> {
    return this.leave(this);
  }
}
