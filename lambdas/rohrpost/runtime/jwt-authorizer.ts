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
import type { Logger } from '../logger';
import { createLogger } from '../logger';
import type {
  Identity,
  IdentityValue,
  WebSocketAuthorizerEvent,
  WebSocketAuthorizerResult,
} from './authorizer';
import { createConnectAuthorizer } from './authorizer';

/** What a token may be off by in time: clocks differ a little between issuer and AWS. */
const CLOCK_TOLERANCE_SECONDS = 5;

/** Errors that say the token is bad (401); others (keys that cannot be fetched) are failures (403, logged). */
const REFUSALS = [
  errors.JWTExpired,
  errors.JWTClaimValidationFailed,
  errors.JWTInvalid,
  errors.JWSInvalid,
  errors.JWSSignatureVerificationFailed,
  errors.JOSEAlgNotAllowed,
  errors.JOSENotSupported,
  errors.JWKSNoMatchingKey,
  errors.JWKSMultipleMatchingKeys,
];

/** Why a token was refused, for the log; never sent to the client. */
export class TokenRefused extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'TokenRefused';
  }
}

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
      if (REFUSALS.some((refusal) => error instanceof refusal))
        throw new TokenRefused((error as Error).message);
      throw error;
    }
    if (!this.isForUs(payload)) throw new TokenRefused('the token is for another audience or client');
    if (typeof payload.sub !== 'string' || payload.sub === '')
      throw new TokenRefused('the token has no subject');
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
  options: { logger?: Logger } = {},
): (event: WebSocketAuthorizerEvent, context?: Context) => Promise<WebSocketAuthorizerResult> {
  const logger = options.logger ?? createLogger('rohrpost-authorizer');
  let verifier: JwtVerifier | undefined;
  let resolved: JwtSettings | undefined;
  return createConnectAuthorizer(
    async ({ query, connectionId }) => {
      resolved ??= typeof settings === 'function' ? settings() : settings;
      verifier ??= new JwtVerifier(resolved);
      const token = query[resolved.queryParameter];
      if (!token) return undefined;
      try {
        return await verifier.verify(token);
      } catch (error) {
        if (!(error instanceof TokenRefused)) throw error;
        logger.info('Token refused', { connectionId, reason: error.message });
        return undefined;
      }
    },
    { logger },
  );
}

/** The Lambda handler: settings from ROHRPOST_JWT, read on the first connection, not at load. */
export const handler = createJwtAuthorizer(
  () => JSON.parse(requireEnvironment(EnvironmentVariables.jwt)) as JwtSettings,
);
