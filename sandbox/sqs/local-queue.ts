import { createHash, randomBytes, randomUUID } from 'node:crypto';

/** A message a queue holds, until it is deleted or its retention ends. */
export interface StoredMessage {
  readonly messageId: string;
  readonly body: string;
  /** Epoch milliseconds. */
  readonly sentAt: number;
  receiveCount: number;
  firstReceivedAt: number | undefined;
  /** Epoch milliseconds from which a receive can take it. */
  visibleAt: number;
  /** The handle of its latest receive: only that one deletes it or changes its visibility. */
  receiptHandle: string | undefined;
}

/** A message as ReceiveMessage returns it. */
export interface ReceivedMessage {
  readonly messageId: string;
  readonly receiptHandle: string;
  readonly body: string;
  readonly md5OfBody: string;
  readonly attributes: {
    readonly SentTimestamp: string;
    readonly ApproximateReceiveCount: string;
    readonly ApproximateFirstReceiveTimestamp: string;
  };
}

export interface LocalQueueOptions {
  readonly name: string;
  readonly url: string;
  /** How long a received message stays hidden from other receivers. @default 30, SQS's */
  readonly visibilityTimeoutSeconds?: number;
  /** How long a message is kept. @default 345600 (4 days), SQS's */
  readonly retentionSeconds?: number;
  /** Called with each message sent, once stored. @default nothing */
  readonly onSend?: (message: StoredMessage) => void;
}

/** SQS's longest visibility timeout, 12 hours. */
const MAX_VISIBILITY_SECONDS = 12 * 60 * 60;

/**
 * A standard SQS queue in memory, with SQS's semantics for one consumer at a time: a received
 * message is invisible for the visibility timeout, comes back if it is not deleted in time (its
 * receive count rising), and is deleted or made visible again only with its latest receipt
 * handle. Messages are returned in the order they were sent, which SQS makes no promise of.
 */
export class LocalQueue {
  private readonly stored: StoredMessage[] = [];
  private readonly waiters = new Set<() => void>();

  constructor(private readonly options: LocalQueueOptions) {}

  get name(): string {
    return this.options.name;
  }

  get url(): string {
    return this.options.url;
  }

  /** Every message the queue holds, visible or in flight, oldest first. */
  get messages(): readonly StoredMessage[] {
    this.expire();
    return this.stored;
  }

  send(body: string): { messageId: string; md5OfBody: string } {
    const message: StoredMessage = {
      messageId: randomUUID(),
      body,
      sentAt: Date.now(),
      receiveCount: 0,
      firstReceivedAt: undefined,
      visibleAt: 0,
      receiptHandle: undefined,
    };
    this.stored.push(message);
    this.options.onSend?.(message);
    for (const wake of [...this.waiters]) wake();
    return { messageId: message.messageId, md5OfBody: md5(body) };
  }

  /**
   * Up to `max` visible messages, hidden for `visibilityTimeoutSeconds` (the queue's by default);
   * with `waitMs`, waits that long for a first one to arrive (long polling).
   */
  async receive(options: {
    max: number;
    visibilityTimeoutSeconds?: number;
    waitMs?: number;
  }): Promise<ReceivedMessage[]> {
    const deadline = Date.now() + (options.waitMs ?? 0);
    for (;;) {
      const received = this.take(options.max, options.visibilityTimeoutSeconds);
      const remaining = deadline - Date.now();
      if (received.length > 0 || remaining <= 0) return received;
      await this.wait(Math.min(remaining, this.nextVisibleIn()));
    }
  }

  /** Deletes the message of a receipt handle; false when the handle is not a message's latest. */
  delete(receiptHandle: string): boolean {
    const index = this.stored.findIndex((message) => message.receiptHandle === receiptHandle);
    if (index === -1) return false;
    this.stored.splice(index, 1);
    return true;
  }

  /** Changes how long the message of a receipt handle stays hidden, from now; 0 makes it visible. */
  changeVisibility(receiptHandle: string, seconds: number): boolean {
    const message = this.stored.find((candidate) => candidate.receiptHandle === receiptHandle);
    if (!message || message.visibleAt <= Date.now()) return false;
    message.visibleAt = Date.now() + seconds * 1000;
    if (seconds === 0) for (const wake of [...this.waiters]) wake();
    return true;
  }

  /** Ends long polls under way: the sandbox is stopping. */
  stop(): void {
    for (const wake of [...this.waiters]) wake();
    this.waiters.clear();
  }

  private take(max: number, visibilityTimeoutSeconds?: number): ReceivedMessage[] {
    this.expire();
    const now = Date.now();
    const hiddenFor = Math.min(
      visibilityTimeoutSeconds ?? this.options.visibilityTimeoutSeconds ?? 30,
      MAX_VISIBILITY_SECONDS,
    );
    const received: ReceivedMessage[] = [];
    for (const message of this.stored) {
      if (received.length >= max) break;
      if (message.visibleAt > now) continue;
      message.receiveCount++;
      message.firstReceivedAt ??= now;
      message.visibleAt = now + hiddenFor * 1000;
      message.receiptHandle = randomBytes(24).toString('base64url');
      received.push({
        messageId: message.messageId,
        receiptHandle: message.receiptHandle,
        body: message.body,
        md5OfBody: md5(message.body),
        attributes: {
          SentTimestamp: String(message.sentAt),
          ApproximateReceiveCount: String(message.receiveCount),
          ApproximateFirstReceiveTimestamp: String(message.firstReceivedAt),
        },
      });
    }
    return received;
  }

  /** Milliseconds until an in-flight message becomes visible again; a long time when none is in flight. */
  private nextVisibleIn(): number {
    const now = Date.now();
    const next = Math.min(...this.stored.map((message) => message.visibleAt).filter((at) => at > now));
    return Number.isFinite(next) ? Math.max(1, next - now) : 60_000;
  }

  private wait(milliseconds: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.waiters.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, milliseconds);
      this.waiters.add(wake);
    });
  }

  private expire(): void {
    const oldest = Date.now() - (this.options.retentionSeconds ?? 345_600) * 1000;
    while (this.stored.length > 0 && this.stored[0]!.sentAt < oldest) this.stored.shift();
  }
}

/** SQS's checksum of a message body. */
function md5(body: string): string {
  return createHash('md5').update(body).digest('hex');
}
