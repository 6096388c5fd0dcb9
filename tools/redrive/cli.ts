/**
 * `npm run redrive`: sends the records in the dead-letter queue through the notification
 * function again, once their cause is fixed. Against the running sandbox by default, or a
 * deployed stack with its outputs: `--queue-url <DeadLetterQueueUrl> --function <NotificationFunctionName>`.
 */
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { SQSClient } from '@aws-sdk/client-sqs';
import { parseArgs } from 'node:util';
import { localClientConfig } from '../../sandbox/aws-local';
import { findRunningSandbox, NoSandboxRunningError } from '../../sandbox/running-sandbox';
import { redriveDeadLetters } from './redrive';

// Lambda runs Node 22+; the SDK's notice about this machine's Node version is not actionable here.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

const HELP = `Usage: npm run redrive -- [options]

Sends the records in the dead-letter queue through the notification function again, with the
ids and seq they had, and removes each letter once its records are sent. Run it once the cause
is fixed (a hook, the data, an API that was down). Letters whose records fail again, can never be
sent, or are no longer in the stream (DynamoDB Streams keeps records 24 hours) stay, and are listed.

Options:
  --dry-run               list what would be sent; send nothing, remove nothing
  --queue-url <url>       a deployed stack's dead-letter queue (its DeadLetterQueueUrl output)
  --function <name>       its notification function (its NotificationFunctionName output)
  --region <region>       the stack's region (default: your AWS configuration's)
  -h, --help              show this help

Without --queue-url and --function, the running sandbox's (npm start).
`;

class UsageError extends Error {}

function parseOptions() {
  const { values } = parseArgs({
    options: {
      'dry-run': { type: 'boolean', default: false },
      'queue-url': { type: 'string' },
      function: { type: 'string' },
      region: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (Boolean(values['queue-url']) !== Boolean(values.function)) {
    throw new UsageError(
      'Give both --queue-url and --function for a deployed stack, or neither for the sandbox.',
    );
  }
  return values;
}

/** The queue, the function and the clients: the deployed stack's, or the running sandbox's. */
function target(options: ReturnType<typeof parseOptions>) {
  if (options['queue-url'] && options.function) {
    const config = options.region ? { region: options.region } : {};
    return {
      queueUrl: options['queue-url'],
      functionName: options.function,
      sqs: new SQSClient(config),
      lambda: new LambdaClient(config),
      streams: new DynamoDBStreamsClient(config),
    };
  }
  const { sandbox } = findRunningSandbox();
  const queueUrl = sandbox.queueUrls['dead-letters'];
  if (!queueUrl || !sandbox.functions.includes('notifications')) {
    throw new UsageError('The running sandbox has no notifications, and so no dead-letter queue.');
  }
  return {
    queueUrl,
    functionName: 'notifications',
    sqs: new SQSClient(localClientConfig(sandbox.awsEndpoint)),
    lambda: new LambdaClient(localClientConfig(sandbox.awsEndpoint)),
    streams: new DynamoDBStreamsClient(localClientConfig(sandbox.dynamodbEndpoint)),
  };
}

async function main(): Promise<void> {
  let options: ReturnType<typeof parseOptions>;
  try {
    options = parseOptions();
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n\n${HELP}`);
    process.exitCode = 2;
    return;
  }
  if (options.help) return void process.stdout.write(HELP);
  let clients: ReturnType<typeof target>;
  try {
    clients = target(options);
  } catch (error) {
    if (!(error instanceof NoSandboxRunningError || error instanceof UsageError)) throw error;
    process.stderr.write(`${error.message}\n`);
    process.exitCode = 1;
    return;
  }
  try {
    const dryRun = options['dry-run'];
    const summary = await redriveDeadLetters({
      ...clients,
      dryRun,
      report: (line) => process.stdout.write(`${line}\n`),
    });
    process.stdout.write(
      dryRun
        ? `Dry run: ${summary.wouldSend} letter(s) would be sent again, ${summary.kept} would stay.\n`
        : `${summary.redriven} letter(s) sent again and removed, ${summary.kept} left in the queue.\n`,
    );
    if (summary.kept > 0) process.exitCode = 1;
  } catch (error) {
    process.stderr.write(`The redrive stopped: ${(error as Error).message}\n`);
    process.exitCode = 1;
  } finally {
    for (const client of [clients.sqs, clients.lambda, clients.streams]) client.destroy();
  }
}

void main();
