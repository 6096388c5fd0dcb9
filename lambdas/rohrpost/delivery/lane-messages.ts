import { nodeCrypto } from '../protocol/node-crypto';
import type { GroupPosition } from '../protocol/position';

/**
 * The messages of the lanes' FIFO queue, as pure functions: what they say, and the message
 * group and deduplication ids SQS orders and deduplicates them by
 * (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/FIFO-queues.html).
 */

/** Wakes one lane: deliver the group's messages up to `seq` of `epoch` to the members of `shard`. */
export interface LaneWake {
  readonly kind: 'deliver';
  readonly group: string;
  readonly shard: number;
  readonly epoch: string;
  readonly seq: number;
}

/** Asks for the group's shards to be doubled, from layout `version`. */
export interface SplitRequest {
  readonly kind: 'split';
  readonly group: string;
  readonly version: number;
}

export type LaneJob = LaneWake | SplitRequest;

/** A job as SendMessage takes it. */
export interface LaneQueueEntry {
  readonly body: string;
  /** One per lane (and one for a group's splits): SQS hands a message group to one worker at a time, in order. */
  readonly messageGroupId: string;
  /** The same job sent twice within five minutes (a retried stream record) is delivered once. */
  readonly deduplicationId: string;
}

/** The entries that wake each of `shards` lanes for message `position` of `group`. */
export function wakeEntries(group: string, position: GroupPosition, shards: number): LaneQueueEntry[] {
  return Array.from({ length: shards }, (_, shard) => {
    const wake: LaneWake = { kind: 'deliver', group, shard, epoch: position.epoch, seq: position.seq };
    return {
      body: JSON.stringify(wake),
      messageGroupId: `${groupKey(group)}:${shard}`,
      deduplicationId: digest(`deliver\n${group}\n${position.epoch}\n${position.seq}\n${shard}`),
    };
  });
}

/** The entry asking for a split of `group` from layout `version`: asked many times, done once. */
export function splitEntry(group: string, version: number): LaneQueueEntry {
  const request: SplitRequest = { kind: 'split', group, version };
  return {
    body: JSON.stringify(request),
    messageGroupId: `${groupKey(group)}:split`,
    deduplicationId: digest(`split\n${group}\n${version}`),
  };
}

/** The job a message body holds; throws for a body that is not one. */
export function parseLaneJob(body: string): LaneJob {
  const job = JSON.parse(body) as {
    kind?: unknown;
    group?: unknown;
    shard?: number;
    epoch?: unknown;
    seq?: number;
    version?: number;
  };
  if (typeof job.group !== 'string' || job.group === '') throw new TypeError('A lane job names its group.');
  if (job.kind === 'deliver') {
    const { group, shard, epoch, seq } = job;
    if (!Number.isInteger(shard) || shard! < 0 || typeof epoch !== 'string' || !Number.isInteger(seq)) {
      throw new TypeError('A lane wake-up has a shard, an epoch and a seq.');
    }
    return { kind: 'deliver', group, shard: shard!, epoch, seq: seq! };
  }
  if (job.kind === 'split' && Number.isInteger(job.version)) {
    return { kind: 'split', group: job.group, version: job.version! };
  }
  throw new TypeError(`Not a lane job: ${body.slice(0, 200)}`);
}

/** A message group id stands for a group whatever its name: SQS allows 128 characters of ASCII punctuation and alphanumerics. */
function groupKey(group: string): string {
  return digest(group).slice(0, 43);
}

function digest(text: string): string {
  return nodeCrypto().createHash('sha256').update(text).digest('base64url');
}
