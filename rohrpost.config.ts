import { defineConfig } from './lambdas/config';

/** The one configuration the CDK app deploys and `npm start` runs locally. */
export default defineConfig({
  websocket: { entry: 'lambdas/websocket.ts' },
  notifications: { entry: 'lambdas/notify.ts' },
  tables: {
    // The example application (lambdas/handlers/notes.ts): a change to a note reaches the
    // members of the group `note-<id>`; the object sent is decided in lambdas/notification-hooks/notes.ts.
    notes: {
      partitionKey: { name: 'id', type: 'string' },
      handlerAccess: 'read-write',
      notifications: { group: 'note-{id}' },
    },
  },
});
