import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RequestSignatureVerifier } from '../request-signature';
import type { LocalQueue, SendOptions, SentMessage } from './local-queue';
import { QueueError } from './local-queue';

/** SQS takes requests up to 1 MiB of messages, plus the rest of the request. */
const MAX_REQUEST_BYTES = 1024 * 1024 + 64 * 1024;
/** SQS's largest message. */
const MAX_MESSAGE_BYTES = 256 * 1024;
/** SQS's longest long poll. */
const MAX_WAIT_SECONDS = 20;

class SqsError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

type Input = Record<string, unknown>;

/**
 * The sandbox's SQS: the JSON protocol that @aws-sdk/client-sqs speaks (`X-Amz-Target:
 * AmazonSQS.<Action>`), for the queues the deployment plan has, so that the functions and the
 * tools use the unmodified SDK client against it. Requests must be signed (SigV4, `sqs`) with
 * the sandbox's credentials. SendMessage(Batch), ReceiveMessage (with long polling),
 * DeleteMessage(Batch), ChangeMessageVisibility, GetQueueUrl and GetQueueAttributes are served;
 * other actions are refused with `UnsupportedOperation`. FIFO queues take and return their
 * message groups, deduplication ids and sequence numbers
 * (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessage.html).
 */
export class SqsApi {
  private readonly queues = new Map<string, LocalQueue>();

  constructor(private readonly verifier: Pick<RequestSignatureVerifier, 'verify'>) {}

  add(queue: LocalQueue): void {
    this.queues.set(queue.name, queue);
  }

  /** Serves an SQS request; returns false, having written nothing, for any other request. */
  serve(request: IncomingMessage, response: ServerResponse): boolean {
    const target = request.headers['x-amz-target'];
    if (typeof target !== 'string' || !target.startsWith('AmazonSQS.')) return false;
    void this.handle(target.slice('AmazonSQS.'.length), request).then(
      (answer) => respond(response, 200, answer),
      (error: unknown) => {
        const failure =
          error instanceof SqsError ? error : new SqsError('InternalError', 'The sandbox failed.', 500);
        respond(response, failure.status, {
          __type: `com.amazonaws.sqs#${failure.code}`,
          message: failure.message,
        });
      },
    );
    return true;
  }

  private async handle(action: string, request: IncomingMessage): Promise<unknown> {
    const body = await readBody(request);
    const url = request.url ?? '/';
    const queryStart = url.indexOf('?');
    const refusal = await this.verifier.verify({
      method: request.method ?? 'POST',
      path: queryStart === -1 ? url : url.slice(0, queryStart),
      query: new URLSearchParams(queryStart === -1 ? '' : url.slice(queryStart + 1)),
      headers: request.headers,
      body,
    });
    if (refusal) throw new SqsError(refusal.errorType, refusal.message, 403);
    let input: Input;
    try {
      input = JSON.parse(body.toString('utf8')) as Input;
    } catch {
      throw new SqsError('InvalidParameterValue', 'The request body is not JSON.');
    }
    switch (action) {
      case 'SendMessage': {
        const queue = this.queueOf(input);
        const [body, options] = [messageBody(input.MessageBody), sendOptions(queue, input)];
        return sentAnswer(asSqs(() => queue.send(body, options)));
      }
      case 'SendMessageBatch':
        return this.sendBatch(this.queueOf(input), input.Entries);
      case 'ReceiveMessage':
        return this.receive(this.queueOf(input), input);
      case 'DeleteMessage':
        if (!this.queueOf(input).delete(String(input.ReceiptHandle))) {
          throw new SqsError('ReceiptHandleIsInvalid', 'The receipt handle is not valid.');
        }
        return {};
      case 'DeleteMessageBatch':
        return this.deleteBatch(this.queueOf(input), input.Entries);
      case 'ChangeMessageVisibility':
        if (
          !this.queueOf(input).changeVisibility(
            String(input.ReceiptHandle),
            seconds(input.VisibilityTimeout, 43_200),
          )
        ) {
          throw new SqsError('MessageNotInflight', 'The message is not in flight.');
        }
        return {};
      case 'GetQueueUrl': {
        const queue = this.queues.get(String(input.QueueName));
        if (!queue) throw new SqsError('QueueDoesNotExist', 'The specified queue does not exist.');
        return { QueueUrl: queue.url };
      }
      case 'GetQueueAttributes':
        return this.queueAttributes(this.queueOf(input), input.AttributeNames);
      default:
        throw new SqsError('UnsupportedOperation', `The sandbox's SQS does not serve ${action}.`);
    }
  }

  private queueOf(input: Input): LocalQueue {
    const name = typeof input.QueueUrl === 'string' ? input.QueueUrl.split('/').at(-1) : undefined;
    const queue = name === undefined ? undefined : this.queues.get(name);
    if (!queue) throw new SqsError('QueueDoesNotExist', 'The specified queue does not exist.');
    return queue;
  }

  private sendBatch(queue: LocalQueue, entries: unknown) {
    const list = batchEntries(entries);
    const bodies = list.map((entry) => messageBody(entry.MessageBody));
    const total = bodies.reduce((sum, body) => sum + Buffer.byteLength(body), 0);
    if (total > MAX_MESSAGE_BYTES) {
      throw new SqsError(
        'BatchRequestTooLong',
        `The batch's messages add up to more than ${MAX_MESSAGE_BYTES} bytes.`,
      );
    }
    // An entry the queue refuses (a FIFO entry without its group) fails the whole request, as SQS answers it.
    const options = list.map((entry) => sendOptions(queue, entry));
    for (const entry of options) asSqs(() => queue.checkSend(entry));
    return {
      Successful: list.map((entry, i) => ({
        Id: entry.Id,
        ...sentAnswer(asSqs(() => queue.send(bodies[i]!, options[i]))),
      })),
      Failed: [],
    };
  }

  /**
   * The attributes asked for, of those the sandbox keeps
   * (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_GetQueueAttributes.html).
   */
  private queueAttributes(queue: LocalQueue, names: unknown) {
    const { visible, inFlight } = queue.counts;
    const all: Record<string, string> = {
      ApproximateNumberOfMessages: String(visible),
      ApproximateNumberOfMessagesNotVisible: String(inFlight),
      ApproximateNumberOfMessagesDelayed: '0',
      QueueArn: queue.arn,
      VisibilityTimeout: String(queue.visibilityTimeoutSeconds),
      MessageRetentionPeriod: String(queue.retentionSeconds),
      ...(queue.deadLetter && {
        RedrivePolicy: JSON.stringify({
          deadLetterTargetArn: queue.deadLetter.queue.arn,
          maxReceiveCount: queue.deadLetter.maxReceiveCount,
        }),
      }),
      ...(queue.fifo && { FifoQueue: 'true', ContentBasedDeduplication: 'false' }),
    };
    const asked = stringList(names);
    const attributes = asked.includes('All')
      ? all
      : Object.fromEntries(Object.entries(all).filter(([name]) => asked.includes(name)));
    return Object.keys(attributes).length === 0 ? {} : { Attributes: attributes };
  }

  private async receive(queue: LocalQueue, input: Input) {
    const max = input.MaxNumberOfMessages === undefined ? 1 : Number(input.MaxNumberOfMessages);
    if (!Number.isInteger(max) || max < 1 || max > 10) {
      throw new SqsError('InvalidParameterValue', 'MaxNumberOfMessages must be from 1 to 10.');
    }
    const messages = await queue.receive({
      max,
      ...(input.VisibilityTimeout !== undefined && {
        visibilityTimeoutSeconds: seconds(input.VisibilityTimeout, 43_200),
      }),
      waitMs: seconds(input.WaitTimeSeconds ?? 0, MAX_WAIT_SECONDS) * 1000,
    });
    if (messages.length === 0) return {};
    // Only the system attributes asked for, by either parameter (AttributeNames is the deprecated one).
    const asked = [...stringList(input.AttributeNames), ...stringList(input.MessageSystemAttributeNames)];
    const wanted = (name: string) => asked.includes('All') || asked.includes(name);
    return {
      Messages: messages.map((message) => {
        const attributes = Object.entries(message.attributes).filter(([name]) => wanted(name));
        return {
          MessageId: message.messageId,
          ReceiptHandle: message.receiptHandle,
          MD5OfBody: message.md5OfBody,
          Body: message.body,
          ...(attributes.length > 0 && { Attributes: Object.fromEntries(attributes) }),
        };
      }),
    };
  }

  private deleteBatch(queue: LocalQueue, entries: unknown) {
    const results = batchEntries(entries).map((entry) => ({
      id: entry.Id,
      deleted: queue.delete(String(entry.ReceiptHandle)),
    }));
    return {
      Successful: results.filter((result) => result.deleted).map((result) => ({ Id: result.id })),
      Failed: results
        .filter((result) => !result.deleted)
        .map((result) => ({
          Id: result.id,
          SenderFault: true,
          Code: 'ReceiptHandleIsInvalid',
          Message: 'The receipt handle is not valid.',
        })),
    };
  }
}

/** The group and deduplication id of a SendMessage request or batch entry. */
function sendOptions(queue: LocalQueue, input: Input): SendOptions {
  const text = (name: 'MessageGroupId' | 'MessageDeduplicationId') => {
    const value = input[name];
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'string') throw new SqsError('InvalidParameterValue', `${name} must be a string.`);
    return value;
  };
  if (queue.fifo && input.DelaySeconds !== undefined && input.DelaySeconds !== 0) {
    throw new SqsError(
      'InvalidParameterValue',
      `Value ${JSON.stringify(input.DelaySeconds)} for parameter DelaySeconds is invalid. Reason: The request include parameter that is not valid for this queue type.`,
    );
  }
  return { groupId: text('MessageGroupId'), deduplicationId: text('MessageDeduplicationId') };
}

/** Runs a queue operation, turning what the queue refuses into SQS's error. */
function asSqs<T>(operation: () => T): T {
  try {
    return operation();
  } catch (error) {
    if (error instanceof QueueError) throw new SqsError(error.code, error.message);
    throw error;
  }
}

function sentAnswer(sent: SentMessage) {
  return {
    MessageId: sent.messageId,
    MD5OfMessageBody: sent.md5OfBody,
    ...(sent.sequenceNumber !== undefined && { SequenceNumber: sent.sequenceNumber }),
  };
}

function stringList(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : [];
}

function messageBody(value: unknown): string {
  if (typeof value !== 'string' || value === '') {
    throw new SqsError('MissingParameter', 'The request must contain the parameter MessageBody.');
  }
  if (Buffer.byteLength(value) > MAX_MESSAGE_BYTES) {
    throw new SqsError('InvalidParameterValue', `A message can be at most ${MAX_MESSAGE_BYTES} bytes long.`);
  }
  return value;
}

function batchEntries(entries: unknown): Array<{ Id: string } & Input> {
  if (!Array.isArray(entries) || entries.length === 0) {
    throw new SqsError('EmptyBatchRequest', 'The batch request does not contain any entries.');
  }
  if (entries.length > 10)
    throw new SqsError('TooManyEntriesInBatchRequest', 'A batch holds at most 10 entries.');
  const ids = new Set<string>();
  return entries.map((entry: Input) => {
    const id = entry?.Id;
    if (typeof id !== 'string' || !/^[\w-]{1,80}$/.test(id)) {
      throw new SqsError(
        'InvalidBatchEntryId',
        'A batch entry id is 1-80 letters, digits, hyphens or underscores.',
      );
    }
    if (ids.has(id)) throw new SqsError('BatchEntryIdsNotDistinct', `Two entries have the id ${id}.`);
    ids.add(id);
    return entry as { Id: string } & Input;
  });
}

function seconds(value: unknown, max: number): number {
  const number = Number(value);
  if (!Number.isInteger(number) || number < 0 || number > max) {
    throw new SqsError(
      'InvalidParameterValue',
      `A number of seconds from 0 to ${max} was expected, not ${String(value)}.`,
    );
  }
  return number;
}

async function readBody(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_REQUEST_BYTES) throw new SqsError('RequestTooLong', 'The request is too large.');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

function respond(response: ServerResponse, status: number, body: unknown): void {
  if (response.destroyed) return;
  response.writeHead(status, { 'content-type': 'application/x-amz-json-1.0' }).end(JSON.stringify(body));
}
