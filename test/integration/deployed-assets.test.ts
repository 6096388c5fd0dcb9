import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { generateKeyPair, SignJWT } from 'jose';
import { defineConfig } from '../../lambdas/rohrpost/config';
import config from '../../rohrpost.config';
import { authorizerEvent, connectEvent, disconnectEvent, messageEvent } from '../../sandbox/events';
import { LocalIssuer } from '../../sandbox/local-issuer';
import { createTables } from '../../sandbox/tables';
import { historyTableDefinition } from '../../lambdas/rohrpost/storage/history-table';
import { membershipTableDefinition } from '../../lambdas/rohrpost/storage/membership-table';
import { wakeEntries } from '../../lambdas/rohrpost/delivery/lane-messages';
import { LaneStore } from '../../lambdas/rohrpost/storage/lane-store';
import { DynamoDbMembershipStore } from '../../lambdas/rohrpost/storage/membership';
import { DynamoDbSequencer } from '../../lambdas/rohrpost/storage/sequencer';
import type { AssemblyFunction } from '../../sandbox/lambda/assembly';
import { assemblyFunctions } from '../../sandbox/lambda/assembly';
import type { InvocationOutcome } from '../support/assembly';
import {
  copyOutsideProject,
  invokeInProcess,
  lambdaNode,
  logicalIdsByConstructId,
  readTemplate,
  resolveValue,
} from '../support/assembly';
import { PROJECT_ROOT, synthesize } from '../support/cdk';
import { testDynamoDbEndpoint, uniquePrefix } from '../support/dynamodb';
import { testConnection } from '../support/events';

/**
 * What `cdk deploy` ships, invoked as Lambda would invoke it: every function of the synthesized
 * stack, its asset copied outside the project (nothing resolves from the project's
 * node_modules), run on Node.js 24 with the template's environment, gets an event of its own
 * kind and must answer as that function.
 */
describe('the synthesized functions, each invoked from its own asset', () => {
  const prefix = uniquePrefix();
  const tables = {
    membership: `${prefix}membership`,
    history: `${prefix}history`,
    notes: `${prefix}notes`,
  };
  const audience = 'deployed-assets-test';
  const jwks = createServer((request, response) => {
    if (!issuer.serve(request, response)) response.writeHead(404).end();
  });
  let issuer: LocalIssuer;
  let issuerUrl: string;
  let functions: AssemblyFunction[];
  let refs: Record<string, string>;
  let outdir: string;
  const db = DynamoDBDocumentClient.from(new DynamoDBClient({ endpoint: testDynamoDbEndpoint() }));

  beforeAll(async () => {
    await new Promise<void>((resolve) => jwks.listen(0, '127.0.0.1', resolve));
    const origin = `http://127.0.0.1:${(jwks.address() as AddressInfo).port}`;
    // An issuer at this machine's address, whose keys the local issuer's server publishes.
    issuerUrl = origin;
    const jwt = { issuer: issuerUrl, jwksUri: `${origin}/.sandbox/jwks.json`, audience };
    issuer = await LocalIssuer.load(PROJECT_ROOT, {
      ...defineConfig({ authorizer: { jwt } }).authorizer!.jwt!,
    });
    const withJwt = { ...config, authorizer: defineConfig({ authorizer: { jwt } }).authorizer };
    const synthesized = synthesize(withJwt, { bundle: true });
    outdir = synthesized.app.outdir;
    functions = assemblyFunctions(outdir, 'Rohrpost');
    const ids = logicalIdsByConstructId(readTemplate(outdir, 'Rohrpost'));
    refs = {
      [ids.Memberships!]: tables.membership,
      [ids.History!]: tables.history,
      [ids.Tablenotes!]: tables.notes,
      [ids.DeadLetters!]: 'http://127.0.0.1:9/000000000000/dead-letters',
      [ids.LaneQueue!]: 'http://127.0.0.1:9/000000000000/rohrpost-lanes.fifo',
      [ids.Api!]: 'api',
      'AWS::Region': 'eu-central-1',
      'AWS::URLSuffix': 'amazonaws.com',
    };
    await createTables(testDynamoDbEndpoint(), [
      { tableName: tables.membership, definition: membershipTableDefinition, stream: false },
      { tableName: tables.history, definition: historyTableDefinition, stream: false },
      { tableName: tables.notes, definition: config.tables.notes!, stream: true },
    ]);
  });

  afterAll(async () => {
    db.destroy();
    await new Promise((resolve) => jwks.close(resolve));
    if (outdir) rmSync(outdir, { recursive: true, force: true });
  });

  /** Runs `events` through the function's handler in a fresh process, as Lambda would. */
  async function invoke(
    constructId: string,
    events: readonly unknown[],
    managementEndpoint = 'http://127.0.0.1:9/prod',
  ): Promise<InvocationOutcome[]> {
    const fn = functions.find((candidate) => candidate.constructId === constructId);
    if (!fn) throw new Error(`The stack has no function ${constructId}.`);
    const directory = copyOutsideProject(fn.asset);
    try {
      const environment: Record<string, string> = {
        ...Object.fromEntries(
          Object.entries(fn.environment).map(([name, value]) => [name, resolveValue(value, refs)]),
        ),
        // By default the management API of an unused local port: these events post to nobody.
        ROHRPOST_MANAGEMENT_ENDPOINT: managementEndpoint,
        AWS_REGION: 'eu-central-1',
        AWS_ACCESS_KEY_ID: 'local',
        AWS_SECRET_ACCESS_KEY: 'local',
        AWS_ENDPOINT_URL_DYNAMODB: testDynamoDbEndpoint(),
        AWS_LAMBDA_FUNCTION_NAME: constructId,
      };
      return await invokeInProcess(directory, fn.handler, environment, events);
    } finally {
      rmSync(join(directory, '..'), { recursive: true, force: true });
    }
  }

  // npm installs the Node 24 package on Linux only; elsewhere the assets run on this Node.
  (process.platform === 'linux' ? test : test.skip)('runs on the Lambda runtime’s Node.js, 24', () => {
    expect(spawnSync(lambdaNode(), ['--version'], { encoding: 'utf8' }).stdout).toMatch(/^v24\./);
  });

  test('each function has an asset of its own', () => {
    expect(functions.map((fn) => fn.constructId).sort()).toEqual([
      'Authorizer',
      'LaneWorker',
      'Notifications',
      'WebSocket',
    ]);
    expect(new Set(functions.map((fn) => fn.asset)).size).toBe(functions.length);
  });

  test('the websocket function answers $connect, a ping on $default, and cleans up on $disconnect', async () => {
    const connection = testConnection();
    const handshake = { headers: { Host: ['example'] }, query: {} };
    await db.send(
      new PutCommand({
        TableName: tables.membership,
        Item: { group: 'note-a', connectionId: connection.connectionId, expiresAt: 4_000_000_000 },
      }),
    );
    const outcomes = await invoke('WebSocket', [
      connectEvent(connection, handshake),
      messageEvent(connection, '{"id":1,"type":"ping"}'),
      disconnectEvent(connection, handshake, { code: 1000, reason: '' }),
    ]);
    expect(outcomes).toEqual([
      { result: { statusCode: 200 } },
      { result: { statusCode: 200, body: '{"id":1,"type":"pong"}' } },
      { result: { statusCode: 200 } },
    ]);
    const left = await db.send(
      new GetCommand({
        TableName: tables.membership,
        Key: { group: 'note-a', connectionId: connection.connectionId },
      }),
    );
    expect(left.Item).toBeUndefined();
  });

  test('the notification function answers a Streams batch as a batch, and places its change in the history', async () => {
    const record = {
      eventID: 'e-1',
      eventName: 'INSERT',
      eventVersion: '1.1',
      eventSource: 'aws:dynamodb',
      awsRegion: 'eu-central-1',
      eventSourceARN: `arn:aws:dynamodb:eu-central-1:123456789012:table/${tables.notes}/stream/2026-12-07T00:00:00.000`,
      dynamodb: {
        ApproximateCreationDateTime: Math.floor(Date.now() / 1000),
        Keys: { id: { S: 'deployed' } },
        NewImage: { id: { S: 'deployed' }, title: { S: 'Shipped' } },
        SequenceNumber: '100000000000000000001',
        SizeBytes: 40,
        StreamViewType: 'NEW_AND_OLD_IMAGES',
      },
    };
    expect(await invoke('Notifications', [{ Records: [record] }])).toEqual([
      { result: { batchItemFailures: [] } },
    ]);
    for (const group of ['note-deployed', 'notes-all']) {
      const { Item } = await db.send(
        new GetCommand({ TableName: tables.history, Key: { group, key: '#head' } }),
      );
      expect(Item).toMatchObject({ top: 1 });
    }
  });

  test('the authorizer allows a token of the issuer and refuses a forged one', async () => {
    const good = await issuer.sign({ iss: issuerUrl, aud: audience, sub: 'alice' });
    const { privateKey } = await generateKeyPair('ES256');
    // Signed with another key, under the issuer's key id.
    const { kid } = JSON.parse(Buffer.from(good.split('.')[0]!, 'base64url').toString()) as { kid: string };
    const forged = await new SignJWT({ iss: issuerUrl, aud: audience, sub: 'mallory' })
      .setProtectedHeader({ alg: 'ES256', kid })
      .setExpirationTime('1h')
      .sign(privateKey);
    const connection = testConnection();
    const methodArn = 'arn:aws:execute-api:eu-central-1:123456789012:api/prod/$connect';
    const request = (token: string) =>
      authorizerEvent(connection, { headers: {}, query: { token: [token] } }, methodArn);
    const [allowed, refused] = await invoke('Authorizer', [request(good), request(forged)]);
    expect(allowed).toEqual({
      result: {
        principalId: 'alice',
        policyDocument: {
          Version: '2012-10-17',
          Statement: [{ Action: 'execute-api:Invoke', Effect: 'Allow', Resource: methodArn }],
        },
        context: { sub: 'alice' },
      },
    });
    expect(refused).toEqual({ error: 'Unauthorized' });
  });

  test("the lane worker answers an SQS batch with its failures, posting a big group's messages in order", async () => {
    const group = `big-${prefix}`;
    const settings = {
      tableName: tables.history,
      retentionSeconds: 600,
      maxMessages: 100,
      positionLifetimeSeconds: 3600,
      recordLifetimeSeconds: 600,
    };
    const sequencer = new DynamoDbSequencer(db, settings);
    const place = () => sequencer.append(group, randomUUID(), (position) => JSON.stringify(position));
    await place();
    const layout = await new LaneStore(db, settings, tables.membership).createLanes(group);
    const members = ['AAAAAAAAAAAAAAA=', 'BBBBBBBBBBBBBBB=', 'CCCCCCCCCCCCCCC='];
    const membership = new DynamoDbMembershipStore(db, tables.membership);
    for (const member of members) await membership.join(group, member, layout);
    await place();
    const { position } = await place();
    const posts: Array<{ connectionId: string; body: string }> = [];
    const management = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const connectionId = decodeURIComponent(request.url!.split('/@connections/')[1]!);
        posts.push({ connectionId, body: Buffer.concat(chunks).toString() });
        response.writeHead(200).end();
      });
    });
    await new Promise<void>((resolve) => management.listen(0, '127.0.0.1', resolve));
    const [entry] = wakeEntries(group, position, 1);
    const sqsRecord = (messageId: string, body: string) => ({
      messageId,
      receiptHandle: `handle-${messageId}`,
      body,
      attributes: {
        ApproximateReceiveCount: '1',
        SentTimestamp: String(Date.now()),
        SenderId: 'AROAEXAMPLE',
        ApproximateFirstReceiveTimestamp: String(Date.now()),
        MessageGroupId: entry!.messageGroupId,
        MessageDeduplicationId: entry!.deduplicationId,
        SequenceNumber: '18849496460467696128',
      },
      messageAttributes: {},
      md5OfBody: '',
      eventSource: 'aws:sqs',
      eventSourceARN: 'arn:aws:sqs:eu-central-1:123456789012:rohrpost-lanes.fifo',
      awsRegion: 'eu-central-1',
    });
    try {
      const [outcome] = await invoke(
        'LaneWorker',
        [{ Records: [sqsRecord('m-1', entry!.body), sqsRecord('m-2', 'not a lane job')] }],
        `http://127.0.0.1:${(management.address() as AddressInfo).port}/prod`,
      );
      // The job that is none fails, and so would any after it in its message group.
      expect(outcome).toEqual({ result: { batchItemFailures: [{ itemIdentifier: 'm-2' }] } });
    } finally {
      await new Promise((resolve) => management.close(resolve));
    }
    for (const member of members) {
      const seqs = posts
        .filter((post) => post.connectionId === member)
        .map((post) => (JSON.parse(post.body) as { seq: number }).seq);
      expect(seqs).toEqual([2, 3]);
    }
  });
});
