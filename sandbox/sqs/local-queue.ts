import { createHash, randomBytes, randomInt, randomUUID } from 'node:crypto';
import { LOCAL_ACCOUNT_ID, LOCAL_CREDENTIALS, LOCAL_REGION } from '../aws-local';

/** A message a queue holds, until it is deleted, moved to the dead-letter queue or its retention ends. */
export interface StoredMessage {
  readonly messageId: string;
  readonly body: string;
  /** Epoch milliseconds: its `SentTimestamp`. */
  readonly sentAt: number;
  /** Epoch milliseconds from which its retention counts. */
  readonly enqueuedAt: number;
  readonly senderId: string;
  /** FIFO queues: its message group; standard queues: its fair-queue tenant, if it was sent with one. */
  readonly groupId: string | undefined;
  /** FIFO queues only. */
  readonly deduplicationId: string | undefined;
  /** FIFO queues only: a large number, rising with every message sent to the queue. */
  readonly sequenceNumber: string | undefined;
  /** The ARN of the queue it was moved from, in a dead-letter queue. */
  readonly deadLetterSourceArn: string | undefined;
  receiveCount: number;
  firstReceivedAt: number | undefined;
  /** Epoch milliseconds from which a receive can take it. */
  visibleAt: number;
  /** The handle of its latest receive: only that one deletes it or changes its visibility. */
  receiptHandle: string | undefined;
}

/** The system attributes of a received message, as ReceiveMessage names them. */
export interface MessageSystemAttributes {
  readonly SenderId: string;
  readonly SentTimestamp: string;
  readonly ApproximateReceiveCount: string;
  readonly ApproximateFirstReceiveTimestamp: string;
  readonly SequenceNumber?: string;
  readonly MessageGroupId?: string;
  readonly MessageDeduplicationId?: string;
  readonly DeadLetterQueueSourceArn?: string;
}

/** A message as ReceiveMessage returns it. */
export interface ReceivedMessage {
  readonly messageId: string;
  readonly receiptHandle: string;
  readonly body: string;
  readonly md5OfBody: string;
  readonly attributes: MessageSystemAttributes;
}

export interface SendOptions {
  /** Required on a FIFO queue; on a standard queue, a fair-queue tenant. */
  readonly groupId?: string;
  /** Required on a FIFO queue (the sandbox has no content-based deduplication); refused on a standard one. */
  readonly deduplicationId?: string;
  /** Who sent it, its `SenderId`. @default the access key id of the sandbox's credentials */
  readonly senderId?: string;
}

export interface SentMessage {
  readonly messageId: string;
  readonly md5OfBody: string;
  /** FIFO queues only. */
  readonly sequenceNumber?: string;
}

/** A redrive policy: where a message goes once it has been received `maxReceiveCount` times. */
export interface DeadLetterTarget {
  readonly queue: LocalQueue;
  /** From 1 to 1,000. */
  readonly maxReceiveCount: number;
}

export interface LocalQueueOptions {
  /** A name that ends in `.fifo` makes a FIFO queue, as in SQS. */
  readonly name: string;
  readonly url: string;
  /** @default arn:aws:sqs:<the sandbox's region>:<its account>:<name> */
  readonly arn?: string;
  /** How long a received message stays hidden from other receivers. @default 30, SQS's */
  readonly visibilityTimeoutSeconds?: number;
  /** How long a message is kept. @default 345600 (4 days), SQS's */
  readonly retentionSeconds?: number;
  /** The redrive policy. @default none: a message is received again and again */
  readonly deadLetter?: DeadLetterTarget;
  /** Called with each message sent, once stored (not for a duplicate). @default nothing */
  readonly onSend?: (message: StoredMessage) => void;
  /** Called with each message moved to the dead-letter queue, once there. @default nothing */
  readonly onDeadLetter?: (message: StoredMessage, deadLetterQueue: LocalQueue) => void;
  /** @default Date.now */
  readonly now?: () => number;
}

/** A send SQS refuses, with SQS's error code. */
export class QueueError extends Error {
  constructor(
    readonly code: 'MissingParameter' | 'InvalidParameterValue',
    message: string,
  ) {
    super(message);
    this.name = 'QueueError';
  }
}

/** SQS's longest visibility timeout, 12 hours. */
const MAX_VISIBILITY_SECONDS = 12 * 60 * 60;
/** How long a FIFO queue remembers a deduplication id. */
const DEDUPLICATION_MS = 5 * 60 * 1000;
/** A group id or deduplication id: 1 to 128 letters, digits and punctuation. */
const ID_PATTERN = /^[\x21-\x7e]{1,128}$/;

/**
 * An SQS queue in memory, with SQS's semantics
 * (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-visibility-timeout.html):
 * a received message is invisible for the visibility timeout, comes back if it is not deleted in
 * time (its receive count rising), and is deleted or made visible again only with its latest
 * receipt handle. A standard queue returns messages in the order they were sent, which SQS makes
 * no promise of.
 *
 * A queue whose name ends in `.fifo` is a FIFO queue
 * (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/FIFO-queues-understanding-logic.html):
 * every message has a group and a deduplication id; a message sent with a deduplication id seen
 * in the last 5 minutes is accepted but not stored again, even when the first one is gone. Within
 * a group messages come in order, and while a group has a message in flight none of its later
 * ones is returned, so one consumer at a time works on a group. A receive returns as many
 * messages of one group as it can, in order, then those of other groups.
 *
 * With a redrive policy, a message that has been received `maxReceiveCount` times is moved to the
 * dead-letter queue instead of being returned again
 * (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-dead-letter-queues.html),
 * with its id, body, group, deduplication id and sequence number. Its retention counts from the
 * original send on a standard queue and from the move on a FIFO one
 * (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/setting-up-dead-letter-queue-retention.html);
 * its receive count is kept (AWS does not document it).
 */
export class LocalQueue {
  readonly fifo: boolean;
  readonly arn: string;
  private readonly stored: StoredMessage[] = [];
  private readonly waiters = new Set<() => void>();
  /** FIFO: the deduplication ids of the last 5 minutes, oldest first. */
  private readonly sentIds = new Map<string, { at: number; sent: SentMessage }>();
  private lastSequenceNumber = 0n;
  private hasStopped = false;
  private readonly now: () => number;

  constructor(private readonly options: LocalQueueOptions) {
    this.fifo = options.name.endsWith('.fifo');
    this.arn = options.arn ?? `arn:aws:sqs:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:${options.name}`;
    this.now = options.now ?? Date.now;
    const deadLetter = options.deadLetter;
    if (deadLetter) {
      if (deadLetter.queue.fifo !== this.fifo) {
        throw new Error(
          `The dead-letter queue of ${options.name} must be a ${this.fifo ? 'FIFO' : 'standard'} queue, as the queue is.`,
        );
      }
      const count = deadLetter.maxReceiveCount;
      if (!Number.isInteger(count) || count < 1 || count > 1000) {
        throw new RangeError(`maxReceiveCount must be from 1 to 1000, not ${count}.`);
      }
    }
  }

  get name(): string {
    return this.options.name;
  }

  get url(): string {
    return this.options.url;
  }

  get visibilityTimeoutSeconds(): number {
    return this.options.visibilityTimeoutSeconds ?? 30;
  }

  get retentionSeconds(): number {
    return this.options.retentionSeconds ?? 345_600;
  }

  /** Whether `stop` was called: receives return at once. */
  get stopped(): boolean {
    return this.hasStopped;
  }

  get deadLetter(): DeadLetterTarget | undefined {
    return this.options.deadLetter;
  }

  /** Every message the queue holds, visible or in flight, oldest first. */
  get messages(): readonly StoredMessage[] {
    this.expire();
    return this.stored;
  }

  /** Messages a receive could take now, and messages in flight (received, not yet visible again). */
  get counts(): { visible: number; inFlight: number } {
    const now = this.now();
    const inFlight = this.messages.filter((message) => message.visibleAt > now).length;
    return { visible: this.stored.length - inFlight, inFlight };
  }

  /** Throws the `QueueError` SQS answers a send with these options with, if it refuses it. */
  checkSend(options: SendOptions): void {
    const { groupId, deduplicationId } = options;
    if (this.fifo && (groupId === undefined || groupId === '')) {
      throw new QueueError('MissingParameter', 'The request must contain the parameter MessageGroupId.');
    }
    if (groupId !== undefined && !ID_PATTERN.test(groupId)) {
      throw new QueueError(
        'InvalidParameterValue',
        `Value ${groupId} for parameter MessageGroupId is invalid. Reason: it must be 1 to 128 letters, digits or punctuation.`,
      );
    }
    if (!this.fifo && deduplicationId !== undefined) {
      throw new QueueError(
        'InvalidParameterValue',
        'The request include parameter that is not valid for this queue type',
      );
    }
    if (this.fifo && (deduplicationId === undefined || deduplicationId === '')) {
      throw new QueueError(
        'InvalidParameterValue',
        'The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly',
      );
    }
    if (deduplicationId !== undefined && !ID_PATTERN.test(deduplicationId)) {
      throw new QueueError(
        'InvalidParameterValue',
        `Value ${deduplicationId} for parameter MessageDeduplicationId is invalid. Reason: it must be 1 to 128 letters, digits or punctuation.`,
      );
    }
  }

  /** Stores a message; throws a `QueueError` for what SQS refuses. */
  send(body: string, options: SendOptions = {}): SentMessage {
    this.checkSend(options);
    const { groupId, deduplicationId } = options;
    const now = this.now();
    if (deduplicationId !== undefined) {
      this.forgetSentIds(now);
      const duplicate = this.sentIds.get(deduplicationId);
      // The first message's id; the checksum is of what was sent now, which the SDK verifies.
      if (duplicate) return { ...duplicate.sent, md5OfBody: md5(body) };
    }
    const message: StoredMessage = {
      messageId: randomUUID(),
      body,
      sentAt: now,
      enqueuedAt: now,
      senderId: options.senderId ?? LOCAL_CREDENTIALS.accessKeyId,
      groupId,
      deduplicationId,
      sequenceNumber: this.fifo ? this.nextSequenceNumber(now) : undefined,
      deadLetterSourceArn: undefined,
      receiveCount: 0,
      firstReceivedAt: undefined,
      visibleAt: 0,
      receiptHandle: undefined,
    };
    this.stored.push(message);
    const sent: SentMessage = {
      messageId: message.messageId,
      md5OfBody: md5(body),
      ...(message.sequenceNumber !== undefined && { sequenceNumber: message.sequenceNumber }),
    };
    if (deduplicationId !== undefined) this.sentIds.set(deduplicationId, { at: now, sent });
    this.options.onSend?.(message);
    this.wake();
    return sent;
  }

  /**
   * Up to `max` visible messages, hidden for `visibilityTimeoutSeconds` (the queue's by default);
   * with `waitMs`, waits that long for a first one to arrive (long polling), unless `signal` is
   * aborted or the queue stops first.
   */
  async receive(options: {
    max: number;
    visibilityTimeoutSeconds?: number;
    waitMs?: number;
    signal?: AbortSignal;
  }): Promise<ReceivedMessage[]> {
    const deadline = this.now() + (options.waitMs ?? 0);
    for (;;) {
      const received = this.take(options.max, options.visibilityTimeoutSeconds);
      const remaining = deadline - this.now();
      if (received.length > 0 || remaining <= 0 || this.hasStopped || options.signal?.aborted)
        return received;
      await this.wait(Math.min(remaining, this.nextVisibleIn()), options.signal);
    }
  }

  /** Deletes the message of a receipt handle; false when the handle is not a message's latest. */
  delete(receiptHandle: string): boolean {
    const index = this.stored.findIndex((message) => message.receiptHandle === receiptHandle);
    if (index === -1) return false;
    this.stored.splice(index, 1);
    // The message's group, if it has one, may have nothing in flight any more.
    if (this.fifo) this.wake();
    return true;
  }

  /** Changes how long the message of a receipt handle stays hidden, from now; 0 makes it visible. */
  changeVisibility(receiptHandle: string, seconds: number): boolean {
    const now = this.now();
    const message = this.stored.find((candidate) => candidate.receiptHandle === receiptHandle);
    if (!message || message.visibleAt <= now) return false;
    message.visibleAt = now + seconds * 1000;
    // Long polls wait until the next message becomes visible: that may be sooner now.
    this.wake();
    return true;
  }

  /** Ends long polls under way, and returns later receives at once: the sandbox is stopping. */
  stop(): void {
    this.hasStopped = true;
    this.wake();
  }

  private take(max: number, visibilityTimeoutSeconds?: number): ReceivedMessage[] {
    this.expire();
    const now = this.now();
    const hiddenFor = Math.min(
      visibilityTimeoutSeconds ?? this.visibilityTimeoutSeconds,
      MAX_VISIBILITY_SECONDS,
    );
    const picked: StoredMessage[] = [];
    for (const message of this.candidates(now)) {
      if (picked.length >= max) break;
      const deadLetter = this.options.deadLetter;
      if (deadLetter && message.receiveCount >= deadLetter.maxReceiveCount) {
        this.moveToDeadLetter(message, deadLetter.queue);
        continue;
      }
      picked.push(message);
    }
    return picked.map((message) => {
      message.receiveCount++;
      message.firstReceivedAt ??= now;
      message.visibleAt = now + hiddenFor * 1000;
      message.receiptHandle = randomBytes(24).toString('base64url');
      return {
        messageId: message.messageId,
        receiptHandle: message.receiptHandle,
        body: message.body,
        md5OfBody: md5(message.body),
        attributes: systemAttributes(message),
      };
    });
  }

  /**
   * The visible messages in the order a receive returns them: a standard queue's as they were
   * sent; a FIFO queue's group by group (a group in the order its oldest message came), leaving
   * out every group with a message in flight.
   */
  private candidates(now: number): StoredMessage[] {
    const visible = this.stored.filter((message) => message.visibleAt <= now);
    if (!this.fifo) return visible;
    const busy = new Set(
      this.stored.filter((message) => message.visibleAt > now).map((message) => message.groupId),
    );
    const groups = new Map<string | undefined, StoredMessage[]>();
    for (const message of visible) {
      if (busy.has(message.groupId)) continue;
      const group = groups.get(message.groupId) ?? [];
      group.push(message);
      groups.set(message.groupId, group);
    }
    return [...groups.values()].flat();
  }

  private moveToDeadLetter(message: StoredMessage, deadLetterQueue: LocalQueue): void {
    this.stored.splice(this.stored.indexOf(message), 1);
    const moved = deadLetterQueue.adopt(message, this.arn);
    this.options.onDeadLetter?.(moved, deadLetterQueue);
  }

  /** Takes in a message another queue's redrive policy moved here: not a send, so it is not deduplicated. */
  private adopt(message: StoredMessage, sourceArn: string): StoredMessage {
    const moved: StoredMessage = {
      ...message,
      enqueuedAt: this.fifo ? this.now() : message.enqueuedAt,
      deadLetterSourceArn: sourceArn,
      visibleAt: 0,
      receiptHandle: undefined,
    };
    this.stored.push(moved);
    this.wake();
    return moved;
  }

  private nextSequenceNumber(now: number): string {
    // Rising, 20 digits like SQS's, and not consecutive: consumers must not count on gaps of 1.
    const next = this.lastSequenceNumber + BigInt(1 + randomInt(1000));
    const fromClock = BigInt(now) * 10_000_000n;
    this.lastSequenceNumber = next > fromClock ? next : fromClock;
    return this.lastSequenceNumber.toString();
  }

  private forgetSentIds(now: number): void {
    for (const [id, { at }] of this.sentIds) {
      if (at > now - DEDUPLICATION_MS) break;
      this.sentIds.delete(id);
    }
  }

  /** Milliseconds until an in-flight message becomes visible again; a long time when none is in flight. */
  private nextVisibleIn(): number {
    const now = this.now();
    let next = Infinity;
    for (const message of this.stored) if (message.visibleAt > now) next = Math.min(next, message.visibleAt);
    return Number.isFinite(next) ? Math.max(1, next - now) : 60_000;
  }

  private wake(): void {
    for (const wake of [...this.waiters]) wake();
  }

  private wait(milliseconds: number, signal: AbortSignal | undefined): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.waiters.delete(wake);
        signal?.removeEventListener('abort', wake);
        resolve();
      };
      const timer = setTimeout(wake, milliseconds);
      this.waiters.add(wake);
      signal?.addEventListener('abort', wake, { once: true });
    });
  }

  private expire(): void {
    const oldest = this.now() - this.retentionSeconds * 1000;
    for (let i = this.stored.length - 1; i >= 0; i--) {
      if (this.stored[i]!.enqueuedAt < oldest) this.stored.splice(i, 1);
    }
  }
}

function systemAttributes(message: StoredMessage): MessageSystemAttributes {
  return {
    SenderId: message.senderId,
    SentTimestamp: String(message.sentAt),
    ApproximateReceiveCount: String(message.receiveCount),
    ApproximateFirstReceiveTimestamp: String(message.firstReceivedAt),
    ...(message.sequenceNumber !== undefined && { SequenceNumber: message.sequenceNumber }),
    ...(message.groupId !== undefined && { MessageGroupId: message.groupId }),
    ...(message.deduplicationId !== undefined && { MessageDeduplicationId: message.deduplicationId }),
    ...(message.deadLetterSourceArn !== undefined && {
      DeadLetterQueueSourceArn: message.deadLetterSourceArn,
    }),
  };
}

/** SQS's checksum of a message body. */
function md5(body: string): string {
  return createHash('md5').update(body).digest('hex');
}
