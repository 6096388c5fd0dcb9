/**
 * The Lambda runtime inside a sandbox worker thread: loads one function's code from its folder
 * (`index.js` for the handler `index.handler`), as Lambda loads it from /var/task, then runs
 * the invocations the parent sends, with a Lambda-like context, returning JSON-serialised results.
 */
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import type { InvocationRequest, WorkerData, WorkerMessage } from './function-protocol';
import { serializeError } from './function-protocol';

const port = parentPort!;
const data = workerData as WorkerData;
const send = (message: WorkerMessage) => port.postMessage(message);

type Handler = (event: unknown, context: object) => unknown;

function load(): Handler {
  const separator = data.handler.lastIndexOf('.');
  const [file, name] = [data.handler.slice(0, separator), data.handler.slice(separator + 1)];
  const module = join(data.directory, file);
  const loaded = createRequire(module)(module) as Record<string, unknown>;
  const handler = loaded[name];
  if (typeof handler !== 'function') {
    throw new Error(`Runtime.HandlerNotFound: ${data.handler} is undefined or not exported.`);
  }
  return handler as Handler;
}

function lambdaContext(request: InvocationRequest) {
  const region = process.env.AWS_REGION ?? 'us-east-1';
  return {
    functionName: data.functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:${region}:000000000000:function:${data.functionName}`,
    memoryLimitInMB: String(data.memorySize),
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${data.functionName}`,
    logStreamName: 'sandbox',
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, request.deadline - Date.now()),
  };
}

async function invoke(handler: Handler, request: InvocationRequest): Promise<void> {
  try {
    const result = await handler(request.event, lambdaContext(request));
    // Lambda serialises results as JSON: what does not survive that does not reach the caller.
    const json = JSON.stringify(result);
    send({
      kind: 'result',
      id: request.id,
      result: json === undefined ? null : (JSON.parse(json) as unknown),
    });
  } catch (error) {
    send({ kind: 'error', id: request.id, error: serializeError(error) });
  }
}

try {
  const handler = load();
  port.on('message', (request: InvocationRequest) => void invoke(handler, request));
  send({ kind: 'ready' });
} catch (error) {
  send({ kind: 'init-error', error: serializeError(error) });
}
