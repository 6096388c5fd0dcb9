import type { ConnectionDetails } from '../../sandbox/events';
import { generateGatewayId, messageEvent } from '../../sandbox/events';
import type { WebSocketEvent, WebSocketResult } from '../../lambdas/rohrpost/protocol/websocket-event';

export function testConnection(overrides: Partial<ConnectionDetails> = {}): ConnectionDetails {
  return {
    connectionId: generateGatewayId(),
    connectedAt: Date.now(),
    apiId: 'testapi',
    stage: 'test',
    domainName: 'testapi.execute-api.us-east-1.amazonaws.com',
    sourceIp: '127.0.0.1',
    userAgent: 'jest',
    ...overrides,
  };
}

/** A `$default` event carrying `body` (undefined: a frame API Gateway passed without body). */
export function frame(body: string | undefined, connection = testConnection()): WebSocketEvent {
  const event = messageEvent(connection, body ?? '');
  if (body === undefined) delete event.body;
  return event;
}

/** Sends one frame through a websocket handler and returns the route response body. */
export async function roundTrip(
  handler: (event: WebSocketEvent) => Promise<WebSocketResult>,
  body: string | undefined,
): Promise<string | undefined> {
  const result = await handler(frame(body));
  expect(result.statusCode).toBe(200);
  return result.body;
}
