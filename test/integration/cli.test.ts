import type { ChildProcess } from 'node:child_process';
import { spawn, spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { useFixtureSandbox } from '../support/fixture-sandbox';
import { isRunning, processesMatching } from '../support/processes';
import { eventually } from '../support/recording-reporter';
import { TestSocket } from '../support/socket';

/** `npm start` as a user runs it: a separate process, stopped by a signal. */
const root = join(__dirname, '../..');
/** As `npm start` runs it: one node process, so a signal reaches the sandbox itself. */
const node = (args: string[]) => [process.execPath, ['--import', 'tsx', 'sandbox/cli.ts', ...args]] as const;

interface Started {
  child: ChildProcess;
  output: () => string;
  websocketUrl: string;
  dynamodbPort: string;
}

/** Every process a test starts, killed after it if it is still running (a failed test included). */
const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0))
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

async function startCli(...args: string[]): Promise<Started> {
  const child = spawn(...node(['--port', '0', ...args]), { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  await eventually(() => output.includes('Stop with Ctrl-C') || child.exitCode !== null, 30_000);
  const websocketUrl = /WebSocket\s+(ws:\/\/\S+)/.exec(output)?.[1];
  const dynamodbPort = /DynamoDB\s+http:\/\/127\.0\.0\.1:(\d+)/.exec(output)?.[1];
  if (!websocketUrl || !dynamodbPort) throw new Error(`the sandbox did not start:\n${output}`);
  return { child, output: () => output, websocketUrl, dynamodbPort };
}

const buildParent = join(root, 'node_modules', '.cache', 'rohrpost-sandbox');
const buildFolders = () => readdirSync(buildParent).map((name) => join(buildParent, name));

const exited = (child: ChildProcess) =>
  new Promise<number | null>((resolve) =>
    child.exitCode !== null ? resolve(child.exitCode) : child.once('exit', resolve),
  );

describe('npm start', () => {
  test('prints the endpoints, serves ping (npm run client too), and SIGTERM stops it and DynamoDB Local', async () => {
    const started = await startCli();
    expect(started.output()).toMatch(/Management API\s+http:\/\/127\.0\.0\.1:\d+\/local/);
    const socket = await TestSocket.open(started.websocketUrl);
    expect(await socket.ask('{"id":1,"type":"ping"}')).toBe('{"id":1,"type":"pong"}');
    await eventually(() => started.output().includes('{"id":1,"type":"pong"}'));

    // The README's walkthrough: npm run client, type a ping, see the pong.
    const client = spawn(
      process.execPath,
      ['--import', 'tsx', 'sandbox/client-cli.ts', started.websocketUrl],
      {
        cwd: root,
        stdio: ['pipe', 'pipe', 'pipe'],
      },
    );
    children.push(client);
    let clientOutput = '';
    client.stdout.on('data', (chunk: Buffer) => (clientOutput += chunk.toString()));
    await eventually(() => clientOutput.includes('Connected to'), 20_000);
    client.stdin.write('{"id": 1, "type": "ping"}\n');
    await eventually(() => clientOutput.includes('< {"id":1,"type":"pong"}'));
    client.stdin.end();
    expect(await exited(client)).toBe(0);

    started.child.kill('SIGTERM');
    expect(await exited(started.child)).toBe(0);
    expect((await socket.closed).code).toBe(1001);
    await eventually(
      () => processesMatching(`DynamoDBLocal.jar.*-port ${started.dynamodbPort}`).length === 0,
    );
  }, 60_000);

  test('even SIGKILL leaves no Java process behind, and the next start removes its bundles', async () => {
    const started = await startCli('--quiet');
    const java = processesMatching(`DynamoDBLocal.jar.*-port ${started.dynamodbPort}`);
    expect(java).not.toEqual([]);
    const bundles = join(buildParent, `${started.child.pid}-`);
    expect(buildFolders().some((folder) => folder.startsWith(bundles))).toBe(true);
    started.child.kill('SIGKILL');
    await exited(started.child);
    await eventually(() => java.every((pid) => !isRunning(pid)), 10_000);
    expect(buildFolders().some((folder) => folder.startsWith(bundles))).toBe(true);

    const next = await startCli('--quiet');
    expect(buildFolders().some((folder) => folder.startsWith(bundles))).toBe(false);
    next.child.kill('SIGTERM');
    await exited(next.child);
  }, 90_000);

  test('--help explains the options', () => {
    const help = spawnSync(...node(['--help']), { cwd: root, encoding: 'utf8' });
    expect(help.status).toBe(0);
    for (const option of ['--port', '--dynamodb-port', '--dynamodb-endpoint', '--quiet', '--no-watch']) {
      expect(help.stdout).toContain(option);
    }
  });

  test('a bad option is an error that shows the usage', () => {
    const result = spawnSync(...node(['--port', 'eighty']), { cwd: root, encoding: 'utf8' });
    expect(result.status).toBe(2);
    expect(result.stderr).toContain("--port must be a port number from 0 to 65535, not 'eighty'.");
    expect(result.stderr).toContain('Usage: npm start');
  });
});

describe('npm run client', () => {
  const fixture = useFixtureSandbox();

  test('sends lines piped in before it connected, in order, and closes once they are all answered', async () => {
    const client = spawn(
      process.execPath,
      ['--import', 'tsx', 'sandbox/client-cli.ts', fixture.sandbox.websocketUrl],
      { cwd: root, stdio: ['pipe', 'pipe', 'pipe'] },
    );
    children.push(client);
    let output = '';
    client.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    client.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const lines = [
      '{"id": "a", "type": "ping"}',
      'not json',
      '{"id": "b", "type": "slow", "data": {"ms": 300}}',
      '{"id": "c", "type": "multi", "data": {"count": 2}}',
    ];
    // As `printf ... | npm run client`: the whole input, and its end, are there before the connection opens.
    client.stdin.end(`${lines.join('\n')}\n`);

    expect(await exited(client)).toBe(0);
    const printed = output.split('\n');
    expect(printed[0]).toBe(`Connected to ${fixture.sandbox.websocketUrl}.`);
    // The sandbox serves frames concurrently, so replies may come in any order; the close comes last.
    expect(printed.slice(1, -2).sort()).toEqual(
      [
        '< {"id":"a","type":"pong"}',
        `< ${JSON.stringify({ error: `Could not decode JSON message. Error: ${errorOf('not json')}` })}`,
        '< {"id":"b","type":"slow"}',
        '< {"id":1,"type":"step"}',
        '< {"id":"c","type":"multi","data":{"steps":2}}',
      ].sort(),
    );
    expect(printed.slice(-2)).toEqual(['Closed: 1000', '']);
    const received = fixture.reporter.lines.filter((line) => line.startsWith('frame in '));
    expect(received.map((line) => line.split(' ').slice(3).join(' '))).toEqual(lines);
  }, 30_000);
});

function errorOf(text: string): string {
  try {
    JSON.parse(text);
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error(`${text} is valid JSON`);
}
