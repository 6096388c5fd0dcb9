import { handlers } from './handlers';
import { createWebSocketHandler } from './runtime/websocket-handler';

/** The websocket Lambda: API Gateway's `$connect`, `$disconnect` and `$default` routes. */
export const handler = createWebSocketHandler({ handlers });
