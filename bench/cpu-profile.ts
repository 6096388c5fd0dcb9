/**
 * A CPU profile of this process's main thread, through the inspector, summarised as the
 * functions with the most self time: where the thread spends what it does not spend idle.
 */
import type { Profiler } from 'node:inspector';
import { Session } from 'node:inspector';
import { findSourceMap } from 'node:module';
import { relative } from 'node:path';
import { formatNumber } from './stats';

export interface ProfileLine {
  readonly name: string;
  readonly where: string;
  readonly milliseconds: number;
  /** Of the busy time: every sample but `(idle)`. */
  readonly share: number;
}

export interface ProfileSummary {
  readonly busyMilliseconds: number;
  readonly idleMilliseconds: number;
  readonly top: readonly ProfileLine[];
}

/** Starts profiling; the returned function stops and summarises the top `count` functions. */
export async function startCpuProfile(
  intervalMicroseconds = 200,
): Promise<(count: number) => Promise<ProfileSummary>> {
  const session = new Session();
  session.connect();
  const post = <T>(method: string, params?: object) =>
    new Promise<T>((resolve, reject) =>
      session.post(method, params, (error, result) => (error ? reject(error) : resolve(result as T))),
    );
  await post('Profiler.enable');
  await post('Profiler.setSamplingInterval', { interval: intervalMicroseconds });
  await post('Profiler.start');
  return async (count) => {
    const { profile } = await post<{ profile: Profiler.Profile }>('Profiler.stop');
    session.disconnect();
    return summarise(profile, count);
  };
}

/** Self time by function (name and place), from the samples and their time deltas. */
export function summarise(profile: Profiler.Profile, count: number): ProfileSummary {
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfMicros = new Map<string, { name: string; where: string; micros: number }>();
  let idle = 0;
  let busy = 0;
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  for (let i = 0; i < samples.length; i++) {
    // A sample's time is the delta to the next sample.
    const micros = deltas[i + 1] ?? 0;
    const frame = nodes.get(samples[i]!)!.callFrame;
    if (frame.functionName === '(idle)') {
      idle += micros;
      continue;
    }
    busy += micros;
    const where = placeOf(frame);
    const key = `${frame.functionName}\u0000${where}`;
    const entry = selfMicros.get(key) ?? { name: frame.functionName || '(anonymous)', where, micros: 0 };
    entry.micros += micros;
    selfMicros.set(key, entry);
  }
  const top = [...selfMicros.values()]
    .sort((a, b) => b.micros - a.micros)
    .slice(0, count)
    .map((entry) => ({
      name: entry.name,
      where: entry.where,
      milliseconds: entry.micros / 1_000,
      share: busy > 0 ? entry.micros / busy : 0,
    }));
  return { busyMilliseconds: busy / 1_000, idleMilliseconds: idle / 1_000, top };
}

/** Where a function starts: in its TypeScript source when a source map says (tsx writes them). */
function placeOf(frame: Profiler.ProfileNode['callFrame']): string {
  if (!frame.url) return '';
  const origin = findSourceMap(frame.url)?.findOrigin(frame.lineNumber + 1, frame.columnNumber + 1);
  if (origin && 'fileName' in origin) return `${shortUrl(origin.fileName)}:${origin.lineNumber}`;
  return `${shortUrl(frame.url)}:${frame.lineNumber + 1}`;
}

function shortUrl(url: string): string {
  const path = url.replace(/^file:\/\//, '');
  if (!path.startsWith('/')) return path;
  const inModules = path.lastIndexOf('/node_modules/');
  return inModules === -1 ? relative(process.cwd(), path) : path.slice(inModules + '/node_modules/'.length);
}

/** The summary as table rows. */
export function profileRows(summary: ProfileSummary): Array<readonly [string, string]> {
  const total = summary.busyMilliseconds + summary.idleMilliseconds;
  return [
    [
      'main thread',
      `busy ${formatNumber(summary.busyMilliseconds)} ms of ${formatNumber(total)} ms ` +
        `(${formatNumber((100 * summary.busyMilliseconds) / Math.max(total, 1))} %)`,
    ],
    ...summary.top.map(
      (line) =>
        [
          `${formatNumber(100 * line.share, 1).padStart(5)} %`,
          `${formatNumber(line.milliseconds)} ms  ${line.name}${line.where ? `  ${line.where}` : ''}`,
        ] as const,
    ),
  ];
}
