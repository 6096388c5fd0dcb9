import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Gateway } from '../../sandbox/gateway';
import type { LocalFunction } from '../../sandbox/lambda/local-function';
import type { LocalQueue } from '../../sandbox/sqs/local-queue';
import type { RunningSandbox } from '../../sandbox/running-sandbox';
import {
  findRunningSandbox,
  NoSandboxRunningError,
  publishRunningSandbox,
  runningSandboxesFolder,
} from '../../sandbox/running-sandbox';

const endpoints = {
  websocketUrl: 'ws://localhost:3001',
  managementEndpoint: 'http://127.0.0.1:3001/local',
  dynamodbEndpoint: 'http://127.0.0.1:41237',
  tableNames: { membership: 'rohrpost-membership', notes: 'notes' },
  historyTable: 'rohrpost-history',
};
const sandbox = {
  ...endpoints,
  gateway: { port: 3001, origin: 'http://127.0.0.1:3001' } as Gateway,
  queues: new Map([
    ['dead-letters', { url: 'http://127.0.0.1:3001/000000000000/dead-letters' } as LocalQueue],
  ]),
  functions: new Map([['websocket' as const, {} as LocalFunction]]),
};

/** A process id that was in use a moment ago and is no more. */
const exitedPid = () => spawnSync('true').pid;

function writeRunning(folder: string, running: Partial<RunningSandbox> & { pid: number }): void {
  writeFileSync(
    join(folder, `${running.pid}.json`),
    JSON.stringify({ ...endpoints, port: 3001, startedAt: '2026-01-01T00:00:00.000Z', ...running }),
  );
}

describe('the running sandbox', () => {
  let folder: string;
  beforeEach(() => {
    folder = mkdtempSync(join(tmpdir(), 'running-sandboxes-'));
  });
  afterEach(() => rmSync(folder, { recursive: true, force: true }));

  test('is what the sandbox published, with its process id', () => {
    publishRunningSandbox(sandbox, folder);
    expect(findRunningSandbox(folder)).toEqual({
      sandbox: {
        ...endpoints,
        pid: process.pid,
        port: 3001,
        awsEndpoint: 'http://127.0.0.1:3001',
        queueUrls: { 'dead-letters': 'http://127.0.0.1:3001/000000000000/dead-letters' },
        functions: ['websocket'],
        startedAt: expect.any(String),
      },
      others: 0,
    });
  });

  test('is none when no sandbox has run, or only sandboxes whose process is gone', () => {
    expect(() => findRunningSandbox(join(folder, 'never-created'))).toThrow(NoSandboxRunningError);
    writeRunning(folder, { pid: exitedPid() });
    expect(() => findRunningSandbox(folder)).toThrow('No sandbox is running: start it with npm start');
  });

  test('of several, is the one started last', () => {
    writeRunning(folder, { pid: process.ppid, startedAt: '2026-01-01T10:00:00.000Z' });
    writeRunning(folder, { pid: process.pid, startedAt: '2026-01-01T11:00:00.000Z', port: 3002 });
    expect(findRunningSandbox(folder)).toMatchObject({
      sandbox: { pid: process.pid, port: 3002 },
      others: 1,
    });
  });

  test('publishing removes the files of sandboxes whose process is gone', () => {
    const gone = exitedPid();
    writeRunning(folder, { pid: gone });
    publishRunningSandbox(sandbox, folder);
    expect(existsSync(join(folder, `${gone}.json`))).toBe(false);
  });

  test('is looked for where ROHRPOST_RUNNING_SANDBOXES says, else in the project', () => {
    expect(runningSandboxesFolder({ ROHRPOST_RUNNING_SANDBOXES: folder })).toBe(folder);
    expect(runningSandboxesFolder({})).toBe(
      join(__dirname, '../../node_modules/.cache/rohrpost-running-sandboxes'),
    );
  });
});
