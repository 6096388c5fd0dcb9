import { createInterface } from 'node:readline';
import { Worker } from 'node:worker_threads';
import { FunctionError } from './function-error';
import type {
  InvocationRequest,
  Output,
  SerializedError,
  WorkerData,
  WorkerMessage,
} from './function-protocol';
import { eventJson } from './function-protocol';

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
  /** The last line of standard output and of standard error so far, when it has no newline yet. */
  private readonly partialLines = ['', ''];

  constructor(
    runtimeScript: string,
    private readonly data: WorkerData,
    environment: Readonly<Record<string, string>>,
    private readonly reporter: InstanceReporter,
  ) {
    this.worker = new Worker(runtimeScript, {
      workerData: data,
      env: { ...environment },
      // Node's options as Lambda reads them from the function's environment; not the sandbox's own.
      execArgv: environment.NODE_OPTIONS?.split(/\s+/).filter(Boolean) ?? [],
      stdout: true,
      stderr: true,
      resourceLimits: { maxOldGenerationSizeMb: data.memorySize },
    });
    // What the runtime does not capture (it captures process.stdout and process.stderr).
    for (const stream of ['stdout', 'stderr'] as const) {
      createInterface({ input: this.worker[stream] }).on('line', (line) =>
        reporter.output(data.functionName, line, stream),
      );
    }
    this.ready = new Promise((resolve, reject) => {
      this.worker.on('message', (message: WorkerMessage) => {
        if (message.kind === 'ready') return resolve();
        if (message.kind === 'init-error') return reject(this.failure('init-error', message.error));
        if (message.output) this.output(message.output);
        if (message.kind !== 'output') this.settle(message);
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
        this.endOutput();
        const exit = new FunctionError(data.functionName, 'crash', `the instance exited with code ${code}`);
        reject(exit);
        this.end(exit);
      });
    });
    this.ready.catch(() => undefined);
  }

  /** Runs the handler on `event` (an object, or a `JsonEvent`) and resolves with its result, parsed. */
  invoke(event: unknown, timeoutMs: number): Promise<unknown> {
    if (this.ended) {
      return Promise.reject(new FunctionError(this.data.functionName, 'crash', 'the instance has ended'));
    }
    if (this.pending) throw new Error('A Lambda instance runs one invocation at a time.');
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => this.timeOut(id, timeoutMs), timeoutMs);
      this.pending = { id, resolve, reject, timer };
      const request: InvocationRequest = { id, event: eventJson(event), deadline: Date.now() + timeoutMs };
      this.worker.postMessage(request);
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
    if (message.kind === 'result') pending.resolve(JSON.parse(message.result));
    else pending.reject(this.failure('handler-error', message.error));
  }

  /** Reports each complete line the function wrote; a line without its newline waits for the rest. */
  private output(output: Output): void {
    for (let i = 0; i + 1 < output.length; i += 2) {
      const fd = output[i] === 1 ? 0 : 1;
      const text = this.partialLines[fd] + (output[i + 1] as string);
      let start = 0;
      for (let newline = text.indexOf('\n'); newline !== -1; newline = text.indexOf('\n', start)) {
        const end = newline > start && text.charCodeAt(newline - 1) === 13 ? newline - 1 : newline;
        this.reporter.output(this.data.functionName, text.slice(start, end), fd === 0 ? 'stdout' : 'stderr');
        start = newline + 1;
      }
      this.partialLines[fd] = text.slice(start);
    }
  }

  /** The instance has ended: a last line without a newline is reported as it is. */
  private endOutput(): void {
    for (const fd of [0, 1]) {
      const line = this.partialLines[fd]!;
      this.partialLines[fd] = '';
      if (line !== '') this.reporter.output(this.data.functionName, line, fd === 0 ? 'stdout' : 'stderr');
    }
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
