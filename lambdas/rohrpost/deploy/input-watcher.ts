import type { FSWatcher } from 'node:fs';
import { watch } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { Metafile } from 'esbuild';

/** An editor's save is a burst of events (write, rename, attributes): one rebuild after it settles. */
const SETTLE_MS = 20;

/**
 * Rebuilds when a file a build read changes, as the operating system reports it: `fs.watch` on
 * each folder that holds one of the build's inputs (inotify on Linux). esbuild's own watch mode
 * polls the inputs instead, reading some of them every few hundred milliseconds, which cost an
 * idle sandbox 3 % of a core (npm run bench:idle). A folder is watched rather than each file
 * so that an editor that saves by renaming a new file over the old one is seen too.
 */
export class InputWatcher {
  private readonly folders = new Map<string, FSWatcher>();
  private files = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private closed = false;

  constructor(private readonly rebuild: () => Promise<unknown>) {}

  /**
   * Watches the inputs of a build, as its metafile lists them (relative to `workingDirectory`,
   * esbuild's `absWorkingDir`); a build that failed has none, and the previous inputs stay watched.
   */
  watch(metafile: Metafile | undefined, workingDirectory = process.cwd()): void {
    if (!metafile || this.closed) return;
    this.files = new Set(Object.keys(metafile.inputs).map((input) => resolve(workingDirectory, input)));
    const folders = new Set([...this.files].map((file) => dirname(file)));
    for (const [folder, watcher] of this.folders) {
      if (folders.has(folder)) continue;
      watcher.close();
      this.folders.delete(folder);
    }
    for (const folder of folders) {
      if (this.folders.has(folder)) continue;
      let watcher: FSWatcher;
      try {
        watcher = watch(folder, { persistent: false }, (_event, name) => {
          if (name === null || this.files.has(join(folder, name))) this.changed();
        });
      } catch {
        continue; // gone since the build, or no folder at all (an input of a plugin's own namespace)
      }
      watcher.on('error', () => this.folders.delete(folder));
      this.folders.set(folder, watcher);
    }
  }

  /** Stops watching; waits for a rebuild under way. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    for (const watcher of this.folders.values()) watcher.close();
    this.folders.clear();
    await this.running;
  }

  private changed(): void {
    if (this.closed) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.run(), SETTLE_MS);
  }

  /** One rebuild at a time; a change during one gets another after it. */
  private run(): void {
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.rebuild()
      .then(
        () => undefined,
        () => undefined, // a failed build's errors reach the build's own onEnd
      )
      .then(() => {
        this.running = undefined;
        if (this.again && !this.closed) {
          this.again = false;
          this.run();
        }
      });
  }
}
