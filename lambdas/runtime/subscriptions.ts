import { HandlerError } from '../protocol/errors';
import type { JsonValue } from '../protocol/message';
import type { MessageHandler } from '../protocol/registry';
import { defineHandler } from '../protocol/registry';
import type { RohrpostRequest } from '../protocol/request';
import type { AuthorizerContext } from './websocket-event';

/** A request to join or leave a group, as the authorization function sees it. */
export interface SubscriptionRequest {
  /** The whole request: `auth_jwt` and any other fields included. */
  readonly request: RohrpostRequest;
  /** What the client sent as `data`: the group it asks for, e.g. `{"type": "note", "id": 5}`. */
  readonly group: JsonValue | undefined;
  /** `<type>-<id>` for a group `{type, id}` (`note-5`); otherwise undefined. */
  readonly defaultName: string | undefined;
  readonly connectionId: string;
  /** What the `$connect` authorizer returned for this connection. */
  readonly identity: AuthorizerContext;
}

/**
 * Decides whether a connection may join a group: the group's name allows it, `undefined`
 * refuses. Throwing a `HandlerError` refuses with that error instead.
 */
export type AuthorizeSubscription = (
  subscription: SubscriptionRequest,
) => string | undefined | Promise<string | undefined>;

export const SubscriptionErrors = {
  refused: 'Not allowed to subscribe to this group.',
  unknownGroup: 'Unknown group: send the group you subscribed to as data, e.g. {"type": "note", "id": 5}.',
} as const;

/**
 * The `subscribe` and `unsubscribe` handlers that the rohrpost-js client speaks to. A
 * subscription is refused unless `authorize` allows it, so without one every subscription is
 * refused. Leaving is always allowed: it only removes the caller's own membership.
 * Replies: `{"id", "type": "subscribe", "data": {"group": "<name>"}}`, or an error.
 */
export function subscriptionHandlers(options: { authorize?: AuthorizeSubscription } = {}): MessageHandler {
  return defineHandler(['subscribe', 'unsubscribe'], async (request, context) => {
    const group = request.data;
    const subscription: SubscriptionRequest = {
      request,
      group,
      defaultName: defaultGroupName(group),
      connectionId: context.connectionId,
      identity: context.identity,
    };
    const allowed = options.authorize ? await options.authorize(subscription) : undefined;
    if (request.type === 'subscribe') {
      if (allowed === undefined) throw new HandlerError(SubscriptionErrors.refused);
      await context.groups.join(allowed);
      return context.reply({ group: allowed });
    }
    const name = allowed ?? subscription.defaultName;
    if (name === undefined) throw new HandlerError(SubscriptionErrors.unknownGroup);
    await context.groups.leave(name);
    context.reply({ group: name });
  });
}

/** `<type>-<id>` for `{type, id}` with a string type and a string or number id. */
export function defaultGroupName(group: JsonValue | undefined): string | undefined {
  if (typeof group !== 'object' || group === null || Array.isArray(group)) return undefined;
  const { type, id } = group;
  if (
    typeof type !== 'string' ||
    type === '' ||
    (typeof id !== 'string' && typeof id !== 'number') ||
    id === ''
  ) {
    return undefined;
  }
  return `${type}-${id}`;
}
