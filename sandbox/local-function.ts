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
  readonly reporter: FunctionReporter;
}

/** Why an invocation produced no result, in Lambda's terms. */
export class FunctionError extends Error {
  constructor(
    readonly functionName: string,
    readonly reason: 'handler-error' | 'timeout' | 'crash' | 'init-error' | 'stopped',
    message: string,
    readonly remoteStack?: string,
  ) {
    super(`${functionName}: ${message}`);
    this.name = 'FunctionError';
  }
}

/**
 * A Lambda function run locally: its entry bundled by esbuild (as NodejsFunction bundles it
 * for AWS), run in a worker thread with its own environment. An uncaught exception or a
 * timeout ends that instance, as in Lambda, and the next invocation starts a fresh one. With
 * `watch`, a changed source file is rebuilt and the new code takes the following invocations
 * while the old instance finishes what it has.
 */
export class LocalFunction {
  private instance: FunctionInstance | undefined;
  private bundle: string | undefined;
  private bundleHash: string | undefined;
  private version = 0;
  private builds: Promise<void> = Promise.resolve();
  private startupError: Error | undefined;
  private stopped = false;
  private context: BuildContext | undefined;

  private constructor(
    private readonly options: LocalFunctionOptions,
    private readonly runtimeScript: string,
  ) {}

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

  /** Runs the handler on `event` and resolves with its JSON result. */
  async invoke(event: unknown): Promise<unknown> {
    if (this.stopped) throw new FunctionError(this.options.name, 'stopped', 'the sandbox is stopping');
    this.instance ??= this.startInstance(this.bundle!);
    const instance = this.instance;
    await instance.ready;
    return instance.invoke(event, this.options.timeoutMs);
  }

  /** Stops watching and ends the running instance. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.context?.dispose();
    await this.builds;
    await this.instance?.terminate();
    this.instance = undefined;
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
    const previous = this.instance;
    this.instance = instance;
    this.bundle = bundle;
    this.bundleHash = hash;
    void previous?.retire();
    if (!initial) this.options.reporter.reloaded(this.options.name, Date.now() - started);
  }

  private startInstance(bundle: string): FunctionInstance {
    const { name, entry, handler, memorySize, environment, reporter } = this.options;
    const instance = new FunctionInstance(
      this.runtimeScript,
      { bundle, entry, handler, functionName: name, memorySize },
      environment,
      reporter,
    );
    instance.onEnd = () => {
      if (this.instance === instance) this.instance = undefined;
    };
    return instance;
  }
}

interface Pending {
  resolve(result: unknown): void;
  reject(error: FunctionError): void;
  timer: NodeJS.Timeout;
}

/** One worker thread: a Lambda execution environment. */
class FunctionInstance {
  readonly ready: Promise<void>;
  onEnd: (() => void) | undefined;
  private readonly worker: Worker;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private retiring = false;
  private ended = false;

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

  invoke(event: unknown, timeoutMs: number): Promise<unknown> {
    if (this.ended) {
      return Promise.reject(new FunctionError(this.data.functionName, 'crash', 'the instance has ended'));
    }
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => this.timeOut(id, timeoutMs), timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      this.worker.postMessage({ id, event, deadline: Date.now() + timeoutMs });
    });
  }

  /** Takes no new invocations, finishes those under way, then ends. */
  async retire(): Promise<void> {
    this.retiring = true;
    this.onEnd?.();
    if (this.pending.size === 0) await this.terminate();
  }

  async terminate(): Promise<void> {
    if (this.ended) return;
    await this.worker.terminate();
  }

  private settle(message: Extract<WorkerMessage, { id: number }>): void {
    const pending = this.pending.get(message.id);
    if (!pending) return; // it timed out already
    this.pending.delete(message.id);
    clearTimeout(pending.timer);
    if (message.kind === 'result') pending.resolve(message.result);
    else pending.reject(this.failure('handler-error', message.error));
    if (this.retiring && this.pending.size === 0) void this.terminate();
  }

  private timeOut(id: number, timeoutMs: number): void {
    const pending = this.pending.get(id);
    if (!pending) return;
    this.pending.delete(id);
    pending.reject(new FunctionError(this.data.functionName, 'timeout', `timed out after ${timeoutMs} ms`));
    // Lambda discards an instance whose invocation timed out.
    void this.retire();
  }

  private end(error: FunctionError): void {
    if (this.ended) return;
    this.ended = true;
    for (const pending of this.pending.values()) {
      clearTimeout(pending.timer);
      pending.reject(error);
    }
    this.pending.clear();
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
