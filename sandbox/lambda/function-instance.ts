import { createInterface } from 'node:readline';
import { Worker } from 'node:worker_threads';
import { FunctionError } from './function-error';
import type { SerializedError, WorkerData, WorkerMessage } from './function-protocol';

/** What an instance's output and failures go to. */
export interface InstanceReporter {
  output(functionName: string, line: string, stream: 'stdout' | 'stderr'): void;
  functionFailed(functionName: string, message: string): void;
}

interface Pending {
  readonly id: number;
  resolve(result: unknown): void;
  reject(error: FunctionError): void;
  readonly timer: NodeJS.Timeout;
}

/**
 * One worker thread: a Lambda execution environment, which loads the code once and then runs
 * one invocation at a time. A timeout or an uncaught exception ends it, as Lambda discards such
 * an environment.
 */
export class FunctionInstance {
  readonly ready: Promise<void>;
  onEnd: (() => void) | undefined;
  ended = false;
  private readonly worker: Worker;
  private pending: Pending | undefined;
  private nextId = 1;

  constructor(
    runtimeScript: string,
    private readonly data: WorkerData,
    environment: Readonly<Record<string, string>>,
    reporter: InstanceReporter,
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
