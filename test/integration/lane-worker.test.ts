import { randomBytes, randomUUID } from 'node:crypto';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { SQSEvent } from 'aws-lambda';
import type { Connections } from '../../lambdas/rohrpost/delivery/connections';
import type { LaneQueue } from '../../lambdas/rohrpost/delivery/lane-queue';
import { splitEntry, wakeEntries } from '../../lambdas/rohrpost/delivery/lane-messages';
import type { LaneEnvironment } from '../../lambdas/rohrpost/environment';
import type { GroupPosition } from '../../lambdas/rohrpost/protocol/position';
import { createLaneWorker } from '../../lambdas/rohrpost/runtime/lane-worker';
import { historyTableDefinition } from '../../lambdas/rohrpost/storage/history-table';
import { LaneStore } from '../../lambdas/rohrpost/storage/lane-store';
import type { ShardedMembership } from '../../lambdas/rohrpost/storage/membership';
import { DynamoDbMembershipStore } from '../../lambdas/rohrpost/storage/membership';
import { DynamoDbSequencer } from '../../lambdas/rohrpost/storage/sequencer';
import { LocalQueue } from '../../sandbox/sqs/local-queue';
import { SqsPoller } from '../../sandbox/sqs/sqs-poller';
import { createTables } from '../../sandbox/tables';
import {
  countingDocumentClient,
  createMembershipTable,
  testDynamoDbEndpoint,
  uniquePrefix,
} from '../support/dynamodb';
import { eventually, recordingReporter } from '../support/recording-reporter';
import { recordingLogger } from '../support/recording-logger';

const SETTINGS: LaneEnvironment = {
  queueUrl: 'unused: the queue is in process',
  groupSize: 10,
  shardSize: 1000,
  maxShards: 8,
  postsPerSecond: 100_000,
  burst: 50_000,
  concurrency: 2,
  postsInFlight: 20,
};

/** The lanes' queue as the worker uses it, over the sandbox's FIFO queue in this process. */
function inProcess(queue: LocalQueue): LaneQueue {
  const send = (entries: ReturnType<typeof wakeEntries>) => {
    for (const entry of entries) {
      queue.send(entry.body, { groupId: entry.messageGroupId, deduplicationId: entry.deduplicationId });
    }
  };
  return {
    wake: (group, position, shards) => Promise.resolve(send(wakeEntries(group, position, shards))),
    requestSplit: (group, version) => Promise.resolve(send([splitEntry(group, version)])),
    retryIn: (receiptHandle, seconds) => Promise.resolve(void queue.changeVisibility(receiptHandle, seconds)),
  };
}

/**
 * The lane worker fed by the sandbox's FIFO queue through Lambda's SQS poller, on DynamoDB
 * Local: a lane whose run fails is retried after its backoff, with the lane's later jobs held
 * behind it, so its members still get every message once and in order.
 */
describe('the lane worker behind its FIFO queue', () => {
  let db: DynamoDBDocumentClient;
  let lanes: LaneStore;
  let membership: DynamoDbMembershipStore;
  let sequencer: DynamoDbSequencer;

  beforeAll(async () => {
    ({ client: db } = countingDocumentClient());
    const historyTable = `${uniquePrefix()}history`;
    await createTables(testDynamoDbEndpoint(), [
      { tableName: historyTable, definition: historyTableDefinition, stream: false },
    ]);
    const membershipTable = await createMembershipTable();
    const settings = {
      tableName: historyTable,
      retentionSeconds: 600,
      maxMessages: 100,
      positionLifetimeSeconds: 3600,
      recordLifetimeSeconds: 600,
    };
    lanes = new LaneStore(db, settings, membershipTable);
    membership = new DynamoDbMembershipStore(db, membershipTable, { lanes: true });
    sequencer = new DynamoDbSequencer(db, settings);
  });
  afterAll(() => db.destroy());

  test('a lane whose run fails once is retried after its backoff, its later jobs behind it, nothing out of order', async () => {
    const group = `big-${randomUUID()}`;
    const place = async (): Promise<GroupPosition> =>
      (await sequencer.append(group, randomUUID(), (position) => JSON.stringify(position))).position;
    await place();
    const layout = await lanes.createLanes(group);
    const members = Array.from({ length: 30 }, () => randomBytes(11).toString('base64'));
    await Promise.all(members.map((id) => membership.join(group, id, layout)));

    const deadLetters = new LocalQueue({ name: 'dead.fifo', url: 'http://sandbox/000000000000/dead.fifo' });
    const queue = new LocalQueue({
      name: 'lanes.fifo',
      url: 'http://sandbox/000000000000/lanes.fifo',
      visibilityTimeoutSeconds: 600,
      deadLetter: { queue: deadLetters, maxReceiveCount: 5 },
    });
    const received = new Map<string, number[]>();
    const connections: Connections = {
      post: (connectionId, payload) => {
        const list = received.get(connectionId) ?? [];
        list.push((JSON.parse(payload) as GroupPosition).seq);
        received.set(connectionId, list);
        return Promise.resolve();
      },
      close: () => Promise.resolve(),
    };
    // Reading the shard's members fails once, as a DynamoDB request that timed out would.
    let failures = 1;
    const flaky: ShardedMembership = Object.create(membership, {
      shardMembers: {
        value: (name: string, shard: number) => {
          if (failures-- > 0) throw new Error('DynamoDB timed out');
          return membership.shardMembers(name, shard);
        },
      },
    }) as ShardedMembership;
    const logger = recordingLogger();
    const worker = createLaneWorker({
      settings: () => SETTINGS,
      lanes: () => lanes,
      membership: () => flaky,
      connections: () => connections,
      queue: () => inProcess(queue),
      logger,
      metrics: { count: () => undefined, milliseconds: () => undefined, publish: () => undefined },
    });
    const reporter = recordingReporter();
    // Three messages, each waking the lane, all in its queue before the poller reads it.
    for (let i = 0; i < 3; i++) await inProcess(queue).wake(group, await place(), layout.shards);
    const poller = SqsPoller.start({
      queue,
      function: { invoke: (event) => worker(event as SQSEvent) },
      settings: { batchSize: 1, maximumConcurrency: 2, reportBatchItemFailures: true },
      reporter,
    });
    try {
      await eventually(() => queue.messages.length === 0);
    } finally {
      await poller.stop();
      queue.stop();
    }
    expect(reporter.lines).toContain('queueItemsFailed lanes.fifo 1');
    expect(logger.entries.some((entry) => entry.message === 'A lane job failed; it is retried')).toBe(true);
    for (const id of members) expect(received.get(id)).toEqual([2, 3, 4]);
    expect(deadLetters.messages).toHaveLength(0);
    expect(await lanes.watermark(group, 0)).toMatchObject({ seq: 4 });
  });
});
