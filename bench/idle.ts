/**
 * What the sandbox costs while nobody uses it, and what it keeps after use. Linux only (it reads
 * /proc).
 *
 * 1. `npm start` as a user runs it (the CLI in a process of its own, watching the sources),
 *    left idle: each of its processes' CPU time over a window, in % of one core, and its RSS.
 *    Beside it, in the same window, DynamoDB Local started alone with the same options and
 *    nothing polling it: what Java costs by itself.
 * 2. Another sandbox with a short function idle timeout: the RSS of its processes (node and
 *    DynamoDB Local's java) at rest, after each of three bursts of 1,000 WebSocket connections
 *    (each connects, pings, and closes), and once the idle timeout has shut the function
 *    instances down.
 *
 * Every phase has a deadline (bench/deadline.ts).
 *
 *   npm run bench:idle [-- --seconds 60 --connections 1000 --bursts 3 --idle-timeout 20]
 */
import type { ChildProcess } from 'node:child_process';
import { spawn, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { startDynamoDbLocal } from '../sandbox/dynamodb-local';
import { phase, runBenchmark, startPhase } from './deadline';
import { formatNumber, machineLoad, printTable } from './stats';

const ROOT = join(__dirname, '..');
/** DynamoDB Local, the tables and the functions' bundles: 2-3 s on a quiet machine. */
const START_DEADLINE_MS = 60_000;
const STOP_DEADLINE_MS = 20_000;
/** Before the window opens: the start's own work (JIT compiling, first polls) dies down. */
const SETTLE_MS = 5_000;
/** Connections in flight at once during a burst. */
const CONCURRENCY = 100;
/** The slowest a burst may go on a loaded machine: 20 connections a second. */
const CONNECTIONS_PER_SECOND_AT_LEAST = 20;

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '60' },
    connections: { type: 'string', default: '1000' },
    bursts: { type: 'string', default: '3' },
    'idle-timeout': { type: 'string', default: '20' },
  },
});
const WINDOW_S = Number(args.seconds);
const CONNECTIONS = Number(args.connections);
const BURSTS = Number(args.bursts);
const IDLE_TIMEOUT_S = Number(args['idle-timeout']);

const TICKS_PER_SECOND = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

interface ProcessInfo {
  readonly pid: number;
  readonly name: string;
}

/** `pid` and every process under it. */
function processTree(pid: number): ProcessInfo[] {
  const parents = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readProc(Number(entry), 'stat');
    if (!stat) continue;
    const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    parents.set(parent, [...(parents.get(parent) ?? []), Number(entry)]);
  }
  const tree: ProcessInfo[] = [];
  const visit = (current: number) => {
    // The program's name: /proc's comm is a thread's (Node's main thread calls itself MainThread).
    const name = readProc(current, 'cmdline')?.split('\0')[0]?.split('/').at(-1);
    if (name === undefined) return;
    tree.push({ pid: current, name });
    for (const child of parents.get(current) ?? []) visit(child);
  };
  visit(pid);
  return tree;
}

function readProc(pid: number, file: string): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/${file}`, 'utf8');
  } catch {
    return undefined; // it has exited
  }
}

/** User and system CPU time so far, in seconds. */
function cpuSeconds(pid: number): number {
  const stat = readProc(pid, 'stat');
  if (!stat) return 0;
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime and stime, the 14th and 15th fields of proc(5), counted from after the name.
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

function rssMegabytes(pid: number): number {
  const kilobytes = /VmRSS:\s+(\d+)/.exec(readProc(pid, 'status') ?? '')?.[1];
  return kilobytes === undefined ? 0 : Number(kilobytes) / 1024;
}

const label = (info: ProcessInfo) =>
  ({ node: 'node (the sandbox)', java: 'java (DynamoDB Local)', sh: "sh (Java's watchdog)" })[info.name] ??
  info.name;

interface StartedSandbox {
  readonly child: ChildProcess;
  readonly websocketUrl: string;
}

/** The sandbox's CLI as `npm start` runs it, with `args`. */
async function startCli(args: readonly string[]): Promise<StartedSandbox> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'sandbox/cli.ts', '--port', '0', ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const websocketUrl = await new Promise<string>((resolve, reject) => {
    const read = (chunk: Buffer) => {
      output += chunk.toString();
      const url = /WebSocket\s+(ws:\/\/\S+)/.exec(output)?.[1];
      if (url && output.includes('Stop with Ctrl-C')) resolve(url);
    };
    child.stdout.on('data', read);
    child.stderr.on('data', read);
    child.once('exit', (code) => reject(new Error(`the sandbox exited with ${code}:\n${output}`)));
  });
  child.stdout.resume();
  child.stderr.resume();
  return { child, websocketUrl };
}

async function stopCli(sandbox: StartedSandbox): Promise<void> {
  const { child } = sandbox;
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await phase('sandbox stop', STOP_DEADLINE_MS, () => exited).catch((error: unknown) => {
    child.kill('SIGKILL');
    throw error;
  });
}

const startCliInTime = (args: readonly string[]) =>
  startPhase('sandbox start', START_DEADLINE_MS, () => startCli(args), stopCli);

const sleep = (milliseconds: number) => new Promise((resolve) => setTimeout(resolve, milliseconds));

/** Each process's CPU over `seconds`, in % of one core, and its RSS at the end. */
async function cpuOver(
  processes: readonly ProcessInfo[],
  seconds: number,
): Promise<Array<{ info: ProcessInfo; percent: number; rss: number }>> {
  const before = processes.map((info) => cpuSeconds(info.pid));
  await phase(`an idle window of ${seconds} s`, seconds * 1000 + 10_000, () => sleep(seconds * 1000));
  return processes.map((info, i) => ({
    info,
    percent: ((cpuSeconds(info.pid) - before[i]!) / seconds) * 100,
    rss: rssMegabytes(info.pid),
  }));
}

/** One connection: open, one ping answered, closed. */
function connectPingClose(url: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url);
    socket.once('error', reject);
    socket.once('open', () => socket.send('{"id":1,"type":"ping"}'));
    socket.once('message', (data: Buffer) => {
      if (!data.toString().includes('"pong"')) reject(new Error(`not a pong: ${data.toString()}`));
      socket.close();
    });
    socket.once('close', () => resolve());
  });
}

async function burst(url: string, name: string): Promise<void> {
  let done = 0;
  let next = 0;
  const worker = async () => {
    while (next < CONNECTIONS) {
      next++;
      await connectPingClose(url);
      done++;
    }
  };
  await phase(
    name,
    10_000 + (CONNECTIONS / CONNECTIONS_PER_SECOND_AT_LEAST) * 1000,
    () => Promise.all(Array.from({ length: CONCURRENCY }, worker)),
    () => `${done} of ${CONNECTIONS} connections done`,
  );
}

const percent = (value: number) => `${formatNumber(value, 2)} %`;
const megabytes = (value: number) => `${formatNumber(value)} MB`;
async function idleCpu(): Promise<void> {
  const loadBefore = machineLoad();
  const alone = await startPhase(
    'DynamoDB Local start',
    START_DEADLINE_MS,
    () => startDynamoDbLocal(),
    (db) => db.stop(),
  );
  let sandbox: StartedSandbox | undefined;
  try {
    sandbox = await startCliInTime([]);
    await sleep(SETTLE_MS);
    const sandboxProcesses = processTree(sandbox.child.pid!);
    const java = processTree(alone.pid).find((info) => info.name === 'java');
    const measured = await cpuOver([...sandboxProcesses, ...(java ? [java] : [])], WINDOW_S);
    const ofSandbox = measured.slice(0, sandboxProcesses.length);
    const total = ofSandbox.reduce((sum, each) => sum + each.percent, 0);
    const rss = ofSandbox.reduce((sum, each) => sum + each.rss, 0);
    const baseline = java ? measured.at(-1)! : undefined;
    printTable(`npm start, idle: CPU over ${WINDOW_S} s in % of one core, and RSS`, [
      ...ofSandbox.map(
        ({ info, percent: used, rss: resident }) =>
          [`${label(info)} ${info.pid}`, `${percent(used)}, ${megabytes(resident)}`] as const,
      ),
      ['all of them', `${percent(total)}, ${megabytes(rss)}`],
      [
        'beside it: DynamoDB Local alone, nothing polling it',
        baseline ? `${percent(baseline.percent)}, ${megabytes(baseline.rss)}` : 'its java was not found',
      ],
      ['machine load (1 min)', `${loadBefore} before, ${machineLoad()} after`],
    ]);
  } finally {
    if (sandbox) await stopCli(sandbox);
    await alone.stop();
  }
}

async function rssAfterBursts(): Promise<void> {
  const loadBefore = machineLoad();
  // No connection quota: the bursts come faster than API Gateway's 500 a second allows.
  const sandbox = await startCliInTime([
    '--quiet',
    '--connection-rate',
    '0',
    '--function-idle-timeout',
    String(IDLE_TIMEOUT_S),
  ]);
  try {
    const rows: Array<readonly [string, string]> = [];
    const sample = (name: string) => {
      const tree = processTree(sandbox.child.pid!);
      const of = (processName: string) =>
        tree
          .filter((info) => info.name === processName)
          .reduce((sum, info) => sum + rssMegabytes(info.pid), 0);
      const all = tree.reduce((sum, info) => sum + rssMegabytes(info.pid), 0);
      rows.push([
        name,
        `${megabytes(of('node') + of('java'))} (node ${megabytes(of('node'))}, java ${megabytes(of('java'))}; with the rest ${megabytes(all)})`,
      ]);
    };
    await sleep(SETTLE_MS);
    sample('at rest');
    for (let i = 1; i <= BURSTS; i++) {
      await burst(sandbox.websocketUrl, `burst ${i} of ${BURSTS}`);
      await sleep(SETTLE_MS);
      sample(`after burst ${i}`);
    }
    await phase('the idle timeout', IDLE_TIMEOUT_S * 1000 + 30_000, () =>
      sleep(IDLE_TIMEOUT_S * 1000 + SETTLE_MS),
    );
    sample(`${IDLE_TIMEOUT_S + SETTLE_MS / 1000} s later: idle instances shut down`);
    rows.push(['machine load (1 min)', `${loadBefore} before, ${machineLoad()} after`]);
    printTable(
      `sandbox RSS, node and java, around ${BURSTS} bursts of ${formatNumber(CONNECTIONS)} connections (connect, ping, close), ` +
        `--function-idle-timeout ${IDLE_TIMEOUT_S}, each sampled ${SETTLE_MS / 1000} s after`,
      rows,
    );
  } finally {
    await stopCli(sandbox);
  }
}

async function main(): Promise<void> {
  if (process.platform !== 'linux') throw new Error('bench:idle reads /proc: it runs on Linux only.');
  await idleCpu();
  await rssAfterBursts();
}

runBenchmark(main);
