import { rmSync, watch, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import * as esbuild from 'esbuild';
import type { ResolvedConfig } from '../lambdas/rohrpost/deploy';

let evaluations = 0;

/**
 * Evaluates a configuration module (rohrpost.config.ts) afresh, as it is now on disk: bundled
 * (packages stay external) into a file of its own beside it, so that no module cache holds an
 * older copy, required, and removed.
 */
export function loadConfig(file: string): ResolvedConfig {
  const { outputFiles } = esbuild.buildSync({
    entryPoints: [file],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    packages: 'external',
    write: false,
    logLevel: 'silent',
  });
  const evaluated = join(dirname(file), `.${basename(file)}.${process.pid}-${++evaluations}.cjs`);
  writeFileSync(evaluated, outputFiles[0]!.text);
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- a new file each time, so not an import
    return (require(evaluated) as { default: ResolvedConfig }).default;
  } finally {
    rmSync(evaluated, { force: true });
  }
}

/**
 * Calls `onChange` with the configuration each time its file is saved, or with the error that
 * evaluating it threw (a mistake `defineConfig` explains, or TypeScript that does not compile),
 * and the time of the save. Editors that save by replacing the file are seen too.
 */
export function watchConfig(
  file: string,
  onChange: (result: ResolvedConfig | Error, changedAt: number) => void,
): () => void {
  let timer: NodeJS.Timeout | undefined;
  let changedAt = 0;
  const watcher = watch(dirname(file), (_event, name) => {
    if (name !== basename(file)) return;
    changedAt ||= Date.now();
    clearTimeout(timer);
    // An editor's save can be several writes: read the file once they are done.
    timer = setTimeout(() => {
      const at = changedAt;
      changedAt = 0;
      let result: ResolvedConfig | Error;
      try {
        result = loadConfig(file);
      } catch (error) {
        result = error instanceof Error ? error : new Error(String(error));
      }
      onChange(result, at);
    }, 150);
  });
  return () => {
    clearTimeout(timer);
    watcher.close();
  };
}
