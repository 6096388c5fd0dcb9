/**
 * The sandbox under closed-loop ping load: 50 connections x 200 pings from a separate client
 * process, throughput and round trips, lost and mismatched replies; and how long the sandbox
 * takes from start to ready. Beside it, in the same run and round by round in turn, the Python
 * original (rohrpost on Django Channels, under Daphne) under the same load, when
 * ROHRPOST_PYTHON names a checkout of it (bench/daphne.ts).
 *
 *   npm run bench:sandbox                # add -- --profile for where the gateway's main thread spends its time
 */
import { join } from 'node:path';
import config from '../rohrpost.config';
import { startSandbox } from '../sandbox/sandbox';
import { profileRows, startCpuProfile } from './cpu-profile';
import type { RunningDaphne } from './daphne';
import { daphneSettings, startDaphne } from './daphne';
import { childPhase, phase, runBenchmark, startPhase } from './deadline';
import type { PingLoadResult } from './ping-load';
import { formatNumber, machineLoad, median, percentile, printTable } from './stats';

const CONNECTIONS = 50;
const PINGS = 200;
const ROUNDS = 3;
const TARGET_RATIO = 3;
/** The functions with the most self time that `--profile` prints. */
const PROFILE_LINES = 20;
/**
 * rohrpost on Daphne under this load, measured by this bench (bench/daphne.ts) on 2026-12-07 on
 * this kind of machine (2 cores, other builds running, load 7-8): printed only when it cannot run
 * here, and then with no ratio.
 */
const REFERENCE = { messagesPerSecond: '1,365-2,184 (median 1,751)', p99Milliseconds: 137 };
/** DynamoDB Local, the tables and the functions' bundles: 2-3 s on a quiet machine. */
const SANDBOX_START_DEADLINE_MS = 60_000;
const SANDBOX_STOP_DEADLINE_MS = 15_000;
/** Python, Django and Twisted's imports: 1-2 s on a quiet machine. */
const DAPHNE_START_DEADLINE_MS = 30_000;
/**
 * One round of load: the client process's start, then CONNECTIONS x PINGS round trips, which
 * the sandbox answers at well over 1,000 a second; at 200 a second they still finish.
 */
const LOAD_DEADLINE_MS = 10_000 + ((CONNECTIONS * PINGS) / 200) * 1_000;

/** Runs the load from a separate process, as a real client would be. */
async function load(url: string, name: string): Promise<PingLoadResult> {
  const stdout = await childPhase(name, LOAD_DEADLINE_MS, process.execPath, [
    '--import',
    'tsx',
    join(__dirname, 'ping-load.ts'),
    url,
    String(CONNECTIONS),
    String(PINGS),
  ]);
  return JSON.parse(stdout) as PingLoadResult;
}

const startSandboxInTime = () =>
  startPhase(
    'sandbox start',
    SANDBOX_START_DEADLINE_MS,
    () => startSandbox({ config, port: 0 }),
    (late) => late.stop(),
  );
const stopSandboxInTime = (sandbox: { stop(): Promise<void> }) =>
  phase('sandbox stop', SANDBOX_STOP_DEADLINE_MS, () => sandbox.stop());

interface Figures {
  readonly rates: number[];
  readonly rate: number;
  readonly p50: number;
  readonly p99: number;
  readonly correct: number;
  readonly sent: number;
  readonly lost: number;
  readonly mismatched: number;
}

function figures(rounds: readonly PingLoadResult[]): Figures {
  const rates = rounds.map((r) => r.answered / (r.wallMilliseconds / 1000));
  const roundTrips = rounds.flatMap((r) => r.roundTripsMilliseconds);
  const lost = rounds.reduce((sum, r) => sum + r.lost, 0);
  const mismatched = rounds.reduce((sum, r) => sum + r.mismatched, 0);
  const sent = rounds.reduce((sum, r) => sum + r.sent, 0);
  return {
    rates,
    rate: median(rates),
    p50: percentile(roundTrips, 50),
    p99: percentile(roundTrips, 99),
    correct: sent - lost - mismatched,
    sent,
    lost,
    mismatched,
  };
}

function rows(f: Figures): Array<readonly [string, string]> {
  return [
    [
      'throughput (msg/s)',
      `${f.rates.map((r) => formatNumber(r)).join(', ')}; median ${formatNumber(f.rate)}`,
    ],
    ['round trip', `p50 ${formatNumber(f.p50, 2)} ms, p99 ${formatNumber(f.p99, 2)} ms`],
    ['replies', `${f.correct} of ${f.sent} correct; ${f.lost} lost, ${f.mismatched} mismatched`],
  ];
}

async function main(): Promise<void> {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  const profile = process.argv.includes('--profile');
  const startTimes: number[] = [];
  for (let i = 0; i < 3; i++) {
    const started = performance.now();
    const sandbox = await startSandboxInTime();
    startTimes.push(performance.now() - started);
    await stopSandboxInTime(sandbox);
  }

  const python = daphneSettings();
  const loadBefore = machineLoad();
  const sandbox = await startSandboxInTime();
  let daphne: RunningDaphne | undefined;
  try {
    if ('checkout' in python) {
      daphne = await startPhase(
        'Daphne start',
        DAPHNE_START_DEADLINE_MS,
        () => startDaphne(python, DAPHNE_START_DEADLINE_MS),
        (late) => late.stop(),
      );
    }
    await load(sandbox.websocketUrl, 'sandbox warm-up load');
    if (daphne) await load(daphne.url, 'Daphne warm-up load');
    const sandboxRounds: PingLoadResult[] = [];
    const daphneRounds: PingLoadResult[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      sandboxRounds.push(await load(sandbox.websocketUrl, `sandbox load, round ${i + 1}`));
      if (daphne) daphneRounds.push(await load(daphne.url, `Daphne load, round ${i + 1}`));
    }
    const loadAfter = machineLoad();

    const ours = figures(sandboxRounds);
    printTable(`sandbox, closed-loop ping: ${CONNECTIONS} connections x ${PINGS} pings, ${ROUNDS} rounds`, [
      ...rows(ours),
      [
        'start to ready',
        `${startTimes.map((t) => formatNumber(t)).join(', ')} ms; median ${formatNumber(median(startTimes))} ms (DynamoDB Local, tables, functions, gateway)`,
      ],
      ['machine load (1 min)', `${loadBefore} before the rounds, ${loadAfter} after`],
    ]);
    let failed = ours.lost > 0 || ours.mismatched > 0;
    const title = 'reference: the Python original, rohrpost on Django Channels under Daphne, the same load';
    if (daphne) {
      const theirs = figures(daphneRounds);
      printTable(title, [
        ['ran', `${daphne.versions}, in-memory channel layer; rounds in turn with the sandbox's`],
        ...rows(theirs),
        [
          'sandbox / Daphne',
          `${formatNumber(ours.rate / theirs.rate, 2)}x the throughput (medians; target ${TARGET_RATIO}x), ` +
            `p99 ${formatNumber(ours.p99, 2)} ms against ${formatNumber(theirs.p99, 2)} ms`,
        ],
      ]);
      failed ||= theirs.lost > 0;
    } else {
      printTable(title, [
        ['not run', 'missing' in python ? python.missing : ''],
        [
          'a constant',
          `${REFERENCE.messagesPerSecond} msg/s, p99 ${REFERENCE.p99Milliseconds} ms, measured once ` +
            'by this bench on 2026-12-07 (2 cores, load 7-8): not this run, so no ratio',
        ],
      ]);
    }

    if (profile) {
      const stop = await startCpuProfile();
      await load(sandbox.websocketUrl, 'sandbox load, profiled');
      const summary = await stop(PROFILE_LINES);
      printTable(
        `profile of the gateway's main thread (this process) over one more round, top ${PROFILE_LINES} by self time ` +
          '(function workers not included)',
        profileRows(summary),
      );
    }
    if (failed) process.exitCode = 1;
  } finally {
    await daphne?.stop();
    await stopSandboxInTime(sandbox);
  }
}

runBenchmark(main);
