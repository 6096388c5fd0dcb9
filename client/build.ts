/**
 * Builds the client package into client/dist: ESM and CommonJS bundles (no dependencies, for
 * browsers and Node 20+) and the type declarations. `npm run build:client`
 */
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';

const root = __dirname;
const dist = join(root, 'dist');

async function main(): Promise<void> {
  rmSync(dist, { recursive: true, force: true });
  for (const [format, file] of [
    ['esm', 'index.mjs'],
    ['cjs', 'index.cjs'],
  ] as const) {
    await build({
      entryPoints: [join(root, 'src/index.ts')],
      outfile: join(dist, file),
      bundle: true,
      format,
      platform: 'neutral',
      target: 'es2020',
      sourcemap: true,
      logLevel: 'warning',
    });
  }
  execFileSync(
    process.execPath,
    [require.resolve('typescript/bin/tsc'), '-p', join(root, 'tsconfig.build.json')],
    {
      stdio: 'inherit',
    },
  );
}

void main();
