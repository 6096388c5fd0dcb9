/** The rohrpost client: `import { RohrpostClient } from '@rohrpost/client'`. */
export type { ClientEvents, ClientState, RohrpostClientOptions, ServerMessage } from './client';
export { RohrpostClient } from './client';
export type { BackoffOptions } from './backoff';
export { backoffDelay } from './backoff';
export {
  AbortError,
  ConnectionClosedError,
  RohrpostClientError,
  RohrpostError,
  TimeoutError,
} from './errors';
export type { ChangeType, GroupPosition, Update } from './group-feed';
export type { WebSocketConstructor, WebSocketLike } from './socket';
export type { GroupRef, SubscriptionEvents } from './subscription';
export { Subscription } from './subscription';
