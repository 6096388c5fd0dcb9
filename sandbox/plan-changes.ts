import type {
  DeploymentPlan,
  PlannedFunction,
  PlannedStreamSource,
  PlannedTable,
} from '../lambdas/rohrpost/deploy';

/** How a changed configuration's plan differs from the running one, as far as a running sandbox can take it on. */
export interface PlanChanges {
  /** Tables to create, with their streams. */
  readonly newTables: readonly PlannedTable[];
  /** Stream event sources to start, for the new tables. */
  readonly newStreamSources: readonly PlannedStreamSource[];
  /** Functions whose environment changed (a new table to tell them of), by role. */
  readonly changedEnvironments: readonly PlannedFunction[];
  /** What only a restart of the sandbox applies, in words; when there is any, nothing is taken on. */
  readonly needRestart: readonly string[];
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/**
 * What changed between two plans. New tables, their stream sources and the functions' new
 * environment can be taken on while the sandbox runs, as a deployment would apply them; a
 * removed or reshaped table, another function, queue, route or authorizer, or changed function
 * settings need a restart.
 */
export function planChanges(running: DeploymentPlan, next: DeploymentPlan): PlanChanges {
  const needRestart: string[] = [];
  const runningTables = new Map(running.tables.map((table) => [table.id, table]));
  const nextTableIds = new Set(next.tables.map((table) => table.id));
  const newTables = next.tables.filter((table) => !runningTables.has(table.id));
  for (const table of next.tables) {
    const before = runningTables.get(table.id);
    if (before && !same(before, table))
      needRestart.push(`table ${table.id} changed its keys, indexes or stream`);
  }
  for (const table of running.tables) {
    if (!nextTableIds.has(table.id)) needRestart.push(`table ${table.id} was removed`);
  }

  const runningSources = new Map(running.streamSources.map((source) => [source.table, source]));
  const newStreamSources = next.streamSources.filter((source) => !runningSources.has(source.table));
  for (const source of newStreamSources) {
    if (!newTables.some((table) => table.id === source.table)) {
      needRestart.push(`table ${source.table} now notifies: its stream exists only in a new table`);
    }
  }
  for (const source of next.streamSources) {
    const before = runningSources.get(source.table);
    if (before && !same(before, source)) needRestart.push(`the stream settings of ${source.table} changed`);
  }
  for (const source of running.streamSources) {
    if (!next.streamSources.some((candidate) => candidate.table === source.table)) {
      needRestart.push(`table ${source.table} no longer notifies`);
    }
  }

  const runningFunctions = new Map(running.functions.map((fn) => [fn.role, fn]));
  const changedEnvironments: PlannedFunction[] = [];
  for (const fn of next.functions) {
    const before = runningFunctions.get(fn.role);
    if (!before) {
      needRestart.push(`the ${fn.role} function is new`);
      continue;
    }
    const settings = (planned: PlannedFunction) => [
      planned.entry,
      planned.handler,
      planned.memorySize,
      planned.timeoutSeconds,
      planned.reservedConcurrency,
    ];
    if (!same(settings(before), settings(fn))) needRestart.push(`the ${fn.role} function's settings changed`);
    if (!same(before.environment, fn.environment)) changedEnvironments.push(fn);
  }
  for (const fn of running.functions) {
    if (!next.functions.some((candidate) => candidate.role === fn.role)) {
      needRestart.push(`the ${fn.role} function was removed`);
    }
  }
  if (!same(running.queues, next.queues)) needRestart.push('the queues changed');
  if (!same(running.routes, next.routes) || !same(running.authorizer, next.authorizer)) {
    needRestart.push('the routes or the authorizer changed');
  }
  return { newTables, newStreamSources, changedEnvironments, needRestart };
}
