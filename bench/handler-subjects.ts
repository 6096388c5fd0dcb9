/**
 * One subject of bench:handler (websocket-handler.ts), in a process of its own: the subjects
 * share the framework's code, and in one process V8 would optimise that code for all of them
 * at once (several loggers and metric functions at each call site), slowing each. The parent
 * forks this module with the subject's name, then asks for runs:
 *
 *   parent → child  { milliseconds }                      one run of that long
 *   child → parent  { reply } once ready, then a RunResult per run
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Logger as PowertoolsLogger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Context } from 'aws-lambda';
import { handlers } from '../lambdas/handlers';
import type { Logger } from '../lambdas/rohrpost/logger';
import {
  MESSAGE_TYPE_DIMENSION,
  WEBSOCKET_SERVICE,
  WebSocketMetrics,
} from '../lambdas/rohrpost/metric-names';
import type { MessageMetrics } from '../lambdas/rohrpost/metrics';
import { parseFrame } from '../lambdas/rohrpost/protocol/request';
import type { WebSocketHandlerOptions } from '../lambdas/rohrpost/runtime/websocket-handler';
import { createWebSocketHandler } from '../lambdas/rohrpost/runtime/websocket-handler';
import { handler } from '../lambdas/websocket';
import { messageEvent } from '../sandbox/events';
import { interceptMetricLines } from './metric-lines';

export const FRAME = '{"id":1,"type":"ping","data":{"user":42,"note":"hello","tags":["a","b"]}}';
export const EXPECTED_REPLY = '{"id":1,"type":"pong","data":{"user":42,"note":"hello","tags":["a","b"]}}';

/** What one run measured. */
export interface RunResult {
  /** Messages per second of CPU time: on a shared machine, wall time counts other processes' turns too. */
  readonly rate: number;
  readonly wallRate: number;
  readonly messages: number;
  /** Metric lines the subject wrote (counted, not written). */
  readonly lines: number;
}

type Subject = (input: ReturnType<typeof messageEvent>, context: Context) => Promise<{ body?: string }>;

const silent = (): void => undefined;
const noLogs: Logger = { debug: silent, info: silent, warn: silent, error: silent };

/** The alternative to createLogger's: Powertools handed each invocation's context and keys as it starts. */
function loggerGivenContextAtOnce(): Logger {
  const powertools = new PowertoolsLogger({ serviceName: WEBSOCKET_SERVICE });
  return {
    debug: (message, fields) => powertools.debug(message, fields ?? {}),
    info: (message, fields) => powertools.info(message, fields ?? {}),
    warn: (message, fields) => powertools.warn(message, fields ?? {}),
    error: (message, fields) => powertools.error(message, fields ?? {}),
    startInvocation(context, keys) {
      if (context) powertools.addContext(context);
      powertools.resetKeys();
      powertools.appendKeys(
        Object.fromEntries(Object.entries(keys).filter(([, value]) => value !== undefined)),
      );
    },
  };
}

/** The alternative to the direct metric line: Powertools' Metrics writing the same line. */
function powertoolsMessageMetrics(): MessageMetrics {
  const metrics = new Metrics({ namespace: 'rohrpost', serviceName: WEBSOCKET_SERVICE });
  return (type, handlerError) => {
    metrics.addDimension(MESSAGE_TYPE_DIMENSION, type);
    metrics.addDimensions({});
    metrics.addMetric(WebSocketMetrics.messagesHandled, MetricUnit.Count, 1);
    metrics.addMetric(WebSocketMetrics.handlerErrors, MetricUnit.Count, handlerError ? 1 : 0);
    metrics.publishStoredMetrics();
  };
}

const variant = (options: Partial<WebSocketHandlerOptions>) => () =>
  createWebSocketHandler({ handlers, ...options });

/** Each subject, made only in the process that runs it (the deployed one exists in each, unused). */
export const SUBJECTS = {
  /** The function's entry, as deployed: its own logger and metric line. */
  deployed: () => handler,
  withoutMetrics: variant({ metrics: silent }),
  bare: variant({ metrics: silent, logger: noLogs }),
  /** Parse, answer, serialise: nothing else. */
  floor: () =>
    (async (input) => {
      const request = JSON.parse(input.body!) as { id: unknown; data: unknown };
      return Promise.resolve({ body: JSON.stringify({ id: request.id, type: 'pong', data: request.data }) });
    }) satisfies Subject,
  /** The floor with the checks of PROTOCOL.md §2 (required fields, depth, exact ids) in place of the bare parse. */
  checkedFloor: () =>
    (async (input) => {
      const parsed = parseFrame(input.body);
      if (!parsed.ok) throw new Error(parsed.error);
      const { id, data } = parsed.request;
      return Promise.resolve({ body: JSON.stringify({ id, type: 'pong', data }) });
    }) satisfies Subject,
  powertoolsMetrics: variant({ metrics: powertoolsMessageMetrics() }),
  contextAtOnce: variant({ logger: loggerGivenContextAtOnce() }),
} satisfies Record<string, () => Subject>;
export type SubjectName = keyof typeof SUBJECTS;

const BATCH = 1_000;
const event = messageEvent(
  {
    connectionId: 'L0SM9cOFvHcCIhw=',
    connectedAt: Date.now(),
    apiId: 'bench',
    stage: 'bench',
    domainName: 'bench.execute-api.us-east-1.amazonaws.com',
    sourceIp: '127.0.0.1',
  },
  FRAME,
);
/** Lambda's context, a new one (and request id) per invocation, made before the runs as Lambda makes it outside the function. */
const contexts: Context[] = Array.from({ length: BATCH }, () => ({
  functionName: 'rohrpost-websocket',
  functionVersion: '$LATEST',
  invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:rohrpost-websocket',
  memoryLimitInMB: '256',
  awsRequestId: randomUUID(),
  logGroupName: '/aws/lambda/rohrpost-websocket',
  logStreamName: 'bench',
  callbackWaitsForEmptyEventLoop: true,
  getRemainingTimeInMillis: () => 29_000,
  done: silent,
  fail: silent,
  succeed: silent,
}));

async function run(subject: Subject, milliseconds: number, lines: () => number): Promise<RunResult> {
  let messages = 0;
  const linesBefore = lines();
  const cpu = process.cpuUsage();
  const start = performance.now();
  const end = start + milliseconds;
  let now = start;
  while (now < end) {
    for (let i = 0; i < BATCH; i++) await subject(event, contexts[i]!);
    messages += BATCH;
    now = performance.now();
  }
  const { user, system } = process.cpuUsage(cpu);
  return {
    rate: messages / ((user + system) / 1e6),
    wallRate: messages / ((now - start) / 1_000),
    messages,
    lines: lines() - linesBefore,
  };
}

async function serve(name: SubjectName): Promise<void> {
  process.env.AWS_LAMBDA_INITIALIZATION_TYPE = 'on-demand';
  const metricLines = interceptMetricLines();
  const subject: Subject = SUBJECTS[name]();
  const { body } = await subject(event, contexts[0]!);
  process.send!({ reply: body });
  // One request at a time: the parent waits for each run before it asks for the next.
  process.on('message', ({ milliseconds }: { milliseconds: number }) => {
    void run(subject, milliseconds, metricLines.count).then((result) => process.send!(result));
  });
}

if (require.main === module) void serve(process.argv[2] as SubjectName);
