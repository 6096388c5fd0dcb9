/**
 * The Python original on Daphne (bench/python/rohrpost_daphne.py), as a server the benches can
 * load beside the sandbox in the same run. It needs a checkout of
 * github.com/axsemantics/rohrpost (its code is not part of this project) named by
 * ROHRPOST_PYTHON, and Daphne with Django Channels for ROHRPOST_PYTHON_BIN (default
 * /usr/bin/python3; on Debian or Ubuntu: `sudo apt-get install -y python3-django-channels daphne`).
 */
import type { ChildProcess } from 'node:child_process';
import { spawn, spawnSync } from 'node:child_process';
import { connect } from 'node:net';
import { join } from 'node:path';
import { freePort } from '../sandbox/ports';

export interface DaphneSettings {
  readonly checkout: string;
  readonly python: string;
}

export interface RunningDaphne {
  readonly url: string;
  readonly pid: number;
  /** Python, Daphne, Channels and Django versions, as they ran. */
  readonly versions: string;
  stop(): Promise<void>;
}

/** The settings from the environment, or why the Python original cannot run here. */
export function daphneSettings(): DaphneSettings | { readonly missing: string } {
  const checkout = process.env.ROHRPOST_PYTHON;
  const python = process.env.ROHRPOST_PYTHON_BIN ?? '/usr/bin/python3';
  if (!checkout)
    return { missing: 'ROHRPOST_PYTHON is not set (a checkout of github.com/axsemantics/rohrpost)' };
  const probe = spawnSync(python, ['-c', 'import daphne, channels, django'], { encoding: 'utf8' });
  if (probe.status !== 0) {
    return {
      missing: `${python} cannot import daphne, channels and django (apt-get install -y python3-django-channels daphne)`,
    };
  }
  return { checkout, python };
}

function versionsOf(python: string): string {
  const script =
    'import platform, daphne, channels, django; ' +
    'print(f"Python {platform.python_version()}, Daphne {daphne.__version__}, ' +
    'Channels {channels.__version__}, Django {django.get_version()}")';
  return spawnSync(python, ['-c', script], { encoding: 'utf8' }).stdout.trim();
}

/** Starts Daphne on a free port of 127.0.0.1 and resolves once it accepts connections. */
export async function startDaphne(settings: DaphneSettings, readyTimeoutMs: number): Promise<RunningDaphne> {
  const port = await freePort();
  const child: ChildProcess = spawn(
    settings.python,
    ['-m', 'daphne', '-b', '127.0.0.1', '-p', String(port), 'rohrpost_daphne:application'],
    {
      cwd: join(__dirname, 'python'),
      env: { ...process.env, ROHRPOST_PYTHON: settings.checkout },
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  let output = '';
  child.stderr!.on('data', (chunk: Buffer) => (output = (output + chunk.toString()).slice(-2_000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  };
  const deadline = Date.now() + readyTimeoutMs;
  while (!(await accepts(port))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`Daphne did not start on port ${port}:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return { url: `ws://127.0.0.1:${port}/`, pid: child.pid!, versions: versionsOf(settings.python), stop };
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });
}
