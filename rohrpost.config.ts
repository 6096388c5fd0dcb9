import { defineConfig } from './lambdas/rohrpost';

/** The one configuration the CDK app deploys and `npm start` runs locally. */
export default defineConfig({
  websocket: { entry: 'lambdas/websocket.ts' },
  // Sign-in with Cognito (or any OIDC provider): every connection then needs a token. Locally,
  // the demo page signs you in, and `npm run token -- alice` mints one (README, "Who may connect").
  // authorizer: {
  //   jwt: {
  //     issuer: 'https://cognito-idp.<region>.amazonaws.com/<user pool id>',
  //     audience: '<app client id>',
  //     claims: ['sub', 'email'],
  //   },
  // },
  notifications: {
    entry: 'lambdas/notify.ts',
    // What a reconnecting client can recover: the last 100 messages of a group, for an hour.
    history: { retentionSeconds: 3600, maxMessages: 100 },
  },
  tables: {
    // The example application (lambdas/handlers/notes.ts): a change to a note reaches the
    // members of the group `note-<id>` and of `notes-all` (every list of notes); the object sent
    // is decided in lambdas/notification-hooks/notes.ts.
    notes: {
      partitionKey: { name: 'id', type: 'string' },
      handlerAccess: 'read-write',
      notifications: { group: ['note-{id}', 'notes-all'] },
    },
  },
});
