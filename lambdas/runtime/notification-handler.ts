import type { DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import type { NotificationHooks } from '../changes/notification';
import { changeOf, notificationFor, payloadWithin } from '../changes/notification';
import type { NotificationRule, ResolvedConfig } from '../config';
import type { Connections } from '../delivery/connections';
import type { FanOutResult } from '../delivery/fan-out';
import { GoneConnections, sendToGroup } from '../delivery/fan-out';
import { Limiter } from '../delivery/limiter';
import { ApiGatewayLimits } from '../delivery/limits';
import { signedConnectionsAt } from '../delivery/signed-connections';
import { EnvironmentVariables, requireEnvironment } from '../environment';
import type { Logger } from '../logger';
import { createLogger } from '../logger';
import { configuredTableNames, membershipStore } from '../storage/clients';
import type { MembershipStore } from '../storage/membership';

export interface NotificationHandlerOptions {
  /** The project's configuration: which tables notify, and how. */
  readonly config: ResolvedConfig;
  /** Code that decides groups and objects, per table. @default none */
  readonly hooks?: readonly NotificationHooks[];
  /**
   * The tables whose streams feed the function: table name to label.
   * @default the inverse of ROHRPOST_TABLE_NAMES
   */
  readonly tableLabels?: () => Readonly<Record<string, string>>;
  /** @default the membership table of ROHRPOST_MEMBERSHIP_TABLE */
  readonly membership?: () => MembershipStore;
  /** @default `SignedConnections` to the management API at ROHRPOST_MANAGEMENT_ENDPOINT */
  readonly connections?: () => Connections;
  /** Largest message; a larger notification is sent as keys only. @default API Gateway's 128 KB */
  readonly payloadLimitBytes?: number;
  /** @default a JSON logger for service `rohrpost-notifications` */
  readonly logger?: Logger;
}

export type NotificationLambdaHandler = (event: DynamoDBStreamEvent) => Promise<DynamoDBBatchResponse>;

/**
 * Creates the notification function: DynamoDB stream records in, `subscription-update`
 * messages out to every member of each change's group. Records of one item are handled in
 * order, different items in parallel. A record that fails, and every later record of the same
 * item, are reported as batch item failures, so that Lambda retries them in order and finally
 * sends them to the dead-letter queue. Nothing is dropped silently.
 */
export function createNotificationHandler(options: NotificationHandlerOptions): NotificationLambdaHandler {
  const { config } = options;
  const hooksByTable = indexHooks(config, options.hooks ?? []);
  const logger = options.logger ?? createLogger('rohrpost-notifications');
  const payloadLimit = options.payloadLimitBytes ?? ApiGatewayLimits.maxMessageBytes;
  const membership = options.membership ?? membershipStore;
  const connections =
    options.connections ??
    (() =>
      signedConnectionsAt(
        requireEnvironment(EnvironmentVariables.managementEndpoint),
        config.notifications.concurrency,
      ));
  const goneConnections = new GoneConnections();
  let labels: Readonly<Record<string, string>> | undefined;
  const tableLabels = options.tableLabels ?? labelsFromEnvironment;

  function ruleFor(record: DynamoDBRecord): { label: string; rule: NotificationRule } {
    labels ??= tableLabels();
    const tableName = tableNameOf(record);
    const label = labels[tableName];
    const rule = label === undefined ? undefined : config.tables[label]?.notifications;
    if (label === undefined || !rule) {
      throw new Error(
        `A stream record from table '${tableName}', which has no notifications in rohrpost.config.ts.`,
      );
    }
    return { label, rule };
  }

  async function notify(record: DynamoDBRecord, limiter: Limiter): Promise<FanOutResult | undefined> {
    const { label, rule } = ruleFor(record);
    const change = changeOf(record, label);
    const notification = notificationFor(change, rule, hooksByTable.get(label));
    if (!notification) return undefined;
    const { payload, reduced, fullBytes } = payloadWithin(notification, change, payloadLimit);
    if (reduced) {
      logger.warn('Notification over the payload limit: sent with the keys only', {
        table: label,
        keys: change.keys,
        group: notification.group,
        bytes: fullBytes,
        limit: payloadLimit,
      });
    }
    return sendToGroup(notification.group, payload, {
      membership: membership(),
      connections: connections(),
      limiter,
      goneConnections,
      logger,
    });
  }

  return async function handler(event) {
    const limiter = new Limiter(config.notifications.concurrency);
    const failures: string[] = [];
    await Promise.all(
      [...recordsByItem(event.Records ?? []).values()].map(async (records) => {
        for (const [index, record] of records.entries()) {
          try {
            await notify(record, limiter);
          } catch (error) {
            const later = records.slice(index).map(sequenceNumber);
            logger.error('A change could not be notified; it will be retried', {
              eventID: record.eventID,
              sequenceNumber: sequenceNumber(record),
              keys: record.dynamodb?.Keys,
              heldBack: later.length - 1,
              error,
            });
            failures.push(...later);
            return;
          }
        }
      }),
    );
    return { batchItemFailures: failures.map((itemIdentifier) => ({ itemIdentifier })) };
  };
}

/** Records grouped by the item they change, each group in stream order. */
function recordsByItem(records: readonly DynamoDBRecord[]): Map<string, DynamoDBRecord[]> {
  const byItem = new Map<string, DynamoDBRecord[]>();
  for (const record of records) {
    const item = `${tableNameOf(record)} ${JSON.stringify(record.dynamodb?.Keys ?? record.eventID)}`;
    const list = byItem.get(item);
    if (list) list.push(record);
    else byItem.set(item, [record]);
  }
  return byItem;
}

/** The table a record comes from: its stream ARN is `arn:...:table/<name>/stream/<label>`. */
function tableNameOf(record: DynamoDBRecord): string {
  return record.eventSourceARN?.split('/')[1] ?? '';
}

function sequenceNumber(record: DynamoDBRecord): string {
  return record.dynamodb?.SequenceNumber ?? record.eventID ?? '';
}

function labelsFromEnvironment(): Record<string, string> {
  return Object.fromEntries(Object.entries(configuredTableNames()).map(([label, name]) => [name, label]));
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
