/**
 * What the per-group sequence and history add to a notification: DynamoDB requests per
 * notification and the time from a stream record to its first post, with the history and
 * without it (the path before it existed), interleaved in one run against DynamoDB Local and a
 * local management endpoint (in its own process).
 *
 * Two shapes of work: one record at a time (the latency a quiet table sees), and batches of 100
 * records over 20 items whose changes go to two groups each (a note's own and its board's).
 * Every phase has a deadline derived from its work (bench/deadline.ts).
 *
 *   npm run bench:notify
 */
import { performance } from 'node:perf_hooks';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { DynamoDBRecord } from 'aws-lambda';
import { defineConfig } from '../lambdas/rohrpost/config';
import type { Connections } from '../lambdas/rohrpost/delivery/connections';
import { signedConnectionsAt } from '../lambdas/rohrpost/delivery/connections';
import type { HistorySettings } from '../lambdas/rohrpost/environment';
import { createLogger } from '../lambdas/rohrpost/logger';
import type { NotificationLambdaHandler } from '../lambdas/rohrpost/runtime/notification-handler';
import { createNotificationHandler } from '../lambdas/rohrpost/runtime/notification-handler';
import { batchWrite } from '../lambdas/rohrpost/storage/batch-write';
import { historyTableDefinition } from '../lambdas/rohrpost/storage/history-table';
import { DynamoDbMembershipStore, MEMBERSHIP_LIFETIME_SECONDS } from '../lambdas/rohrpost/storage/membership';
import { membershipTableDefinition } from '../lambdas/rohrpost/storage/membership-table';
import type { Sequencer } from '../lambdas/rohrpost/storage/sequencer';
import { DynamoDbSequencer } from '../lambdas/rohrpost/storage/sequencer';
import { startDynamoDbLocal } from '../sandbox/dynamodb-local';
import { createTables } from '../sandbox/tables';
import { countingDocumentClient, startManagementEndpoint, useLambdaEnvironment } from './local-aws';
import { interceptMetricLines } from './metric-lines';
import { phase, runBenchmark, startPhase } from './deadline';
import { formatNumber, median, percentile, printTable } from './stats';

const MEMBERS_PER_GROUP = 10;
const ITEMS = 20;
const BOARDS = 5;
const SINGLE_ROUNDS = 60;
const BATCH_ROUNDS = 8;
const BATCH_SIZE = 100;
const WARM_UP_ROUNDS = 10;
/** DynamoDB Local (a JVM) starts in about 2 s; the endpoint's process in about 1 s. */
const START_DEADLINE_MS = 60_000;
const STOP_DEADLINE_MS = 15_000;
/** Two tables and 250 members in 10 batch writes. */
const SETUP_DEADLINE_MS = 60_000;
/**
 * One invocation: per notification a few DynamoDB requests and MEMBERS_PER_GROUP posts, each
 * a few ms locally; 100 ms per notification allows a machine ten times slower.
 */
const runDeadlineMs = (notifications: number) => 10_000 + 100 * notifications;
const TABLE_ARN = 'arn:aws:dynamodb:us-east-1:123456789012:table/notes/stream/2026-12-01T00:00:00.000';

const config = defineConfig({
  tables: {
    notes: {
      partitionKey: { name: 'id', type: 'string' },
      notifications: { group: ['note-{id}', 'board-{board}'], object: ['id', 'title', 'board'] },
    },
  },
});

interface Subject {
  readonly handler: NotificationLambdaHandler;
  /** DynamoDB requests since the last reset, by command. */
  readonly requests: string[];
  /** When the current run's first post was sent. */
  firstPostAt: number | undefined;
  posts: number;
}

async function main(): Promise<void> {
  useLambdaEnvironment({ LOG_LEVEL: 'WARN' });
  const metricLines = interceptMetricLines();
  const database = await startPhase('DynamoDB Local start', START_DEADLINE_MS, startDynamoDbLocal, (late) =>
    late.stop(),
  );
  const endpoint = await startPhase(
    'management endpoint start',
    START_DEADLINE_MS,
    () => startManagementEndpoint(0),
    (late) => late.stop(),
  ).catch(async (error: unknown) => {
    await database.stop();
    throw error;
  });
  try {
    const { port } = endpoint;
    await phase('tables and members', SETUP_DEADLINE_MS, async () => {
      await createTables(database.endpoint, [
        { tableName: 'bench-membership', definition: membershipTableDefinition, stream: false },
        { tableName: 'bench-history', definition: historyTableDefinition, stream: false },
      ]);
      await addMembers(database.endpoint);
    });
    const connections = signedConnectionsAt(
      `http://127.0.0.1:${port}/bench`,
      config.notifications.concurrency,
    );
    const settings: HistorySettings = {
      tableName: 'bench-history',
      ...config.notifications.history!,
      recordLifetimeSeconds: config.notifications.maxRecordAgeSeconds,
    };
    const withHistory = subject(database.endpoint, connections, (db) => new DynamoDbSequencer(db, settings));
    const without = subject(database.endpoint, connections, () => undefined);
    const subjects = { withHistory, without };

    let sequence = 0;
    const record = (item: number): DynamoDBRecord => {
      sequence++;
      const [id, board] = [String(item), String(item % BOARDS)];
      return {
        eventID: `bench-${sequence}`,
        eventName: 'MODIFY',
        eventSourceARN: TABLE_ARN,
        dynamodb: {
          Keys: { id: { S: id } },
          OldImage: { id: { S: id }, title: { S: 'before' }, board: { S: board } },
          NewImage: { id: { S: id }, title: { S: `after ${sequence}` }, board: { S: board } },
          SequenceNumber: String(sequence).padStart(21, '0'),
        },
      };
    };

    const single: Record<keyof typeof subjects, { firstPostMs: number[]; requests: string[][] }> = {
      withHistory: { firstPostMs: [], requests: [] },
      without: { firstPostMs: [], requests: [] },
    };
    for (let round = -WARM_UP_ROUNDS; round < SINGLE_ROUNDS; round++) {
      for (const [name, measured] of Object.entries(subjects) as Array<[keyof typeof subjects, Subject]>) {
        const { elapsed, requests } = await run(
          measured,
          [record((round + WARM_UP_ROUNDS) % ITEMS)],
          2 * MEMBERS_PER_GROUP,
        );
        if (round < 0) continue;
        single[name].firstPostMs.push(elapsed.firstPost);
        single[name].requests.push(requests);
      }
    }

    const batch: Record<
      keyof typeof subjects,
      { totalMs: number[]; firstPostMs: number[]; requests: string[][] }
    > = {
      withHistory: { totalMs: [], firstPostMs: [], requests: [] },
      without: { totalMs: [], firstPostMs: [], requests: [] },
    };
    for (let round = -2; round < BATCH_ROUNDS; round++) {
      for (const [name, measured] of Object.entries(subjects) as Array<[keyof typeof subjects, Subject]>) {
        const records = Array.from({ length: BATCH_SIZE }, (_, i) => record(i % ITEMS));
        const { elapsed, requests } = await run(measured, records, BATCH_SIZE * 2 * MEMBERS_PER_GROUP);
        if (round < 0) continue;
        batch[name].totalMs.push(elapsed.total);
        batch[name].firstPostMs.push(elapsed.firstPost);
        batch[name].requests.push(requests);
      }
    }

    const perNotification = (runs: string[][], notifications: number) => {
      const counts = new Map<string, number>();
      for (const requests of runs) for (const name of requests) counts.set(name, (counts.get(name) ?? 0) + 1);
      const total = [...counts.values()].reduce((a, b) => a + b, 0) / runs.length / notifications;
      const detail = [...counts]
        .sort(([a], [b]) => a.localeCompare(b))
        .map(
          ([name, count]) =>
            `${name.replace('Command', '')} ${formatNumber(count / runs.length / notifications, 2)}`,
        )
        .join(', ');
      return `${formatNumber(total, 2)} (${detail})`;
    };
    const ms = (values: number[]) =>
      `median ${formatNumber(median(values), 1)} ms, p90 ${formatNumber(percentile(values, 90), 1)} ms`;
    const ratio = (a: number[], b: number[]) => formatNumber(median(a.map((value, i) => value / b[i]!)), 2);

    printTable(
      `one record, 2 groups of ${MEMBERS_PER_GROUP} members, ${SINGLE_ROUNDS} rounds (DynamoDB Local, endpoint answering at once)`,
      [
        ['record to first post, with history', ms(single.withHistory.firstPostMs)],
        ['record to first post, without', ms(single.without.firstPostMs)],
        ['with / without', `${ratio(single.withHistory.firstPostMs, single.without.firstPostMs)}x`],
        ['DynamoDB requests per notification, with history', perNotification(single.withHistory.requests, 2)],
        ['DynamoDB requests per notification, without', perNotification(single.without.requests, 2)],
      ],
    );
    const notifications = BATCH_SIZE * 2;
    printTable(
      `batches of ${BATCH_SIZE} records over ${ITEMS} items, ${notifications} notifications each, ${BATCH_ROUNDS} rounds`,
      [
        [
          'batch, with history',
          `${ms(batch.withHistory.totalMs)}; first post ${ms(batch.withHistory.firstPostMs)}`,
        ],
        ['batch, without', `${ms(batch.without.totalMs)}; first post ${ms(batch.without.firstPostMs)}`],
        ['with / without', `${ratio(batch.withHistory.totalMs, batch.without.totalMs)}x`],
        [
          'DynamoDB requests per notification, with history',
          perNotification(batch.withHistory.requests, notifications),
        ],
        [
          'DynamoDB requests per notification, without',
          perNotification(batch.without.requests, notifications),
        ],
        ['metric lines (one per batch, kept out of this output)', formatNumber(metricLines.count())],
      ],
    );
  } finally {
    metricLines.restore();
    endpoint.stop();
    await phase('DynamoDB Local stop', STOP_DEADLINE_MS, () => database.stop());
  }
}

/** A notification handler over its own counting DynamoDB client, posting through `connections`. */
function subject(
  endpoint: string,
  connections: Connections,
  sequencer: (db: DynamoDBDocumentClient) => Sequencer | undefined,
): Subject {
  const { db, requests } = countingDocumentClient(endpoint);
  const membership = new DynamoDbMembershipStore(db, 'bench-membership');
  const history = sequencer(db);
  const measured: Subject = {
    requests,
    firstPostAt: undefined,
    posts: 0,
    handler: createNotificationHandler({
      config,
      tableLabels: () => ({ notes: 'notes' }),
      membership: () => membership,
      connections: () => ({
        post: (connectionId, payload) => {
          measured.firstPostAt ??= performance.now();
          measured.posts++;
          return connections.post(connectionId, payload);
        },
        close: (connectionId) => connections.close(connectionId),
      }),
      sequencer: () => history,
      deadLetters: () => undefined,
      logger: createLogger('bench'),
    }),
  };
  return measured;
}

async function run(
  measured: Subject,
  records: DynamoDBRecord[],
  expectedPosts: number,
): Promise<{ elapsed: { firstPost: number; total: number }; requests: string[] }> {
  measured.requests.length = 0;
  measured.firstPostAt = undefined;
  measured.posts = 0;
  const started = performance.now();
  const notifications = records.length * 2;
  const { batchItemFailures } = await phase(
    `${records.length} record(s) notified`,
    runDeadlineMs(notifications),
    () => measured.handler({ Records: records }),
    () => `${measured.posts} of ${expectedPosts} posts made`,
  );
  const total = performance.now() - started;
  if (batchItemFailures.length > 0 || measured.posts !== expectedPosts) {
    throw new Error(`${batchItemFailures.length} failures, ${measured.posts} of ${expectedPosts} posts`);
  }
  return { elapsed: { firstPost: measured.firstPostAt! - started, total }, requests: [...measured.requests] };
}

async function addMembers(endpoint: string): Promise<void> {
  const { db } = countingDocumentClient(endpoint);
  const expiresAt = Math.floor(Date.now() / 1000) + MEMBERSHIP_LIFETIME_SECONDS;
  const groups = [
    ...Array.from({ length: ITEMS }, (_, i) => `note-${i}`),
    ...Array.from({ length: BOARDS }, (_, i) => `board-${i}`),
  ];
  const items = groups.flatMap((group) =>
    Array.from({ length: MEMBERS_PER_GROUP }, (_, i) => ({
      PutRequest: { Item: { group, connectionId: `${group}-member-${i}`, expiresAt } },
    })),
  );
  await batchWrite(db, 'bench-membership', items);
  db.destroy();
}

runBenchmark(main);
