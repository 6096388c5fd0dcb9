import { subscriptionHandlers } from '../rohrpost';

/**
 * `subscribe` and `unsubscribe`, as the rohrpost-js client sends them. This is where the
 * application decides who may follow what; without `authorize`, every subscription is refused.
 * The example lets any connection follow any note: `{"type": "note", "id": "<note id>"}` joins
 * the group `note-<id>`, which rohrpost.config.ts names as the notes table's group.
 * A real application would check `identity` (from the authorizer) or `request.auth_jwt` here.
 */
export default subscriptionHandlers({
  authorize: ({ group, defaultName }) => {
    const isNote =
      typeof group === 'object' && group !== null && !Array.isArray(group) && group.type === 'note';
    return isNote ? defaultName : undefined;
  },
});
