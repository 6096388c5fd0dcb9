import { handlers } from './handlers';
import { createWebSocketHandler } from './rohrpost';

/** The websocket Lambda: API Gateway's `$connect`, `$disconnect` and `$default` routes. */
export const handler = createWebSocketHandler({ handlers });
