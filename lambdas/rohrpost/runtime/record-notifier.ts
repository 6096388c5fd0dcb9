import type { DynamoDBRecord } from 'aws-lambda';
import { changeOf, UndeliverableChangeError } from '../changes/change';
import type { Change } from '../changes/change';
import type { Notice, NotificationHooks, UndeliverableGroup } from '../changes/notices';
import { noticesFor } from '../changes/notices';
import { fitNotice, notificationId, subscriptionUpdate } from '../changes/subscription-update';
import type { NotificationRule, ResolvedConfig } from '../config';
import type { Connections } from '../delivery/connections';
import type { GoneConnections } from '../delivery/fan-out';
import { sendToGroup } from '../delivery/fan-out';
import type { Limiter } from '../delivery/limiter';
import { PostTally } from '../delivery/post-tally';
import type { Logger } from '../logger';
import type { GroupPosition } from '../protocol/position';
import type { LaneQueue } from '../delivery/lane-queue';
import type { LaneStore } from '../storage/lane-store';
import type { MembershipStore, ShardedMembership } from '../storage/membership';
import type { MessagePlace, SequencedMessage, Sequencer } from '../storage/sequencer';
import { deliveryOf } from '../storage/shard-layout';
import { GroupSends } from './group-sends';

/** What the stream function needs to hand big groups' messages to their lanes. */
export interface NotifierLanes {
  readonly membership: ShardedMembership;
  readonly store: LaneStore;
  readonly queue: LaneQueue;
  /** Members above which a group gets lanes. */
  readonly groupSize: number;
}

export interface RecordNotifierOptions {
  readonly config: ResolvedConfig;
  readonly hooks: readonly NotificationHooks[];
  /** Table name to label, for the tables whose streams feed the function. */
  readonly tableLabels: () => Readonly<Record<string, string>>;
  readonly membership: () => MembershipStore;
  readonly connections: () => Connections;
  readonly sequencer: () => Sequencer | undefined;
  /** The lanes of big groups; `undefined` without them (they need the groups' history). */
  readonly lanes: () => NotifierLanes | undefined;
  readonly payloadLimitBytes: number;
  readonly goneConnections: GoneConnections;
  readonly logger: Logger;
}

/** What became of one record in one attempt. */
export interface RecordOutcome {
  /** The places its messages got in their groups' histories, and whether each reached every member now. */
  readonly places: MessagePlace[];
  /** Messages sent in this attempt, by this function or handed to lanes. */
  readonly sent: number;
  /** Of those, the messages handed to the lanes of big groups. */
  readonly laned: number;
  /** Messages an earlier attempt delivered to every member: not sent again. */
  readonly alreadyDelivered: number;
  /** What became of the posts to members in this attempt, and when they arrived. */
  readonly posts: PostTally;
  /** Groups the change names that can never be sent to; its other groups were. */
  readonly undeliverable: UndeliverableGroup[];
  /** The groups whose message failed, to be tried again; with `error`. */
  readonly failedGroups: string[];
  /**
   * Why some of the record's messages were not delivered; an `UndeliverableChangeError` when the
   * whole change can never be (no group can be named at all).
   */
  readonly error?: unknown;
}

/**
 * Notifies the groups of one stream record's change: works out what each group hears, gives
 * each message its place in the group's history (or finds the place a first attempt gave it),
 * and sends it to every member, unless an earlier attempt already did.
 */
export class RecordNotifier {
  private readonly hooksByTable: Map<string, NotificationHooks>;
  private labels: Readonly<Record<string, string>> | undefined;
  private readonly inlineSends = new GroupSends();

  constructor(private readonly options: RecordNotifierOptions) {
    this.hooksByTable = indexHooks(options.config, options.hooks);
  }

  /** The record's identity, the same on every attempt. */
  recordId(record: DynamoDBRecord): string {
    return record.eventID ?? `${record.eventSourceARN}/${record.dynamodb?.SequenceNumber}`;
  }

  /** The label of the record's table, when the configuration has it. */
  labelOf(record: DynamoDBRecord): string | undefined {
    this.labels ??= this.options.tableLabels();
    return this.labels[tableNameOf(record)];
  }

  /** Sends the record's messages; never rejects. */
  async notify(record: DynamoDBRecord, limiter: Limiter): Promise<RecordOutcome> {
    const outcome: RecordOutcome = {
      places: [],
      sent: 0,
      laned: 0,
      alreadyDelivered: 0,
      posts: new PostTally(),
      undeliverable: [],
      failedGroups: [],
    };
    let notices: Notice[];
    const undeliverable: UndeliverableGroup[] = [];
    try {
      const { label, rule } = this.ruleFor(record);
      const change = changeOf(record, label);
      const planned = noticesFor(change, rule, this.hooksByTable.get(label));
      undeliverable.push(...planned.undeliverable);
      notices = planned.notices.flatMap((notice) => {
        try {
          return [this.fit(notice, change)];
        } catch (error) {
          if (!(error instanceof UndeliverableChangeError)) throw error;
          undeliverable.push({ group: notice.group, reason: error.message });
          return [];
        }
      });
    } catch (error) {
      return { ...outcome, error };
    }
    if (notices.length === 0) {
      if (undeliverable.length === 0) {
        this.options.logger.debug('The change concerns no group: nothing to send', {
          eventID: record.eventID,
        });
      }
      return { ...outcome, undeliverable };
    }
    const recordId = this.recordId(record);
    const results = await Promise.all(
      notices.map((notice) => this.send(notice, recordId, limiter, outcome.posts)),
    );
    const failed = results.filter((result) => result.error !== undefined);
    return {
      places: results.flatMap((result) => result.place ?? []),
      sent: results.filter((result) => result.error === undefined && !result.alreadyDelivered).length,
      laned: results.filter((result) => result.laned).length,
      alreadyDelivered: results.filter((result) => result.alreadyDelivered).length,
      posts: outcome.posts,
      undeliverable,
      failedGroups: failed.map((result) => result.group),
      ...(failed.length > 0 && { error: failed[0]!.error }),
    };
  }

  private ruleFor(record: DynamoDBRecord): { label: string; rule: NotificationRule } {
    const label = this.labelOf(record);
    const rule = label === undefined ? undefined : this.options.config.tables[label]?.notifications;
    if (label === undefined || !rule) {
      throw new UndeliverableChangeError(
        `A stream record from table '${tableNameOf(record)}', which has no notifications in rohrpost.config.ts.`,
      );
    }
    return { label, rule };
  }

  /** The notice within the payload limit: reduced to the keys, and logged, when it is too large. */
  private fit(notice: Notice, change: Change): Notice {
    const fitted = fitNotice(notice, change, this.options.payloadLimitBytes);
    if (fitted.reduced) {
      this.options.logger.warn('Notification over the payload limit: sent with the keys only', {
        table: change.table,
        keys: change.keys,
        group: notice.group,
        bytes: fitted.fullBytes,
        limit: this.options.payloadLimitBytes,
      });
    }
    return fitted.notice;
  }

  /**
   * Places the notice's message and posts it to every member, unless an earlier attempt did.
   * Never rejects: a failure comes back as `error`, with the message's place when it got one.
   */
  private async send(
    notice: Notice,
    recordId: string,
    limiter: Limiter,
    tally: PostTally,
  ): Promise<SendResult> {
    const { group } = notice;
    const id = notificationId(recordId, group);
    const render = (position?: GroupPosition) => JSON.stringify(subscriptionUpdate(notice, id, position));
    let placed: SequencedMessage | undefined;
    try {
      placed = await this.options.sequencer()?.append(group, recordId, render);
    } catch (error) {
      return { group, alreadyDelivered: false, error };
    }
    const place = (delivered: boolean) => placed && { group, recordId, position: placed.position, delivered };
    if (placed?.delivered) {
      this.options.logger.debug('Already delivered by an earlier attempt: not sent again', {
        group,
        seq: placed.position.seq,
      });
      return { group, place: place(true), alreadyDelivered: true };
    }
    const lanes = placed && this.options.lanes();
    try {
      let members: AsyncIterable<string[]> | undefined;
      let smallGroup = false;
      if (lanes && placed) {
        const found = await lanes.membership.readGroup(group);
        if (found.layout) {
          const delivery = deliveryOf(found.layout, placed.position.epoch, placed.position.seq);
          if (delivery.lanes) {
            // The group's earlier messages that this function is still sending itself reach
            // their members first: the lanes start after them.
            await this.inlineSends.settled(group);
            await lanes.queue.wake(group, placed.position, delivery.shards);
            return { group, place: place(true), alreadyDelivered: false, laned: true };
          }
        }
        members = found.pages ?? lanes.membership.members(group);
        smallGroup = !found.layout;
      }
      const sending = sendToGroup(group, placed?.payload ?? render(), {
        membership: this.options.membership(),
        connections: this.options.connections(),
        limiter,
        goneConnections: this.options.goneConnections,
        logger: this.options.logger,
        tally,
        ...(members && { members }),
      });
      const result = await (lanes ? this.inlineSends.track(group, sending) : sending);
      if (lanes && smallGroup && result.members > lanes.groupSize)
        await this.giveLanes(group, result.members, lanes);
    } catch (error) {
      return { group, place: place(false), alreadyDelivered: false, error };
    }
    return { group, place: place(true), alreadyDelivered: false };
  }

  /** A group that outgrew sending inline is delivered by lanes from its next message on. */
  private async giveLanes(group: string, members: number, lanes: NotifierLanes): Promise<void> {
    try {
      const layout = await lanes.store.createLanes(group);
      this.options.logger.info('A group outgrew inline delivery: its lanes take over', {
        group,
        members,
        after: layout.inlineUntil,
      });
    } catch (error) {
      // Not a delivery failure: the next message tries again, and until then this function sends.
      this.options.logger.warn('Could not give a big group lanes', { group, members, error });
    }
  }
}

/** What became of one group's message. */
interface SendResult {
  readonly group: string;
  /** Its place in the group's history, when groups keep one. */
  readonly place?: MessagePlace;
  readonly alreadyDelivered: boolean;
  /** Handed to the group's lanes. */
  readonly laned?: boolean;
  /** Why it was not delivered: it is tried again with the record. */
  readonly error?: unknown;
}

/** The table a record comes from: its stream ARN is `arn:...:table/<name>/stream/<label>`. */
function tableNameOf(record: DynamoDBRecord): string {
  return record.eventSourceARN?.split('/')[1] ?? '';
}

function indexHooks(
  config: ResolvedConfig,
  hooks: readonly NotificationHooks[],
): Map<string, NotificationHooks> {
  const byTable = new Map<string, NotificationHooks>();
  for (const hook of hooks) {
    if (!config.tables[hook.table]?.notifications) {
      throw new Error(
        `Notification hooks for table '${hook.table}', which has no notifications in rohrpost.config.ts.`,
      );
    }
    if (byTable.has(hook.table)) throw new Error(`Table '${hook.table}' has notification hooks twice.`);
    byTable.set(hook.table, hook);
  }
  return byTable;
}
