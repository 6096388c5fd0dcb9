import type { JsonValue } from '../rohrpost';
import { conditionFailed, defineHandlers, dynamoDb, HandlerError, tableName } from '../rohrpost';

/**
 * The example application: notes in the `notes` table. Every change reaches the note's
 * subscribers through the table's stream (see rohrpost.config.ts), whoever made it.
 */
interface Note {
  id: string;
  title: string;
  body: string;
  updatedAt: string;
}

const LIMITS = { title: 200, body: 10_000 } as const;
/** The most notes `note.list` returns. */
const LIST_LIMIT = 100;
const NOT_FOUND = 'Note not found.';

export default defineHandlers({
  /**
   * `{"type": "note.create", "data": {"title": "...", "body": "..."}}` → the new note. The client
   * may choose the id (`data.id`), so that others can subscribe to a note before it exists.
   */
  'note.create': async (request, context) => {
    const fields = noteFields(request.data, { partial: false });
    // The global Web Crypto: an import of node:crypto would load it at every cold start.
    const id =
      isObject(request.data) && request.data.id !== undefined ? noteId(request.data) : crypto.randomUUID();
    const note: Note = { id, title: '', body: '', ...fields, updatedAt: new Date().toISOString() };
    try {
      await dynamoDb().put({
        TableName: tableName('notes'),
        Item: note,
        ConditionExpression: 'attribute_not_exists(id)',
      });
    } catch (error) {
      if (conditionFailed(error)) throw new HandlerError('A note with this id exists.');
      throw error;
    }
    context.reply({ note });
  },

  /**
   * `{"type": "note.list"}` → `{"notes": [...], "more": false}`: the most recently updated notes
   * first, at most 100. The example scans its small table; a real application would query an
   * index, such as one by owner.
   */
  'note.list': async (_request, context) => {
    const notes: Array<Record<string, unknown>> = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await dynamoDb().scan({
        TableName: tableName('notes'),
        ExclusiveStartKey: startKey,
        Limit: LIST_LIMIT,
      });
      notes.push(...(page.Items ?? []));
      startKey = page.LastEvaluatedKey;
    } while (startKey && notes.length <= LIST_LIMIT);
    const updatedAt = (note: Record<string, unknown>) =>
      typeof note.updatedAt === 'string' ? note.updatedAt : '';
    notes.sort((a, b) => updatedAt(b).localeCompare(updatedAt(a)));
    context.reply({
      notes: notes.slice(0, LIST_LIMIT),
      more: notes.length > LIST_LIMIT || startKey !== undefined,
    });
  },

  /** `{"type": "note.get", "data": {"id": "..."}}` → the note. */
  'note.get': async (request, context) => {
    const { Item } = await dynamoDb().get({
      TableName: tableName('notes'),
      Key: { id: noteId(request.data) },
    });
    if (!Item) throw new HandlerError(NOT_FOUND);
    context.reply({ note: Item });
  },

  /** `{"type": "note.update", "data": {"id": "...", "title"?: "...", "body"?: "..."}}` → the note. */
  'note.update': async (request, context) => {
    const id = noteId(request.data);
    const fields = { ...noteFields(request.data, { partial: true }), updatedAt: new Date().toISOString() };
    const names = Object.keys(fields);
    try {
      const { Attributes } = await dynamoDb().update({
        TableName: tableName('notes'),
        Key: { id },
        UpdateExpression: `SET ${names.map((name) => `#${name} = :${name}`).join(', ')}`,
        ConditionExpression: 'attribute_exists(id)',
        ExpressionAttributeNames: Object.fromEntries(names.map((name) => [`#${name}`, name])),
        ExpressionAttributeValues: Object.fromEntries(
          Object.entries(fields).map(([name, value]) => [`:${name}`, value]),
        ),
        ReturnValues: 'ALL_NEW',
      });
      context.reply({ note: Attributes });
    } catch (error) {
      if (conditionFailed(error)) throw new HandlerError(NOT_FOUND);
      throw error;
    }
  },

  /** `{"type": "note.delete", "data": {"id": "..."}}` → `{"id": "..."}`. */
  'note.delete': async (request, context) => {
    const id = noteId(request.data);
    try {
      await dynamoDb().delete({
        TableName: tableName('notes'),
        Key: { id },
        ConditionExpression: 'attribute_exists(id)',
      });
    } catch (error) {
      if (conditionFailed(error)) throw new HandlerError(NOT_FOUND);
      throw error;
    }
    context.reply({ id });
  },
});

function noteId(data: JsonValue | undefined): string {
  const id = isObject(data) ? data.id : undefined;
  if (typeof id !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(id)) {
    throw new HandlerError("Field 'data.id' must be a note id: 1-64 letters, digits, '-' or '_'.");
  }
  return id;
}

function noteFields(
  data: JsonValue | undefined,
  { partial }: { partial: boolean },
): Partial<Pick<Note, 'title' | 'body'>> {
  if (!isObject(data)) throw new HandlerError("Field 'data' must be an object with 'title' and 'body'.");
  const fields: Partial<Pick<Note, 'title' | 'body'>> = {};
  for (const name of ['title', 'body'] as const) {
    const value = data[name];
    if (value === undefined) continue;
    if (typeof value !== 'string' || value.length > LIMITS[name]) {
      throw new HandlerError(`Field 'data.${name}' must be a string of at most ${LIMITS[name]} characters.`);
    }
    fields[name] = value;
  }
  if (!partial && fields.title === undefined) throw new HandlerError("Field 'data.title' is required.");
  if (partial && Object.keys(fields).length === 0)
    throw new HandlerError("Send 'data.title', 'data.body' or both.");
  return fields;
}

function isObject(value: JsonValue | undefined): value is { [key: string]: JsonValue } {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
