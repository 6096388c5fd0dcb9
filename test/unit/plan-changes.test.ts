import { defineConfig } from '../../lambdas/rohrpost/config';
import type { ApplicationTableConfig } from '../../lambdas/rohrpost/config';
import { deploymentPlan } from '../../lambdas/rohrpost/deploy';
import { planChanges } from '../../sandbox/plan-changes';

const notifying: ApplicationTableConfig = {
  partitionKey: { name: 'id', type: 'string' },
  handlerAccess: 'read',
  notifications: {},
};
const plan = (
  tables: Record<string, ApplicationTableConfig>,
  extra: Parameters<typeof defineConfig>[0] = {},
) => deploymentPlan(defineConfig({ ...extra, tables }));

describe('what a running sandbox makes of a changed configuration', () => {
  test('a new notifying table: created, streamed, and the functions told of it', () => {
    const changes = planChanges(plan({ notes: notifying }), plan({ notes: notifying, todos: notifying }));
    expect(changes.newTables.map((table) => table.id)).toEqual(['todos']);
    expect(changes.newStreamSources.map((source) => source.table)).toEqual(['todos']);
    expect(changes.changedEnvironments.map((fn) => fn.role)).toEqual(['websocket', 'notifications']);
    expect(changes.needRestart).toEqual([]);
  });

  test('nothing changed: nothing to do', () => {
    expect(planChanges(plan({ notes: notifying }), plan({ notes: notifying }))).toEqual({
      newTables: [],
      newStreamSources: [],
      changedEnvironments: [],
      needRestart: [],
    });
  });

  test.each([
    [
      'a table removed',
      plan({ notes: notifying, todos: notifying }),
      plan({ notes: notifying }),
      'table todos was removed',
    ],
    [
      "a table's key changed",
      plan({ notes: notifying }),
      plan({ notes: { ...notifying, partitionKey: { name: 'key', type: 'string' } } }),
      'table notes changed its keys, indexes or stream',
    ],
    [
      'the first notifying table: a function is new',
      plan({}),
      plan({ notes: notifying }),
      'the notifications function is new',
    ],
    [
      'an authorizer added',
      plan({ notes: notifying }),
      plan({ notes: notifying }, { authorizer: { entry: 'authorizer.ts' } }),
      'the routes or the authorizer changed',
    ],
    [
      "a function's memory",
      plan({ notes: notifying }),
      plan({ notes: notifying }, { websocket: { entry: 'lambdas/websocket.ts', memorySize: 1024 } }),
      "the websocket function's settings changed",
    ],
  ])('%s needs a restart', (_name, running, next, reason) => {
    expect(planChanges(running, next).needRestart).toContain(reason);
  });
});
