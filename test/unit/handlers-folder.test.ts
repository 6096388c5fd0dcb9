import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { handlers } from '../../lambdas/handlers';
import type { MessageHandler } from '../../lambdas/rohrpost';

const folder = join(__dirname, '../../lambdas/handlers');
const modules = readdirSync(folder).filter(
  (file) => /\.ts$/.test(file) && file !== 'index.ts' && !file.endsWith('.d.ts'),
);

describe('lambdas/handlers', () => {
  test('holds handler modules', () => {
    expect(modules).toContain('ping.ts');
  });

  test.each(modules)('%s is registered in lambdas/handlers/index.ts', async (file) => {
    const module = (await import(join(folder, file))) as { default?: MessageHandler };
    expect(module.default).toEqual({ types: expect.any(Array), handle: expect.any(Function) });
    expect(handlers).toContain(module.default);
  });

  test('no message type is registered twice', () => {
    const types = handlers.flatMap((handler) => handler.types);
    expect(new Set(types).size).toBe(types.length);
  });
});
