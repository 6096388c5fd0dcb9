import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import * as esbuild from 'esbuild';
import type { FunctionCode } from './function-code';
import { FunctionError } from './function-error';
import type { InstanceReporter } from './function-instance';
import { FunctionInstance } from './function-instance';
import type { IdleClock } from './idle-instances';
import { DEFAULT_IDLE_TIMEOUT_MS, IdleInstances } from './idle-instances';

export { FunctionError };

/** What a local function tells the sandbox's log. */
export interface FunctionReporter extends InstanceReporter {
  reloaded(functionName: string, milliseconds: number): void;
  /** A new instance loaded the code: `instance` counts the function's instances since the sandbox started. */
  coldStart(functionName: string, instance: number, milliseconds: number): void;
  /** An instance idle for the idle timeout was shut down, as Lambda shuts down idle execution environments. */
  reaped(functionName: string, instance: number, idleMilliseconds: number): void;
}

export interface LocalFunctionOptions {
  /** The function's name, as in AWS_LAMBDA_FUNCTION_NAME and the log. */
  readonly name: string;
  /** Where its code comes from: a bundle of its entry, or a synthesized asset. */
  readonly code: FunctionCode;
  /** `<file>.<export>`, as Lambda reads it: `index.handler`. */
  readonly handler: string;
  /** Memory in MB; it bounds the worker's heap. */
  readonly memorySize: number;
  readonly timeoutMs: number;
  /** The function's whole environment, as Lambda would give it; `updateEnvironment` changes it. */
  readonly environment: Readonly<Record<string, string>>;
  /** The sandbox's folder for the runtime it loads code with. */
  readonly workDirectory: string;
  /** Invocations at once at most, as Lambda's reserved concurrency; more are throttled. @default no limit */
  readonly reservedConcurrency?: number;
  /**
   * Instances at most. Lambda would start one for every invocation at once; a laptop cannot, so
   * beyond this many, invocations wait for an instance to finish. @default 4
   */
  readonly maxInstances?: number;
  /**
   * How long an instance may wait for an invocation before it is shut down; the next invocation
   * then starts a new one (a cold start). @default 10 minutes (DEFAULT_IDLE_TIMEOUT_MS says why)
   */
  readonly idleTimeoutMs?: number;
  /** What idle time is measured with. @default the system's clock and timers */
  readonly clock?: IdleClock;
  readonly reporter: FunctionReporter;
}

const DEFAULT_MAX_INSTANCES = 4;

/** What an instance is started with: the code's folder and the environment. */
interface Setup {
  readonly directory: string;
  readonly environment: Readonly<Record<string, string>>;
}

/**
 * A Lambda function run locally, in worker threads with its own environment. As in Lambda, an
 * instance (one worker) runs one invocation at a time; another invocation arriving meanwhile
 * starts another instance (a cold start, reported), up to `maxInstances`, beyond which it waits
 * for one; more invocations at once than the reserved concurrency are throttled. Instances are
 * reused while they last: an uncaught exception or a timeout ends one, and so does waiting for an
 * invocation longer than the idle timeout. When the code changes, one instance of the new code
 * starts first; once it loads, new invocations run the new code while the old instances finish
 * what they have.
 */
export class LocalFunction {
  /** Instances of the current code waiting for an invocation; shut down when idle too long. */
  private readonly idle: IdleInstances<FunctionInstance>;
  /** Invocations under way, waiting ones included: what reserved concurrency counts. */
  private inFlight = 0;
  /** What new instances start with; an instance started with an older setup is not reused. */
  private current: Setup;
  /** When the current code was loaded, epoch milliseconds. */
  private codeLoadedAt = 0;
  private readonly setupOf = new WeakMap<FunctionInstance, Setup>();
  /** Each instance's number, as its cold start reported it. */
  private readonly numberOf = new WeakMap<FunctionInstance, number>();
  private instanceCount = 0;
  private stopped = false;
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
    this.current = { directory: '', environment: options.environment };
    this.idle = new IdleInstances(
      options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS,
      (instance, idleMilliseconds) => {
        void instance.terminate();
        options.reporter.reaped(options.name, this.numberOf.get(instance) ?? 0, idleMilliseconds);
      },
      options.clock,
    );
  }

  /** Starts the function with its first code; rejects, having stopped everything, when that code cannot load. */
  static async start(options: LocalFunctionOptions): Promise<LocalFunction> {
    const fn = new LocalFunction(options, await buildWorkerRuntime(options.workDirectory));
    try {
      const directory = await options.code.start(
        (next) => fn.replaceCode(next),
        (message) =>
          options.reporter.functionFailed(options.name, `${message}\nStill running the previous code.`),
      );
      const setup = { directory, environment: options.environment };
      const first = fn.startInstance(setup);
      await first.ready;
      fn.current = setup;
      fn.codeLoadedAt = Date.now();
      fn.idle.push(first);
    } catch (error) {
      await fn.stop();
      throw error;
    }
    return fn;
  }

  /**
   * Gives new instances this environment; idle instances end, busy ones end when their
   * invocation does: as when a function's configuration is updated in Lambda.
   */
  updateEnvironment(environment: Readonly<Record<string, string>>): void {
    this.current = { directory: this.current.directory, environment };
    for (const previous of this.idle.drain()) void previous.terminate();
  }

  /** Resolves once the code loaded is newer than `time` (epoch milliseconds); false when `timeoutMs` passes first. */
  async codeNewerThan(time: number, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (this.codeLoadedAt <= time) {
      if (Date.now() > deadline || this.stopped) return false;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return true;
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

  /** Stops watching the code and ends every instance. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const waiter of this.waiting.splice(0)) {
      waiter.reject(new FunctionError(this.options.name, 'stopped', 'the sandbox is stopping'));
    }
    await this.options.code.stop();
    this.idle.drain();
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
    if (this.instances.size < this.maxInstances) return this.startInstance(this.current);
    return new Promise((resolve, reject) => this.waiting.push({ resolve, reject }));
  }

  /** An instance that finished an invocation takes the next one, unless it has ended or runs old code. */
  private release(instance: FunctionInstance): void {
    if (this.stopped) return;
    const usable = !instance.ended && this.setupOf.get(instance) === this.current;
    if (!usable) void instance.terminate();
    const waiter = this.waiting.shift();
    if (waiter) waiter.resolve(usable ? instance : this.startInstance(this.current));
    else if (usable) this.idle.push(instance);
  }

  /** New code: code that cannot load does not replace code that can. */
  private async replaceCode(directory: string): Promise<void> {
    if (this.stopped) return;
    const started = Date.now();
    const setup = { directory, environment: this.current.environment };
    const instance = this.startInstance(setup);
    try {
      await instance.ready;
    } catch (error) {
      await instance.terminate();
      this.options.reporter.functionFailed(
        this.options.name,
        `${(error as Error).message}; still running the previous code`,
      );
      return;
    }
    // The environment may have changed while the instance started (a saved rohrpost.config.ts
    // changes both): the code is new, the environment the newest, and the instance keeps only
    // if it has that environment.
    const environment = this.current.environment;
    this.current = { directory, environment };
    this.codeLoadedAt = Date.now();
    for (const previous of this.idle.drain()) void previous.terminate();
    if (setup.environment === environment) {
      this.setupOf.set(instance, this.current);
      this.idle.push(instance);
    } else {
      void instance.terminate();
    }
    this.options.reporter.reloaded(this.options.name, Date.now() - started);
  }

  private startInstance(setup: Setup): FunctionInstance {
    const { name, handler, memorySize, reporter } = this.options;
    const number = ++this.instanceCount;
    const started = Date.now();
    const instance = new FunctionInstance(
      this.runtimeScript,
      { directory: setup.directory, handler, functionName: name, memorySize },
      setup.environment,
      reporter,
    );
    this.setupOf.set(instance, setup);
    this.numberOf.set(instance, number);
    this.instances.add(instance);
    instance.ready.then(
      () => reporter.coldStart(name, number, Date.now() - started),
      () => undefined,
    );
    instance.onEnd = () => {
      this.instances.delete(instance);
      this.idle.remove(instance);
    };
    return instance;
  }
}

const runtimeBuilds = new Map<string, Promise<string>>();

/** Bundles the worker runtime (./function-worker.ts) once per work directory. */
function buildWorkerRuntime(workDirectory: string): Promise<string> {
  let build = runtimeBuilds.get(workDirectory);
  if (!build) {
    mkdirSync(workDirectory, { recursive: true });
    const outfile = join(workDirectory, 'function-worker.js');
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
    runtimeBuilds.set(workDirectory, build);
  }
  return build;
}
