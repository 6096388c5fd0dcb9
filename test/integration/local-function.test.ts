import { existsSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundledCode } from '../../sandbox/lambda/function-code';
import { FunctionError, LocalFunction } from '../../sandbox/lambda/local-function';
import { eventually, recordingReporter } from '../support/recording-reporter';
import { WAIT_GUARD_MS } from '../support/hang-guard';

/** Local Lambda functions: bundled as `cdk synth` bundles them, run in worker threads, reloaded on change. */
describe('LocalFunction', () => {
  const sources = mkdtempSync(join(tmpdir(), 'local-function-'));
  const workDirectory = mkdtempSync(join(tmpdir(), 'local-function-work-'));
  const started: LocalFunction[] = [];
  const reporter = recordingReporter();
  let count = 0;

  async function start(
    source: string,
    options: {
      watch?: boolean;
      timeoutMs?: number;
      environment?: Record<string, string>;
      reservedConcurrency?: number;
      maxInstances?: number;
      idleTimeoutMs?: number;
    } = {},
  ) {
    const name = `fn-${count++}`;
    const entry = join(sources, `${name}.ts`);
    writeFileSync(entry, source);
    const fn = await LocalFunction.start({
      name,
      code: bundledCode(entry, join(workDirectory, name), options.watch ?? false),
      handler: 'index.handler',
      memorySize: 128,
      // Lambda's timeout is under test only where a test gives one; elsewhere it guards a hang.
      timeoutMs: options.timeoutMs ?? WAIT_GUARD_MS,
      environment: options.environment ?? {},
      workDirectory,
      reservedConcurrency: options.reservedConcurrency,
      maxInstances: options.maxInstances,
      idleTimeoutMs: options.idleTimeoutMs,
      reporter,
    });
    started.push(fn);
    return { fn, entry, name };
  }

  afterAll(async () => {
    await Promise.all(started.map((fn) => fn.stop()));
    rmSync(sources, { recursive: true, force: true });
    rmSync(workDirectory, { recursive: true, force: true });
  });

  test('runs the exported handler with a Lambda context and returns its JSON result', async () => {
    const { fn } = await start(`
      export const handler = async (event: { n: number }, context: { functionName: string; getRemainingTimeInMillis(): number }) => ({
        doubled: event.n * 2, name: context.functionName, remaining: context.getRemainingTimeInMillis() > 0, when: new Date(0),
      });`);
    expect(await fn.invoke({ n: 21 })).toEqual({
      doubled: 42,
      name: 'fn-0',
      remaining: true,
      when: '1970-01-01T00:00:00.000Z',
    });
  });

  test('each function sees its own environment, not the sandbox process', async () => {
    const source = `export const handler = async () => ({ mine: process.env.MINE ?? null, home: process.env.HOME ?? null });`;
    const { fn: first } = await start(source, { environment: { MINE: 'one' } });
    const { fn: second } = await start(source, { environment: { MINE: 'two' } });
    expect(await first.invoke({})).toEqual({ mine: 'one', home: null });
    expect(await second.invoke({})).toEqual({ mine: 'two', home: null });
  });

  test('a thrown error rejects with the handler error, its message and stack', async () => {
    const { fn } = await start(`export const handler = async () => { throw new TypeError('nope'); };`);
    const failure = fn.invoke({});
    await expect(failure).rejects.toMatchObject({
      reason: 'handler-error',
      message: 'fn-3: TypeError: nope',
    });
    await expect(failure).rejects.toHaveProperty('remoteStack', expect.stringContaining('fn-3.ts'));
  });

  test('a timeout rejects, and the instance is replaced', async () => {
    // 2 s: time enough for the fresh instance's answer below, however busy the machine.
    const { fn } = await start(
      `let calls = 0; export const handler = async (event: { wait: number }) => {
         calls++; await new Promise((r) => setTimeout(r, event.wait)); return calls; };`,
      { timeoutMs: 2_000 },
    );
    // The handler could answer 60 s after it started, the timeout ends it at 2 s: it cannot
    // answer first.
    await expect(fn.invoke({ wait: 60_000 })).rejects.toMatchObject({ reason: 'timeout' });
    // A fresh instance: its module state starts over.
    expect(await fn.invoke({ wait: 0 })).toBe(1);
  });

  test("what a handler writes reaches the log by the time its invocation returns: line by line, each stream's in order", async () => {
    const { fn, name } = await start(`
      export const handler = async () => {
        process.stdout.write('par'); process.stdout.write('tial\\nsecond\\r\\n');
        console.error('to stderr'); process.stderr.write(Buffer.from('bytes\\n'));
        console.log('third', { n: 1 });
        await Promise.resolve();
        console.log('after an await');
        return 1;
      };`);
    expect(await fn.invoke({})).toBe(1);
    const output = reporter.lines.filter((line) => line.startsWith(`output ${name} `));
    expect(output).toEqual([
      `output ${name} stdout partial`,
      `output ${name} stdout second`,
      `output ${name} stderr to stderr`,
      `output ${name} stderr bytes`,
      `output ${name} stdout third { n: 1 }`,
      `output ${name} stdout after an await`,
    ]);
  });

  test('what a function writes outside an invocation, and just before it crashes, reaches the log too', async () => {
    const { fn, name } = await start(`
      console.log('at init');
      export const handler = async (event: { crash: boolean }) => {
        setTimeout(() => console.log('from a timer'), 20);
        if (event.crash) setTimeout(() => { console.log('last words'); throw new Error('boom'); }, 50);
        return 'ok';
      };`);
    expect(reporter.lines).toContain(`output ${name} stdout at init`);
    await fn.invoke({ crash: false });
    await eventually(() => reporter.lines.includes(`output ${name} stdout from a timer`));
    await fn.invoke({ crash: true });
    await eventually(() => reporter.lines.some((line) => line.startsWith(`functionFailed ${name} `)));
    await eventually(() => reporter.lines.includes(`output ${name} stdout last words`));
  });

  test('an entry without the handler export does not start', async () => {
    await expect(start(`export const other = 1;`)).rejects.toThrow(
      'Runtime.HandlerNotFound: index.handler is undefined or not exported.',
    );
  });

  test('an entry that does not compile does not start, and says why', async () => {
    await expect(start(`export const handler = async () => { return ; ;; ) };`)).rejects.toThrow(
      /Could not build/,
    );
  });

  test('a saved change is picked up without a restart; a broken edit keeps the old code', async () => {
    const { fn, entry, name } = await start(`export const handler = async () => 'first';`, { watch: true });
    expect(await fn.invoke({})).toBe('first');

    writeFileSync(entry, `export const handler = async () => 'second';`);
    await eventually(() => reporter.lines.includes(`reloaded ${name}`));
    expect(await fn.invoke({})).toBe('second');

    writeFileSync(entry, `export const handler = async () => { 'third' ;; ) };`);
    await eventually(() =>
      reporter.lines.some((l) => l.startsWith(`functionFailed ${name} Could not build`)),
    );
    expect(await fn.invoke({})).toBe('second');
  });

  test('code saved while the environment changes runs with the new environment', async () => {
    const { fn, entry, name } = await start(`export const handler = async () => process.env.WORD;`, {
      watch: true,
      environment: { WORD: 'old' },
    });
    expect(await fn.invoke({})).toBe('old');
    const [loading, go] = [join(sources, `${name}.loading`), join(sources, `${name}.go`)];
    // The new code's first instance says it is loading, then waits until the environment has changed.
    writeFileSync(
      entry,
      `import { existsSync, writeFileSync } from 'node:fs';
      writeFileSync(${JSON.stringify(loading)}, '');
      const pause = new Int32Array(new SharedArrayBuffer(4));
      while (!existsSync(${JSON.stringify(go)})) Atomics.wait(pause, 0, 0, 10);
      export const handler = async () => 'new code, ' + process.env.WORD;`,
    );
    await eventually(() => existsSync(loading));
    fn.updateEnvironment({ WORD: 'new' });
    writeFileSync(go, '');
    await eventually(() => reporter.lines.includes(`reloaded ${name}`));
    expect(await fn.invoke({})).toBe('new code, new');
  });

  test('a module the entry imports, from another folder, saved as editors save (a new file renamed over it), is picked up', async () => {
    const folder = mkdtempSync(join(sources, 'imported-'));
    const imported = join(folder, 'word.ts');
    writeFileSync(imported, `export const word = 'before';`);
    const { fn, name } = await start(
      `import { word } from '${imported.replace(/\.ts$/, '')}';
      export const handler = async () => word;`,
      { watch: true },
    );
    expect(await fn.invoke({})).toBe('before');

    writeFileSync(`${imported}.tmp`, `export const word = 'after';`);
    renameSync(`${imported}.tmp`, imported);
    await eventually(() => reporter.lines.includes(`reloaded ${name}`));
    expect(await fn.invoke({})).toBe('after');
  });

  /** A handler that reports which instance ran it and how many invocations that instance has run. */
  const instanceReporter = `
    const instance = Math.random().toString(36).slice(2);
    let invocations = 0;
    export const handler = async (event: { ms: number }) => {
      invocations++;
      await new Promise((resolve) => setTimeout(resolve, event.ms));
      return { instance, invocations };
    };`;

  test('an instance runs one invocation at a time: overlapping ones start more instances, each a cold start', async () => {
    const { fn, name } = await start(instanceReporter);
    const overlapping = (await Promise.all([0, 1, 2].map(() => fn.invoke({ ms: 200 })))) as Array<{
      instance: string;
      invocations: number;
    }>;
    expect(new Set(overlapping.map((result) => result.instance)).size).toBe(3);
    expect(fn.instancesRunning).toBe(3);
    expect(reporter.lines.filter((line) => line.startsWith(`coldStart ${name} `))).toHaveLength(3);

    // One after another, they reuse a warm instance and its module state.
    const first = (await fn.invoke({ ms: 0 })) as { instance: string };
    const second = (await fn.invoke({ ms: 0 })) as { instance: string; invocations: number };
    expect(second.instance).toBe(first.instance);
    expect(second.invocations).toBeGreaterThanOrEqual(3);
    expect(fn.instancesRunning).toBe(3);
  });

  test("beyond the machine's share of instances, invocations wait for one instead of starting more", async () => {
    const { fn } = await start(instanceReporter, { maxInstances: 1 });
    const results = (await Promise.all([0, 1, 2].map(() => fn.invoke({ ms: 50 })))) as Array<{
      instance: string;
      invocations: number;
    }>;
    expect(new Set(results.map((result) => result.instance)).size).toBe(1);
    expect(results.map((result) => result.invocations).sort()).toEqual([1, 2, 3]);
  });

  test('beyond the reserved concurrency, invocations are throttled', async () => {
    const { fn } = await start(instanceReporter, { reservedConcurrency: 2 });
    const results = await Promise.allSettled([0, 1, 2].map(() => fn.invoke({ ms: 200 })));
    expect(results.filter((result) => result.status === 'fulfilled')).toHaveLength(2);
    const throttled = results.find((result) => result.status === 'rejected') as PromiseRejectedResult;
    expect(throttled.reason).toBeInstanceOf(FunctionError);
    expect(throttled.reason).toMatchObject({ reason: 'throttled' });
    await expect(fn.invoke({ ms: 0 })).resolves.toMatchObject({ invocations: 2 });
  });

  test('an instance idle for the idle timeout is shut down, and the next invocation gets a new one: a cold start', async () => {
    const { fn, name } = await start(instanceReporter, { idleTimeoutMs: 200 });
    const first = (await fn.invoke({ ms: 0 })) as { instance: string; invocations: number };
    await eventually(() => reporter.lines.includes(`reaped ${name} 1`));
    await eventually(() => fn.instancesRunning === 0);

    const second = (await fn.invoke({ ms: 0 })) as { instance: string; invocations: number };
    expect(second.instance).not.toBe(first.instance);
    expect(second.invocations).toBe(1);
    expect(reporter.lines).toContain(`coldStart ${name} 2`);
  });

  test('invocations after stop are refused', async () => {
    const { fn } = await start(`export const handler = async () => 1;`);
    await fn.stop();
    await expect(fn.invoke({})).rejects.toBeInstanceOf(FunctionError);
  });
});
