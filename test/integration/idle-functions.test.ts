import { join } from 'node:path';
import { defineConfig } from '../../lambdas/rohrpost/config';
import type { Sandbox } from '../../sandbox/sandbox';
import { startSandbox } from '../../sandbox/sandbox';
import { testDynamoDbEndpoint, uniquePrefix } from '../support/dynamodb';
import { eventually, recordingReporter } from '../support/recording-reporter';
import { TestSocket } from '../support/socket';

const fixtures = join(__dirname, '../fixtures/app');

/** The sandbox shuts down function instances that stay idle, as Lambda does, and starts new ones when needed. */
describe('idle function instances in the sandbox', () => {
  let sandbox: Sandbox;
  const reporter = recordingReporter();

  beforeAll(async () => {
    sandbox = await startSandbox({
      config: defineConfig({ websocket: { entry: join(fixtures, 'websocket.ts') } }),
      port: 0,
      dynamodb: { endpoint: testDynamoDbEndpoint() },
      tablePrefix: uniquePrefix(),
      functionIdleTimeoutMs: 300,
      reporter,
    });
  });
  afterAll(() => sandbox.stop());

  test('a function whose instances were all shut down still answers, from a cold start', async () => {
    const websocket = sandbox.functions.get('websocket')!;
    const socket = await TestSocket.open(sandbox.websocketUrl);
    try {
      expect(await socket.ask({ id: 1, type: 'ping' })).toBe('{"id":1,"type":"pong"}');
      await eventually(() => websocket.instancesRunning === 0);
      expect(reporter.lines.some((line) => line.startsWith('reaped websocket '))).toBe(true);
      const coldStarts = () =>
        reporter.lines.filter((line) => line.startsWith('coldStart websocket ')).length;
      const before = coldStarts();

      expect(await socket.ask({ id: 2, type: 'ping' })).toBe('{"id":2,"type":"pong"}');
      expect(coldStarts()).toBe(before + 1);
    } finally {
      await socket.close();
    }
  });
});
