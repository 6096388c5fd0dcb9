/**
 * Deadlines for the benchmarks' phases. Each phase gets a time derived from its work (so many
 * seconds of measuring, so many connections at the sandbox's rate, ...) with room for a loaded
 * machine; a phase that overruns fails with what it had not finished, and the benchmark stops
 * instead of waiting forever.
 */
import { spawn } from 'node:child_process';
import { formatNumber } from './stats';

/** A phase that overran its deadline; the message says which, and what it had left. */
export class DeadlineExceeded extends Error {
  override readonly name = 'DeadlineExceeded';
}

/**
 * Runs one phase: its result, or once `milliseconds` have passed a `DeadlineExceeded` that
 * names the phase and, from `unfinished`, what it had not done by then.
 */
export async function phase<T>(
  name: string,
  milliseconds: number,
  work: () => Promise<T>,
  unfinished?: () => string,
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => {
      const left = unfinished ? `: ${unfinished()}` : '';
      reject(new DeadlineExceeded(`"${name}" did not finish within ${seconds(milliseconds)}${left}`));
    }, milliseconds);
  });
  try {
    return await Promise.race([work(), expired]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Starts something (a sandbox, a database, a process) as one phase; if it comes up only after
 * the deadline, it is stopped then, so that nothing is left running.
 */
export async function startPhase<T>(
  name: string,
  milliseconds: number,
  start: () => Promise<T>,
  stop: (started: T) => unknown,
): Promise<T> {
  const starting = start();
  try {
    return await phase(name, milliseconds, () => starting);
  } catch (error) {
    if (error instanceof DeadlineExceeded) starting.then(stop, () => undefined);
    throw error;
  }
}

/**
 * Runs a child process as one phase: its standard output, or, once `milliseconds` have passed,
 * the child killed and a `DeadlineExceeded` with the last line it wrote to standard error (a
 * child that reports its progress there says how far it got).
 */
export function childPhase(
  name: string,
  milliseconds: number,
  command: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<string> {
  const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let lastError = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => {
    const lines = chunk.toString().trim().split('\n');
    lastError = lines.at(-1) || lastError;
  });
  const exited = new Promise<string>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => {
      if (code === 0) resolve(stdout);
      else reject(new Error(`${name} exited with ${code ?? signal}: ${lastError}`));
    });
  });
  return phase(
    name,
    milliseconds,
    () => exited,
    () => `last said: ${lastError || 'nothing'}`,
  ).finally(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
}

/** Once a benchmark's work is done, how long its clean-up (processes, sockets) may take. */
const CLEAN_UP_MS = 15_000;

/**
 * A benchmark's entry: runs `main`; a failure is printed and sets exit code 1. Once `main` has
 * settled (its own `finally` blocks stopped what it started), the process gets CLEAN_UP_MS to
 * exit by itself, and then is ended with what kept it alive named.
 */
export function runBenchmark(main: () => Promise<void>): void {
  void main()
    .catch((error: unknown) => {
      console.error(`\n${error instanceof DeadlineExceeded ? error.message : String(error)}`);
      if (!(error instanceof DeadlineExceeded) && error instanceof Error) console.error(error.stack);
      process.exitCode = 1;
    })
    .finally(() => {
      setTimeout(() => {
        const open = process.getActiveResourcesInfo().join(', ');
        console.error(`still running ${seconds(CLEAN_UP_MS)} after finishing (open: ${open}); ending`);
        process.exit(1);
      }, CLEAN_UP_MS).unref();
    });
}

function seconds(milliseconds: number): string {
  return `${formatNumber(milliseconds / 1_000, 1)} s`;
}
