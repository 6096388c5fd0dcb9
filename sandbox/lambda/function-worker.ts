/**
 * The Lambda runtime inside a sandbox worker thread: loads one function's code from its folder
 * (`index.js` for the handler `index.handler`), as Lambda loads it from /var/task, then runs
 * the invocations the parent sends, with a Lambda-like context, returning JSON-serialised results.
 *
 * What the function writes to standard output and error travels with its result, in the same
 * message, rather than one message per write: every message between threads wakes the other one.
 * Output written while no result is due goes after the current turn of the event loop.
 */
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import type { InvocationRequest, Output, WorkerData, WorkerMessage } from './function-protocol';
import { serializeError } from './function-protocol';

const port = parentPort!;
const data = workerData as WorkerData;
const send = (message: WorkerMessage) => port.postMessage(message);

type Handler = (event: unknown, context: object) => unknown;

let output: Output = [];
let flush: NodeJS.Immediate | undefined;

/** The output written since the last message, if any, which the next message carries. */
function takeOutput(): Output | undefined {
  if (output.length === 0) return undefined;
  const taken = output;
  output = [];
  if (flush) clearImmediate(flush);
  flush = undefined;
  return taken;
}

function sendOutput(): void {
  const taken = takeOutput();
  if (taken) send({ kind: 'output', output: taken });
}

/** Keeps what is written to `stream` for the next message to the parent. */
function capture(stream: NodeJS.WriteStream, fd: 1 | 2): void {
  stream.write = function write(chunk: unknown, encoding?: unknown, callback?: unknown): boolean {
    const text =
      typeof chunk === 'string'
        ? typeof encoding === 'string' && encoding !== 'utf8' && encoding !== 'utf-8'
          ? Buffer.from(chunk, encoding as BufferEncoding).toString()
          : chunk
        : Buffer.from(chunk as Uint8Array).toString();
    output.push(fd, text);
    flush ??= setImmediate(sendOutput);
    const done = typeof encoding === 'function' ? encoding : callback;
    if (typeof done === 'function') process.nextTick(done);
    return true;
  };
}

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
    const result = await handler(JSON.parse(request.event), lambdaContext(request));
    // Lambda serialises results as JSON: what does not survive that does not reach the caller.
    const json = JSON.stringify(result) as string | undefined;
    send({ kind: 'result', id: request.id, result: json ?? 'null', output: takeOutput() });
  } catch (error) {
    send({ kind: 'error', id: request.id, error: serializeError(error), output: takeOutput() });
  }
}

capture(process.stdout, 1);
capture(process.stderr, 2);
// An uncaught exception ends the thread: what it wrote before goes first.
process.on('exit', sendOutput);
try {
  const handler = load();
  port.on('message', (request: InvocationRequest) => void invoke(handler, request));
  sendOutput();
  send({ kind: 'ready' });
} catch (error) {
  sendOutput();
  send({ kind: 'init-error', error: serializeError(error) });
}
