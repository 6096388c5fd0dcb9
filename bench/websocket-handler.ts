/**
 * In-process throughput of the websocket Lambda on `ping` with a small object payload: messages
 * per second through `handler(event)`, one at a time on one thread, median of several runs.
 * Beside it, in the same run: the same handler without metrics (what one embedded-metric-format
 * line per message costs; the lines are counted, not written), and the floor: an async function
 * that only parses the frame and serialises the reply, the least any handler must do.
 *
 *   npm run bench:handler
 */
import { performance } from 'node:perf_hooks';
import { handlers } from '../lambdas/handlers';
import { createWebSocketHandler } from '../lambdas/rohrpost/runtime/websocket-handler';
import { handler } from '../lambdas/websocket';
import { messageEvent } from '../sandbox/events';
import { interceptMetricLines } from './metric-lines';
import { formatNumber, median, printTable } from './stats';

/** rohrpost (Python) handling ping in-process on this machine, as the issue gives it. */
const REFERENCE_PYTHON_MESSAGES_PER_SECOND = 170_000;
const RUNS = 7;
const RUN_MILLISECONDS = 1_000;

const body = '{"id":1,"type":"ping","data":{"user":42,"note":"hello","tags":["a","b"]}}';
const expectedReply = '{"id":1,"type":"pong","data":{"user":42,"note":"hello","tags":["a","b"]}}';
const event = messageEvent(
  {
    connectionId: 'L0SM9cOFvHcCIhw=',
    connectedAt: Date.now(),
    apiId: 'bench',
    stage: 'bench',
    domainName: 'bench.execute-api.us-east-1.amazonaws.com',
    sourceIp: '127.0.0.1',
  },
  body,
);

type Handler = (input: typeof event) => Promise<{ body?: string }>;

/** Parse, answer, serialise: nothing else. */
const floor: Handler = async (input) => {
  const request = JSON.parse(input.body!) as { id: unknown; data: unknown };
  return Promise.resolve({ body: JSON.stringify({ id: request.id, type: 'pong', data: request.data }) });
};

const withoutMetrics: Handler = createWebSocketHandler({
  handlers,
  metrics: () => undefined,
});

async function run(subject: Handler, milliseconds: number): Promise<number> {
  let count = 0;
  const start = performance.now();
  const end = start + milliseconds;
  let now = start;
  while (now < end) {
    for (let i = 0; i < 1_000; i++) await subject(event);
    count += 1_000;
    now = performance.now();
  }
  return count / ((now - start) / 1_000);
}

async function main(): Promise<void> {
  const warmUpLines = interceptMetricLines();
  try {
    for (const subject of [handler, withoutMetrics, floor]) {
      const reply = await subject(event);
      if (reply.body !== expectedReply) throw new Error(`unexpected reply ${reply.body}`);
      await run(subject, RUN_MILLISECONDS); // warm-up: let the JIT settle
    }
  } finally {
    warmUpLines.restore();
  }
  const metricLines = interceptMetricLines();
  const rates: number[] = [];
  const bareRates: number[] = [];
  const floorRates: number[] = [];
  let messages = 0;
  try {
    for (let i = 0; i < RUNS; i++) {
      const rate = await run(handler, RUN_MILLISECONDS);
      rates.push(rate);
      messages += Math.round(rate * (RUN_MILLISECONDS / 1_000));
      bareRates.push(await run(withoutMetrics, RUN_MILLISECONDS));
      floorRates.push(await run(floor, RUN_MILLISECONDS));
    }
  } finally {
    metricLines.restore();
  }
  const rate = median(rates);
  const bareRate = median(bareRates);
  const floorRate = median(floorRates);
  printTable('websocket Lambda, in process, ping with a small object payload', [
    ['runs (msg/s)', rates.map((r) => formatNumber(r)).join(', ')],
    ['median', `${formatNumber(rate)} messages/s (${formatNumber(1e6 / rate, 2)} µs per message)`],
    ['metric lines', `${formatNumber(metricLines.count())} for about ${formatNumber(messages)} messages`],
    [
      'without metrics',
      `${formatNumber(bareRate)} messages/s: the line costs ${formatNumber(1e6 / rate - 1e6 / bareRate, 2)} µs per message`,
    ],
    ['floor', `${formatNumber(floorRate)} messages/s (parse and serialise only, same run)`],
    ['of the floor', `${formatNumber((100 * rate) / floorRate)}%`],
    [
      'reference',
      `${formatNumber(REFERENCE_PYTHON_MESSAGES_PER_SECOND)} messages/s (rohrpost, Python, per the issue)`,
    ],
    ['ratio', `${formatNumber(rate / REFERENCE_PYTHON_MESSAGES_PER_SECOND, 1)}x the reference`],
  ]);
}

void main();
