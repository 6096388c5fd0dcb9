import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { UndeliverableRecord } from './dead-letter-format';
import { deadLetterBody } from './dead-letter-format';

export type { UndeliverableRecord };

/** Where the records the notification function sets aside go: the stack's dead-letter queue. */
export interface DeadLetters {
  send(letter: UndeliverableRecord): Promise<void>;
}

/** Dead letters sent to an SQS queue, the same one Lambda sends batches that failed every retry to. */
export class SqsDeadLetters implements DeadLetters {
  private client: SQSClient | undefined;

  constructor(private readonly queueUrl: string) {}

  async send(letter: UndeliverableRecord): Promise<void> {
    // Created on first use: most instances never send a dead letter.
    this.client ??= new SQSClient({});
    await this.client.send(
      new SendMessageCommand({ QueueUrl: this.queueUrl, MessageBody: deadLetterBody(letter) }),
    );
  }
}
