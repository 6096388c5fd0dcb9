import type { NotificationRule } from '../config';
import { groupNameProblem } from '../protocol/group-name';
import type { PlainItem } from './attribute-values';
import type { Change, ChangeType } from './change';
import { UndeliverableChangeError } from './change';

/** Code that decides a table's groups and object; it takes precedence over the rule's templates and list. */
export interface NotificationHooks {
  /** The table's label in rohrpost.config.ts. */
  readonly table: string;
  /**
   * The group, or groups, that `change.item` belongs to. For an update it runs twice: for the
   * item after the change, and for the item before it (as `item`), so that a group the item
   * left hears of it.
   */
  readonly group?: (change: Change) => string | readonly string[];
  /** What the message carries as `object`. */
  readonly object?: (change: Change) => unknown;
}

/** Declares the hooks of one table; a module in lambdas/notification-hooks/ exports the result. */
export function defineNotificationHooks(
  table: string,
  hooks: Omit<NotificationHooks, 'table'>,
): NotificationHooks {
  return Object.freeze({ table, ...hooks });
}

/** What one group is told of a change: a `subscription-update`'s data, before its place in the group's history. */
export interface Notice {
  readonly group: string;
  readonly type: ChangeType;
  readonly object: unknown;
}

/** A group a change names that can never be sent to: its name, or the template that failed to make one. */
export interface UndeliverableGroup {
  readonly group: string;
  readonly reason: string;
}

/** What a change sends: a notice per group, and the groups it names that can never be sent to. */
export interface ChangeNotices {
  readonly notices: Notice[];
  readonly undeliverable: UndeliverableGroup[];
}

/**
 * What each group hears of a change (PROTOCOL.md §4). The groups and the object each come from
 * the most specific source: the hook, then the rule, then the defaults (`<label>-<key>` and
 * the key attributes). Each group sees the change as its own set of items does: an update
 * that moves an item into a group is a `create` there, one that moves it out is a `delete`
 * in the group it left, and an `update` in the groups it stays in. A group that cannot be one
 * (a name that is not a group name, a template attribute that is no string or number) is set
 * apart as undeliverable; the change's other groups still hear of it. A hook that returns no
 * group names at all makes the whole change undeliverable (`UndeliverableChangeError`).
 */
export function noticesFor(change: Change, rule: NotificationRule, hooks?: NotificationHooks): ChangeNotices {
  if (change.expired && rule.expiredItems === 'skip') return { notices: [], undeliverable: [] };
  const after = groupsOf(change, rule, hooks);
  const groups = after.groups;
  if (change.type !== 'update') {
    return { notices: noticesOf(change, groups, rule, hooks), undeliverable: after.undeliverable };
  }

  const previous = change.oldItem ? groupsOf({ ...change, item: change.oldItem }, rule, hooks) : after;
  const before = previous.groups;
  const undeliverable = [...after.undeliverable];
  for (const problem of previous.undeliverable) {
    if (!undeliverable.some((known) => known.group === problem.group)) undeliverable.push(problem);
  }
  const stayed = groups.filter((group) => before.includes(group));
  const update = stayed.length > 0 ? updateObject(change, rule, hooks) : undefined;
  const notices = [
    ...(update?.send
      ? stayed.map((group): Notice => ({ group, type: 'update', object: update.object }))
      : []),
    ...noticesOf(
      entered(change),
      groups.filter((group) => !before.includes(group)),
      rule,
      hooks,
    ),
    ...noticesOf(
      left(change),
      before.filter((group) => !groups.includes(group)),
      rule,
      hooks,
    ),
  ];
  return { notices, undeliverable };
}

/** The same notice of `change` for each group; the object is computed once. */
function noticesOf(
  change: Change,
  groups: readonly string[],
  rule: NotificationRule,
  hooks: NotificationHooks | undefined,
): Notice[] {
  if (groups.length === 0) return [];
  const object = objectOf(change, rule, hooks);
  return groups.map((group) => ({ group, type: change.type, object }));
}

/** An update's object, with `updated_fields`, and whether the rule sends it at all. */
function updateObject(
  change: Change,
  rule: NotificationRule,
  hooks: NotificationHooks | undefined,
): { object: unknown; send: boolean } {
  const object = objectOf(change, rule, hooks);
  if (!isPlainObject(object)) return { object, send: true };
  const sent = Object.keys(object);
  const send = rule.alwaysSend !== false || change.updatedFields.some((field) => sent.includes(field));
  return {
    object: 'updated_fields' in object ? object : { ...object, updated_fields: change.updatedFields },
    send,
  };
}

/** An update, as a group the item moved into sees it. */
function entered(change: Change): Change {
  const { table, item, keys, expired } = change;
  return { table, type: 'create', item, keys, updatedFields: [], expired };
}

/** An update, as a group the item moved out of sees it. */
function left(change: Change): Change {
  return { ...change, type: 'delete', item: change.oldItem!, updatedFields: [] };
}

function objectOf(change: Change, rule: NotificationRule, hooks: NotificationHooks | undefined): unknown {
  if (hooks?.object) return hooks.object(change);
  return rule.object ? project(change.item, rule.object) : change.keys;
}

/** The distinct group names of `change.item`, and those it names that can never be groups. */
function groupsOf(
  change: Change,
  rule: NotificationRule,
  hooks: NotificationHooks | undefined,
): { groups: string[]; undeliverable: UndeliverableGroup[] } {
  const undeliverable: UndeliverableGroup[] = [];
  const named = hooks?.group ? hooks.group(change) : namedByRule(change, rule.group, undeliverable);
  const names = typeof named === 'string' ? [named] : named;
  if (!Array.isArray(names)) {
    throw new UndeliverableChangeError(
      `The group hook of table '${change.table}' must return a group name or a list of them, not ${JSON.stringify(named)}.`,
    );
  }
  const groups: string[] = [];
  for (const group of names as unknown[]) {
    const problem = groupNameProblem(group);
    if (problem) {
      undeliverable.push({
        group: String(group),
        reason: `Table '${change.table}' names a group for item ${JSON.stringify(change.keys)} that cannot be one. ${problem}`,
      });
    } else if (!groups.includes(group as string)) {
      groups.push(group as string);
    }
  }
  return { groups, undeliverable };
}

/**
 * The rule's templates filled from the item; a template whose attribute the item lacks names no
 * group, one whose attribute is no string or number is undeliverable.
 */
function namedByRule(
  change: Change,
  templates: string | readonly string[] | undefined,
  undeliverable: UndeliverableGroup[],
): string[] {
  if (templates === undefined) {
    return [`${change.table.toLowerCase()}-${Object.values(change.keys).map(String).join('-')}`];
  }
  const names: string[] = [];
  for (const template of typeof templates === 'string' ? [templates] : templates) {
    try {
      const name = fill(template, change.item, change);
      if (name !== undefined) names.push(name);
    } catch (error) {
      if (!(error instanceof UndeliverableChangeError)) throw error;
      undeliverable.push({ group: template, reason: error.message });
    }
  }
  return names;
}

function fill(template: string, item: PlainItem, change: Change): string | undefined {
  let missing = false;
  const name = template.replace(/\{([^{}]+)\}/g, (_placeholder, attribute: string) => {
    const value = item[attribute];
    if (value === undefined || value === null) {
      missing = true;
      return '';
    }
    if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
      throw new UndeliverableChangeError(
        `The group template '${template}' of table '${change.table}' needs the attribute '${attribute}' as a ` +
          `string or number; item ${JSON.stringify(change.keys)} has ${JSON.stringify(value)}.`,
      );
    }
    return String(value);
  });
  return missing ? undefined : name;
}

function project(item: PlainItem, names: readonly string[]): PlainItem {
  const object: PlainItem = {};
  for (const name of names) if (name in item) object[name] = item[name];
  return object;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
