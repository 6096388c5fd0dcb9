/**
 * Fan-out of one change to a group of 1,000 connections against a local management endpoint
 * (in its own process): wall time, posts per second and DynamoDB requests used, beside three
 * baselines from the same run: the floor (1,000 raw keep-alive HTTP posts at the same
 * concurrency: no signing, no DynamoDB), the same posts each signed with SigV4 as API Gateway
 * requires (the least any real client does), and a naive loop that posts one member at a time.
 * It runs twice: with the endpoint answering at once, and 5 ms later, as API Gateway in the
 * same region would. Ratios are the median of each round's own ratio, as the VM's speed drifts,
 * in wall time and in CPU time (which other processes on a loaded machine disturb less).
 * Every phase has a deadline derived from its work (bench/deadline.ts).
 *
 *   npm run bench:fan-out
 */
import { Agent, request } from 'node:http';
import { performance } from 'node:perf_hooks';
import { BatchWriteCommand } from '@aws-sdk/lib-dynamodb';
import { connectionsAt, signedConnectionsAt } from '../lambdas/rohrpost/delivery/connections';
import type { FanOutOptions } from '../lambdas/rohrpost/delivery/fan-out';
import { GoneConnections, sendToGroup } from '../lambdas/rohrpost/delivery/fan-out';
import { Limiter } from '../lambdas/rohrpost/delivery/limiter';
import { RequestSigner } from '../lambdas/rohrpost/delivery/sigv4';
import { createLogger } from '../lambdas/rohrpost/logger';
import type { MembershipStore } from '../lambdas/rohrpost/storage/membership';
import { DynamoDbMembershipStore, MEMBERSHIP_LIFETIME_SECONDS } from '../lambdas/rohrpost/storage/membership';
import { membershipTableDefinition } from '../lambdas/rohrpost/storage/membership-table';
import { startDynamoDbLocal } from '../sandbox/dynamodb-local';
import { createTables } from '../sandbox/tables';
import {
  countingDocumentClient,
  CREDENTIALS,
  startManagementEndpoint,
  useLambdaEnvironment,
} from './local-aws';
import { phase, runBenchmark, startPhase } from './deadline';
import { formatNumber, median, printTable } from './stats';

const MEMBERS = 1_000;
const CONCURRENCY = 50;
const ROUNDS = 9;
const WARM_UP_QUERIES = 300;
const ROUND_TRIPS_MS = [0, 5];
/** DynamoDB Local (a JVM) starts in about 2 s; the endpoint's process in about 1 s. */
const START_DEADLINE_MS = 60_000;
const STOP_DEADLINE_MS = 15_000;
/** 40 batch writes of 25 members, then queries of 1,000 members: 10-30 ms each on a quiet machine. */
const DATABASE_DEADLINE_MS = 30_000 + (MEMBERS / 25 + WARM_UP_QUERIES + ROUNDS) * 200;
/**
 * One run posts to every member; the slowest subject, the naive loop, one post at a time:
 * MEMBERS x (the round trip + 5 ms), five times over for a loaded machine.
 */
/**
 * sendToGroup against the signed floor: every post to API Gateway is signed, and signing alone
 * takes the raw floor to 1.2-1.4x, so the unsigned floor cannot carry a target. Beyond the
 * signed posts, sendToGroup adds its Query (about 12 ms for 1,000 members) and its bookkeeping.
 */
const SIGNED_FLOOR_TARGET = 1.3;
const runDeadlineMs = (roundTripMs: number) => 10_000 + 5 * MEMBERS * (roundTripMs + 5);
const GROUP = 'note-bench';
const TABLE = 'bench-membership';
const PAYLOAD = JSON.stringify({
  id: 734,
  type: 'subscription-update',
  data: { group: GROUP, type: 'update', object: { id: 'bench', title: 'A note', updated_fields: ['title'] } },
});
const IDS = Array.from({ length: MEMBERS }, (_, i) => Buffer.from(`connection-${i}`).toString('base64'));

interface Run {
  elapsed: number;
  cpu: number;
}

interface QueryFigures {
  firstPageMs: number[];
  allPagesMs: number[];
  requests: string[];
}

async function main(): Promise<void> {
  useLambdaEnvironment();
  const database = await startPhase('DynamoDB Local start', START_DEADLINE_MS, startDynamoDbLocal, (late) =>
    late.stop(),
  );
  try {
    const { db, requests: commands } = countingDocumentClient(database.endpoint);
    const membership = new DynamoDbMembershipStore(db, TABLE);
    const query = await phase('the membership table: filled, warmed up, queried', DATABASE_DEADLINE_MS, () =>
      fillAndQuery(database.endpoint, db, commands, membership),
    );
    for (const roundTripMs of ROUND_TRIPS_MS) await scenario(roundTripMs, membership, query);
    db.destroy();
  } finally {
    await phase('DynamoDB Local stop', STOP_DEADLINE_MS, () => database.stop());
  }
}

/** Creates the table, adds MEMBERS members, warms DynamoDB Local up, and times the Query of them. */
async function fillAndQuery(
  endpoint: string,
  db: ReturnType<typeof countingDocumentClient>['db'],
  commands: string[],
  membership: MembershipStore,
): Promise<QueryFigures> {
  await createTables(endpoint, [{ tableName: TABLE, definition: membershipTableDefinition, stream: false }]);
  const expiresAt = Math.floor(Date.now() / 1000) + MEMBERSHIP_LIFETIME_SECONDS;
  for (let i = 0; i < MEMBERS; i += 25) {
    const items = IDS.slice(i, i + 25).map((connectionId) => ({
      PutRequest: { Item: { group: GROUP, connectionId, expiresAt } },
    }));
    await db.send(new BatchWriteCommand({ RequestItems: { [TABLE]: items } }));
  }
  // DynamoDB Local is a JVM that starts interpreted; the service it stands for is always warm.
  for (let i = 0; i < WARM_UP_QUERIES; i++) for await (const page of membership.members(GROUP)) void page;
  const query: QueryFigures = { firstPageMs: [], allPagesMs: [], requests: [] };
  for (let i = 0; i < ROUNDS; i++) {
    commands.length = 0;
    const started = performance.now();
    let firstPage = 0;
    for await (const page of membership.members(GROUP)) {
      if (firstPage === 0 && page.length > 0) firstPage = performance.now();
    }
    query.firstPageMs.push(firstPage - started);
    query.allPagesMs.push(performance.now() - started);
    query.requests = [...commands];
  }
  return query;
}

async function scenario(
  roundTripMs: number,
  membership: MembershipStore,
  query: QueryFigures,
): Promise<void> {
  const endpoint = await startPhase(
    'management endpoint start',
    START_DEADLINE_MS,
    () => startManagementEndpoint(roundTripMs),
    (late) => late.stop(),
  );
  try {
    const { port } = endpoint;
    const options = (store: MembershipStore): FanOutOptions => ({
      membership: store,
      connections: signedConnectionsAt(`http://127.0.0.1:${port}/bench`, CONCURRENCY),
      limiter: new Limiter(CONCURRENCY),
      goneConnections: new GoneConnections(),
      logger: createLogger('bench'),
    });
    const inMemory: MembershipStore = {
      join: () => Promise.resolve(undefined),
      leave: () => Promise.resolve(),
      leaveAll: () => Promise.resolve([]),
      // eslint-disable-next-line @typescript-eslint/require-await -- the members are in memory
      members: async function* () {
        yield IDS;
      },
    };
    const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
    const sdk = connectionsAt(`http://127.0.0.1:${port}/naive`);

    const subjects: Record<string, () => Promise<unknown>> = {
      fanOut: async () => {
        const result = await sendToGroup(GROUP, PAYLOAD, options(membership));
        if (result.delivered !== MEMBERS) throw new Error(`delivered ${result.delivered} of ${MEMBERS}`);
      },
      postsOnly: () => sendToGroup(GROUP, PAYLOAD, options(inMemory)),
      floor: () => rawPosts(agent, port),
      signedFloor: () => rawPosts(agent, port, new RequestSigner('execute-api', 'us-east-1')),
      naive: async () => {
        for (const id of IDS) await sdk.post(id, PAYLOAD);
      },
    };
    const runs: Record<string, Run[]> = {};
    for (const round of [0, ...Array.from({ length: ROUNDS }, (_, i) => i + 1)]) {
      for (const [name, subject] of Object.entries(subjects)) {
        // Each subject starts with a clean heap, not paying for the garbage of the one before.
        gc?.();
        const cpu = process.cpuUsage();
        const started = performance.now();
        await phase(
          `round ${round}: ${name}, round trip ${roundTripMs} ms`,
          runDeadlineMs(roundTripMs),
          subject,
        );
        const used = process.cpuUsage(cpu);
        if (round > 0)
          (runs[name] ??= []).push({ elapsed: performance.now() - started, cpu: used.user + used.system });
      }
    }
    agent.destroy();

    const ms = (name: string) => median(runs[name]!.map((r) => r.elapsed));
    // The VM's speed drifts between rounds: compare subjects within a round, then take the median.
    const ratioOf = (name: string, to: string, of: (run: Run) => number) =>
      median(runs[name]!.map((run, round) => of(run) / of(runs[to]![round]!)));
    const ratio = (name: string, to: string) => ratioOf(name, to, (run) => run.elapsed);
    // CPU time: on a loaded machine, wall time counts other processes' turns, unevenly.
    const both = (name: string, to: string) =>
      `${formatNumber(ratio(name, to), 2)}x wall, ${formatNumber(
        ratioOf(name, to, (run) => run.cpu),
        2,
      )}x CPU`;
    const line = (name: string) => {
      const cpuPerPost = median(runs[name]!.map((r) => r.cpu)) / MEMBERS;
      return `${formatNumber(ms(name), 1)} ms, ${formatNumber(MEMBERS / (ms(name) / 1000))} posts/s, ${formatNumber(cpuPerPost)} µs CPU per post`;
    };
    printTable(
      `fan-out of one change to ${formatNumber(MEMBERS)} connections, concurrency ${CONCURRENCY}, ` +
        `endpoint round trip ${roundTripMs} ms, median of ${ROUNDS}`,
      [
        ['sendToGroup', line('fanOut')],
        [
          '  DynamoDB requests',
          `${query.requests.length} (${[...new Set(query.requests)].join(', ')}; never a Scan)`,
        ],
        [
          '  the Query alone',
          `${formatNumber(median(query.allPagesMs), 1)} ms, the first page after ${formatNumber(median(query.firstPageMs), 1)} ms`,
        ],
        ['  the posts alone', `${line('postsOnly')} (members in memory)`],
        ['floor (raw HTTP)', line('floor')],
        ['signed floor (raw HTTP, SigV4)', line('signedFloor')],
        ['naive sequential (SDK)', line('naive')],
        ['signed floor / floor', `${both('signedFloor', 'floor')} (the cost of signing)`],
        ['sendToGroup / floor', `${both('fanOut', 'floor')} (signing and the Query included)`],
        ['posts alone / signed floor', both('postsOnly', 'signedFloor')],
        [
          'sendToGroup / signed floor',
          `${both('fanOut', 'signedFloor')} (target: within ${SIGNED_FLOOR_TARGET}x)`,
        ],
        ['naive / sendToGroup', `${formatNumber(ratio('naive', 'fanOut'), 1)}x slower`],
      ],
    );
  } finally {
    endpoint.stop();
  }
}

/** Posts to every member, CONCURRENCY at a time, with nothing but node:http (and the signer). */
async function rawPosts(agent: Agent, port: string, signer?: RequestSigner): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < MEMBERS) await rawPost(agent, port, IDS[next++]!, signer);
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
}

function rawPost(agent: Agent, port: string, id: string, signer?: RequestSigner): Promise<void> {
  const path = `/bench/@connections/${encodeURIComponent(id)}`;
  let headers: Record<string, string> | undefined;
  if (signer) {
    headers = {
      host: `127.0.0.1:${port}`,
      'content-type': 'application/octet-stream',
      'content-length': String(Buffer.byteLength(PAYLOAD)),
    };
    Object.assign(headers, signer.sign({ method: 'POST', path, headers, body: PAYLOAD }, CREDENTIALS));
  }
  return new Promise((resolve, reject) => {
    const post = request({ agent, host: '127.0.0.1', port, method: 'POST', path, headers }, (response) => {
      response.resume();
      response.on('end', () =>
        response.statusCode === 200 ? resolve() : reject(new Error(`${response.statusCode}`)),
      );
    });
    post.on('error', reject);
    post.end(PAYLOAD);
  });
}

runBenchmark(main);
