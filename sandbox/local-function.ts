import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Worker } from 'node:worker_threads';
import type { BuildContext, BuildResult } from 'esbuild';
import * as esbuild from 'esbuild';
import type { SerializedError, WorkerData, WorkerMessage } from './function-protocol';

/** What a local function tells the sandbox's log. */
export interface FunctionReporter {
  output(functionName: string, line: string, stream: 'stdout' | 'stderr'): void;
  reloaded(functionName: string, milliseconds: number): void;
  /** A new instance loaded the code: `instance` counts the function's instances since the sandbox started. */
  coldStart(functionName: string, instance: number, milliseconds: number): void;
  functionFailed(functionName: string, message: string): void;
}

export interface LocalFunctionOptions {
  /** The function's name, as in AWS_LAMBDA_FUNCTION_NAME and the log. */
  readonly name: string;
  /** Absolute path of the TypeScript entry module. */
  readonly entry: string;
  /** The exported handler function's name. */
  readonly handler: string;
  /** Memory in MB; it bounds the worker's heap. */
  readonly memorySize: number;
  readonly timeoutMs: number;
  /** The function's whole environment, as Lambda would give it. */
  readonly environment: Readonly<Record<string, string>>;
  /** Where bundles are written: inside the project, so that their imports of packages resolve. */
  readonly buildDirectory: string;
  /** Rebuild and reload when a source file changes. */
  readonly watch: boolean;
  /** Invocations at once at most, as Lambda's reserved concurrency; more are throttled. @default no limit */
  readonly reservedConcurrency?: number;
  /**
   * Instances at most. Lambda would start one for every invocation at once; a laptop cannot, so
   * beyond this many, invocations wait for an instance to finish. @default 4
   */
  readonly maxInstances?: number;
  readonly reporter: FunctionReporter;
}

const DEFAULT_MAX_INSTANCES = 4;

/** Why an invocation produced no result, in Lambda's terms. */
export class FunctionError extends Error {
  constructor(
    readonly functionName: string,
    readonly reason: 'handler-error' | 'timeout' | 'crash' | 'init-error' | 'stopped' | 'throttled',
    message: string,
    readonly remoteStack?: string,
  ) {
    super(`${functionName}: ${message}`);
    this.name = 'FunctionError';
  }
}

/**
 * A Lambda function run locally: its entry bundled by esbuild (as the CDK app bundles it
 * for AWS), run in worker threads with its own environment. As in Lambda, an instance (one
 * worker) runs one invocation at a time; another invocation arriving meanwhile starts another
 * instance (a cold start, reported), up to `maxInstances`, beyond which it waits for one; more
 * invocations at once than the reserved concurrency are throttled. Instances are reused while
 * they last: an uncaught exception or a timeout ends one. With `watch`, a changed source file is
 * rebuilt and new instances run the new code while the old ones finish what they have.
 */
export class LocalFunction {
  /** Instances of the current code waiting for an invocation, the most recently used last. */
  private readonly idle: FunctionInstance[] = [];
  /** Invocations under way, waiting ones included: what reserved concurrency counts. */
  private inFlight = 0;
  private bundle: string | undefined;
  private bundleHash: string | undefined;
  private version = 0;
  private instanceCount = 0;
  private builds: Promise<void> = Promise.resolve();
  private startupError: Error | undefined;
  private stopped = false;
  private context: BuildContext | undefined;
  private readonly instances = new Set<FunctionInstance>();
  /** Invocations waiting for an instance, when `maxInstances` are busy. */
  private readonly waiting: Array<{
    resolve(instance: FunctionInstance): void;
    reject(error: FunctionError): void;
  }> = [];
  private readonly maxInstances: number;

  private constructor(
    private readonly options: LocalFunctionOptions,
    private readonly runtimeScript: string,
  ) {
    this.maxInstances = options.maxInstances ?? DEFAULT_MAX_INSTANCES;
  }

  static async start(options: LocalFunctionOptions): Promise<LocalFunction> {
    mkdirSync(options.buildDirectory, { recursive: true });
    const runtimeScript = await buildWorkerRuntime(options.buildDirectory);
    const fn = new LocalFunction(options, runtimeScript);
    const context = await esbuild.context({
      entryPoints: [options.entry],
      bundle: true,
      platform: 'node',
      format: 'cjs',
      target: `node${process.versions.node.split('.')[0]}`,
      packages: 'external',
      sourcemap: 'inline',
      write: false,
      logLevel: 'silent',
      outfile: join(options.buildDirectory, `${options.name}.js`),
      plugins: [
        { name: 'sandbox-reload', setup: (build) => build.onEnd((result) => fn.enqueueBuild(result)) },
      ],
    });
    fn.context = context;
    await context.rebuild().catch(() => undefined); // errors arrive through onEnd
    await fn.builds;
    if (fn.startupError) {
      await fn.stop();
      throw fn.startupError;
    }
    if (options.watch) await context.watch();
    return fn;
  }

  /** How many instances are running (busy or idle). */
  get instancesRunning(): number {
    return this.instances.size;
  }

  /**
   * Runs the handler on `event` in an idle instance, a new one, or (when the machine's share of
   * instances is running) the next one to finish, and resolves with its JSON result.
   */
  async invoke(event: unknown): Promise<unknown> {
    if (this.stopped) throw new FunctionError(this.options.name, 'stopped', 'the sandbox is stopping');
    // Counted before the first await, so that invocations arriving together see each other.
    const acquiring = this.acquire();
    this.inFlight++;
    let instance: FunctionInstance;
    try {
      instance = await acquiring;
    } catch (error) {
      this.inFlight--;
      throw error;
    }
    try {
      await instance.ready;
      return await instance.invoke(event, this.options.timeoutMs);
    } finally {
      this.inFlight--;
      this.release(instance);
    }
  }

  /** Stops watching and ends every instance. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const waiter of this.waiting.splice(0)) {
      waiter.reject(new FunctionError(this.options.name, 'stopped', 'the sandbox is stopping'));
    }
    await this.context?.dispose();
    await this.builds;
    this.idle.length = 0;
    await Promise.all([...this.instances].map((instance) => instance.terminate()));
  }

  private acquire(): FunctionInstance | Promise<FunctionInstance> {
    const idle = this.idle.pop();
    if (idle) return idle;
    const ceiling = this.options.reservedConcurrency ?? Infinity;
    if (this.inFlight >= ceiling) {
      throw new FunctionError(
        this.options.name,
        'throttled',
        `Rate Exceeded: the reserved concurrency of ${ceiling} is in use`,
      );
    }
    if (this.instances.size < this.maxInstances) return this.startInstance(this.bundle!);
    return new Promise((resolve, reject) => this.waiting.push({ resolve, reject }));
  }

  /** An instance that finished an invocation takes the next one, unless it has ended or runs old code. */
  private release(instance: FunctionInstance): void {
    if (this.stopped) return;
    const usable = !instance.ended && instance.bundle === this.bundle;
    if (!usable) void instance.terminate();
    const waiter = this.waiting.shift();
    if (waiter) waiter.resolve(usable ? instance : this.startInstance(this.bundle!));
    else if (usable) this.idle.push(instance);
  }

  private enqueueBuild(result: BuildResult): void {
    this.builds = this.builds.then(() => this.applyBuild(result));
  }

  private async applyBuild(result: BuildResult): Promise<void> {
    if (this.stopped) return;
    const initial = this.bundle === undefined;
    if (result.errors.length > 0) {
      const formatted = esbuild.formatMessagesSync(result.errors, { kind: 'error' }).join('\n');
      if (initial) this.startupError = new Error(`Could not build ${this.options.entry}:\n${formatted}`);
      else
        this.options.reporter.functionFailed(
          this.options.name,
          `build failed, still running the previous code:\n${formatted}`,
        );
      return;
    }
    const code = result.outputFiles?.[0]?.text ?? '';
    const hash = createHash('sha256').update(code).digest('hex');
    if (hash === this.bundleHash) return;

    const started = Date.now();
    const bundle = join(this.options.buildDirectory, `${this.options.name}-${++this.version}.js`);
    writeFileSync(bundle, code);
    // The new code starts one instance first: code that cannot load does not replace code that can.
    const instance = this.startInstance(bundle);
    try {
      await instance.ready;
    } catch (error) {
      await instance.terminate();
      if (initial) this.startupError = error as Error;
      else
        this.options.reporter.functionFailed(
          this.options.name,
          `${(error as Error).message}; still running the previous code`,
        );
      return;
    }
    this.bundle = bundle;
    this.bundleHash = hash;
    for (const previous of this.idle.splice(0)) void previous.terminate();
    this.idle.push(instance);
    if (!initial) this.options.reporter.reloaded(this.options.name, Date.now() - started);
  }

  private startInstance(bundle: string): FunctionInstance {
    const { name, entry, handler, memorySize, environment, reporter } = this.options;
    const number = ++this.instanceCount;
    const started = Date.now();
    const instance = new FunctionInstance(
      this.runtimeScript,
      { bundle, entry, handler, functionName: name, memorySize },
      environment,
      reporter,
    );
    this.instances.add(instance);
    instance.ready.then(
      () => reporter.coldStart(name, number, Date.now() - started),
      () => undefined,
    );
    instance.onEnd = () => {
      this.instances.delete(instance);
      const index = this.idle.indexOf(instance);
      if (index !== -1) this.idle.splice(index, 1);
    };
    return instance;
  }
}

interface Pending {
  resolve(result: unknown): void;
  reject(error: FunctionError): void;
  timer: NodeJS.Timeout;
}

/** One worker thread: a Lambda execution environment, which runs one invocation at a time. */
class FunctionInstance {
  readonly ready: Promise<void>;
  onEnd: (() => void) | undefined;
  ended = false;
  private readonly worker: Worker;
  private pending: (Pending & { id: number }) | undefined;
  private nextId = 1;

  constructor(
    runtimeScript: string,
    private readonly data: WorkerData,
    environment: Readonly<Record<string, string>>,
    reporter: FunctionReporter,
  ) {
    this.worker = new Worker(runtimeScript, {
      workerData: data,
      env: { ...environment },
      execArgv: ['--enable-source-maps'],
      stdout: true,
      stderr: true,
      resourceLimits: { maxOldGenerationSizeMb: data.memorySize },
    });
    for (const stream of ['stdout', 'stderr'] as const) {
      createInterface({ input: this.worker[stream] }).on('line', (line) =>
        reporter.output(data.functionName, line, stream),
      );
    }
    this.ready = new Promise((resolve, reject) => {
      this.worker.on('message', (message: WorkerMessage) => {
        if (message.kind === 'ready') return resolve();
        if (message.kind === 'init-error') return reject(this.failure('init-error', message.error));
        this.settle(message);
      });
      this.worker.on('error', (error) => {
        const crash = this.failure('crash', {
          name: error.name,
          message: `crashed: ${error.message}`,
          stack: error.stack,
        });
        reporter.functionFailed(data.functionName, `${crash.message}\n${error.stack ?? ''}`);
        reject(crash);
        this.end(crash);
      });
      this.worker.on('exit', (code) => {
        const exit = new FunctionError(data.functionName, 'crash', `the instance exited with code ${code}`);
        reject(exit);
        this.end(exit);
      });
    });
    this.ready.catch(() => undefined);
  }

  get bundle(): string {
    return this.data.bundle;
  }

  invoke(event: unknown, timeoutMs: number): Promise<unknown> {
    if (this.ended) {
      return Promise.reject(new FunctionError(this.data.functionName, 'crash', 'the instance has ended'));
    }
    if (this.pending) throw new Error('A Lambda instance runs one invocation at a time.');
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => this.timeOut(id, timeoutMs), timeoutMs);
      this.pending = { id, resolve, reject, timer };
      this.worker.postMessage({ id, event, deadline: Date.now() + timeoutMs });
    });
  }

  async terminate(): Promise<void> {
    if (this.ended) return;
    await this.worker.terminate();
  }

  private settle(message: Extract<WorkerMessage, { id: number }>): void {
    const pending = this.pending;
    if (pending?.id !== message.id) return; // it timed out already
    this.pending = undefined;
    clearTimeout(pending.timer);
    if (message.kind === 'result') pending.resolve(message.result);
    else pending.reject(this.failure('handler-error', message.error));
  }

  private timeOut(id: number, timeoutMs: number): void {
    const pending = this.pending;
    if (pending?.id !== id) return;
    this.pending = undefined;
    pending.reject(new FunctionError(this.data.functionName, 'timeout', `timed out after ${timeoutMs} ms`));
    // Lambda discards an instance whose invocation timed out.
    this.ended = true;
    this.onEnd?.();
    void this.worker.terminate();
  }

  private end(error: FunctionError): void {
    if (this.pending) {
      clearTimeout(this.pending.timer);
      this.pending.reject(error);
      this.pending = undefined;
    }
    if (this.ended) return;
    this.ended = true;
    this.onEnd?.();
  }

  private failure(reason: FunctionError['reason'], error: SerializedError): FunctionError {
    return new FunctionError(this.data.functionName, reason, `${error.name}: ${error.message}`, error.stack);
  }
}

const runtimeBuilds = new Map<string, Promise<string>>();

/** Bundles the worker runtime (./function-worker.ts) once per build directory. */
function buildWorkerRuntime(buildDirectory: string): Promise<string> {
  let build = runtimeBuilds.get(buildDirectory);
  if (!build) {
    const outfile = join(buildDirectory, 'function-worker.js');
    build = esbuild
      .build({
        entryPoints: [join(__dirname, 'function-worker.ts')],
        outfile,
        bundle: true,
        platform: 'node',
        format: 'cjs',
        target: `node${process.versions.node.split('.')[0]}`,
        logLevel: 'silent',
      })
      .then(() => outfile);
    runtimeBuilds.set(buildDirectory, build);
  }
  return build;
}
