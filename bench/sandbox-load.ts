/**
 * The sandbox under closed-loop ping load: 50 connections x 200 pings from a separate client
 * process, throughput and round trips, lost and mismatched replies; and how long the sandbox
 * takes from start to ready.
 *
 *   npm run bench:sandbox
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import config from '../rohrpost.config';
import { startSandbox } from '../sandbox/sandbox';
import type { PingLoadResult } from './ping-load';
import { formatNumber, median, percentile, printTable } from './stats';

const CONNECTIONS = 50;
const PINGS = 200;
const ROUNDS = 3;
/** rohrpost on Daphne (Python) on this machine under the same load, as the issue gives it. */
const REFERENCE = { messagesPerSecond: 2_100, p50Milliseconds: 22 };

/** Runs the load from a separate process, as a real client would be. */
async function load(url: string): Promise<PingLoadResult> {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--import', 'tsx', join(__dirname, 'ping-load.ts'), url, String(CONNECTIONS), String(PINGS)],
    { maxBuffer: 64 * 1024 * 1024 },
  );
  return JSON.parse(stdout) as PingLoadResult;
}

async function main(): Promise<void> {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  const startTimes: number[] = [];
  for (let i = 0; i < 3; i++) {
    const started = performance.now();
    const sandbox = await startSandbox({ config, port: 0 });
    startTimes.push(performance.now() - started);
    await sandbox.stop();
  }

  const sandbox = await startSandbox({ config, port: 0 });
  try {
    await load(sandbox.websocketUrl); // warm-up
    const rounds: PingLoadResult[] = [];
    for (let i = 0; i < ROUNDS; i++) rounds.push(await load(sandbox.websocketUrl));

    const rates = rounds.map((r) => r.answered / (r.wallMilliseconds / 1000));
    const rate = median(rates);
    const roundTrips = rounds.flatMap((r) => r.roundTripsMilliseconds);
    const p50 = percentile(roundTrips, 50);
    const p99 = percentile(roundTrips, 99);
    const lost = rounds.reduce((sum, r) => sum + r.lost, 0);
    const mismatched = rounds.reduce((sum, r) => sum + r.mismatched, 0);
    const sent = rounds.reduce((sum, r) => sum + r.sent, 0);
    printTable(`sandbox, closed-loop ping: ${CONNECTIONS} connections x ${PINGS} pings, ${ROUNDS} rounds`, [
      ['throughput (msg/s)', `${rates.map((r) => formatNumber(r)).join(', ')}; median ${formatNumber(rate)}`],
      ['round trip', `p50 ${formatNumber(p50, 2)} ms, p99 ${formatNumber(p99, 2)} ms`],
      ['replies', `${sent - lost - mismatched} of ${sent} correct; ${lost} lost, ${mismatched} mismatched`],
      [
        'reference',
        `${formatNumber(REFERENCE.messagesPerSecond)} msg/s, p50 ${REFERENCE.p50Milliseconds} ms (rohrpost on Daphne, per the issue)`,
      ],
      [
        'ratio',
        `${formatNumber(rate / REFERENCE.messagesPerSecond, 1)}x the throughput, p50 ${formatNumber(REFERENCE.p50Milliseconds / p50, 1)}x lower`,
      ],
      [
        'start to ready',
        `${startTimes.map((t) => formatNumber(t)).join(', ')} ms; median ${formatNumber(median(startTimes))} ms (DynamoDB Local, tables, functions, gateway)`,
      ],
    ]);
    if (lost > 0 || mismatched > 0) process.exitCode = 1;
  } finally {
    await sandbox.stop();
  }
}

void main();
