import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { bundleFunction } from '../../lambdas/rohrpost/deploy';
import { lambdaNode } from '../support/assembly';

/** Errors of each kind of frame: a method, a function, async functions, a constructor, Node's own. */
const SOURCE = `
class Store {
  load(key: string): never {
    throw new Error(\`no \${key}\`);
  }
}
async function inner(store: Store) {
  await null;
  return store.load('later');
}
async function outer(store: Store) {
  return await inner(store);
}
export const handler = async (kind: string) => {
  const store = new Store();
  if (kind === 'sync') return store.load('now');
  if (kind === 'node') return require('node:fs').readFileSync('/nonexistent/file');
  if (kind === 'new') return new (class Broken { constructor() { throw new TypeError('broken'); } })();
  return outer(store);
};
`;

const PRINT_STACKS = `
const { handler } = require(process.argv[1]);
(async () => {
  for (const kind of ['sync', 'async', 'node', 'new']) {
    try { await handler(kind); } catch (error) { console.log(error.stack); }
  }
})();
`;

/**
 * A bundle maps its stack traces itself, when it first formats one (lazy-source-maps.ts): what it
 * writes is what Node's own `--enable-source-maps` writes, frame for frame.
 */
describe('stack traces of a bundled function', () => {
  const folder = mkdtempSync(join(tmpdir(), 'lazy-source-maps-'));
  afterAll(() => rmSync(folder, { recursive: true, force: true }));

  const stacks = async (nodeOptions: string[]) => {
    const bundle = join(folder, 'bundle', 'index.js');
    const { stdout } = await promisify(execFile)(lambdaNode(), [...nodeOptions, '-e', PRINT_STACKS, bundle], {
      env: { PATH: process.env.PATH },
    });
    return stdout;
  };

  beforeAll(() => {
    writeFileSync(join(folder, 'entry.ts'), SOURCE);
    bundleFunction(join(folder, 'entry.ts'), join(folder, 'bundle'));
  });

  test("name the TypeScript source's lines, as Node's source map support does", async () => {
    const lazy = await stacks([]);
    expect(lazy).toContain(`(${join(folder, 'entry.ts')}:4:11)`); // the throw in Store.load
    expect(lazy).toContain(`async `); // inner's caller, awaiting
    expect(lazy).not.toContain('index.js:');
    expect(lazy).toBe(await stacks(['--enable-source-maps']));
  });
});
