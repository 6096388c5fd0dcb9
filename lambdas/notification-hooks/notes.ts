import { defineNotificationHooks } from '../rohrpost';

/** A note's subscribers get its title and the start of its body, not the whole text. */
export default defineNotificationHooks('notes', {
  object: ({ item }) => ({
    id: item.id,
    title: item.title,
    preview: typeof item.body === 'string' ? item.body.slice(0, 80) : '',
    updatedAt: item.updatedAt,
  }),
});
