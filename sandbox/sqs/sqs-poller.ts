import type { SQSEvent, SQSRecord } from 'aws-lambda';
import { LOCAL_REGION } from '../aws-local';
import type { Invokable } from '../gateway';
import { FunctionError } from '../lambda/function-error';
import type { LocalQueue, ReceivedMessage } from './local-queue';

/** What a queue's event source mapping tells the sandbox's log. */
export interface QueueReporter {
  /** An invocation succeeded and its batch's messages were deleted: all of them, or all but the failed ones. */
  queueDelivered(queue: string, messages: number, milliseconds: number): void;
  /** The function reported these messages of a batch as failed: they come back after their visibility timeout. */
  queueItemsFailed(queue: string, messageIds: readonly string[]): void;
  /** The whole batch comes back after its visibility timeout: the invocation failed, or its response is not one Lambda accepts. */
  queueBatchFailed(queue: string, messages: number, reason: string): void;
  /**
   * The queue's redrive policy moved a message to its dead-letter queue. SQS does this, not the
   * poller: wire it to the queue's `onDeadLetter`.
   */
  queueDeadLettered(queue: string, messageId: string, deadLetterQueue: string): void;
}

/** The event source mapping's settings (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-parameters.html). */
export interface QueueSourceSettings {
  /** Messages per invocation, 1 to 10. */
  readonly batchSize: number;
  /** `ScalingConfig.MaximumConcurrency`: at most this many invocations at once, 2 to 1,000. @default 5 */
  readonly maximumConcurrency?: number;
  /** `FunctionResponseTypes: ['ReportBatchItemFailures']`. */
  readonly reportBatchItemFailures: boolean;
}

export interface SqsPollerOptions {
  readonly queue: LocalQueue;
  readonly function: Invokable;
  readonly settings: QueueSourceSettings;
  readonly reporter: Pick<QueueReporter, 'queueDelivered' | 'queueItemsFailed' | 'queueBatchFailed'>;
  /** The pause before a throttled invocation is tried again. @default 100 ms */
  readonly throttleDelayMs?: number;
  /** @default Date.now */
  readonly now?: () => number;
}

/** Lambda long-polls the queue for 20 seconds, SQS's longest wait. */
const LONG_POLL_MS = 20_000;
/** The batches Lambda starts with, and what the sandbox keeps to without a maximum concurrency. */
const DEFAULT_CONCURRENCY = 5;

type Outcome =
  | { readonly kind: 'success' }
  | { readonly kind: 'partial'; readonly failed: ReadonlySet<string> }
  | { readonly kind: 'failure'; readonly reason: string };

/**
 * Lambda's event source mapping for an SQS queue (https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html),
 * in process: pollers long-poll the queue, each hands what it received to the function as one
 * `SQSEvent` and waits for the invocation before polling again, so at most `maximumConcurrency`
 * invocations run at once
 * (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html). On a FIFO queue the
 * queue's rule (no message of a group is returned while one of it is in flight) keeps each group
 * in order across pollers, as Lambda's "only one batch at a time for a group"; a batch may hold
 * several groups.
 *
 * A successful invocation deletes its batch. With `reportBatchItemFailures`, a `batchItemFailures`
 * response deletes all but the messages it names, which come back after their visibility timeout
 * (or sooner, if the function changed it); an identifier that is not a message id of the batch,
 * or a `batchItemFailures` that is not a list, fails the whole batch
 * (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html). A function
 * error (it threw, crashed or timed out) leaves the whole batch to come back after the visibility
 * timeout, and a redrive policy then moves what keeps failing to the dead-letter queue. A
 * throttled invocation is tried again until the batch's visibility timeout runs out.
 *
 * Lambda's scaling (more pollers as the backlog grows, fewer after errors), batching windows and
 * batches over 10 messages are not modelled.
 */
export class SqsPoller {
  private readonly controller = new AbortController();
  private readonly workers: Promise<void>[];
  private readonly now: () => number;

  private constructor(private readonly options: SqsPollerOptions) {
    const { batchSize, maximumConcurrency = DEFAULT_CONCURRENCY } = options.settings;
    if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 10) {
      throw new RangeError(
        `The sandbox's SQS event sources take batches of 1 to 10 messages, not ${batchSize}.`,
      );
    }
    if (!Number.isInteger(maximumConcurrency) || maximumConcurrency < 2 || maximumConcurrency > 1000) {
      throw new RangeError(`maximumConcurrency must be from 2 to 1000, not ${maximumConcurrency}.`);
    }
    this.now = options.now ?? Date.now;
    this.workers = Array.from({ length: maximumConcurrency }, () => this.work());
  }

  /** Starts polling the queue. */
  static start(options: SqsPollerOptions): SqsPoller {
    return new SqsPoller(options);
  }

  /** Ends the long polls and waits for the invocations under way, whose batches are settled as usual. */
  async stop(): Promise<void> {
    this.controller.abort();
    await Promise.all(this.workers);
  }

  private get stopping(): boolean {
    return this.controller.signal.aborted || this.options.queue.stopped;
  }

  private async work(): Promise<void> {
    const { queue, settings, reporter } = this.options;
    while (!this.stopping) {
      const messages = await queue.receive({
        max: settings.batchSize,
        waitMs: LONG_POLL_MS,
        signal: this.controller.signal,
      });
      if (messages.length === 0) continue;
      try {
        await this.deliver(messages);
      } catch (error) {
        reporter.queueBatchFailed(
          queue.name,
          messages.length,
          `the poller failed: ${(error as Error).message}`,
        );
      }
    }
  }

  /** Invokes the function with one batch, then deletes what the outcome says is done. */
  private async deliver(messages: ReceivedMessage[]): Promise<void> {
    const { queue, reporter } = this.options;
    const visibleAgainAt = this.now() + queue.visibilityTimeoutSeconds * 1000;
    const event: SQSEvent = { Records: messages.map((message) => sqsRecord(message, queue)) };
    for (;;) {
      if (this.stopping) {
        // Received as the poller stopped, never handed over: visible again at once.
        for (const message of messages) queue.changeVisibility(message.receiptHandle, 0);
        return;
      }
      const started = this.now();
      let response: unknown;
      try {
        response = await this.options.function.invoke(event);
      } catch (error) {
        if (error instanceof FunctionError && error.reason === 'stopped') return;
        if (error instanceof FunctionError && error.reason === 'throttled') {
          const delay = this.options.throttleDelayMs ?? 100;
          if (this.now() + delay < visibleAgainAt) {
            await this.pause(delay);
            continue;
          }
          return reporter.queueBatchFailed(
            queue.name,
            messages.length,
            'throttled until the visibility timeout ran out',
          );
        }
        return reporter.queueBatchFailed(queue.name, messages.length, (error as Error).message);
      }
      const milliseconds = this.now() - started;
      const outcome = this.judge(response, messages);
      if (outcome.kind === 'failure')
        return reporter.queueBatchFailed(queue.name, messages.length, outcome.reason);
      const failed = outcome.kind === 'partial' ? outcome.failed : new Set<string>();
      const done = messages.filter((message) => !failed.has(message.messageId));
      for (const message of done) queue.delete(message.receiptHandle);
      if (done.length > 0) reporter.queueDelivered(queue.name, done.length, milliseconds);
      if (failed.size > 0) reporter.queueItemsFailed(queue.name, [...failed]);
      return;
    }
  }

  /** What Lambda makes of the function's response (the partial batch response contract). */
  private judge(response: unknown, messages: readonly ReceivedMessage[]): Outcome {
    if (!this.options.settings.reportBatchItemFailures) return { kind: 'success' };
    const failures = (response as { batchItemFailures?: unknown } | null | undefined)?.batchItemFailures;
    if (failures === undefined || failures === null) return { kind: 'success' };
    if (!Array.isArray(failures)) {
      return { kind: 'failure', reason: 'batchItemFailures is not a list: the whole batch failed' };
    }
    if (failures.length === 0) return { kind: 'success' };
    const ids = new Set(messages.map((message) => message.messageId));
    const failed = new Set<string>();
    for (const failure of failures as unknown[]) {
      const id = (failure as { itemIdentifier?: unknown } | null)?.itemIdentifier;
      if (typeof id !== 'string' || !ids.has(id)) {
        return {
          kind: 'failure',
          reason: `a batch item failure names no message of the batch (${JSON.stringify(id) ?? 'nothing'}): the whole batch failed`,
        };
      }
      failed.add(id);
    }
    return { kind: 'partial', failed };
  }

  private pause(milliseconds: number): Promise<void> {
    const signal = this.controller.signal;
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, milliseconds);
      signal.addEventListener('abort', done, { once: true });
    });
  }
}

/** A message as Lambda hands it to the function. */
function sqsRecord(message: ReceivedMessage, queue: LocalQueue): SQSRecord {
  return {
    messageId: message.messageId,
    receiptHandle: message.receiptHandle,
    body: message.body,
    attributes: { ...message.attributes },
    // The sandbox's queues take no message attributes.
    messageAttributes: {},
    md5OfBody: message.md5OfBody,
    eventSource: 'aws:sqs',
    eventSourceARN: queue.arn,
    awsRegion: LOCAL_REGION,
  };
}
