import { subscriptionHandlers } from '../rohrpost';

/**
 * `subscribe` and `unsubscribe`, as the rohrpost-js client sends them. This is where the
 * application decides who may follow what; without `authorize`, every subscription is refused.
 * The example lets any connection follow any note, `{"type": "note", "id": "<note id>"}` (the
 * group `note-<id>`), and the list of all notes, `{"type": "notes", "id": "all"}` (`notes-all`):
 * the groups rohrpost.config.ts names for the notes table.
 * A real application would check `identity` (from the authorizer) or `request.auth_jwt` here.
 */
export default subscriptionHandlers({
  authorize: ({ group, defaultName }) => {
    if (typeof group !== 'object' || group === null || Array.isArray(group)) return undefined;
    const isNote = group.type === 'note';
    const isList = group.type === 'notes' && group.id === 'all';
    return isNote || isList ? defaultName : undefined;
  },
});
