/**
 * bench:large-group's stand-in for API Gateway's management API, in its own process: the
 * account's request quota (a token bucket, 429 beyond it), a latency per post drawn from a
 * lognormal distribution, members that are gone (410), and members that never answer. It
 * records what each member received, in order, and answers the bench's questions:
 *
 *   POST /.bench/configure {rate, burst, p50Ms, p99Ms, goneEvery, stalled: [ids]}
 *   POST /.bench/reset            forget what was received
 *   POST /.bench/report {group, members: [ids], seqs: [n]}   what the members received of those seqs
 *
 * Prints the port it listens on, then serves until killed.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { TokenBucket } from '../sandbox/request-quota';
import { shardOf } from '../lambdas/rohrpost/storage/shard-layout';
import { isGone } from './gone-members';

interface Settings {
  rate: number;
  burst: number;
  p50Ms: number;
  p99Ms: number;
  /** One member in this many is gone (by its id's hash), answered 410. */
  goneEvery: number;
  stalled: string[];
}

/** A bench's question about what its members received. */
export interface ReportRequest {
  readonly group: string;
  readonly members: readonly string[];
  readonly seqs: readonly number[];
  /** With it, `lanes` says when each of this many shards' members got their first and last post. */
  readonly shards?: number;
}

/** The answer to a report request (bench/large-group.ts reads it). */
export interface EndpointReport {
  readonly requests: number;
  readonly delivered: number;
  readonly throttled: number;
  readonly gone: number;
  /** Delivered posts in each second since the first request after the last reset. */
  readonly perSecond: number[];
  /** Epoch ms of the first request, and of the first and last delivered post of each seq asked about. */
  readonly firstRequestAt: number | undefined;
  readonly firstDeliveredAt: Record<number, number>;
  readonly lastDeliveredAt: Record<number, number>;
  /** Of the members asked about: how many received every seq asked about, once after dedup, in order. */
  readonly complete: number;
  readonly incomplete: number;
  /** Members that received a seq before one lower than it. */
  readonly outOfOrder: number;
  /** Posts of a seq a member had already received (a retry). */
  readonly duplicates: number;
  /** By shard, when `shards` was asked for: epoch ms of its members' first and last delivered post, and how many. */
  readonly lanes?: ReadonlyArray<{ readonly first: number; readonly last: number; readonly posts: number }>;
}

let settings: Settings = { rate: 10_000, burst: 5_000, p50Ms: 20, p99Ms: 150, goneEvery: 100, stalled: [] };
let bucket = new TokenBucket(settings);
let stalled = new Set<string>();
/** What a member received: the seqs, in order, and when each was (epoch ms). */
interface Received {
  readonly seqs: number[];
  readonly at: number[];
}

/** By group, then member. */
let received = new Map<string, Map<string, Received>>();
let counts = { requests: 0, delivered: 0, throttled: 0, gone: 0 };
let perSecond: number[] = [];
let firstRequestAt: number | undefined;
/** By `<group> <seq>`. */
const firstDeliveredAt = new Map<string, number>();
const lastDeliveredAt = new Map<string, number>();

/** A lognormal latency with the given median and 99th percentile (z of the 99th: 2.326). */
function latency(): number {
  const sigma = Math.log(settings.p99Ms / settings.p50Ms) / 2.326;
  const normal = Math.sqrt(-2 * Math.log(1 - Math.random())) * Math.cos(2 * Math.PI * Math.random());
  return settings.p50Ms * Math.exp(sigma * normal);
}

function reset(): void {
  received = new Map();
  counts = { requests: 0, delivered: 0, throttled: 0, gone: 0 };
  perSecond = [];
  firstRequestAt = undefined;
  firstDeliveredAt.clear();
  lastDeliveredAt.clear();
}

function post(connectionId: string, body: string, response: ServerResponse): void {
  const now = Date.now();
  firstRequestAt ??= now;
  counts.requests++;
  if (!bucket.take()) {
    counts.throttled++;
    response
      .writeHead(429, { 'content-type': 'application/json', 'x-amzn-ErrorType': 'LimitExceededException' })
      .end('{"message":"Too Many Requests"}');
    return;
  }
  if (stalled.has(connectionId)) return; // never answered; the client gives up
  setTimeout(() => {
    if (isGone(connectionId, settings.goneEvery)) {
      counts.gone++;
      response
        .writeHead(410, { 'content-type': 'application/json', 'x-amzn-ErrorType': 'GoneException' })
        .end('{"message":null}');
      return;
    }
    const at = Date.now();
    const { group = '', seq = 0 } =
      (JSON.parse(body) as { data?: { group?: string; seq?: number } }).data ?? {};
    let members = received.get(group);
    if (!members) received.set(group, (members = new Map<string, Received>()));
    const got = members.get(connectionId) ?? { seqs: [], at: [] };
    got.seqs.push(seq);
    got.at.push(at);
    members.set(connectionId, got);
    counts.delivered++;
    const second = Math.floor((at - firstRequestAt!) / 1000);
    perSecond[second] = (perSecond[second] ?? 0) + 1;
    const key = `${group} ${seq}`;
    if (!firstDeliveredAt.has(key)) firstDeliveredAt.set(key, at);
    lastDeliveredAt.set(key, at);
    response.writeHead(200).end();
  }, latency());
}

function report({ group, members, seqs, shards }: ReportRequest): EndpointReport {
  const inGroup = received.get(group) ?? new Map<string, Received>();
  let complete = 0;
  let outOfOrder = 0;
  let duplicates = 0;
  const wanted = new Set(seqs);
  const lanes = shards
    ? Array.from({ length: shards }, () => ({ first: Infinity, last: 0, posts: 0 }))
    : undefined;
  for (const member of members) {
    const times = inGroup.get(member);
    if (lanes && times?.at.length) {
      const lane = lanes[shardOf(member, shards!)]!;
      lane.first = Math.min(lane.first, times.at[0]!);
      lane.last = Math.max(lane.last, times.at.at(-1)!);
      lane.posts += times.at.length;
    }
    const got = (times?.seqs ?? []).filter((seq) => wanted.has(seq));
    const unique = got.filter((seq, i) => got.indexOf(seq) === i);
    duplicates += got.length - unique.length;
    if (got.some((seq, i) => i > 0 && seq < got[i - 1]!)) outOfOrder++;
    if (unique.length === seqs.length && unique.every((seq, i) => seq === seqs[i])) complete++;
  }
  return {
    ...counts,
    perSecond: Array.from(perSecond, (count) => count ?? 0),
    firstRequestAt,
    firstDeliveredAt: Object.fromEntries(
      seqs.map((seq) => [seq, firstDeliveredAt.get(`${group} ${seq}`) ?? 0]),
    ),
    lastDeliveredAt: Object.fromEntries(
      seqs.map((seq) => [seq, lastDeliveredAt.get(`${group} ${seq}`) ?? 0]),
    ),
    complete,
    incomplete: members.length - complete,
    outOfOrder,
    duplicates,
    ...(lanes && { lanes: lanes.map((lane) => (lane.posts > 0 ? lane : { first: 0, last: 0, posts: 0 })) }),
  };
}

function readJson<T>(request: IncomingMessage): Promise<T> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString() || '{}') as T);
      } catch (error) {
        reject(error instanceof Error ? error : new Error(String(error)));
      }
    });
  });
}

const CONNECTIONS_PATH = /^(?:\/[^/]+)?\/@connections\/([^/?]+)$/;

const server = createServer((request, response) => {
  const url = request.url ?? '/';
  const match = CONNECTIONS_PATH.exec(url);
  if (match && request.method === 'POST') {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => post(decodeURIComponent(match[1]!), Buffer.concat(chunks).toString(), response));
    return;
  }
  const answer = (value: unknown) =>
    response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(value));
  if (url === '/.bench/configure') {
    void readJson<Settings>(request).then((next) => {
      settings = next;
      bucket = new TokenBucket(next);
      stalled = new Set(next.stalled);
      answer({});
    });
  } else if (url === '/.bench/reset') {
    request.resume();
    reset();
    answer({});
  } else if (url === '/.bench/report') {
    void readJson<ReportRequest>(request).then((question) => answer(report(question)));
  } else {
    request.resume();
    response.writeHead(404).end();
  }
});
server.keepAliveTimeout = 60_000;
server.maxConnections = 10_000;
server.listen(0, '127.0.0.1', () => process.stdout.write(`${(server.address() as AddressInfo).port}\n`));
