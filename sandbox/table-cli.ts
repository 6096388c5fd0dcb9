/**
 * `npm run table -- <command>`: reads and writes the running sandbox's tables in plain JSON,
 * with no AWS CLI and no endpoint to copy: the sandbox says where its DynamoDB is.
 */
import { DynamoDBServiceException } from '@aws-sdk/client-dynamodb';
import { parseArgs } from 'node:util';
import { findRunningSandbox, NoSandboxRunningError, RUNNING_SANDBOXES_VARIABLE } from './running-sandbox';
import type { Item, Table } from './sandbox-tables';
import { SandboxTables } from './sandbox-tables';

// Lambda runs Node 22+; the SDK's notice about this machine's Node version is not actionable here.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

const HELP = `Usage: npm run table -- <command> [arguments]

Reads and writes the tables of the running sandbox (npm start), in plain JSON.

Commands:
  list                  the sandbox's tables and their keys
  scan <table>          every item, one JSON object a line
  get <table> <key>     one item:        get notes '{"id": "n1"}'
  put <table> <item>    writes an item:  put notes '{"id": "n1", "title": "Hi"}'
                        (an item with the same key is replaced)
  delete <table> <key>  deletes an item: delete notes '{"id": "n1"}'

<table> is a table's label in rohrpost.config.ts (notes), or the name of the membership or
history table (rohrpost-membership, rohrpost-history). A write reaches the table's stream, so
subscribers hear of it as of any other write.

Environment:
  ${RUNNING_SANDBOXES_VARIABLE}  the folder where running sandboxes say where they are
                              (default node_modules/.cache/rohrpost-running-sandboxes)
`;

/** A mistake in the command line: exit code 2, and the usage. */
class UsageError extends Error {}

/** What went wrong, said to the user without a stack trace: exit code 1. */
class TableError extends Error {}

const ARGUMENTS: Record<string, readonly string[]> = {
  list: [],
  scan: ['<table>'],
  get: ['<table>', '<key>'],
  put: ['<table>', '<item>'],
  delete: ['<table>', '<key>'],
};

const TYPE_NAMES: Record<string, string> = { S: 'string', N: 'number', B: 'binary' };

function parseCommand(): { help: true } | { help: false; command: string; args: string[] } {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { help: { type: 'boolean', short: 'h', default: false } },
  });
  if (values.help) return { help: true };
  const [command, ...args] = positionals;
  if (command === undefined) throw new UsageError('Name a command: list, scan, get, put or delete.');
  const expected = ARGUMENTS[command];
  if (!expected) {
    throw new UsageError(`Unknown command '${command}'. The commands: ${Object.keys(ARGUMENTS).join(', ')}.`);
  }
  if (args.length !== expected.length) {
    const takes = expected.length === 0 ? 'no arguments' : expected.join(' ');
    throw new UsageError(
      `${command} takes ${takes}: npm run table -- ${[command, ...expected].join(' ')}` +
        (args.length > expected.length ? '\nQuote a JSON argument whole, in single quotes.' : ''),
    );
  }
  return { help: false, command, args };
}

function resolveTable(tables: SandboxTables, given: string): string {
  const names = tables.names();
  const name = names.get(given);
  if (name === undefined) {
    throw new TableError(
      `The sandbox has no table '${given}'. Its tables: ${[...names.keys()].join(', ')}. ` +
        'A table added to rohrpost.config.ts since the sandbox started needs a restart of npm start.',
    );
  }
  return name;
}

function describeKey(table: Table): string {
  return table.key.map(({ name, type }) => `${name} (${TYPE_NAMES[type] ?? type})`).join(' and ');
}

function keyExample(table: Table): string {
  return `'{${table.key.map(({ name, type }) => `"${name}": ${type === 'N' ? '1' : '"..."'}`).join(', ')}}'`;
}

function parseObject(text: string, what: string, example: string): Item {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new TableError(
      `The ${what} is not valid JSON (${(error as Error).message}): ${text}\n` +
        `Write it as a JSON object in single quotes, so that the shell keeps its double quotes: ${example}`,
    );
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new TableError(`The ${what} must be a JSON object, like ${example}, not ${text}`);
  }
  return value as Item;
}

/** Checks that `item` has every attribute of the table's key, of the key's type. */
function checkKey(table: Table, item: Item, what: string, example: string): void {
  for (const { name, type } of table.key) {
    const value = item[name];
    if (value === undefined) {
      throw new TableError(
        `The ${what} has no '${name}': the key of ${table.name} is ${describeKey(table)}. Give it, like ${example}`,
      );
    }
    const expected = { S: 'string', N: 'number' }[type];
    if (expected && typeof value !== expected) {
      throw new TableError(
        `'${name}' in the ${what} is ${JSON.stringify(value)}, but the key of ${table.name} is a ${expected}: ${example}`,
      );
    }
  }
}

/** The key and nothing else: what get and delete take. */
function parseKey(table: Table, text: string, example: string): Item {
  const key = parseObject(text, 'key', example);
  checkKey(table, key, 'key', example);
  const extra = Object.keys(key).filter((name) => !table.key.some((attribute) => attribute.name === name));
  if (extra.length > 0) {
    throw new TableError(
      `The key of ${table.name} is ${describeKey(table)}, without ${extra.map((name) => `'${name}'`).join(', ')}: ${example}`,
    );
  }
  return key;
}

function keyAttributes(table: Table, item: Item): Item {
  return Object.fromEntries(
    table.key.filter(({ name }) => name in item).map(({ name }) => [name, item[name]]),
  );
}

/** The item as JSON, its key first; sets become arrays and binary values base64, as in notifications. */
function json(table: Table, item: Item, space?: number): string {
  return JSON.stringify(
    { ...keyAttributes(table, item), ...item },
    (_name, value: unknown) => {
      if (value instanceof Set) return [...(value as Set<unknown>)];
      if (value instanceof Uint8Array) return Buffer.from(value).toString('base64');
      return value;
    },
    space,
  );
}

async function list(tables: SandboxTables): Promise<string[]> {
  const names = [...tables.names()];
  const described = await Promise.all(names.map(([, name]) => tables.describe(name)));
  const width = Math.max(...names.map(([given]) => given.length));
  return names.map(([given], index) => {
    const table = described[index]!;
    const stream = table.stream ? '   stream: writes notify subscribers' : '';
    return `${given.padEnd(width)}   key: ${describeKey(table)}${stream}`;
  });
}

async function run(tables: SandboxTables, command: string, args: readonly string[]): Promise<void> {
  const print = (line: string): void => void process.stdout.write(`${line}\n`);
  if (command === 'list') return (await list(tables)).forEach(print);

  const [given, argument] = args as [string, string | undefined];
  const table = await tables.describe(resolveTable(tables, given));
  const example = `npm run table -- ${command} ${given} ${keyExample(table)}`;
  const keyOf = (item: Item) => json(table, keyAttributes(table, item));
  switch (command) {
    case 'scan': {
      const items = await tables.scan(table);
      items.forEach((item) => print(json(table, item)));
      return void process.stderr.write(
        `${items.length} ${items.length === 1 ? 'item' : 'items'} in ${given}\n`,
      );
    }
    case 'get': {
      const key = parseKey(table, argument!, example);
      const item = await tables.get(table, key);
      if (!item) throw new TableError(`${given} has no item ${keyOf(key)}.`);
      return print(json(table, item, 2));
    }
    case 'put': {
      const item = parseObject(argument!, 'item', example);
      checkKey(table, item, 'item', example);
      const replaced = await tables.put(table, item);
      return print(
        `Put ${keyOf(item)} into ${given}${replaced ? ', replacing the item that was there' : ''}.`,
      );
    }
    case 'delete': {
      const key = parseKey(table, argument!, example);
      const deleted = await tables.delete(table, key);
      return print(
        deleted
          ? `Deleted ${keyOf(key)} from ${given}.`
          : `${given} has no item ${keyOf(key)}: nothing deleted.`,
      );
    }
  }
}

async function main(): Promise<void> {
  const parsed = parseCommand();
  if (parsed.help) return void process.stdout.write(HELP);
  const { sandbox, others } = findRunningSandbox();
  if (others > 0) {
    process.stderr.write(
      `${others + 1} sandboxes are running; this is the one started last (pid ${sandbox.pid}, ${sandbox.websocketUrl}).\n`,
    );
  }
  const tables = new SandboxTables(sandbox);
  try {
    await run(tables, parsed.command, parsed.args);
  } catch (error) {
    // A system call failed, not DynamoDB: nothing answers at the published endpoint.
    if ((error as NodeJS.ErrnoException).syscall === undefined) throw error;
    throw new TableError(
      `The sandbox's DynamoDB at ${sandbox.dynamodbEndpoint} does not answer (${(error as Error).message}). ` +
        `Is the sandbox (pid ${sandbox.pid}) stopping? Start it again with npm start.`,
    );
  } finally {
    tables.destroy();
  }
}

/** What to tell the user: a mistake's message as it is, a stack trace only for a bug. */
function explain(error: unknown): string {
  if (error instanceof TableError || error instanceof NoSandboxRunningError) return error.message;
  if (error instanceof DynamoDBServiceException) return `DynamoDB refused it: ${error.message}`;
  return (error as Error).stack ?? String(error);
}

main().catch((error: unknown) => {
  const usage = error instanceof UsageError;
  process.stderr.write(usage ? `${error.message}\n\n${HELP}` : `${explain(error)}\n`);
  process.exitCode = usage ? 2 : 1;
});
