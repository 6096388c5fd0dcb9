/**
 * The built-in `$connect` authorizer for JSON Web Tokens (rohrpost.config.ts's `authorizer.jwt`):
 * the token in the query string is verified with `jose` against the issuer's published keys,
 * and its claims become the connection's identity.
 */
import type { Context } from 'aws-lambda';
import type { JWTPayload } from 'jose';
import { createRemoteJWKSet, errors, jwtVerify } from 'jose';
import type { JwtSettings } from '../environment';
import { EnvironmentVariables, requireEnvironment } from '../environment';
import type {
  ConnectAuthorizerOptions,
  Identity,
  IdentityValue,
  WebSocketAuthorizerEvent,
  WebSocketAuthorizerResult,
} from './authorizer';
import { createConnectAuthorizer, CredentialsRefused } from './authorizer';

/** What a token may be off by in time: clocks differ a little between issuer and AWS. */
const CLOCK_TOLERANCE_SECONDS = 5;

/**
 * Errors that say the token is bad (401), by the reason they are counted under; others (keys
 * that cannot be fetched) are failures (403, logged). The first class a token's error is an
 * instance of names its reason: JWTExpired is a JWTClaimValidationFailed too.
 */
const REFUSALS: ReadonlyArray<readonly [new (...args: never[]) => Error, string]> = [
  [errors.JWTExpired, 'expired'],
  [errors.JWTClaimValidationFailed, 'claims'],
  [errors.JWSSignatureVerificationFailed, 'signature'],
  [errors.JWKSNoMatchingKey, 'unknown-key'],
  [errors.JWKSMultipleMatchingKeys, 'unknown-key'],
  [errors.JOSEAlgNotAllowed, 'algorithm'],
  [errors.JOSENotSupported, 'algorithm'],
  [errors.JWTInvalid, 'malformed'],
  [errors.JWSInvalid, 'malformed'],
];

/** Why a token was refused: the reason it is counted under, and a detail for the log; never sent to the client. */
export class TokenRefused extends CredentialsRefused {}

/**
 * Verifies tokens: the signature against the issuer's keys (fetched on first use, kept for the
 * life of the instance, fetched again for a key id it does not know), `iss`, `exp` (required),
 * `nbf`, `aud` or `client_id`, and a `sub` to be the principal.
 */
export class JwtVerifier {
  private readonly keys: ReturnType<typeof createRemoteJWKSet>;

  constructor(private readonly settings: JwtSettings) {
    this.keys = createRemoteJWKSet(new URL(settings.jwksUri));
  }

  /** The identity a token proves; throws `TokenRefused` for a bad token. */
  async verify(token: string): Promise<Identity> {
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.keys, {
        issuer: this.settings.issuer,
        algorithms: [...this.settings.algorithms],
        requiredClaims: ['exp', 'sub'],
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
      }));
    } catch (error) {
      const refusal = REFUSALS.find(([type]) => error instanceof type);
      if (refusal) throw new TokenRefused(refusal[1], (error as Error).message);
      throw error;
    }
    if (!this.isForUs(payload))
      throw new TokenRefused('audience', 'the token is for another audience or client');
    if (typeof payload.sub !== 'string' || payload.sub === '') {
      throw new TokenRefused('claims', 'the token has no subject');
    }
    return { principalId: payload.sub, context: this.identityClaims(payload) };
  }

  private isForUs(payload: JWTPayload): boolean {
    const audiences = typeof payload.aud === 'string' ? [payload.aud] : (payload.aud ?? []);
    const { audience, clientId } = this.settings;
    return (
      audiences.some((aud) => audience.includes(aud)) ||
      (typeof payload.client_id === 'string' && clientId.includes(payload.client_id))
    );
  }

  /** API Gateway passes on strings, numbers and booleans only: other claim values go as JSON text. */
  private identityClaims(payload: JWTPayload): Record<string, IdentityValue> {
    const context: Record<string, IdentityValue> = {};
    for (const claim of this.settings.claims) {
      const value = payload[claim];
      if (value === undefined || value === null) continue;
      const simple = typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean';
      context[claim] = simple ? value : JSON.stringify(value);
    }
    return context;
  }
}

/**
 * A `$connect` authorizer that admits connections with a valid token in the query string:
 * a missing or bad token is refused with 401 (the reason is logged, not told), a failure to
 * check it (the issuer's keys unreachable) with 403 and an error in the log.
 */
export function createJwtAuthorizer(
  settings: JwtSettings | (() => JwtSettings),
  options: ConnectAuthorizerOptions = {},
): (event: WebSocketAuthorizerEvent, context?: Context) => Promise<WebSocketAuthorizerResult> {
  let verifier: JwtVerifier | undefined;
  let resolved: JwtSettings | undefined;
  return createConnectAuthorizer(async ({ query }) => {
    resolved ??= typeof settings === 'function' ? settings() : settings;
    verifier ??= new JwtVerifier(resolved);
    const token = query[resolved.queryParameter];
    if (!token) throw new TokenRefused('missing-token', `no ${resolved.queryParameter} in the query string`);
    return verifier.verify(token);
  }, options);
}

/** The Lambda handler: settings from ROHRPOST_JWT, read on the first connection, not at load. */
export const handler = createJwtAuthorizer(
  () => JSON.parse(requireEnvironment(EnvironmentVariables.jwt)) as JwtSettings,
);
