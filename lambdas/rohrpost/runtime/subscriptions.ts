import { HandlerError } from '../protocol/errors';
import type { JsonValue } from '../protocol/message';
import { parseSince } from '../protocol/position';
import type { MessageHandler } from '../protocol/registry';
import { defineHandler } from '../protocol/registry';
import type { RohrpostRequest } from '../protocol/request';
import type { AuthorizerContext } from '../protocol/websocket-event';

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
 * refused. Replies: `{"id", "type": "subscribe", "data": {"group": "<name>", "epoch", "seq"}}`,
 * or an error.
 *
 * A subscribe with `since` (PROTOCOL.md §5) first receives the group's messages after that
 * position, and its reply says whether they were all there (`"recovered": true`).
 *
 * Leaving is always allowed, because it only removes the caller's own membership: `authorize`
 * only names the group, and when it refuses or throws, the group's default name is left.
 */
export function subscriptionHandlers(options: { authorize?: AuthorizeSubscription } = {}): MessageHandler {
  // Where the application set them up, for the log of a refusal: the stack is read only then.
  const definedAt = new Error();
  return defineHandler(['subscribe', 'unsubscribe'], async (request, context) => {
    const group = request.data;
    const subscription: SubscriptionRequest = {
      request,
      group,
      defaultName: defaultGroupName(group),
      connectionId: context.connectionId,
      identity: context.identity,
    };
    const authorize = async () => (options.authorize ? await options.authorize(subscription) : undefined);
    if (request.type === 'subscribe') {
      const since = parseSince(request.since);
      if (since instanceof Error) throw new HandlerError(since.message);
      const allowed = await authorize();
      if (allowed === undefined) {
        // The client hears only that it was refused; the developer hears where to allow it.
        context.logger.info(
          options.authorize
            ? 'Subscription refused: the authorize function of subscriptionHandlers returned no group'
            : 'Subscription refused: subscriptionHandlers has no authorize function, so it refuses every group',
          { group, defaultName: subscription.defaultName, definedIn: callerOf(definedAt) },
        );
        throw new HandlerError(SubscriptionErrors.refused);
      }
      const { position, recovered } = await context.groups.join(allowed, { since });
      return context.reply({
        group: allowed,
        ...(position && { epoch: position.epoch, seq: position.seq }),
        ...(recovered !== undefined && { recovered }),
      });
    }
    const name = (await authorize().catch(() => undefined)) ?? subscription.defaultName;
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

/** The file and line that called the framework, from a stack captured there. */
function callerOf(captured: Error): string | undefined {
  const frames = (captured.stack ?? '').split('\n').slice(1);
  const outside = frames.find((frame) => !/lambdas[/\\]rohrpost[/\\]/.test(frame)) ?? frames[0];
  return /\(?([^()\s]+:\d+:\d+)\)?$/.exec(outside?.trim() ?? '')?.[1];
}
