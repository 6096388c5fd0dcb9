import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A fresh folder for this sandbox's function code, outside any project (so that a bundle can
 * resolve nothing but what it carries, as in Lambda): `<tmp>/rohrpost-sandbox/<pid>-<random>`.
 * Folders left by sandboxes that were killed (`kill -9` skips their cleanup) are removed first:
 * their process is gone.
 */
export function createWorkDirectory(): string {
  const parent = join(tmpdir(), 'rohrpost-sandbox');
  mkdirSync(parent, { recursive: true });
  for (const name of readdirSync(parent)) {
    const owner = /^(\d+)-/.exec(name)?.[1];
    if (owner === undefined || !isRunning(Number(owner))) {
      rmSync(join(parent, name), { recursive: true, force: true });
    }
  }
  const directory = join(parent, `${process.pid}-${randomBytes(6).toString('hex')}`);
  mkdirSync(directory);
  return directory;
}

/** Whether process `pid` is alive. */
export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it runs, as another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
