import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const CLIENT = join(__dirname, '../../client');

/** The client as it ships: ESM, CommonJS and types, built from client/src, with no dependencies. */
describe('the client package', () => {
  beforeAll(() => {
    execFileSync(process.execPath, ['--import', 'tsx', join(CLIENT, 'build.ts')], { stdio: 'pipe' });
  });

  const exportsOf = (script: string, type: 'commonjs' | 'module') =>
    execFileSync(process.execPath, [`--input-type=${type}`, '-e', script], { encoding: 'utf8' }).trim();

  test('has no runtime dependencies, and exports ESM, CommonJS and types', () => {
    const manifest = JSON.parse(readFileSync(join(CLIENT, 'package.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    expect(manifest.dependencies).toBeUndefined();
    expect(manifest.exports).toEqual({
      '.': { types: './dist/index.d.ts', import: './dist/index.mjs', require: './dist/index.cjs' },
      './package.json': './package.json',
    });
    expect(readFileSync(join(CLIENT, 'dist/index.d.ts'), 'utf8')).toContain('RohrpostClient');
  });

  test.each([
    [
      'CommonJS',
      'commonjs' as const,
      `const c = require(${JSON.stringify(join(CLIENT, 'dist/index.cjs'))});`,
    ],
    ['ESM', 'module' as const, `import * as c from ${JSON.stringify(join(CLIENT, 'dist/index.mjs'))};`],
  ])('%s: the bundle loads on its own and exports the client and its errors', (_name, type, load) => {
    expect(
      exportsOf(
        `${load} console.log(Object.keys(c).sort().join(' '), typeof c.RohrpostClient, new c.TimeoutError('ping', 5).message);`,
        type,
      ),
    ).toBe(
      "AbortError ConnectionClosedError RohrpostClient RohrpostClientError RohrpostError Subscription TimeoutError backoffDelay function No reply to 'ping' within 5 ms.",
    );
  });
});
