/**
 * The client's figures:
 * - its bundle, minified and gzipped, beside rohrpost-js's, measured in the same run when
 *   ROHRPOST_JS names a checkout of it (see ROHRPOST_JS below);
 * - the time from a forced drop to every subscription resubscribed and recovered, against the
 *   sandbox, with the default backoff and with none (the protocol's own cost);
 * - how 500 clients dropped at once try to come back: the spread of their attempts, beside
 *   clients that reconnect as rohrpost-js does (3 s after any close), measured in the same run.
 *
 * Every phase has a deadline derived from its work (bench/deadline.ts).
 *
 *   npm run bench:client
 */
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { gzipSync } from 'node:zlib';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { build } from 'esbuild';
import WebSocket from 'ws';
import type { RohrpostClientOptions } from '../client/src';
import { RohrpostClient } from '../client/src';
import config from '../rohrpost.config';
import type { Sandbox } from '../sandbox/sandbox';
import { startSandbox } from '../sandbox/sandbox';
import { ApiGatewayLimits } from '../lambdas/rohrpost/delivery/limits';
import { DeadlineExceeded, phase, runBenchmark, startPhase } from './deadline';
import { useLambdaEnvironment } from './local-aws';
import { formatNumber, median, percentile, printTable } from './stats';

/**
 * rohrpost-js (github.com/axsemantics/rohrpost-js) is on no npm registry this project installs
 * from. Its bundle is measured in each run, with the settings of `bundleSize`, when ROHRPOST_JS
 * is the path of a checkout of it; with the `events` package that its browser build bundles (it
 * extends Node's EventEmitter) when that resolves from the checkout (`npm install --no-save
 * events@3.3.0` there). Otherwise the figures below are printed as what they are: constants.
 */
const ROHRPOST_JS = {
  checkout: process.env.ROHRPOST_JS,
  measured:
    'measured 2026-12-07 with esbuild 0.28.2 from axsemantics/rohrpost-js at 69e3d12 (0.6.0), src/index.js',
  withEvents: { minified: 11_003, gzipped: 3_617 },
  withoutEvents: { minified: 4_389, gzipped: 1_460 },
};

const GROUPS = 10;
/** Bundling three small entries; esbuild takes well under a second for each. */
const BUILD_DEADLINE_MS = 30_000;
/** DynamoDB Local, the tables and the functions' bundles; 2-3 s on a quiet machine. */
const SANDBOX_START_DEADLINE_MS = 60_000;
const SANDBOX_STOP_DEADLINE_MS = 15_000;
/** Ten subscribes on one connection: milliseconds. */
const SUBSCRIBE_DEADLINE_MS = 10_000;
/** How long the stream function may take to put a change into the history (3-8 ms, locally). */
const HISTORY_DEADLINE_MS = 30_000;
/**
 * A drop round: 30 writes, their notifications reaching the history, and two reconnects each
 * under a second (the backoff's first ceiling, 0.5 s, and 10 resubscriptions, 0.15-0.35 s).
 */
const ROUND_DEADLINE_MS = HISTORY_DEADLINE_MS + 20_000;
const MISSED_PER_GROUP = 3;
const DROP_ROUNDS = 15;
const CLIENTS = 500;
/** rohrpost-js reconnects this long after any close. */
const FIXED_DELAY_MS = 3_000;
/** The longest wait between two attempts of @rohrpost/client, its backoff's default ceiling. */
const BACKOFF_CEILING_MS = 30_000;
const WINDOW_MS = 100;

async function main(): Promise<void> {
  useLambdaEnvironment({ LOG_LEVEL: 'WARN' });
  await phase('the bundles', BUILD_DEADLINE_MS, printBundleSizes);
  const sandbox = await startPhase(
    'sandbox start',
    SANDBOX_START_DEADLINE_MS,
    () => startSandbox({ config, port: 0 }),
    (late) => late.stop(),
  );
  try {
    await dropToRecovered(sandbox);
    await reconnectSpread(sandbox);
  } finally {
    await phase('sandbox stop', SANDBOX_STOP_DEADLINE_MS, () => sandbox.stop());
  }
}

async function printBundleSizes(): Promise<void> {
  const ours = await bundleSize(join(__dirname, '../client/src/index.ts'));
  const size = (bytes: Bundle) =>
    `${formatNumber(bytes.minified)} B minified, ${formatNumber(bytes.gzipped)} B gzipped`;
  const rows: Array<readonly [string, string]> = [['@rohrpost/client', size(ours)]];
  const theirs = ROHRPOST_JS.checkout ? await rohrpostJsSizes(ROHRPOST_JS.checkout) : undefined;
  const ratio = (bundle: Bundle) =>
    `@rohrpost/client is ${formatNumber(ours.gzipped / bundle.gzipped, 2)}x its size`;
  if (theirs?.withEvents) {
    rows.push(
      ['rohrpost-js, as browsers load it', `${size(theirs.withEvents)} (with the events polyfill)`],
      ['', `${ratio(theirs.withEvents)} gzipped (same run)`],
    );
  }
  if (theirs) {
    rows.push(
      ['rohrpost-js, its own code alone', `${size(theirs.withoutEvents)} (without the events polyfill)`],
      ['', `${ratio(theirs.withoutEvents)} gzipped (same run)`],
    );
  }
  if (!theirs?.withEvents) {
    rows.push(
      [
        'rohrpost-js 0.6.0, a constant',
        `${size(ROHRPOST_JS.withEvents)} with the events polyfill, as browsers load it; ` +
          `${size(ROHRPOST_JS.withoutEvents)} without (${ROHRPOST_JS.measured}; not measured in this run)`,
      ],
      [
        '',
        theirs
          ? 'with the polyfill: `events` does not resolve from ROHRPOST_JS (npm install --no-save events@3.3.0 there)'
          : 'to measure it in this run, set ROHRPOST_JS to a checkout of github.com/axsemantics/rohrpost-js',
      ],
    );
  }
  printTable('the client bundle (esbuild, minified, ESM for browsers; gzip -9)', rows);
}

interface Bundle {
  readonly minified: number;
  readonly gzipped: number;
}

async function bundleSize(entry: string, external: string[] = []): Promise<Bundle> {
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2020',
    write: false,
    logLevel: 'silent',
    external,
  });
  const code = result.outputFiles[0]!.contents;
  return { minified: code.length, gzipped: gzipSync(code, { level: 9 }).length };
}

/** rohrpost-js's src/index.js without the `events` polyfill, and with it when it resolves. */
async function rohrpostJsSizes(checkout: string): Promise<{ withoutEvents: Bundle; withEvents?: Bundle }> {
  const entry = join(checkout, 'src/index.js');
  const withoutEvents = await bundleSize(entry, ['events']);
  try {
    return { withoutEvents, withEvents: await bundleSize(entry) };
  } catch {
    return { withoutEvents };
  }
}

/**
 * One client with ten subscriptions, dropped over and over. Measured: from a drop to every
 * subscription confirmed again when nothing was missed (the backoff included), and from the
 * moment it may reconnect to every subscription recovered when three changes to each note
 * happened while it was away (its token provider holds the reconnect until they are written).
 */
async function dropToRecovered(sandbox: Sandbox): Promise<void> {
  const db = DynamoDBDocumentClient.from(new DynamoDBClient({ endpoint: sandbox.dynamodbEndpoint }));
  const figures: Record<string, { total: number[]; reconnect: number[] }> = {};
  for (const [name, reconnect] of [
    ['default backoff (first retry within 500 ms)', undefined],
    ['no backoff', { initialDelayMs: 0, maxDelayMs: 0 }],
  ] as const) {
    const measured = (figures[name] = { total: [] as number[], reconnect: [] as number[] });
    let hold: Promise<void> | undefined;
    const client = new RohrpostClient({
      url: sandbox.websocketUrl,
      WebSocket,
      reconnect,
      // Called before each connect: holds the reconnect until the missed changes are written.
      token: async () => {
        await hold;
        return undefined;
      },
    } satisfies RohrpostClientOptions);
    const notes = Array.from({ length: GROUPS }, (_, i) => `bench-${i}`);
    const recovered = new Set<string>();
    const problems: string[] = [];
    let allRecovered: (() => void) | undefined;
    let expectedMissed = MISSED_PER_GROUP;
    client.on('recovered', ({ group, recovered: complete, missed }) => {
      if (!complete || missed !== expectedMissed)
        problems.push(`${group}: ${missed} recovered (${complete})`);
      recovered.add(group);
      if (recovered.size === GROUPS) allRecovered?.();
    });
    let step = 'subscribing';
    const unfinished = () => `${name}: ${step}; ${recovered.size} of ${GROUPS} groups recovered`;
    try {
      await phase('the subscriptions', SUBSCRIBE_DEADLINE_MS, () =>
        Promise.all(
          notes.map(
            (id) =>
              new Promise<void>((resolve) => {
                const off = client.subscribe({ type: 'note', id }).on('subscribed', () => (off(), resolve()));
              }),
          ),
        ),
      );
      for (let round = 0; round < DROP_ROUNDS; round++) {
        await phase(
          `drop round ${round + 1} of ${DROP_ROUNDS}`,
          ROUND_DEADLINE_MS,
          async () => {
            recovered.clear();
            let release: () => void = () => undefined;
            hold = new Promise((resolve) => (release = resolve));
            const done = new Promise<void>((resolve) => (allRecovered = resolve));
            step = 'writing the changes it misses';
            const tops = await topsOf(sandbox, db, notes);
            client.dropConnection();
            for (const id of notes) {
              for (let i = 0; i < MISSED_PER_GROUP; i++) {
                await db.send(
                  new PutCommand({
                    TableName: sandbox.tableNames.notes,
                    Item: { id, title: `v${round}.${i}` },
                  }),
                );
              }
            }
            step = 'waiting for the changes to reach the history';
            await waitForHistory(sandbox, db, notes, tops);
            step = 'reconnecting and recovering';
            const released = performance.now();
            release();
            await done;
            measured.reconnect.push(performance.now() - released);

            // Nothing missed: the drop to every subscription confirmed, backoff included.
            recovered.clear();
            hold = undefined;
            const confirmed = new Promise<void>((resolve) => (allRecovered = resolve));
            expectedMissed = 0;
            step = 'reconnecting and resubscribing, nothing missed';
            const droppedAgain = performance.now();
            client.dropConnection();
            await confirmed;
            measured.total.push(performance.now() - droppedAgain);
            expectedMissed = MISSED_PER_GROUP;
          },
          unfinished,
        );
      }
    } finally {
      client.close();
    }
    if (problems.length > 0) throw new Error(`Recovery went wrong: ${problems.slice(0, 3).join('; ')}`);
  }
  db.destroy();
  const ms = (values: number[]) =>
    `median ${formatNumber(median(values), 1)} ms, p90 ${formatNumber(percentile(values, 90), 1)} ms`;
  printTable(
    `a forced drop to ${GROUPS} subscriptions resubscribed and recovered (${MISSED_PER_GROUP} missed each), ${DROP_ROUNDS} rounds`,
    Object.entries(figures).flatMap(([name, { total, reconnect }]) => [
      [`${name}: drop to resubscribed, nothing missed`, ms(total)] as const,
      [`  reconnect to ${GROUPS * MISSED_PER_GROUP} missed messages recovered`, ms(reconnect)] as const,
    ]),
  );
}

/** Each note's latest seq. */
async function topsOf(
  sandbox: Sandbox,
  db: DynamoDBDocumentClient,
  notes: readonly string[],
): Promise<number[]> {
  const heads = await Promise.all(
    notes.map((id) =>
      db.send(
        new GetCommand({ TableName: sandbox.historyTable!, Key: { group: `note-${id}`, key: '#head' } }),
      ),
    ),
  );
  return heads.map(({ Item }) => (typeof Item?.top === 'number' ? Item.top : 0));
}

/** Waits until every note's history has MISSED_PER_GROUP messages more than `before`. */
async function waitForHistory(
  sandbox: Sandbox,
  db: DynamoDBDocumentClient,
  notes: readonly string[],
  before: readonly number[],
): Promise<void> {
  const deadline = Date.now() + HISTORY_DEADLINE_MS;
  for (;;) {
    const tops = await topsOf(sandbox, db, notes);
    if (tops.every((top, i) => top >= before[i]! + MISSED_PER_GROUP)) return;
    if (Date.now() > deadline) {
      throw new DeadlineExceeded(
        `the notifications did not reach the history within ${HISTORY_DEADLINE_MS} ms`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * 500 clients are dropped at the same moment: when do they try to come back? Their attempts are
 * what API Gateway's quota of about 500 new connections a second per account meets (the
 * sandbox keeps it, and refuses more with 429); each bucket is 100 ms. Beside them, in the same
 * run, clients that reconnect as rohrpost-js does. Each group starts once the quota is whole
 * again, and counts every attempt until all its clients are back.
 */
async function reconnectSpread(sandbox: Sandbox): Promise<void> {
  const url = sandbox.websocketUrl.replace('localhost', '127.0.0.1');
  const jittered = await attemptsAfterDrop('@rohrpost/client', BACKOFF_CEILING_MS, (events) => {
    let connects = 0;
    /** `ws`, noting every attempt after the first connect. */
    class Noting extends WebSocket {
      constructor(address: string) {
        super(address);
        if (connects++ > 0) events.attempted();
      }
    }
    const client = new RohrpostClient({ url, WebSocket: Noting });
    client.on('open', () => events.opened());
    return { drop: () => client.dropConnection(), close: () => client.close() };
  });
  const fixed = await attemptsAfterDrop('rohrpost-js', 2 * FIXED_DELAY_MS, (events) =>
    reconnectingAsRohrpostJs(url, events),
  );
  const describe = ({ attempts, backMs }: Spread) => {
    const buckets = new Map<number, number>();
    for (const time of attempts) {
      const bucket = Math.floor(time / WINDOW_MS);
      buckets.set(bucket, (buckets.get(bucket) ?? 0) + 1);
    }
    const peak = Math.max(...buckets.values());
    return [
      `${formatNumber(attempts.length)} attempts from ${formatNumber(Math.min(...attempts))} to ` +
        `${formatNumber(Math.max(...attempts))} ms after the drop, median ${formatNumber(median(attempts))} ms; ` +
        `all back after ${formatNumber(backMs)} ms`,
      `at most ${peak} in one ${WINDOW_MS} ms window (${formatNumber((peak * 1000) / WINDOW_MS)} attempts/s)`,
    ] as const;
  };
  const [ours, theirs] = [describe(jittered), describe(fixed)];
  printTable(`${CLIENTS} clients dropped at once, against the sandbox: when they try to reconnect`, [
    ['@rohrpost/client (full jitter)', ours[0]],
    ['', ours[1]],
    [`rohrpost-js (${FIXED_DELAY_MS / 1000} s after any close)`, theirs[0]],
    ['', theirs[1]],
  ]);
}

/** What a client under test tells `attemptsAfterDrop`. */
interface ClientEvents {
  /** A connection attempt after the first connect. */
  attempted(): void;
  /** A connection opened. */
  opened(): void;
}

/**
 * A connection that reconnects as rohrpost-js 0.6.0 does (src/index.js, `_createSocket`): 3 s
 * after any close it did not ask for, a handshake that was refused (429) included.
 */
function reconnectingAsRohrpostJs(url: string, events: ClientEvents): { drop(): void; close(): void } {
  let socket: WebSocket;
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  const connect = () => {
    socket = new WebSocket(url);
    socket.on('error', () => undefined);
    socket.on('open', () => events.opened());
    socket.on('close', () => {
      if (closed) return;
      timer = setTimeout(() => {
        events.attempted();
        connect();
      }, FIXED_DELAY_MS);
    });
  };
  connect();
  return {
    drop: () => socket.terminate(),
    close: () => {
      closed = true;
      clearTimeout(timer);
      socket.terminate();
    },
  };
}

interface Spread {
  /** When each attempt was made, in ms after the drop. */
  readonly attempts: number[];
  /** When the last client was open again, in ms after the drop. */
  readonly backMs: number;
}

/**
 * Opens CLIENTS connections, waits for the connection quota to refill, drops them all in one
 * turn, and notes when each tries to reconnect until all are open again.
 */
async function attemptsAfterDrop(
  name: string,
  longestWaitMs: number,
  create: (events: ClientEvents) => { drop(): void; close(): void },
): Promise<Spread> {
  // The quota must let every client in: CLIENTS / rate seconds, each client waiting at most
  // `longestWaitMs` between attempts; twice that for a loaded machine.
  const quotaMs = (CLIENTS / ApiGatewayLimits.newConnectionsPerSecond) * 1000;
  const deadlineMs = 2 * (quotaMs + longestWaitMs) + 10_000;
  const attempts: number[] = [];
  let droppedAt: number | undefined;
  const open = new Set<number>();
  let allOpen: () => void = () => undefined;
  const clients = Array.from({ length: CLIENTS }, (_, index) =>
    create({
      attempted: () => {
        if (droppedAt !== undefined) attempts.push(performance.now() - droppedAt);
      },
      opened: () => {
        open.add(index);
        if (open.size === CLIENTS) allOpen();
      },
    }),
  );
  const notOpen = () => `${formatNumber(CLIENTS - open.size)} of ${formatNumber(CLIENTS)} clients not open`;
  try {
    await phase(`${name}: ${CLIENTS} clients connecting`, deadlineMs, () => everyOpen(), notOpen);
    await new Promise((resolve) => setTimeout(resolve, quotaMs));
    open.clear();
    const back = everyOpen();
    droppedAt = performance.now();
    for (const client of clients) client.drop();
    await phase(
      `${name}: ${CLIENTS} clients dropped at once`,
      deadlineMs,
      () => back,
      () => `${notOpen()} again after ${formatNumber(attempts.length)} attempts`,
    );
    return { attempts, backMs: performance.now() - droppedAt };
  } finally {
    for (const client of clients) client.close();
  }

  function everyOpen(): Promise<void> {
    return open.size === CLIENTS ? Promise.resolve() : new Promise((resolve) => (allOpen = resolve));
  }
}

runBenchmark(main);
