import config from '../rohrpost.config';
import { notificationHooks } from './notification-hooks';
import { createNotificationHandler } from './rohrpost';

/** The notification function: the configured tables' streams in, subscription updates out. */
export const handler = createNotificationHandler({ config, hooks: notificationHooks });
