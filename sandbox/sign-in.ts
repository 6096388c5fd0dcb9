import type { IncomingMessage, ServerResponse } from 'node:http';
import { readBoundedBody } from './request-body';

/**
 * Sign-in for the demo page, a local development convenience that only the sandbox serves; the
 * deployed stack has nothing like it, and a real page signs in with its identity provider.
 *
 * - `GET /.sandbox/auth` says whether connections need a token (`authorizer.jwt` is set):
 *   `{"jwt": true, "tokenParameter": "token"}` or `{"jwt": false}`.
 * - `POST /.sandbox/token` with `{"user": "alice"}` mints a token for that user from the
 *   sandbox's local issuer, as `npm run token -- alice` does:
 *   `{"user": "alice", "token": "...", "expiresAt": "<ISO date>"}`.
 *
 * Whoever reaches the sandbox's port can sign in as anyone: it listens on 127.0.0.1. The token
 * endpoint takes JSON only (`content-type: application/json`), so another site's page cannot
 * post to it without a CORS preflight, which the sandbox never allows.
 */
const AUTH_PATH = '/.sandbox/auth';
const TOKEN_PATH = '/.sandbox/token';

/** The issuer side of sign-in: the sandbox's local issuer, when `authorizer.jwt` is set. */
export interface TokenIssuer {
  /** The query parameter the authorizer reads the token from. */
  readonly tokenParameter: string;
  /** A token for `user` that expires at `exp` (seconds since 1970). */
  mint(user: string, options: { readonly claims: { readonly exp: number } }): Promise<string>;
}

/** How long a page's token lasts: a working session; `npm run token` makes others. */
const TOKEN_LIFETIME_SECONDS = 8 * 3600;
/** `{"user": "<64 characters>"}` needs far less. */
const MAX_BODY_BYTES = 1024;
const USER_NAME = /^[\p{L}\p{N}._@+-]{1,64}$/u;
const USER_NAME_RULE =
  "Field 'user' must be a user name: 1 to 64 letters, digits or the characters . _ @ + -";

/**
 * Answers the two sign-in paths, with `issuer` or, without one, as a sandbox whose connections
 * need no token. False, having written nothing, for any other path.
 */
export function serveSignIn(
  request: IncomingMessage,
  response: ServerResponse,
  issuer: TokenIssuer | undefined,
): boolean {
  const path = (request.url ?? '/').split('?')[0];
  if (path === AUTH_PATH) {
    if (request.method !== 'GET' && request.method !== 'HEAD') return refuseMethod(response, 'GET');
    send(response, 200, issuer ? { jwt: true, tokenParameter: issuer.tokenParameter } : { jwt: false });
    return true;
  }
  if (path !== TOKEN_PATH) return false;
  if (request.method !== 'POST') return refuseMethod(response, 'POST');
  if (!issuer) {
    const error = 'authorizer.jwt is not configured: connections need no token, and the sandbox issues none.';
    send(response, 404, { error }, UNREAD_BODY);
    return true;
  }
  const type = request.headers['content-type'] ?? '';
  if (!/^application\/json\s*(;|$)/i.test(type)) {
    send(response, 415, { error: 'Send {"user": "<name>"} as content-type application/json.' }, UNREAD_BODY);
    return true;
  }
  void mintFor(request, issuer).then(
    ({ status, body }) => send(response, status, body, status === 413 ? UNREAD_BODY : undefined),
    () => send(response, 500, { error: 'Could not mint a token.' }),
  );
  return true;
}

async function mintFor(
  request: IncomingMessage,
  issuer: TokenIssuer,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const raw = await readBoundedBody(request, MAX_BODY_BYTES);
  if (raw === undefined) {
    return {
      status: 413,
      body: { error: `The request is over ${MAX_BODY_BYTES} bytes: send {"user": "<name>"}.` },
    };
  }
  let user: unknown;
  try {
    user = (JSON.parse(raw.toString('utf8')) as { user?: unknown } | null)?.user;
  } catch {
    return { status: 400, body: { error: 'The request is not JSON: send {"user": "<name>"}.' } };
  }
  if (typeof user !== 'string' || !USER_NAME.test(user)) {
    return { status: 400, body: { error: USER_NAME_RULE } };
  }
  const exp = Math.floor(Date.now() / 1000) + TOKEN_LIFETIME_SECONDS;
  const token = await issuer.mint(user, { claims: { exp } });
  return { status: 200, body: { user, token, expiresAt: new Date(exp * 1000).toISOString() } };
}

function refuseMethod(response: ServerResponse, allowed: string): true {
  response.setHeader('allow', allowed);
  send(response, 405, { error: `Use ${allowed}.` }, UNREAD_BODY);
  return true;
}

/** For answers that leave the request's body unread: the connection closes instead of reading it. */
const UNREAD_BODY = { connection: 'close' };

function send(response: ServerResponse, status: number, body: object, headers?: typeof UNREAD_BODY): void {
  response
    .writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers })
    .end(JSON.stringify(body));
}
