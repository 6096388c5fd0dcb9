import type { ChildProcess } from 'node:child_process';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RUNNING_SANDBOXES_VARIABLE } from '../../sandbox/running-sandbox';
import { useFixtureSandbox } from '../support/fixture-sandbox';
import { isRunning, processesMatching } from '../support/processes';
import { eventually } from '../support/recording-reporter';
import { TestSocket } from '../support/socket';
import type { Update } from '../support/updates';

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

/**
 * This file's sandboxes get a temporary folder of their own. There they build their bundles, so
 * that a sandbox another test file starts meanwhile does not remove those a test here left behind
 * on purpose; and there they say where they are, which is where `npm run table` looks for them, so
 * that a sandbox the developer runs meanwhile is neither used nor hidden.
 */
const temporary = mkdtempSync(join(tmpdir(), 'cli-test-'));
const runningSandboxes = join(temporary, 'running');
mkdirSync(runningSandboxes);
const environment = { ...process.env, TMPDIR: temporary, [RUNNING_SANDBOXES_VARIABLE]: runningSandboxes };
afterAll(() => rmSync(temporary, { recursive: true, force: true }));
const published = (child: ChildProcess) => join(runningSandboxes, `${child.pid}.json`);

/** Every process a test starts, killed after it if it is still running (a failed test included). */
const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0))
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

async function startCli(...args: string[]): Promise<Started> {
  const child = spawn(...node(['--port', '0', ...args]), {
    cwd: root,
    env: environment,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  await eventually(() => output.includes('Stop with Ctrl-C') || child.exitCode !== null);
  const websocketUrl = /WebSocket\s+(ws:\/\/\S+)/.exec(output)?.[1];
  const dynamodbPort = /DynamoDB\s+http:\/\/127\.0\.0\.1:(\d+)/.exec(output)?.[1];
  if (!websocketUrl || !dynamodbPort) throw new Error(`the sandbox did not start:\n${output}`);
  return { child, output: () => output, websocketUrl, dynamodbPort };
}

const NO_SANDBOX = 'No sandbox is running: start it with npm start\n';

const buildParent = join(temporary, 'rohrpost-sandbox');
const buildFolders = () => readdirSync(buildParent).map((name) => join(buildParent, name));

const exited = (child: ChildProcess) =>
  new Promise<number | null>((resolve) =>
    child.exitCode !== null ? resolve(child.exitCode) : child.once('exit', resolve),
  );

interface Finished {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command line to its end, as a user's shell would, with this file's environment. */
async function shell(commandLine: string): Promise<Finished> {
  const child = spawn('sh', ['-c', commandLine], { cwd: root, env: environment });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return { status: await exited(child), stdout, stderr };
}

/** `npm run table -- <args>`, each argument quoted for the shell. */
const table = (...args: string[]) =>
  shell(['node --import tsx sandbox/table-cli.ts', ...args.map((arg) => `'${arg}'`)].join(' '));

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
    await eventually(() => clientOutput.includes('Connected to'));
    client.stdin.write('{"id": 1, "type": "ping"}\n');
    await eventually(() => clientOutput.includes('< {"id":1,"type":"pong"}'));
    client.stdin.end();
    expect(await exited(client)).toBe(0);

    // Where it is, for npm run table: as it printed it, until it stops.
    const running = JSON.parse(readFileSync(published(started.child), 'utf8')) as Record<string, unknown>;
    expect(running).toMatchObject({
      pid: started.child.pid,
      websocketUrl: started.websocketUrl,
      dynamodbEndpoint: `http://127.0.0.1:${started.dynamodbPort}`,
      tableNames: { notes: 'notes', membership: 'rohrpost-membership' },
    });

    started.child.kill('SIGTERM');
    expect(await exited(started.child)).toBe(0);
    expect(existsSync(published(started.child))).toBe(false);
    expect((await socket.closed).code).toBe(1001);
    await eventually(
      () => processesMatching(`DynamoDBLocal.jar.*-port ${started.dynamodbPort}`).length === 0,
    );
  });

  test('even SIGKILL leaves no Java process behind, and the next start removes its bundles', async () => {
    const started = await startCli('--quiet');
    const java = processesMatching(`DynamoDBLocal.jar.*-port ${started.dynamodbPort}`);
    expect(java).not.toEqual([]);
    const bundles = join(buildParent, `${started.child.pid}-`);
    expect(buildFolders().some((folder) => folder.startsWith(bundles))).toBe(true);
    started.child.kill('SIGKILL');
    await exited(started.child);
    await eventually(() => java.every((pid) => !isRunning(pid)));
    expect(buildFolders().some((folder) => folder.startsWith(bundles))).toBe(true);
    // Its file is left behind, and ignored: its process is gone.
    expect(existsSync(published(started.child))).toBe(true);
    expect(await table('list')).toMatchObject({ status: 1, stderr: NO_SANDBOX });

    const next = await startCli('--quiet');
    expect(buildFolders().some((folder) => folder.startsWith(bundles))).toBe(false);
    expect(existsSync(published(started.child))).toBe(false);
    next.child.kill('SIGTERM');
    await exited(next.child);
  });

  test('--help explains the options', () => {
    const help = spawnSync(...node(['--help']), { cwd: root, encoding: 'utf8' });
    expect(help.status).toBe(0);
    for (const option of [
      '--port',
      '--dynamodb-port',
      '--dynamodb-endpoint',
      '--post-rate',
      '--function-idle-timeout',
      '--quiet',
      '--no-watch',
    ]) {
      expect(help.stdout).toContain(option);
    }
  });

  test('a bad option is an error that shows the usage', () => {
    const result = spawnSync(...node(['--port', 'eighty']), { cwd: root, encoding: 'utf8' });
    expect(result.status).toBe(2);
    expect(result.stderr).toContain("--port must be a port number from 0 to 65535, not 'eighty'.");
    expect(result.stderr).toContain('Usage: npm start');
    const rate = spawnSync(...node(['--post-rate', 'lots']), { cwd: root, encoding: 'utf8' });
    expect(rate.status).toBe(2);
    expect(rate.stderr).toContain("--post-rate must be a whole number of requests a second, not 'lots'.");
    const idle = spawnSync(...node(['--function-idle-timeout', '0']), { cwd: root, encoding: 'utf8' });
    expect(idle.status).toBe(2);
    expect(idle.stderr).toContain("--function-idle-timeout must be a number of seconds above 0, not '0'.");
  });
});

describe('npm run table', () => {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');

  test('without a running sandbox, says how to start one', async () => {
    expect(await table('scan', 'notes')).toEqual({ status: 1, stdout: '', stderr: NO_SANDBOX });
  });

  test("writes, reads and deletes the sandbox's items in JSON; subscribers hear of its writes", async () => {
    const started = await startCli('--quiet');
    const alice = await TestSocket.open(started.websocketUrl);
    const subscribed = await alice.askJson({
      id: 1,
      type: 'subscribe',
      data: { type: 'note', id: 'welcome' },
    });
    expect(subscribed).toMatchObject({ id: 1, data: { group: 'note-welcome', seq: 0 } });

    const listed = await table('list');
    expect(listed.status).toBe(0);
    expect(listed.stdout).toMatch(/^notes\s+key: id \(string\)\s+stream: writes notify subscribers$/m);
    expect(listed.stdout).toMatch(
      /^rohrpost-membership\s+key: group \(string\) and connectionId \(string\)$/m,
    );
    expect(listed.stdout).toMatch(/^rohrpost-history\s+key: group \(string\) and key \(string\)$/m);

    // The README's walkthrough, word for word: npm finds the script, the shell keeps the quotes.
    const readmePut = /^\$ (npm run table -- put notes .*)$/m.exec(readme)?.[1];
    expect(readmePut).toBeDefined();
    const put = await shell(readmePut!);
    expect(put).toMatchObject({ status: 0, stderr: '' });
    expect(put.stdout).toContain('Put {"id":"welcome"} into notes.\n');
    const created = await alice.nextJson<Update>();
    expect(created.data).toMatchObject({
      type: 'create',
      object: { id: 'welcome', title: 'Written straight to DynamoDB' },
      seq: 1,
    });

    const got = await table('get', 'notes', '{"id": "welcome"}');
    expect(got.status).toBe(0);
    expect(JSON.parse(got.stdout)).toEqual({ id: 'welcome', title: 'Written straight to DynamoDB' });
    expect(await table('scan', 'notes')).toEqual({
      status: 0,
      stdout: '{"id":"welcome","title":"Written straight to DynamoDB"}\n',
      stderr: '1 item in notes\n',
    });
    // The history table, by its name: the message Alice received, under its seq.
    const history = await table('scan', 'rohrpost-history');
    expect(history.stdout).toContain('"group":"note-welcome","key":"m#0000000000000001"');

    expect(await table('delete', 'notes', '{"id": "welcome"}')).toMatchObject({
      status: 0,
      stdout: 'Deleted {"id":"welcome"} from notes.\n',
    });
    expect((await alice.nextJson<Update>()).data).toMatchObject({ type: 'delete', seq: 2 });
    expect(await table('get', 'notes', '{"id": "welcome"}')).toEqual({
      status: 1,
      stdout: '',
      stderr: 'notes has no item {"id":"welcome"}.\n',
    });

    // Mistakes, on the same sandbox: each gets an error that says what to do, and no stack trace.
    const mistakes: Array<[string[], string]> = [
      [
        ['put', 'nots', '{"id": "n1"}'],
        "The sandbox has no table 'nots'. Its tables: notes, rohrpost-membership, rohrpost-history.",
      ],
      [['put', 'notes', '{id: n1}'], `The item is not valid JSON`],
      [
        ['put', 'notes', '{"title": "Hi"}'],
        `The item has no 'id': the key of notes is id (string). Give it, like npm run table -- put notes '{"id": "..."}'`,
      ],
      [['put', 'notes', '{"id": 1}'], "'id' in the item is 1, but the key of notes is a string"],
      [['get', 'notes', '{"id": "n1", "title": "Hi"}'], "The key of notes is id (string), without 'title'"],
    ];
    for (const [args, message] of mistakes) {
      const result = await table(...args);
      expect(result).toMatchObject({ status: 1, stdout: '' });
      expect(result.stderr).toContain(message);
      expect(result.stderr).not.toMatch(/\n\s+at /);
    }
    const usage = await table('put', 'notes');
    expect(usage.status).toBe(2);
    expect(usage.stderr).toContain('put takes <table> <item>: npm run table -- put <table> <item>');
    expect(usage.stderr).toContain('Usage: npm run table');

    // npm run redrive finds the same sandbox, and its empty dead-letter queue.
    expect(await shell('npm run -s redrive -- --dry-run')).toEqual({
      status: 0,
      stdout: 'Dry run: 0 letter(s) would be sent again, 0 would stay.\n',
      stderr: '',
    });

    await alice.close();
    started.child.kill('SIGTERM');
    expect(await exited(started.child)).toBe(0);
    expect(await table('list')).toMatchObject({ status: 1, stderr: NO_SANDBOX });
    expect(await shell('npm run -s redrive')).toMatchObject({ status: 1, stderr: NO_SANDBOX });
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
  });
});

function errorOf(text: string): string {
  try {
    JSON.parse(text);
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error(`${text} is valid JSON`);
}
