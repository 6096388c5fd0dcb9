import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { HistorySettings } from '../environment';
import { EnvironmentVariables, readEnvironment, requireEnvironment } from '../environment';
import type { GroupHistory } from './group-history';
import { DynamoDbGroupHistory } from './group-history';
import type { MembershipStore } from './membership';
import { DynamoDbMembershipStore } from './membership';
import type { Sequencer } from './sequencer';
import { DynamoDbSequencer } from './sequencer';

let documentClient: DynamoDBDocumentClient | undefined;
let membership: MembershipStore | undefined;
let tableNames: Readonly<Record<string, string>> | undefined;
let history: { readonly settings: HistorySettings | undefined } | undefined;
let historyReader: GroupHistory | undefined;
let historySequencer: Sequencer | undefined;

/**
 * The DynamoDB document client of this Lambda instance, created on first use so that loading
 * the module costs nothing: a plain request/reply never touches DynamoDB.
 */
export function dynamoDb(): DynamoDBDocumentClient {
  documentClient ??= DynamoDBDocumentClient.from(new DynamoDBClient({}), {
    marshallOptions: { removeUndefinedValues: true },
  });
  return documentClient;
}

/** The membership store over the table the stack (or the sandbox) set up. */
export function membershipStore(): MembershipStore {
  membership ??= new DynamoDbMembershipStore(
    dynamoDb(),
    requireEnvironment(EnvironmentVariables.membershipTable),
  );
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
  if (settings) historyReader ??= new DynamoDbGroupHistory(dynamoDb(), settings);
  return historyReader;
}

/** What places each notification in its group's history; `undefined` when groups keep none. */
export function sequencer(): Sequencer | undefined {
  const settings = historySettings();
  if (settings) historySequencer ??= new DynamoDbSequencer(dynamoDb(), settings);
  return historySequencer;
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
