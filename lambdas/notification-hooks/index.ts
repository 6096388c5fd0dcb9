import type { NotificationHooks } from '../rohrpost';
import notes from './notes';

/**
 * Code that decides a table's notification group or object, where rohrpost.config.ts's
 * template and attribute list are not enough. A new one is a module here and a line below.
 */
export const notificationHooks: readonly NotificationHooks[] = [notes];
