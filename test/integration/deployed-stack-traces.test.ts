import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { defineConfig } from '../../lambdas/rohrpost/config';
import { messageEvent } from '../../sandbox/events';
import { assemblyFunctions } from '../../sandbox/lambda/assembly';
import {
  copyOutsideProject,
  invokeInProcessWithOutput,
  logicalIdsByConstructId,
  readTemplate,
  resolveValue,
} from '../support/assembly';
import { synthesize } from '../support/cdk';
import { testConnection } from '../support/events';

const fixture = join(__dirname, '../fixtures/app/websocket.ts');

/**
 * The websocket function's asset as `cdk deploy` ships it, with the template's environment
 * (its NODE_OPTIONS too), copied outside the project and run on Node.js 24: an error it logs
 * names the TypeScript file and line it was thrown at, not the minified bundle's.
 */
describe('a stack trace logged by a deployed function', () => {
  test("names the handler's TypeScript source line", async () => {
    // synthesize removes the assembly after this file.
    const { outdir } = synthesize(defineConfig({ websocket: { entry: fixture } }), { bundle: true }).app;
    const fn = assemblyFunctions(outdir, 'Rohrpost').find(
      (candidate) => candidate.constructId === 'WebSocket',
    )!;
    // Every resource the environment refers to, by its own logical id: nothing here calls it.
    const refs: Record<string, string> = {
      'AWS::Region': 'eu-central-1',
      'AWS::URLSuffix': 'amazonaws.com',
    };
    for (const id of Object.values(logicalIdsByConstructId(readTemplate(outdir, 'Rohrpost')))) refs[id] = id;
    const environment = {
      ...Object.fromEntries(
        Object.entries(fn.environment).map(([name, value]) => [name, resolveValue(value, refs)]),
      ),
      AWS_REGION: 'eu-central-1',
      AWS_LAMBDA_FUNCTION_NAME: 'WebSocket',
    };
    const directory = copyOutsideProject(fn.asset);
    try {
      const { outcomes, stdout, stderr } = await invokeInProcessWithOutput(
        directory,
        fn.handler,
        environment,
        [messageEvent(testConnection(), '{"id":1,"type":"fail"}')],
      );
      expect(outcomes).toEqual([
        { result: { statusCode: 200, body: expect.stringContaining('"error"') as unknown } },
      ]);
      const logged = `${stdout}\n${stderr}`
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map(
          (line) => JSON.parse(line) as { message?: string; error?: { stack?: string; location?: string } },
        )
        .find((line) => line.message === 'Handler failed');
      const thrownAt =
        readFileSync(fixture, 'utf8')
          .split('\n')
          .findIndex((line) => line.includes("throw new Error('failed on purpose')")) + 1;
      const source = `test/fixtures/app/websocket.ts:${thrownAt}`;
      expect(logged?.error?.stack?.split('\n')[1]).toContain(`${source}:`);
      expect(logged?.error?.location).toMatch(new RegExp(`${source}$`));
    } finally {
      rmSync(join(directory, '..'), { recursive: true, force: true });
    }
  });
});
