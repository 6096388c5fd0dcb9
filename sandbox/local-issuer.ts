import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { dirname, join } from 'node:path';
import type { CryptoKey, JWK } from 'jose';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, SignJWT } from 'jose';
import type { JwtSettings } from '../lambdas/rohrpost/deploy';
import type { TokenIssuer } from './sign-in';
import { serveSignIn } from './sign-in';

/** The `iss` of the tokens the sandbox issues. */
export const LOCAL_ISSUER = 'rohrpost-sandbox';
/** Where the sandbox publishes the local issuer's keys, on the gateway's port. */
const LOCAL_JWKS_PATH = '/.sandbox/jwks.json';
const ALGORITHM = 'ES256';

/** What a token minted for a user holds beyond `sub`. */
export interface MintOptions {
  /** How long the token lasts: seconds, or a span such as `'30s'`, `'15m'`, `'2h'`. @default '1h' */
  readonly expiresIn?: number | string;
  /** More claims, e.g. `{ email: 'alice@example.com' }`. @default none */
  readonly claims?: Readonly<Record<string, unknown>>;
}

/**
 * The identity provider of the sandbox, where there is no Cognito: its signing key (an ES256
 * key pair kept in `node_modules/.cache`, so that `npm run token` and a running sandbox share
 * it), its JWKS endpoint, and tokens for any user, for the audience the configuration expects,
 * also to the demo page (sign-in.ts).
 */
export class LocalIssuer implements TokenIssuer {
  private constructor(
    private readonly privateKey: CryptoKey,
    private readonly publicJwk: JWK,
    private readonly settings: JwtSettings,
  ) {}

  /** The project's local issuer for `settings` (rohrpost.config.ts's `authorizer.jwt`), its key created on first use. */
  static async load(projectRoot: string, settings: JwtSettings): Promise<LocalIssuer> {
    const file = join(projectRoot, 'node_modules', '.cache', 'rohrpost-local-issuer', 'signing-key.json');
    let privateJwk: JWK;
    try {
      privateJwk = JSON.parse(readFileSync(file, 'utf8')) as JWK;
    } catch {
      privateJwk = await createSigningKey(file);
    }
    const publicJwk: JWK = { ...privateJwk };
    delete publicJwk.d;
    const privateKey = (await importJWK(privateJwk, ALGORITHM)) as CryptoKey;
    return new LocalIssuer(privateKey, publicJwk, settings);
  }

  /** The settings the sandbox's authorizer checks with: this issuer and its keys instead of the configured ones. */
  settingsAt(origin: string): JwtSettings {
    return { ...this.settings, issuer: LOCAL_ISSUER, jwksUri: `${origin}${LOCAL_JWKS_PATH}` };
  }

  /** The query parameter the authorizer reads tokens from. */
  get tokenParameter(): string {
    return this.settings.queryParameter;
  }

  /** A signed token for `subject`, for the configured audience (or client id). */
  async mint(subject: string, options: MintOptions = {}): Promise<string> {
    const { audience, clientId } = this.settings;
    const target = audience[0] !== undefined ? { aud: audience[0] } : { client_id: clientId[0] };
    return this.sign({ ...target, ...options.claims, sub: subject }, options.expiresIn ?? '1h');
  }

  /**
   * Any claims, signed with the issuer's key (tests make tokens that must be refused with it):
   * `iss` is this issuer and `exp` an hour away unless the payload sets them; `expiresIn: null`
   * leaves `exp` out.
   */
  sign(payload: Record<string, unknown>, expiresIn: number | string | null = '1h'): Promise<string> {
    const jwt = new SignJWT({ iss: LOCAL_ISSUER, ...payload })
      .setProtectedHeader({ alg: ALGORITHM, kid: this.publicJwk.kid, typ: 'JWT' })
      .setIssuedAt();
    if (payload.exp === undefined && expiresIn !== null) {
      jwt.setExpirationTime(typeof expiresIn === 'number' ? `${expiresIn}s` : expiresIn);
    }
    return jwt.sign(this.privateKey);
  }

  /** Serves the JWKS and the demo page's sign-in; false, having written nothing, for any other request. */
  serve(request: IncomingMessage, response: ServerResponse): boolean {
    if (request.method !== 'GET' || request.url !== LOCAL_JWKS_PATH) {
      return serveSignIn(request, response, this);
    }
    response
      .writeHead(200, { 'content-type': 'application/json', 'cache-control': 'max-age=600' })
      .end(JSON.stringify({ keys: [{ ...this.publicJwk, alg: ALGORITHM, use: 'sig' }] }));
    return true;
  }
}

/** A new key pair, written where the next sandbox and `npm run token` find it (atomically: they may race). */
async function createSigningKey(file: string): Promise<JWK> {
  const { privateKey } = await generateKeyPair(ALGORITHM, { extractable: true });
  const jwk = await exportJWK(privateKey);
  jwk.kid = await calculateJwkThumbprint(jwk);
  mkdirSync(dirname(file), { recursive: true });
  const temporary = `${file}.${process.pid}`;
  writeFileSync(temporary, JSON.stringify(jwk), { mode: 0o600 });
  renameSync(temporary, file);
  return jwk;
}
