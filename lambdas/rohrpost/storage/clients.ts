import type { DynamoDBDocument } from '@aws-sdk/lib-dynamodb';
import type { HistorySettings, LaneEnvironment } from '../environment';
import { EnvironmentVariables, readEnvironment, requireEnvironment } from '../environment';
import type * as DocumentClientModule from './document-client';
import type * as FailureLedgerModule from './failure-ledger';
import type { FailureLedger } from './failure-ledger';
import type * as HistoryModule from './group-history';
import type * as LaneStoreModule from './lane-store';
import type { LaneStore } from './lane-store';
import type { GroupHistory } from './group-history';
import type * as MembershipModule from './membership';
import type { ShardedMembership } from './membership';
import type * as SequencerModule from './sequencer';
import type { Sequencer } from './sequencer';

// The SDK takes tens of milliseconds to load, which a plain reply never needs: the SDK and the
// stores built on it are required on first use (bench:cold-start measures the difference).

let documentClient: DynamoDBDocument | undefined;
let membership: ShardedMembership | undefined;
let tableNames: Readonly<Record<string, string>> | undefined;
let history: { readonly settings: HistorySettings | undefined } | undefined;
let historyReader: GroupHistory | undefined;
let historySequencer: Sequencer | undefined;
let ledger: FailureLedger | undefined;
let lanes: { readonly settings: LaneEnvironment | undefined } | undefined;
let laneBookkeeping: LaneStore | undefined;

/**
 * The DynamoDB document client of this Lambda instance, created on first use so that loading
 * the module costs nothing: a plain request/reply never touches DynamoDB. It has a method per
 * operation (`put`, `get`, `query`, `update`...), so handlers need no import from the SDK.
 */
export function dynamoDb(): DynamoDBDocument {
  if (!documentClient) {
    const { createDocumentClient } = require('./document-client') as typeof DocumentClientModule;
    documentClient = createDocumentClient();
  }
  return documentClient;
}

/** Whether a write failed because its `ConditionExpression` did not hold. */
export function conditionFailed(error: unknown): boolean {
  return error instanceof Error && error.name === 'ConditionalCheckFailedException';
}

/** The membership store over the table the stack (or the sandbox) set up. */
export function membershipStore(): ShardedMembership {
  if (!membership) {
    const { DynamoDbMembershipStore } = require('./membership') as typeof MembershipModule;
    membership = new DynamoDbMembershipStore(
      dynamoDb(),
      requireEnvironment(EnvironmentVariables.membershipTable),
      { lanes: laneSettings() !== undefined },
    );
  }
  return membership;
}

/** What ROHRPOST_HISTORY says of the groups' history; `undefined` when groups keep none. */
function historySettings(): HistorySettings | undefined {
  history ??= { settings: parseHistorySettings(readEnvironment(EnvironmentVariables.history)) };
  return history.settings;
}

function parseHistorySettings(json: string | undefined): HistorySettings | undefined {
  return json === undefined ? undefined : (JSON.parse(json) as HistorySettings);
}

/** The groups' history as subscribing clients read it; `undefined` when groups keep none. */
export function groupHistory(): GroupHistory | undefined {
  const settings = historySettings();
  if (settings && !historyReader) {
    const { DynamoDbGroupHistory } = require('./group-history') as typeof HistoryModule;
    historyReader = new DynamoDbGroupHistory(dynamoDb(), settings);
  }
  return historyReader;
}

/** What places each notification in its group's history; `undefined` when groups keep none. */
export function sequencer(): Sequencer | undefined {
  const settings = historySettings();
  if (settings && !historySequencer) {
    const { DynamoDbSequencer } = require('./sequencer') as typeof SequencerModule;
    historySequencer = new DynamoDbSequencer(dynamoDb(), settings);
  }
  return historySequencer;
}

/** Where the notification function counts each stream record's failures: the history table, or memory without one. */
export function failureLedger(): FailureLedger {
  if (!ledger) {
    const settings = historySettings();
    const { DynamoDbFailureLedger, MemoryFailureLedger } =
      require('./failure-ledger') as typeof FailureLedgerModule;
    ledger = settings ? new DynamoDbFailureLedger(dynamoDb(), settings) : new MemoryFailureLedger();
  }
  return ledger;
}

/** What ROHRPOST_LANES says of the lanes of big groups; `undefined` when there are none. */
export function laneSettings(): LaneEnvironment | undefined {
  if (!lanes) {
    const json = readEnvironment(EnvironmentVariables.lanes);
    lanes = { settings: json === undefined ? undefined : (JSON.parse(json) as LaneEnvironment) };
  }
  return lanes.settings;
}

/** The lanes' bookkeeping in the history and membership tables; `undefined` without lanes. */
export function laneStore(): LaneStore | undefined {
  const settings = historySettings();
  if (settings && laneSettings() && !laneBookkeeping) {
    const { LaneStore } = require('./lane-store') as typeof LaneStoreModule;
    laneBookkeeping = new LaneStore(
      dynamoDb(),
      settings,
      requireEnvironment(EnvironmentVariables.membershipTable),
    );
  }
  return laneBookkeeping;
}

/** The application tables this function may use: label to table name (ROHRPOST_TABLE_NAMES). */
export function configuredTableNames(): Readonly<Record<string, string>> {
  tableNames ??= JSON.parse(requireEnvironment(EnvironmentVariables.tableNames)) as Record<string, string>;
  return tableNames;
}

/** The real name of an application table, by its label in rohrpost.config.ts. */
export function tableName(label: string): string {
  const names = configuredTableNames();
  const name = names[label];
  if (!name) {
    const known = Object.keys(names);
    throw new Error(
      `Table '${label}' is not available to this function. ` +
        (known.length ? `It may use: ${known.join(', ')}. ` : '') +
        `Give the table a handlerAccess in rohrpost.config.ts.`,
    );
  }
  return name;
}
