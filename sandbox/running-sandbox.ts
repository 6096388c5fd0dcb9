import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { isRunning } from './lambda/work-directory';
import type { Sandbox } from './sandbox';

/**
 * Where a running sandbox is, for the commands that talk to it (`npm run table`). DynamoDB
 * Local's port changes at every start, so `npm start` publishes this while it runs.
 */
export interface RunningSandbox {
  /** The `npm start` process. */
  readonly pid: number;
  readonly port: number;
  readonly websocketUrl: string;
  readonly managementEndpoint: string;
  readonly dynamodbEndpoint: string;
  /** Table names by label, as rohrpost.config.ts names them; `membership` is the membership table. */
  readonly tableNames: Readonly<Record<string, string>>;
  /** The groups' history table, when the configuration keeps a history. */
  readonly historyTable?: string;
  /** Where the sandbox serves the AWS APIs it stands in for (SQS, Lambda's Invoke): `http://127.0.0.1:<port>`. */
  readonly awsEndpoint: string;
  /** The planned queues' URLs, by plan id (`dead-letters`). */
  readonly queueUrls: Readonly<Record<string, string>>;
  /** The functions it runs, by their names (`websocket`, `notifications`...). */
  readonly functions: readonly string[];
  /** ISO 8601. */
  readonly startedAt: string;
}

/** Names the folder where sandboxes publish themselves, in place of the project's default. */
export const RUNNING_SANDBOXES_VARIABLE = 'ROHRPOST_RUNNING_SANDBOXES';

const DEFAULT_FOLDER = resolve(__dirname, '..', 'node_modules', '.cache', 'rohrpost-running-sandboxes');

export class NoSandboxRunningError extends Error {
  constructor() {
    super('No sandbox is running: start it with npm start');
    this.name = 'NoSandboxRunningError';
  }
}

/** The folder with one `<pid>.json` per running sandbox. */
export function runningSandboxesFolder(env: NodeJS.ProcessEnv = process.env): string {
  return env[RUNNING_SANDBOXES_VARIABLE] || DEFAULT_FOLDER;
}

/**
 * Publishes where `sandbox` is until this process exits, however it exits but SIGKILL, whose
 * file `findRunningSandbox` then ignores because its process is gone. A file per process, so
 * that two sandboxes of one project do not remove each other's.
 */
export function publishRunningSandbox(
  sandbox: Pick<
    Sandbox,
    | 'gateway'
    | 'websocketUrl'
    | 'managementEndpoint'
    | 'dynamodbEndpoint'
    | 'tableNames'
    | 'historyTable'
    | 'queues'
    | 'functions'
  >,
  folder = runningSandboxesFolder(),
): void {
  const running: RunningSandbox = {
    pid: process.pid,
    port: sandbox.gateway.port,
    websocketUrl: sandbox.websocketUrl,
    managementEndpoint: sandbox.managementEndpoint,
    dynamodbEndpoint: sandbox.dynamodbEndpoint,
    tableNames: sandbox.tableNames,
    historyTable: sandbox.historyTable,
    awsEndpoint: sandbox.gateway.origin,
    queueUrls: Object.fromEntries([...sandbox.queues].map(([id, queue]) => [id, queue.url])),
    functions: [...sandbox.functions.keys()],
    startedAt: new Date().toISOString(),
  };
  mkdirSync(folder, { recursive: true });
  for (const stale of publishedSandboxes(folder).filter((entry) => !isRunning(entry.pid))) {
    rmSync(fileOf(folder, stale.pid), { force: true });
  }
  const file = fileOf(folder, process.pid);
  // Written whole, then renamed, so that a reader never sees half of it.
  writeFileSync(`${file}.tmp`, `${JSON.stringify(running, null, 2)}\n`);
  renameSync(`${file}.tmp`, file);
  process.once('exit', () => rmSync(file, { force: true }));
}

/**
 * The running sandbox; of several, the one started last. `others` counts the rest, so that a
 * command can say which one it chose.
 */
export function findRunningSandbox(folder = runningSandboxesFolder()): {
  sandbox: RunningSandbox;
  others: number;
} {
  const running = publishedSandboxes(folder)
    .filter((entry) => isRunning(entry.pid))
    .sort((a, b) => a.startedAt.localeCompare(b.startedAt));
  const sandbox = running.pop();
  if (!sandbox) throw new NoSandboxRunningError();
  return { sandbox, others: running.length };
}

function fileOf(folder: string, pid: number): string {
  return join(folder, `${pid}.json`);
}

function publishedSandboxes(folder: string): RunningSandbox[] {
  let names: string[];
  try {
    names = readdirSync(folder);
  } catch {
    return []; // no sandbox has run yet
  }
  return names
    .filter((name) => /^\d+\.json$/.test(name))
    .flatMap((name) => {
      try {
        return [JSON.parse(readFileSync(join(folder, name), 'utf8')) as RunningSandbox];
      } catch {
        return []; // removed while being read
      }
    });
}
