import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { handlers } from '../../lambdas/handlers';
import { notificationHooks } from '../../lambdas/notification-hooks';
import config from '../../rohrpost.config';
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

const hooksFolder = join(__dirname, '../../lambdas/notification-hooks');
const hookModules = readdirSync(hooksFolder).filter((file) => /\.ts$/.test(file) && file !== 'index.ts');

describe('lambdas/notification-hooks', () => {
  test.each(hookModules)('%s is registered in lambdas/notification-hooks/index.ts', async (file) => {
    const module = (await import(join(hooksFolder, file))) as { default?: unknown };
    expect(notificationHooks).toContain(module.default);
  });

  test('every hook belongs to a table with notifications in rohrpost.config.ts', () => {
    for (const hooks of notificationHooks) expect(config.tables[hooks.table]?.notifications).toBeDefined();
  });
});
