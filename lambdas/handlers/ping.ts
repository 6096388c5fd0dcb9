import { defineHandler } from '../rohrpost';

/** The built-in `ping`: answers `pong`, echoing object data and wrapping any other data value. */
export default defineHandler('ping', (request, context) => {
  if (!Object.hasOwn(request, 'data')) return context.reply(undefined, PONG);
  const { data } = request;
  const isObject = typeof data === 'object' && data !== null && !Array.isArray(data);
  context.reply(isObject ? data : { data }, PONG);
});

const PONG = Object.freeze({ type: 'pong' });
