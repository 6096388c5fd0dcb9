import { randomFillSync, randomUUID } from 'node:crypto';
import type { AuthorizerContext, WebSocketAuthorizerEvent, WebSocketEvent } from '../lambdas/rohrpost/deploy';
import { JsonEvent } from './lambda/function-protocol';

/** What API Gateway knows about a connection and copies into every event of it. */
export interface ConnectionDetails {
  readonly connectionId: string;
  readonly connectedAt: number;
  readonly apiId: string;
  readonly stage: string;
  readonly domainName: string;
  readonly sourceIp: string;
  readonly userAgent?: string;
  /** The `$connect` authorizer's context, sent with every later event. */
  readonly authorizer?: AuthorizerContext;
}

/** The upgrade request's headers and query string, sent to `$connect` and `$disconnect`. */
export interface HandshakeDetails {
  readonly headers: Record<string, string[]>;
  readonly query: Record<string, string[]>;
}

const ID_BYTES = 11;
/** Random bytes for 256 ids, filled again once used up: one call to the system's generator per 256 ids. */
const idPool = Buffer.alloc(ID_BYTES * 256);
let idOffset = idPool.length;

/** An id in API Gateway's style: 11 random bytes, base64, like `L0SM9cOFvHcCIhw=`. */
export function generateGatewayId(): string {
  if (idOffset === idPool.length) {
    randomFillSync(idPool);
    idOffset = 0;
  }
  idOffset += ID_BYTES;
  return idPool.toString('base64', idOffset - ID_BYTES, idOffset);
}

/** The `$default` event for one text frame. */
export function messageEvent(connection: ConnectionDetails, body: string, now = Date.now()): WebSocketEvent {
  return {
    requestContext: {
      ...requestContext(connection, '$default', 'MESSAGE', now),
      messageId: generateGatewayId(),
    },
    body,
    isBase64Encoded: false,
  };
}

/** A connection's `$default` events, in JSON, and each one's request id. */
export type MessageEventEncoder = (body: string, now?: number) => { event: JsonEvent; requestId: string };

/**
 * The `$default` events of one connection, written as JSON directly: the same event as
 * `messageEvent`, whose fields that are the same for every frame of the connection are
 * serialised once. This is what the gateway hands a function for each frame.
 */
export function messageEventEncoder(connection: ConnectionDetails): MessageEventEncoder {
  const fixed = JSON.stringify({
    messageDirection: 'IN',
    stage: connection.stage,
    connectedAt: connection.connectedAt,
    identity: { sourceIp: connection.sourceIp, userAgent: connection.userAgent },
    domainName: connection.domainName,
    connectionId: connection.connectionId,
    apiId: connection.apiId,
    ...(connection.authorizer && { authorizer: connection.authorizer }),
  }).slice(1);
  return (body, now = Date.now()) => {
    const requestId = randomUUID();
    const json =
      `{"requestContext":{"routeKey":"$default","messageId":"${generateGatewayId()}","eventType":"MESSAGE",` +
      `"extendedRequestId":"${generateGatewayId()}","requestTime":"${formatRequestTime(now)}",` +
      `"requestTimeEpoch":${now},"requestId":"${requestId}",${fixed},` +
      `"body":${JSON.stringify(body)},"isBase64Encoded":false}`;
    return { event: new JsonEvent(json), requestId };
  };
}

/** The `$connect` event, sent before the upgrade completes. */
export function connectEvent(
  connection: ConnectionDetails,
  handshake: HandshakeDetails,
  now = Date.now(),
): WebSocketEvent {
  return {
    ...handshakeFields(handshake),
    requestContext: requestContext(connection, '$connect', 'CONNECT', now),
    isBase64Encoded: false,
  };
}

/** The event a Lambda REQUEST authorizer gets before `$connect`. */
export function authorizerEvent(
  connection: ConnectionDetails,
  handshake: HandshakeDetails,
  methodArn: string,
  now = Date.now(),
): WebSocketAuthorizerEvent {
  return {
    type: 'REQUEST',
    methodArn,
    ...handshakeFields(handshake),
    stageVariables: {},
    requestContext: requestContext(connection, '$connect', 'CONNECT', now),
  };
}

/** The `$disconnect` event, with the WebSocket close code and reason. */
export function disconnectEvent(
  connection: ConnectionDetails,
  handshake: HandshakeDetails,
  close: { code: number; reason: string },
  now = Date.now(),
): WebSocketEvent {
  return {
    ...handshakeFields(handshake),
    requestContext: {
      ...requestContext(connection, '$disconnect', 'DISCONNECT', now),
      disconnectStatusCode: close.code,
      disconnectReason: close.reason,
    },
    isBase64Encoded: false,
  };
}

function requestContext(
  connection: ConnectionDetails,
  routeKey: string,
  eventType: 'CONNECT' | 'MESSAGE' | 'DISCONNECT',
  now: number,
): WebSocketEvent['requestContext'] {
  return {
    routeKey,
    messageId: '',
    eventType,
    extendedRequestId: generateGatewayId(),
    requestTime: formatRequestTime(now),
    messageDirection: 'IN',
    stage: connection.stage,
    connectedAt: connection.connectedAt,
    requestTimeEpoch: now,
    identity: { sourceIp: connection.sourceIp, userAgent: connection.userAgent },
    requestId: randomUUID(),
    domainName: connection.domainName,
    connectionId: connection.connectionId,
    apiId: connection.apiId,
    ...(connection.authorizer && { authorizer: connection.authorizer }),
  };
}

function handshakeFields(handshake: HandshakeDetails) {
  return {
    headers: lastValues(handshake.headers),
    multiValueHeaders: handshake.headers,
    ...(Object.keys(handshake.query).length > 0 && {
      queryStringParameters: lastValues(handshake.query),
      multiValueQueryStringParameters: handshake.query,
    }),
  };
}

function lastValues(multi: Record<string, string[]>): Record<string, string> {
  return Object.fromEntries(Object.entries(multi).map(([name, values]) => [name, values.at(-1) ?? '']));
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

let lastSecond = NaN;
let lastRequestTime = '';

/** API Gateway's `requestTime`, e.g. `13/Dec/2020:10:17:47 +0000`; the same for a whole second. */
function formatRequestTime(epochMillis: number): string {
  const second = Math.floor(epochMillis / 1000);
  if (second !== lastSecond) {
    lastSecond = second;
    lastRequestTime = formatSecond(epochMillis);
  }
  return lastRequestTime;
}

function formatSecond(epochMillis: number): string {
  const d = new Date(epochMillis);
  const two = (n: number) => String(n).padStart(2, '0');
  return (
    `${two(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:` +
    `${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())} +0000`
  );
}
