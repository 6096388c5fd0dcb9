import type { DynamoDBRecord } from 'aws-lambda';
import { changeOf, UndeliverableChangeError } from '../changes/change';
import type { Change } from '../changes/change';
import type { Notice, NotificationHooks } from '../changes/notices';
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
import type { MembershipStore } from '../storage/membership';
import type { DeliveredMessage, Sequencer } from '../storage/sequencer';

export interface RecordNotifierOptions {
  readonly config: ResolvedConfig;
  readonly hooks: readonly NotificationHooks[];
  /** Table name to label, for the tables whose streams feed the function. */
  readonly tableLabels: () => Readonly<Record<string, string>>;
  readonly membership: () => MembershipStore;
  readonly connections: () => Connections;
  readonly sequencer: () => Sequencer | undefined;
  readonly payloadLimitBytes: number;
  readonly goneConnections: GoneConnections;
  readonly logger: Logger;
}

/** What became of one record: the messages that reached every member, and the failure if any. */
export interface RecordOutcome {
  /** Messages placed in their group's history that reached every member in this attempt. */
  readonly delivered: DeliveredMessage[];
  /** What became of the posts to members in this attempt, and when they arrived. */
  readonly posts: PostTally;
  /** Why some or all of the record's messages were not delivered; an `UndeliverableChangeError` never will be. */
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
    let notices: Notice[];
    try {
      const { label, rule } = this.ruleFor(record);
      const change = changeOf(record, label);
      notices = noticesFor(change, rule, this.hooksByTable.get(label)).map((notice) =>
        this.fit(notice, change),
      );
    } catch (error) {
      return { delivered: [], posts: new PostTally(), error };
    }
    const posts = new PostTally();
    if (notices.length === 0) {
      this.options.logger.debug('The change concerns no group: nothing to send', { eventID: record.eventID });
      return { delivered: [], posts };
    }
    const recordId = this.recordId(record);
    const sent = await Promise.allSettled(
      notices.map((notice) => this.send(notice, recordId, limiter, posts)),
    );
    const delivered = sent.flatMap((result) =>
      result.status === 'fulfilled' && result.value ? [result.value] : [],
    );
    const failed = sent.find((result) => result.status === 'rejected');
    return failed ? { delivered, posts, error: failed.reason } : { delivered, posts };
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

  private async send(
    notice: Notice,
    recordId: string,
    limiter: Limiter,
    tally: PostTally,
  ): Promise<DeliveredMessage | undefined> {
    const id = notificationId(recordId, notice.group);
    const render = (position?: GroupPosition) => JSON.stringify(subscriptionUpdate(notice, id, position));
    const sequencer = this.options.sequencer();
    const placed = sequencer && (await sequencer.append(notice.group, recordId, render));
    if (placed?.delivered) {
      this.options.logger.debug('Already delivered by an earlier attempt: not sent again', {
        group: notice.group,
        seq: placed.position.seq,
      });
      return undefined;
    }
    await sendToGroup(notice.group, placed?.payload ?? render(), {
      membership: this.options.membership(),
      connections: this.options.connections(),
      limiter,
      goneConnections: this.options.goneConnections,
      logger: this.options.logger,
      tally,
    });
    return placed && { group: notice.group, recordId, position: placed.position };
  }
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
