import config from '../rohrpost.config';
import { notificationHooks } from './notification-hooks';
import { createNotificationHandler } from './runtime/notification-handler';

/** The notification function: the configured tables' streams in, subscription updates out. */
export const handler = createNotificationHandler({ config, hooks: notificationHooks });
