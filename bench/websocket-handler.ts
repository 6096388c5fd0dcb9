/**
 * In-process throughput of the websocket Lambda on `ping` with a small object payload: messages
 * per second of CPU time through `handler(event, context)`, one at a time on one thread, as
 * deployed: logs and metrics on, a fresh Lambda context per invocation. Median of several runs,
 * each subject in turn within a round, each in a process of its own (handler-subjects.ts says
 * why). Beside it, in the same run:
 * - the floor: an async function that only parses the frame and serialises the reply, the
 *   least any handler must do; and the floor with the protocol's checks of a frame;
 * - the handler without its metric line, and without logs' invocation context either: what
 *   each part costs;
 * - the alternatives to each part: Powertools' Metrics writing the same line, and Powertools'
 *   Logger handed each invocation's context and keys as it starts;
 * - the Python original (rohrpost on Django Channels) handling the same frame in process, when
 *   ROHRPOST_PYTHON names a checkout of it (see REFERENCE below).
 *
 *   npm run bench:handler
 */
import { fork } from 'node:child_process';
import { join } from 'node:path';
import { childPhase, phase, runBenchmark, startPhase } from './deadline';
import type { RunResult, SubjectName } from './handler-subjects';
import { EXPECTED_REPLY, FRAME, SUBJECTS } from './handler-subjects';
import { formatNumber, median, printTable } from './stats';

const RUNS = 7;
const RUN_MILLISECONDS = 1_000;
/** A run measures for RUN_MILLISECONDS, then ends its batch of 1,000 messages (milliseconds). */
const RUN_DEADLINE_MS = 5 * RUN_MILLISECONDS;
/** A subject's process: Node, tsx and the handler's modules, 1-2 s on a quiet machine. */
const START_DEADLINE_MS = 30_000;
const TARGET_OF_FLOOR = 0.85;

/**
 * The Python original, run beside this handler when ROHRPOST_PYTHON is the path of a checkout of
 * github.com/axsemantics/rohrpost (its code is not part of this project) and Django Channels is
 * installed for ROHRPOST_PYTHON_BIN (default /usr/bin/python3; on Debian or Ubuntu:
 * `sudo apt-get install python3-django-channels`). Otherwise the figures below are printed as
 * what they are: a constant, with no ratio.
 */
const REFERENCE = {
  checkout: process.env.ROHRPOST_PYTHON,
  python: process.env.ROHRPOST_PYTHON_BIN ?? '/usr/bin/python3',
  /** Interpreter start and Django's imports, before the script measures. */
  startDeadlineMs: 20_000,
  measured:
    "rohrpost 4.1.0 (axsemantics/rohrpost at 21fb7a7) on Python 3.11.2 and Debian's Django Channels 4.0.0, " +
    'in process with this frame, by bench/python/rohrpost_ping.py, 7 runs of 1 s (CPU time) on 2026-12-07 ' +
    'on this kind of machine (2 cores, other builds running: load 3-5)',
  messagesPerSecond: { low: 194_000, high: 215_000 },
};

/** A subject's process: its runs, one at a time. */
interface SubjectProcess {
  run(milliseconds: number): Promise<RunResult>;
  stop(): void;
}

/** Forks handler-subjects.ts for `name` and checks the subject's reply. */
async function startSubject(name: SubjectName): Promise<SubjectProcess> {
  const child = fork(join(__dirname, 'handler-subjects.ts'), [name], { execArgv: ['--import', 'tsx'] });
  const next = <T>() =>
    new Promise<T>((resolve, reject) => {
      const onExit = (code: number | null) => reject(new Error(`${name} exited with ${code}`));
      child.once('exit', onExit);
      child.once('message', (message) => (child.off('exit', onExit), resolve(message as T)));
    });
  const stop = () => void child.kill();
  const { reply } = await next<{ reply?: string }>();
  if (reply !== EXPECTED_REPLY) {
    stop();
    throw new Error(`${name}: unexpected reply ${reply}`);
  }
  return {
    run: (milliseconds) => {
      const result = next<RunResult>();
      child.send({ milliseconds });
      return result;
    },
    stop,
  };
}

async function pythonRate(checkout: string, milliseconds: number): Promise<number> {
  const script = join(__dirname, 'python/rohrpost_ping.py');
  const stdout = await childPhase(
    'rohrpost (Python), one run',
    REFERENCE.startDeadlineMs + RUN_DEADLINE_MS,
    REFERENCE.python,
    [script, checkout, String(milliseconds), FRAME, EXPECTED_REPLY],
  );
  return (JSON.parse(stdout) as { messagesPerSecond: number }).messagesPerSecond;
}

async function main(): Promise<void> {
  const names = Object.keys(SUBJECTS) as SubjectName[];
  const processes = new Map<SubjectName, SubjectProcess>();
  const results: Partial<Record<SubjectName, RunResult[]>> = {};
  const pythonRates: number[] = [];
  try {
    for (const name of names) {
      const subject = await startPhase(
        `start of ${name}`,
        START_DEADLINE_MS,
        () => startSubject(name),
        (late) => late.stop(),
      );
      processes.set(name, subject);
      await phase(`warm-up of ${name}`, RUN_DEADLINE_MS, () => subject.run(RUN_MILLISECONDS));
    }
    for (let round = 1; round <= RUNS; round++) {
      for (const [name, subject] of processes) {
        const result = await phase(`round ${round}: ${name}`, RUN_DEADLINE_MS, () =>
          subject.run(RUN_MILLISECONDS),
        );
        (results[name] ??= []).push(result);
      }
      if (REFERENCE.checkout) pythonRates.push(await pythonRate(REFERENCE.checkout, RUN_MILLISECONDS));
    }
  } finally {
    for (const subject of processes.values()) subject.stop();
  }

  const rates = (name: SubjectName) => results[name]!.map((result) => result.rate);
  const rate = (name: SubjectName) => median(rates(name));
  const micros = (name: SubjectName) => 1e6 / rate(name);
  // The machine's speed drifts: compare subjects within a round, then take the median.
  const perRound = (compare: (round: number) => number) =>
    median(results.deployed!.map((_, round) => compare(round)));
  const cost = (name: SubjectName, than: SubjectName) =>
    `${formatNumber(
      perRound((round) => 1e6 / rates(name)[round]! - 1e6 / rates(than)[round]!),
      2,
    )} µs`;
  const ofFloor = perRound((round) => rates('deployed')[round]! / rates('floor')[round]!);
  const deployed = results.deployed!;
  const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);
  printTable(
    'websocket Lambda, in process: ping with a small object payload; logs and metrics on, a Lambda context per invocation',
    [
      [
        'runs (msg/s of CPU time)',
        rates('deployed')
          .map((r) => formatNumber(r))
          .join(', '),
      ],
      [
        'median',
        `${formatNumber(rate('deployed'))} messages/s (${formatNumber(micros('deployed'), 2)} µs per message)`,
      ],
      [
        'wall clock',
        `median ${formatNumber(median(deployed.map((r) => r.wallRate)))} messages/s (other processes' turns included)`,
      ],
      ['floor', `${formatNumber(rate('floor'))} messages/s (parse and serialise only, same run)`],
      [
        'of the floor',
        `${formatNumber(100 * ofFloor)}%, the median of each round's ratio (target: ${formatNumber(100 * TARGET_OF_FLOOR)}% or more)`,
      ],
      [
        'metric lines',
        `${formatNumber(sum(deployed.map((r) => r.lines)))} for ${formatNumber(sum(deployed.map((r) => r.messages)))} messages (counted, not written)`,
      ],
    ],
  );
  printTable(`what each part costs per message (median of each round's difference, ${RUNS} rounds)`, [
    [
      'parse, check, route, reply',
      `${cost('bare', 'floor')} beyond the floor's ${formatNumber(micros('floor'), 2)} µs`,
    ],
    ['  the checks of PROTOCOL.md §2 (fields, depth, exact id)', cost('checkedFloor', 'floor')],
    ["  routing, the handler's context, the reply", cost('bare', 'checkedFloor')],
    [
      "logs' invocation context",
      `${cost('withoutMetrics', 'bare')} (Powertools gets it when a line is written)`,
    ],
    ['  context and keys to Powertools at every invocation', `${cost('contextAtOnce', 'deployed')} more`],
    ['the metric line', `${cost('deployed', 'withoutMetrics')} (written directly)`],
    ["  with Powertools' Metrics instead", `${cost('powertoolsMetrics', 'deployed')} more`],
  ]);
  printReference(pythonRates.length > 0 ? pythonRates : undefined, rate('deployed'));
}

function printReference(pythonRates: number[] | undefined, deployedRate: number): void {
  const title =
    'reference: the Python original, rohrpost on Django Channels, handling the same frame in process';
  if (pythonRates) {
    const pythonMedian = median(pythonRates);
    printTable(title, [
      ['runs (msg/s of CPU time)', pythonRates.map((r) => formatNumber(r)).join(', ')],
      ['median', `${formatNumber(pythonMedian)} messages/s (same run, alternating with the subjects above)`],
      ['this handler / rohrpost', `${formatNumber(deployedRate / pythonMedian, 1)}x (medians)`],
    ]);
    return;
  }
  const { low, high } = REFERENCE.messagesPerSecond;
  printTable(title, [
    [
      'not run',
      'set ROHRPOST_PYTHON to a checkout of github.com/axsemantics/rohrpost (see REFERENCE in this file)',
    ],
    [
      'a constant',
      `${formatNumber(low)}-${formatNumber(high)} messages/s, measured once: ${REFERENCE.measured}`,
    ],
  ]);
}

runBenchmark(main);
