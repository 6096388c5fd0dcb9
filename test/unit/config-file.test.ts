import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ResolvedConfig } from '../../lambdas/rohrpost/config';
import { watchConfig } from '../../sandbox/config-file';

/** npm start follows rohrpost.config.ts: each save is evaluated afresh, or its error reported. */
describe('watching the configuration file', () => {
  const folder = mkdtempSync(join(__dirname, '../fixtures/.config-file-'));
  const file = join(folder, 'rohrpost.config.ts');
  const framework = "'../../../lambdas/rohrpost'";
  const config = (memorySize: number) =>
    `import { defineConfig } from ${framework};\nexport default defineConfig({ websocket: { entry: 'x.ts', memorySize: ${memorySize} } });\n`;
  afterAll(() => rmSync(folder, { recursive: true, force: true }));

  test('each save gives the configuration as it is now, and a mistake its message', async () => {
    writeFileSync(file, config(128));
    const results: Array<ResolvedConfig | Error> = [];
    let next: () => void = () => undefined;
    const stop = watchConfig(file, (result) => {
      results.push(result);
      next();
    });
    const saved = () => new Promise<void>((resolve) => (next = resolve));
    try {
      let arrived = saved();
      writeFileSync(file, config(512));
      await arrived;
      arrived = saved();
      writeFileSync(
        file,
        `import { defineConfig } from ${framework};\nexport default defineConfig({ tables: { x: {} as never } });\n`,
      );
      await arrived;
    } finally {
      stop();
    }
    expect((results[0] as ResolvedConfig).websocket.memorySize).toBe(512);
    expect(results[1]).toEqual(
      new Error("Table label 'x' must be 3-200 letters, digits, '_', '-' or '.' (a valid table name)."),
    );
  });
});
