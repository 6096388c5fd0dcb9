/**
 * Big groups: how close the lanes come to the account's PostToConnection quota, beside the
 * notification function posting to the whole group itself (lanes off), in the same run.
 *
 * The sandbox runs the project's functions (the stream function, the lanes' FIFO queue and
 * workers) against DynamoDB Local; they post to an emulated management API in its own process
 * (bench/quota-endpoint.ts) that enforces the quota (a token bucket, 429 beyond it), answers
 * each post after a lognormal latency (p50 20 ms, p99 150 ms) and answers 410 for 1 % of the
 * members. One run per scale: the quota and the group scaled down together keep the
 * quota-bound ideal, (members - burst) / rate, at 9.5 s, where this machine's two cores can
 * drive the posts (the endpoint, the workers and DynamoDB Local share them).
 *
 *   npm run bench:large-group                                   10,000 members at 1,000/s, 20,000 at 2,000/s
 *   npm run bench:large-group -- --members 100000 --rate 10000  the account's default quota
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { defineConfig } from '../lambdas/rohrpost/config';
import type { ResolvedConfig } from '../lambdas/rohrpost/config';
import type { Logger } from '../lambdas/rohrpost/logger';
import { splitShards } from '../lambdas/rohrpost/runtime/shard-splitter';
import { batchWrite } from '../lambdas/rohrpost/storage/batch-write';
import { HistoryKeys } from '../lambdas/rohrpost/storage/history-table';
import { LaneStore } from '../lambdas/rohrpost/storage/lane-store';
import { DynamoDbMembershipStore, MEMBERSHIP_LIFETIME_SECONDS } from '../lambdas/rohrpost/storage/membership';
import { shardOf } from '../lambdas/rohrpost/storage/shard-layout';
import projectConfig from '../rohrpost.config';
import type { DynamoDbLocal } from '../sandbox/dynamodb-local';
import { startDynamoDbLocal } from '../sandbox/dynamodb-local';
import type { Sandbox, SandboxReporter } from '../sandbox/sandbox';
import { silentReporter, startSandbox } from '../sandbox/sandbox';
import { phase, runBenchmark, startPhase } from './deadline';
import { useLambdaEnvironment } from './local-aws';
import { isGone } from './gone-members';
import type { EndpointReport, ReportRequest } from './quota-endpoint';
import { formatNumber, median, printTable } from './stats';

const BIG = 'notes-all';
const SMALL = 'note-small';
const SMALL_MEMBERS = 10;
const SMALL_CHANGES = 20;
const CHANGES_IN_A_ROW = 10;
/**
 * As many lane workers as shards: each lane is read by a worker of its own from the first
 * message on. (Twice as many shards as workers, so that a worker that finishes its lane takes
 * the next, measured 1.41x the ideal at 20,000 members against 1.23x like this.)
 */
const SHARDS = 8;
const WORKERS = SHARDS;
const GONE_EVERY = 100;
const LATENCY = { p50Ms: 20, p99Ms: 150 };
/** The lanes' budget as a share of the quota, as the default (9,000 of 10,000 a second). */
const BUDGET = 0.9;
/**
 * us-east-1 list prices, on-demand, arm64, from AWS's pricing pages for Lambda, SQS, DynamoDB
 * and API Gateway as of 2025: check them before relying on the result.
 */
const PRICES = {
  lambdaGbSecond: 0.0000133334,
  lambdaRequest: 0.2 / 1e6,
  sqsFifoRequest: 0.5 / 1e6,
  dynamodbWrite: 0.625 / 1e6,
  dynamodbRead: 0.125 / 1e6,
  webSocketMessage: 1 / 1e6,
};
const LANE_MEMORY_GB = 0.5;
const NOTIFY_MEMORY_GB = 0.25;

interface Scale {
  readonly members: number;
  readonly rate: number;
}

function scalesFromArguments(): Scale[] {
  const value = (name: string) => {
    const i = process.argv.indexOf(`--${name}`);
    return i === -1 ? undefined : Number(process.argv[i + 1]);
  };
  const members = value('members');
  const rate = value('rate');
  if (members !== undefined || rate !== undefined) {
    return [{ members: members ?? 100_000, rate: rate ?? 10_000 }];
  }
  return [
    { members: 10_000, rate: 1_000 },
    { members: 20_000, rate: 2_000 },
  ];
}

/** What the sandbox's functions did, from its reporter: invocation time per function kind. */
class Invocations {
  laneMs = 0;
  laneBatches = 0;
  laneJobs = 0;
  streamMs = 0;
  streamBatches = 0;

  reporter(): SandboxReporter {
    return {
      ...silentReporter,
      failed: (message) => console.error(`  sandbox: ${message}`),
      output: (name, line, stream) => {
        if (stream === 'stderr') console.error(`  [${name}] ${line}`);
      },
      functionFailed: (name, message) => console.error(`  ${name}: ${message}`),
      streamDelivered: (_table, _records, milliseconds) => {
        this.streamMs += milliseconds;
        this.streamBatches++;
      },
      streamRetrying: (table, _sequenceNumber, attempt, reason) =>
        console.error(`  ${table}: retry ${attempt} (${reason})`),
      deadLettered: () => console.error('  a record was dead-lettered'),
      streamFailed: (table, message) => console.error(`  ${table} stream: ${message}`),
      queueDelivered: (_queue, messages, milliseconds) => {
        this.laneMs += milliseconds;
        this.laneBatches++;
        this.laneJobs += messages;
      },
      queueBatchFailed: (queue, messages, reason) =>
        console.error(`  ${queue}: ${messages} failed (${reason})`),
      queueDeadLettered: (queue, messageId) => console.error(`  ${queue}: ${messageId} dead-lettered`),
    };
  }
}

/** The emulated management API in its own process. */
class Endpoint {
  private constructor(
    private readonly child: ReturnType<typeof spawn>,
    readonly origin: string,
  ) {}

  static start(): Promise<Endpoint> {
    const child = spawn(process.execPath, ['--import', 'tsx', join(__dirname, 'quota-endpoint.ts')], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    return new Promise((resolve, reject) => {
      child.stdout.once('data', (chunk: Buffer) =>
        resolve(new Endpoint(child, `http://127.0.0.1:${chunk.toString().trim()}`)),
      );
      child.once('exit', (code) => reject(new Error(`the emulated management API exited with ${code}`)));
    });
  }

  configure(scale: Scale, stalled: readonly string[] = []): Promise<unknown> {
    const settings = { rate: scale.rate, burst: scale.rate / 2, ...LATENCY, goneEvery: GONE_EVERY, stalled };
    return this.call('configure', settings);
  }

  reset(): Promise<unknown> {
    return this.call('reset', {});
  }

  report(group: string, members: readonly string[], seqs: readonly number[]): Promise<EndpointReport> {
    const request: ReportRequest = { group, members, seqs, shards: SHARDS };
    return this.call('report', request) as Promise<EndpointReport>;
  }

  stop(): void {
    this.child.kill();
  }

  private async call(path: string, body: unknown): Promise<unknown> {
    const response = await fetch(`${this.origin}/.bench/${path}`, {
      method: 'POST',
      body: JSON.stringify(body),
    });
    return response.json();
  }
}

/** The project's configuration, with lanes sized for `scale` (or none). */
function configFor(scale: Scale, lanes: boolean): ResolvedConfig {
  return defineConfig({
    websocket: projectConfig.websocket,
    tables: projectConfig.tables,
    notifications: {
      ...projectConfig.notifications,
      // The budget's default share of the quota: 90 %, as 9,000 of 10,000 a second.
      lanes: lanes && {
        groupSize: 1_000,
        shardSize: Math.ceil((scale.members / SHARDS) * 1.25),
        concurrency: WORKERS,
        postsPerSecond: Math.floor(scale.rate * BUDGET),
        burst: Math.floor((scale.rate / 2) * BUDGET),
      },
    },
  });
}

/** A sandbox with the small group's members in place; addBigGroup adds the big group's. */
async function prepare(
  scale: Scale,
  lanes: boolean,
  dynamodb: string,
  endpoint: Endpoint,
  invocations: Invocations,
): Promise<{ sandbox: Sandbox; db: DynamoDBDocumentClient; members: string[]; small: string[] }> {
  progress(`starting a sandbox, lanes ${lanes ? 'on' : 'off'}`);
  const sandbox = await startPhase(
    'starting the sandbox',
    120_000,
    () =>
      startSandbox({
        config: configFor(scale, lanes),
        port: 0,
        dynamodb: { endpoint: dynamodb },
        tablePrefix: `b${randomBytes(3).toString('hex')}-`,
        managementEndpoint: `${endpoint.origin}/prod`,
        reporter: invocations.reporter(),
      }),
    (started) => started.stop(),
  );
  const db = DynamoDBDocumentClient.from(new DynamoDBClient({ endpoint: dynamodb }));
  try {
    return await fill(sandbox, db);
  } catch (error) {
    db.destroy();
    await sandbox.stop();
    throw error;
  }
}

/** Gives both groups their position, and the small one its members. */
async function fill(
  sandbox: Sandbox,
  db: DynamoDBDocumentClient,
): Promise<{ sandbox: Sandbox; db: DynamoDBDocumentClient; members: string[]; small: string[] }> {
  const { tableNames } = sandbox;
  // A first change gives both groups their position, before they have members.
  await write(db, tableNames.notes!, 'small');
  await phase('the first change placed', 60_000, () => waitForTop(db, tableNames.history!, BIG, 1));
  const small = Array.from({ length: SMALL_MEMBERS }, () => randomBytes(11).toString('base64'));
  await batchWrite(db, tableNames.membership!, small.map(membershipItem(SMALL)));
  return { sandbox, db, members: [], small };
}

/** Gives the big group its members, and with `lanes` its lanes over SHARDS shards, as its splits would. */
async function addBigGroup(
  run: Awaited<ReturnType<typeof prepare>>,
  scale: Scale,
  lanes: boolean,
): Promise<void> {
  const { db, sandbox } = run;
  const { tableNames } = sandbox;
  const history = {
    tableName: tableNames.history!,
    positionLifetimeSeconds: projectConfig.notifications.history!.positionLifetimeSeconds,
  };
  run.members.push(...Array.from({ length: scale.members }, () => randomBytes(11).toString('base64')));
  const lanesStore = new LaneStore(db, history, tableNames.membership!);
  const membership = new DynamoDbMembershipStore(db, tableNames.membership!, { lanes: true });
  await phase(`writing ${formatNumber(scale.members)} members`, 30_000 + scale.members * 5, async () => {
    if (lanes) await lanesStore.createLanes(BIG);
    await batchWrite(db, tableNames.membership!, run.members.map(membershipItem(BIG)));
  });
  if (!lanes) return;
  await phase(`splitting into ${SHARDS} shards`, 60_000 + scale.members * 10, async () => {
    for (let layout = await membership.layout(BIG); layout && layout.shards < SHARDS;) {
      await splitShards(
        { kind: 'split', group: BIG, version: layout.version },
        {
          lanes: lanesStore,
          membership,
          settings: { shardSize: 1, maxShards: SHARDS },
          logger: SETUP_LOGGER,
        },
      );
      layout = await membership.layout(BIG);
    }
  });
}

/** The splits that set up the lanes say only what went wrong, on stderr beside the progress. */
const SETUP_LOGGER: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: (message, fields) => console.error(`  ${message}`, fields ?? ''),
  error: (message, fields) => console.error(`  ${message}`, fields ?? ''),
};

const membershipItem = (group: string) => {
  const expiresAt = Math.floor(Date.now() / 1000) + MEMBERSHIP_LIFETIME_SECONDS;
  return (connectionId: string) => ({ PutRequest: { Item: { group, connectionId, expiresAt } } });
};

let noteCounter = 0;

/** Where the bench is, on stderr: its phases take seconds to minutes. */
function progress(step: string): void {
  console.error(`  ${new Date().toISOString().slice(11, 19)} ${step}`);
}

/** Changes a note whose groups are `note-<id>` and `notes-all`; returns when it was written. */
async function write(db: DynamoDBDocumentClient, table: string, id = `n${noteCounter++}`): Promise<number> {
  const at = Date.now();
  await db.send(new PutCommand({ TableName: table, Item: { id, title: `change at ${at}` } }));
  return at;
}

async function waitForTop(
  db: DynamoDBDocumentClient,
  table: string,
  group: string,
  top: number,
): Promise<void> {
  for (;;) {
    const { Item } = await db.send(
      new GetCommand({ TableName: table, Key: { group, key: HistoryKeys.head } }),
    );
    if (typeof Item?.top === 'number' && Item.top >= top) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Waits until every member that is not gone has every seq; the report then. */
async function delivered(
  endpoint: Endpoint,
  group: string,
  members: readonly string[],
  seqs: readonly number[],
  deadlineMs: number,
): Promise<EndpointReport> {
  const listening = members.filter((member) => !isGone(member, GONE_EVERY));
  let last: EndpointReport | undefined;
  return phase(
    `${group}: seqs ${seqs[0]}..${seqs.at(-1)} to ${formatNumber(listening.length)} members`,
    deadlineMs,
    async () => {
      for (;;) {
        last = await endpoint.report(group, listening, seqs);
        if (last.incomplete === 0) return last;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    },
    () => `${formatNumber(last?.incomplete ?? listening.length)} members still lacked some`,
  );
}

interface BigResult {
  /** Epoch ms of the change's write. */
  readonly writtenAt: number;
  readonly seconds: number | undefined;
  /** From the write to the first post. */
  readonly firstPostSeconds?: number;
  readonly report: EndpointReport | undefined;
  readonly note?: string;
}

/** One change to the big group: time from the write to the last post. */
async function oneChange(
  run: Awaited<ReturnType<typeof prepare>>,
  endpoint: Endpoint,
  seq: number,
  deadlineMs: number,
): Promise<BigResult> {
  await endpoint.reset();
  const writtenAt = await write(run.db, run.sandbox.tableNames.notes!);
  try {
    const report = await delivered(endpoint, BIG, run.members, [seq], deadlineMs);
    return {
      writtenAt,
      seconds: (report.lastDeliveredAt[seq]! - writtenAt) / 1000,
      firstPostSeconds: (report.firstDeliveredAt[seq]! - writtenAt) / 1000,
      report,
    };
  } catch (error) {
    progress((error as Error).message);
    return { writtenAt, seconds: undefined, report: undefined, note: (error as Error).message };
  }
}

/**
 * Changes to the 10-member group, one at a time: time from the write to its first post. Each
 * also goes to the big group, so this runs before that has members.
 */
async function smallGroupLatency(
  run: Awaited<ReturnType<typeof prepare>>,
  endpoint: Endpoint,
): Promise<number[]> {
  const latencies: number[] = [];
  const history = run.sandbox.tableNames.history!;
  for (let i = 0; i < SMALL_CHANGES; i++) {
    await endpoint.reset();
    const { Item } = await run.db.send(
      new GetCommand({ TableName: history, Key: { group: SMALL, key: HistoryKeys.head } }),
    );
    const seq = (Item?.top as number) + 1;
    const writtenAt = await write(run.db, run.sandbox.tableNames.notes!, 'small');
    const report = await delivered(endpoint, SMALL, run.small, [seq], 30_000);
    latencies.push(report.firstDeliveredAt[seq]! - writtenAt);
  }
  return latencies;
}

async function currentTop(run: Awaited<ReturnType<typeof prepare>>, group: string): Promise<number> {
  const { Item } = await run.db.send(
    new GetCommand({ TableName: run.sandbox.tableNames.history!, Key: { group, key: HistoryKeys.head } }),
  );
  return Item?.top as number;
}

const seconds = (value: number | undefined) =>
  value === undefined ? 'did not finish' : `${formatNumber(value, 2)} s`;
const ofIdeal = (value: number | undefined, ideal: number) =>
  value === undefined ? seconds(value) : `${seconds(value)} (${formatNumber(value / ideal, 2)}x the ideal)`;
const rateOverTime = (perSecond: readonly number[]) =>
  perSecond.map((count) => formatNumber(count)).join(' ');
const laneSpans = (lanes: NonNullable<EndpointReport['lanes']>, since: number) =>
  lanes
    .map(({ first, last, posts }) =>
      posts === 0
        ? 'no posts'
        : `${formatNumber((first - since) / 1000, 2)}-${formatNumber((last - since) / 1000, 2)} (${formatNumber(posts)})`,
    )
    .join(', ');

async function benchScale(scale: Scale, dynamodb: string, endpoint: Endpoint): Promise<void> {
  const burst = scale.rate / 2;
  const ideal = (scale.members - burst) / scale.rate;
  const deadlineMs = Math.ceil(ideal * 6 * 1000) + 60_000;
  await endpoint.configure(scale);
  console.log(
    `\n${formatNumber(scale.members)} members, quota ${formatNumber(scale.rate)}/s with a burst of ` +
      `${formatNumber(burst)}: the ideal is ${formatNumber(ideal, 2)} s`,
  );

  // Lanes.
  const laneInvocations = new Invocations();
  const lanes = await prepare(scale, true, dynamodb, endpoint, laneInvocations);
  let cold: BigResult;
  let one: BigResult;
  let row: EndpointReport | undefined;
  let stall: { without: number; with: number } | undefined;
  let smallAfter: number[];
  try {
    // The small group first, while the big one has no members: a note's change goes to both.
    progress('the small group, lanes on');
    smallAfter = await smallGroupLatency(lanes, endpoint);
    await addBigGroup(lanes, scale, true);
    const top = await currentTop(lanes, BIG);
    // The lane workers' first run starts their instances; the next change finds them running.
    progress('lanes: one change, the workers cold');
    cold = await oneChange(lanes, endpoint, top + 1, deadlineMs);
    progress('lanes: one change, the workers warm');
    one = await oneChange(lanes, endpoint, top + 2, deadlineMs);
    // Ten changes in a row.
    await endpoint.reset();
    const rowSeqs = Array.from({ length: CHANGES_IN_A_ROW }, (_, i) => top + 3 + i);
    for (let i = 0; i < CHANGES_IN_A_ROW; i++) await write(lanes.db, lanes.sandbox.tableNames.notes!);
    progress(`${CHANGES_IN_A_ROW} changes in a row`);
    const rowDeadlineMs = Math.ceil(((CHANGES_IN_A_ROW * scale.members) / scale.rate) * 3 * 1000) + 60_000;
    row = await delivered(endpoint, BIG, lanes.members, rowSeqs, rowDeadlineMs).catch((error: Error) => {
      progress(error.message);
      return undefined;
    });
    // A lane's finish time with and without a member that never answers.
    const laneOf0 = lanes.members.filter(
      (member) => shardOf(member, SHARDS) === 0 && !isGone(member, GONE_EVERY),
    );
    const store = new LaneStore(
      lanes.db,
      { tableName: lanes.sandbox.tableNames.history!, positionLifetimeSeconds: 3600 },
      lanes.sandbox.tableNames.membership!,
    );
    const laneFinish = async () => {
      const seq = (await currentTop(lanes, BIG)) + 1;
      const writtenAt = await write(lanes.db, lanes.sandbox.tableNames.notes!);
      return phase('a lane finishing', deadlineMs, async () => {
        for (;;) {
          const watermark = await store.watermark(BIG, 0);
          if ((watermark?.seq ?? 0) >= seq) return (Date.now() - writtenAt) / 1000;
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      });
    };
    progress('a lane with and without a member that never answers');
    const without = await laneFinish();
    await endpoint.configure(scale, [laneOf0[0]!]);
    const withStalled = await laneFinish();
    await endpoint.configure(scale);
    stall = { without, with: withStalled };
  } finally {
    await lanes.sandbox.stop();
    lanes.db.destroy();
  }
  const laneMetrics = lanes.sandbox.metrics.snapshot();

  // The notification function posting to the whole group itself.
  const inlineInvocations = new Invocations();
  const inline = await prepare(scale, false, dynamodb, endpoint, inlineInvocations);
  let inlineOne: BigResult;
  let smallBefore: number[];
  try {
    progress('the small group, lanes off');
    smallBefore = await smallGroupLatency(inline, endpoint);
    await addBigGroup(inline, scale, false);
    progress('lanes off: one change');
    inlineOne = await oneChange(inline, endpoint, (await currentTop(inline, BIG)) + 1, deadlineMs);
  } finally {
    await inline.sandbox.stop();
    inline.db.destroy();
  }

  printTable(`${formatNumber(scale.members)} members, one change: stream record to last post`, [
    ['ideal (quota-bound)', seconds(ideal)],
    ['lanes, the workers warm', ofIdeal(one.seconds, ideal)],
    ['lanes, the workers cold (their first run)', ofIdeal(cold.seconds, ideal)],
    ['one invocation (lanes off)', ofIdeal(inlineOne.seconds, ideal)],
    [
      'lanes: 429s / requests',
      one.report ? `${formatNumber(one.report.throttled)} / ${formatNumber(one.report.requests)}` : '-',
    ],
    [
      'one invocation: 429s / requests',
      inlineOne.report
        ? `${formatNumber(inlineOne.report.throttled)} / ${formatNumber(inlineOne.report.requests)}`
        : (inlineOne.note ?? '-'),
    ],
    [
      'lanes: the write to the first post, warm / cold',
      `${seconds(one.firstPostSeconds)} / ${seconds(cold.firstPostSeconds)}`,
    ],
    ['one invocation: the write to the first post', seconds(inlineOne.firstPostSeconds)],
    ['lanes: posts delivered each second', one.report ? rateOverTime(one.report.perSecond) : '-'],
    [
      "lanes, warm: each lane's first and last post, s after the write (posts)",
      one.report?.lanes ? laneSpans(one.report.lanes, one.writtenAt) : '-',
    ],
    ['lanes, cold: the same', cold.report?.lanes ? laneSpans(cold.report.lanes, cold.writtenAt) : '-'],
    ['one invocation: posts each second', inlineOne.report ? rateOverTime(inlineOne.report.perSecond) : '-'],
  ]);
  printTable(`${CHANGES_IN_A_ROW} changes in a row to ${formatNumber(scale.members)} members (lanes)`, [
    [
      'members with every change, once after dedup by seq, in order',
      row
        ? `${formatNumber(row.complete)} of ${formatNumber(row.complete + row.incomplete)}`
        : 'did not finish',
    ],
    ['members that got a change out of order', row ? formatNumber(row.outOfOrder) : '-'],
    ['posts repeated by retries (same id and seq)', row ? formatNumber(row.duplicates) : '-'],
  ]);
  printTable('a member that never answers, in lane 0: change to the lane finished', [
    ['without it', seconds(stall?.without)],
    ['with it (left behind after 3 tries of 2 s)', seconds(stall?.with)],
  ]);
  printTable(`a ${SMALL_MEMBERS}-member group: change to first post (median of ${SMALL_CHANGES})`, [
    ['lanes off (before)', `${formatNumber(median(smallBefore), 0)} ms`],
    ['lanes on (after)', `${formatNumber(median(smallAfter), 0)} ms`],
  ]);
  printCost(scale, { lanes: laneInvocations, inline: inlineInvocations }, laneMetrics, CHANGES_IN_A_ROW + 4);
}

/** Cost per million member deliveries, from what the bench counted and the prices above. */
function printCost(
  scale: Scale,
  { lanes: invocations, inline }: { lanes: Invocations; inline: Invocations },
  metrics: Record<string, { sum: number }>,
  bigChanges: number,
): void {
  const runs = metrics.LanesRun?.sum ?? 0;
  const laneMessages = metrics.LaneMessagesSent?.sum ?? 0;
  const delivered = scale.members * bigChanges;
  const membersPerShard = scale.members / SHARDS;
  // Per lane run: the head, the layout, the group's lane items (one Query, under 4 KB for these
  // shards) and the messages (a read unit each), the shard's members (about 100 bytes each,
  // 4 KB per read unit); a watermark write per message.
  const reads = runs * (4 + Math.ceil((membersPerShard * 100) / 4096));
  const writes = laneMessages;
  const laneCost =
    (invocations.laneMs / 1000) * LANE_MEMORY_GB * PRICES.lambdaGbSecond +
    invocations.laneBatches * PRICES.lambdaRequest +
    // Per batch Lambda receives and deletes; the stream function sends a batch of wake-ups per change.
    (invocations.laneBatches * 2 + bigChanges) * PRICES.sqsFifoRequest +
    reads * PRICES.dynamodbRead +
    writes * PRICES.dynamodbWrite;
  const streamCost = (invocations.streamMs / 1000) * NOTIFY_MEMORY_GB * PRICES.lambdaGbSecond;
  // With lanes off, the stream function posts itself: one change to the big group (the small
  // group's changes, measured before the big group had members, add little).
  const inlineCost = (inline.streamMs / 1000) * NOTIFY_MEMORY_GB * PRICES.lambdaGbSecond;
  const posts = delivered * PRICES.webSocketMessage;
  const perMillion = (cost: number, deliveries = delivered) => {
    const dollars = (cost / deliveries) * 1e6;
    // A fraction of a cent still shows what it is.
    return `$${formatNumber(dollars, dollars < 0.01 ? 4 : 2)}`;
  };
  printTable('cost per million member deliveries (us-east-1 list prices as of 2025, arm64)', [
    ['PostToConnection (API Gateway messages), either way', perMillion(posts)],
    ['lanes: Lambda, SQS FIFO, DynamoDB', perMillion(laneCost)],
    ['lanes: the stream function (Lambda)', perMillion(streamCost)],
    ['lanes off: the stream function (Lambda), posting itself', perMillion(inlineCost, scale.members)],
    [
      'lane runs / messages / batches counted',
      `${formatNumber(runs)} / ${formatNumber(laneMessages)} / ${formatNumber(invocations.laneBatches)}`,
    ],
  ]);
}

runBenchmark(async () => {
  useLambdaEnvironment();
  const scales = scalesFromArguments();
  let database: DynamoDbLocal | undefined;
  let endpoint: Endpoint | undefined;
  try {
    database = await startPhase(
      'starting DynamoDB Local',
      60_000,
      () => startDynamoDbLocal({}),
      (db) => db.stop(),
    );
    endpoint = await startPhase(
      'starting the emulated management API',
      30_000,
      () => Endpoint.start(),
      (e) => e.stop(),
    );
    console.log(
      scales.length > 1
        ? 'Scaled down together: the quota and the group, at two scales (this machine shares two cores between the endpoint, the workers and DynamoDB Local).'
        : 'One scale, as given.',
    );
    for (const scale of scales) await benchScale(scale, database.endpoint, endpoint);
  } finally {
    endpoint?.stop();
    await database?.stop();
  }
});
