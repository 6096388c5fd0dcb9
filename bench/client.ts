/**
 * The client's figures:
 * - its bundle, minified and gzipped, beside rohrpost-js's;
 * - the time from a forced drop to every subscription resubscribed and recovered, against the
 *   sandbox, with the default backoff and with none (the protocol's own cost);
 * - how 500 clients dropped at once try to come back: the spread of their attempts, beside
 *   clients that wait a fixed 3 s as rohrpost-js does, measured in the same run.
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
import { useLambdaEnvironment } from './local-aws';
import { formatNumber, median, percentile, printTable } from './stats';

/**
 * rohrpost-js is not in the npm registry this project installs from, so its size cannot be
 * measured in each run. It was measured once, with the settings of `bundleSize` below, from
 * axsemantics/rohrpost-js at 69e3d12 (0.6.0): src/index.js with the `events` package that its
 * browser build bundles (it extends Node's EventEmitter), and without it.
 */
const ROHRPOST_JS = { minified: 11_003, gzipped: 3_617, withoutEvents: { minified: 4_389, gzipped: 1_460 } };

const GROUPS = 10;
const MISSED_PER_GROUP = 3;
const DROP_ROUNDS = 15;
const CLIENTS = 500;
const FIXED_DELAY_MS = 3_000;
const WINDOW_MS = 100;

async function main(): Promise<void> {
  useLambdaEnvironment({ LOG_LEVEL: 'WARN' });
  const size = await bundleSize();
  printTable('the client bundle (esbuild, minified, ESM for browsers; gzip -9)', [
    [
      '@rohrpost/client',
      `${formatNumber(size.minified)} B minified, ${formatNumber(size.gzipped)} B gzipped`,
    ],
    [
      'rohrpost-js 0.6.0, as browsers load it',
      `${formatNumber(ROHRPOST_JS.minified)} B minified, ${formatNumber(ROHRPOST_JS.gzipped)} B gzipped (with the events polyfill)`,
    ],
    [
      '  without the events polyfill',
      `${formatNumber(ROHRPOST_JS.withoutEvents.minified)} B minified, ${formatNumber(ROHRPOST_JS.withoutEvents.gzipped)} B gzipped`,
    ],
    ['@rohrpost/client / rohrpost-js', `${formatNumber(size.gzipped / ROHRPOST_JS.gzipped, 2)}x gzipped`],
  ]);

  const sandbox = await startSandbox({ config, port: 0 });
  try {
    await dropToRecovered(sandbox);
    await reconnectSpread(sandbox);
  } finally {
    await sandbox.stop();
  }
}

async function bundleSize(): Promise<{ minified: number; gzipped: number }> {
  const result = await build({
    entryPoints: [join(__dirname, '../client/src/index.ts')],
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2020',
    write: false,
  });
  const code = result.outputFiles[0]!.contents;
  return { minified: code.length, gzipped: gzipSync(code, { level: 9 }).length };
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
    await Promise.all(
      notes.map(
        (id) =>
          new Promise<void>((resolve) => {
            const off = client.subscribe({ type: 'note', id }).on('subscribed', () => (off(), resolve()));
          }),
      ),
    );
    for (let round = 0; round < DROP_ROUNDS; round++) {
      recovered.clear();
      let release: () => void = () => undefined;
      hold = new Promise((resolve) => (release = resolve));
      const done = new Promise<void>((resolve) => (allRecovered = resolve));
      const tops = await topsOf(sandbox, db, notes);
      client.dropConnection();
      for (const id of notes) {
        for (let i = 0; i < MISSED_PER_GROUP; i++) {
          await db.send(
            new PutCommand({ TableName: sandbox.tableNames.notes, Item: { id, title: `v${round}.${i}` } }),
          );
        }
      }
      await waitForHistory(sandbox, db, notes, tops);
      const released = performance.now();
      release();
      await done;
      measured.reconnect.push(performance.now() - released);

      // Nothing missed: the drop to every subscription confirmed, backoff included.
      recovered.clear();
      hold = undefined;
      const confirmed = new Promise<void>((resolve) => (allRecovered = resolve));
      expectedMissed = 0;
      const droppedAgain = performance.now();
      client.dropConnection();
      await confirmed;
      measured.total.push(performance.now() - droppedAgain);
      expectedMissed = MISSED_PER_GROUP;
    }
    client.close();
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
  const deadline = Date.now() + 30_000;
  for (;;) {
    const tops = await topsOf(sandbox, db, notes);
    if (tops.every((top, i) => top >= before[i]! + MISSED_PER_GROUP)) return;
    if (Date.now() > deadline) throw new Error('the notifications did not arrive within 30 s');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * 500 clients are dropped at the same moment: when do they try to come back? Their attempts are
 * what API Gateway's quota of about 500 new connections a second per account meets; each
 * bucket is 100 ms. The clients that wait a fixed 3 s, as rohrpost-js does, run in the same run.
 */
async function reconnectSpread(sandbox: Sandbox): Promise<void> {
  const url = sandbox.websocketUrl.replace('localhost', '127.0.0.1');
  const jittered = await attemptsAfterDrop(url, (attempted) => {
    let connects = 0;
    /** `ws`, noting every attempt after the first connect. */
    class Noting extends WebSocket {
      constructor(address: string) {
        super(address);
        if (connects++ > 0) attempted();
      }
    }
    const client = new RohrpostClient({ url, WebSocket: Noting });
    return {
      opened: new Promise<void>((resolve) => client.on('open', () => resolve())),
      drop: () => client.dropConnection(),
      close: () => client.close(),
    };
  });
  const fixed = await attemptsAfterDrop(url, (attempted) => {
    const connect = () => new WebSocket(url).on('error', () => undefined);
    let socket = connect();
    const opened = new Promise<void>((resolve) => socket.once('open', () => resolve()));
    return {
      opened,
      drop: () => {
        socket.terminate();
        setTimeout(() => {
          attempted();
          socket = connect();
        }, FIXED_DELAY_MS);
      },
      close: () => socket.terminate(),
    };
  });
  const describe = (times: number[]) => {
    const buckets = new Map<number, number>();
    for (const time of times) {
      const bucket = Math.floor(time / WINDOW_MS);
      buckets.set(bucket, (buckets.get(bucket) ?? 0) + 1);
    }
    const peak = Math.max(...buckets.values());
    return [
      `attempts from ${formatNumber(Math.min(...times))} to ${formatNumber(Math.max(...times))} ms after the drop, ` +
        `median ${formatNumber(median(times))} ms`,
      `at most ${peak} in one ${WINDOW_MS} ms window (${formatNumber((peak * 1000) / WINDOW_MS)} attempts/s)`,
    ] as const;
  };
  const [ours, theirs] = [describe(jittered), describe(fixed)];
  printTable(`${CLIENTS} clients dropped at once, against the sandbox: when they try to reconnect`, [
    ['@rohrpost/client (full jitter)', ours[0]],
    ['', ours[1]],
    [`fixed ${FIXED_DELAY_MS / 1000} s (rohrpost-js)`, theirs[0]],
    ['', theirs[1]],
  ]);
}

/** Opens `count` connections, drops them all in one turn, and notes when each tries to reconnect. */
async function attemptsAfterDrop(
  url: string,
  create: (attempted: () => void) => { opened: Promise<void>; drop: () => void; close: () => void },
): Promise<number[]> {
  const times: number[] = [];
  let droppedAt = 0;
  let allTried: () => void = () => undefined;
  const tried = new Promise<void>((resolve) => (allTried = resolve));
  const clients = Array.from({ length: CLIENTS }, () =>
    create(() => {
      times.push(performance.now() - droppedAt);
      if (times.length === CLIENTS) allTried();
    }),
  );
  await Promise.all(clients.map((client) => client.opened));
  droppedAt = performance.now();
  for (const client of clients) client.drop();
  await tried;
  for (const client of clients) client.close();
  return times;
}

void main();
