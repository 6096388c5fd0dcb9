import { createHash, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { DynamoDBRecord } from 'aws-lambda';
import { NOTIFICATIONS_SERVICE } from '../lambdas/rohrpost';

/** A stream record set aside: on AWS it would be in the dead-letter queue. */
export interface DeadLetter {
  /** The name of the record's table. */
  readonly table: string;
  readonly sequenceNumber: string;
  readonly reason: string;
  readonly record: DynamoDBRecord;
  /**
   * `failed-every-retry`: the event source gave up on it after its retries (Lambda's on-failure
   * destination); `undeliverable`: the function found it can never be notified and sent it at once.
   */
  readonly origin: 'failed-every-retry' | 'undeliverable';
  /** The stream shard, for records that failed every retry. */
  readonly shardId?: string;
}

/** SQS takes messages up to 1 MiB. */
const MAX_REQUEST_BYTES = 1024 * 1024 + 4096;

/**
 * The sandbox's stand-in for the stack's SQS dead-letter queue: it takes SendMessage as
 * @aws-sdk/client-sqs sends it (the AWS JSON protocol, to the queue URL's host), answers with
 * the body's MD5 as SQS does, and hands over what the notification function sends.
 */
export class LocalDeadLetterQueue {
  constructor(private readonly receive: (letter: DeadLetter) => void) {}

  /** The queue's URL on a server at `origin` (`http://127.0.0.1:3001`). */
  static url(origin: string): string {
    return `${origin}/000000000000/rohrpost-dead-letters`;
  }

  /** Serves an SQS request; returns false, having written nothing, for any other request. */
  serve(request: IncomingMessage, response: ServerResponse): boolean {
    const target = request.headers['x-amz-target'];
    if (typeof target !== 'string' || !target.startsWith('AmazonSQS.')) return false;
    if (target !== 'AmazonSQS.SendMessage') {
      request.resume();
      sendError(
        response,
        400,
        'UnsupportedOperation',
        `The sandbox's queue takes SendMessage only, not ${target}.`,
      );
      return true;
    }
    void readJson(request).then(
      (body) => {
        const messageBody = (body as { MessageBody?: unknown } | undefined)?.MessageBody;
        if (typeof messageBody !== 'string' || messageBody === '') {
          return sendError(
            response,
            400,
            'MissingParameter',
            'The request must contain the parameter MessageBody.',
          );
        }
        const letter = letterOf(messageBody);
        if (!letter) return sendError(response, 400, 'InvalidParameterValue', 'Not a rohrpost dead letter.');
        this.receive(letter);
        response.writeHead(200, { 'content-type': 'application/x-amz-json-1.0' }).end(
          JSON.stringify({
            MessageId: randomUUID(),
            MD5OfMessageBody: createHash('md5').update(messageBody).digest('hex'),
          }),
        );
      },
      () => sendError(response, 400, 'InvalidParameterValue', 'The request is not JSON of at most 1 MiB.'),
    );
    return true;
  }
}

/** The dead letter a message body describes (lambdas/rohrpost/delivery/dead-letters.ts writes them). */
function letterOf(messageBody: string): DeadLetter | undefined {
  let parsed: { source?: unknown; reason?: unknown; record?: DynamoDBRecord };
  try {
    parsed = JSON.parse(messageBody) as typeof parsed;
  } catch {
    return undefined;
  }
  if (parsed.source !== NOTIFICATIONS_SERVICE || typeof parsed.reason !== 'string' || !parsed.record)
    return undefined;
  const { record } = parsed;
  return {
    table: record.eventSourceARN?.split('/')[1] ?? '',
    sequenceNumber: record.dynamodb?.SequenceNumber ?? '',
    reason: parsed.reason,
    record,
    origin: 'undeliverable',
  };
}

async function readJson(request: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_REQUEST_BYTES) throw new Error('too large');
    chunks.push(chunk);
  }
  return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
}

function sendError(response: ServerResponse, status: number, code: string, message: string): void {
  response
    .writeHead(status, { 'content-type': 'application/x-amz-json-1.0' })
    .end(JSON.stringify({ __type: `com.amazonaws.sqs#${code}`, message }));
}
