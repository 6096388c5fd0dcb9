import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import { generateKeyPair, SignJWT } from 'jose';
import { defineConfig } from '../../lambdas/rohrpost/config';
import type { ResolvedConfig } from '../../lambdas/rohrpost/deploy';
import config from '../../rohrpost.config';
import { LOCAL_ISSUER } from '../../sandbox/local-issuer';
import type { Sandbox } from '../../sandbox/sandbox';
import { startSandbox } from '../../sandbox/sandbox';
import { PROJECT_ROOT, synthesize } from '../support/cdk';
import { testDynamoDbEndpoint, uniquePrefix } from '../support/dynamodb';
import { HandshakeRefused, TestSocket } from '../support/socket';

/**
 * The sandbox running a synthesized stack's own assets, the code `cdk deploy` uploads, instead
 * of bundles of the entries: the project's application end to end, behind the built-in JWT
 * authorizer and behind an authorizer of its own.
 */
async function synthesizedSandbox(
  configuration: ResolvedConfig,
): Promise<{ sandbox: Sandbox; stop(): Promise<void> }> {
  const { app } = synthesize(configuration, { bundle: true });
  const sandbox = await startSandbox({
    config: configuration,
    assembly: { directory: app.outdir, stack: 'Rohrpost' },
    port: 0,
    dynamodb: { endpoint: testDynamoDbEndpoint() },
    tablePrefix: uniquePrefix(),
  });
  return {
    sandbox,
    async stop() {
      await sandbox.stop();
      rmSync(app.outdir, { recursive: true, force: true });
    },
  };
}

const withAuthorizer = (authorizer: Parameters<typeof defineConfig>[0]['authorizer']): ResolvedConfig => ({
  ...config,
  authorizer: defineConfig({ authorizer }).authorizer,
});

describe('the synthesized stack in the sandbox, behind the built-in JWT authorizer', () => {
  let running: Awaited<ReturnType<typeof synthesizedSandbox>>;
  const sockets: TestSocket[] = [];
  const db = DynamoDBDocumentClient.from(new DynamoDBClient({ endpoint: testDynamoDbEndpoint() }));

  beforeAll(async () => {
    running = await synthesizedSandbox(
      withAuthorizer({
        jwt: {
          issuer: 'https://cognito-idp.eu-central-1.amazonaws.com/eu-central-1_Example',
          audience: 'example-app-client',
        },
      }),
    );
  });
  afterAll(async () => {
    await Promise.all(sockets.map((socket) => socket.close()));
    db.destroy();
    await running?.stop();
  });

  const connect = async (token: string) => {
    const socket = await TestSocket.open(`${running.sandbox.websocketUrl}/?token=${token}`);
    sockets.push(socket);
    return socket;
  };

  test('runs each function from its synthesized asset', () => {
    expect([...running.sandbox.functions.keys()].sort()).toEqual([
      'authorizer',
      'lanes',
      'notifications',
      'websocket',
    ]);
  });

  test('a minted token connects: ping, subscribe, and a direct DynamoDB write reaches the subscriber', async () => {
    const socket = await connect(await running.sandbox.localIssuer!.mint('alice'));
    expect(await socket.askJson({ id: 1, type: 'ping' })).toEqual({ id: 1, type: 'pong' });
    const subscribed = await socket.askJson<{ data: { group: string; seq: number } }>({
      id: 2,
      type: 'subscribe',
      data: { type: 'note', id: 'shipped' },
    });
    expect(subscribed.data).toMatchObject({ group: 'note-shipped', seq: 0 });
    await db.send(
      new PutCommand({
        TableName: running.sandbox.tableNames.notes,
        Item: { id: 'shipped', title: 'Written straight to DynamoDB', body: 'as deployed' },
      }),
    );
    expect(await socket.nextJson()).toMatchObject({
      type: 'subscription-update',
      data: {
        group: 'note-shipped',
        type: 'create',
        object: { id: 'shipped', title: 'Written straight to DynamoDB', preview: 'as deployed' },
        seq: 1,
      },
    });
  });

  test('a forged token is refused at the handshake', async () => {
    const { privateKey } = await generateKeyPair('ES256');
    const forged = await new SignJWT({ iss: LOCAL_ISSUER, aud: 'example-app-client', sub: 'mallory' })
      .setProtectedHeader({ alg: 'ES256' })
      .setExpirationTime('1h')
      .sign(privateKey);
    await expect(connect(forged)).rejects.toEqual(new HandshakeRefused(401));
  });
});

describe('the synthesized stack in the sandbox, behind an authorizer of its own', () => {
  let running: Awaited<ReturnType<typeof synthesizedSandbox>>;

  beforeAll(async () => {
    running = await synthesizedSandbox(
      withAuthorizer({ entry: join(PROJECT_ROOT, 'test/fixtures/app/authorizer.ts') }),
    );
  });
  afterAll(() => running?.stop());

  test('its authorizer lets a good token in and refuses any other', async () => {
    const socket = await TestSocket.open(`${running.sandbox.websocketUrl}/?token=good`);
    expect(await socket.askJson({ id: 1, type: 'ping' })).toEqual({ id: 1, type: 'pong' });
    await socket.close();
    await expect(TestSocket.open(`${running.sandbox.websocketUrl}/?token=bad`)).rejects.toEqual(
      new HandshakeRefused(401),
    );
  });
});
