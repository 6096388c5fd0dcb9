import { nodeCrypto } from '../protocol/node-crypto';

/** AWS credentials, as the SDK's credential providers resolve them. */
export interface SigningCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
}

export interface RequestToSign {
  readonly method: string;
  /** The path exactly as sent, its segments URI-encoded once. */
  readonly path: string;
  /** Headers to sign, `host` among them; names in lower case. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

/** What requests signed with the same method, headers, body, credentials and second share. */
interface SharedParts {
  readonly method: string;
  readonly headers: ReadonlyArray<readonly [string, string]>;
  readonly body: string;
  readonly credentials: SigningCredentials;
  readonly amzDate: string;
  /** The canonical request after the path: headers, signed header names, body hash. */
  readonly canonicalTail: string;
  readonly stringToSignHead: string;
  readonly authorizationHead: string;
  readonly added: Readonly<Record<string, string>>;
  readonly signingKey: Buffer;
}

/**
 * AWS Signature Version 4 for requests without a query string, as the SDK's SignatureV4 signs
 * them (a test holds the two to the same output), at a fraction of its cost: the management API
 * is called once per member of a group, so the signer is on the fan-out's hot path. Requests
 * that differ only in their path (one post per member) share everything else, so each costs a
 * hash of its canonical request and one HMAC.
 */
export class RequestSigner {
  private shared: SharedParts | undefined;
  private cachedKey: { scope: string; secret: string; key: Buffer } | undefined;
  private cachedDate: { second: number; amzDate: string } | undefined;

  constructor(
    private readonly service: string,
    private readonly region: string,
  ) {}

  /** The headers to send besides the request's own: `x-amz-date`, the session token, `authorization`. */
  sign(request: RequestToSign, credentials: SigningCredentials, now = new Date()): Record<string, string> {
    const amzDate = this.amzDate(now);
    const shared = this.canShare(request, credentials, amzDate)
      ? this.shared!
      : this.sharedParts(request, credentials, amzDate);
    const canonicalRequest = `${request.method}\n${canonicalPath(request.path)}\n${shared.canonicalTail}`;
    const signature = nodeCrypto()
      .createHmac('sha256', shared.signingKey)
      .update(shared.stringToSignHead + nodeCrypto().hash('sha256', canonicalRequest))
      .digest('hex');
    return { ...shared.added, authorization: shared.authorizationHead + signature };
  }

  /** Whether the last request's shared parts are this one's too. */
  private canShare(request: RequestToSign, credentials: SigningCredentials, amzDate: string): boolean {
    const shared = this.shared;
    if (
      shared?.method !== request.method ||
      shared.amzDate !== amzDate ||
      shared.body !== request.body ||
      shared.credentials.accessKeyId !== credentials.accessKeyId ||
      shared.credentials.secretAccessKey !== credentials.secretAccessKey ||
      shared.credentials.sessionToken !== credentials.sessionToken
    )
      return false;
    let index = 0;
    for (const name in request.headers) {
      const header = shared.headers[index++];
      if (header?.[0] !== name || header[1] !== request.headers[name]) return false;
    }
    return index === shared.headers.length;
  }

  private sharedParts(request: RequestToSign, credentials: SigningCredentials, amzDate: string): SharedParts {
    const added: Record<string, string> = { 'x-amz-date': amzDate };
    if (credentials.sessionToken) added['x-amz-security-token'] = credentials.sessionToken;
    const headers = { ...request.headers, ...added };
    const names = Object.keys(headers).sort();
    const canonicalHeaders = names
      .map((name) => `${name}:${headers[name]!.trim().replace(/\s+/g, ' ')}\n`)
      .join('');
    const signedHeaders = names.join(';');
    const date = amzDate.slice(0, 8);
    const scope = `${date}/${this.region}/${this.service}/aws4_request`;
    this.shared = {
      method: request.method,
      headers: Object.entries(request.headers),
      body: request.body,
      credentials: { ...credentials },
      amzDate,
      canonicalTail: `\n${canonicalHeaders}\n${signedHeaders}\n${nodeCrypto().hash('sha256', request.body)}`,
      stringToSignHead: `AWS4-HMAC-SHA256\n${amzDate}\n${scope}\n`,
      authorizationHead:
        `AWS4-HMAC-SHA256 Credential=${credentials.accessKeyId}/${scope}, ` +
        `SignedHeaders=${signedHeaders}, Signature=`,
      added,
      signingKey: this.signingKey(scope, date, credentials.secretAccessKey),
    };
    return this.shared;
  }

  /** `20261122T043530Z` for the current second. */
  private amzDate(now: Date): string {
    const second = Math.floor(now.getTime() / 1000);
    if (this.cachedDate?.second !== second) {
      this.cachedDate = {
        second,
        amzDate: now
          .toISOString()
          .replace(/[-:]/g, '')
          .replace(/\.\d{3}/, ''),
      };
    }
    return this.cachedDate.amzDate;
  }

  /** The day's signing key, derived once per day and secret. */
  private signingKey(scope: string, date: string, secret: string): Buffer {
    if (this.cachedKey?.scope === scope && this.cachedKey.secret === secret) return this.cachedKey.key;
    const hmac = (key: string | Buffer, data: string) =>
      nodeCrypto().createHmac('sha256', key).update(data).digest();
    const key = hmac(hmac(hmac(hmac(`AWS4${secret}`, date), this.region), this.service), 'aws4_request');
    this.cachedKey = { scope, secret, key };
    return key;
  }
}

/** Empty or dot segments, a trailing slash, or no leading one: what `canonicalPath` normalises. */
const UNUSUAL_PATH = /\/\/|\/\.\.?(?:\/|$)|\/$|^[^/]/;

/**
 * SigV4's canonical URI for services other than S3: dot segments resolved, empty segments
 * dropped (RFC 3986), then every segment URI-encoded once more.
 */
function canonicalPath(path: string): string {
  // The usual path only needs the second encoding; a '/' is never part of a segment here.
  if (!UNUSUAL_PATH.test(path)) return uriEncode(path).replace(/%2F/g, '/');
  const segments: string[] = [];
  for (const segment of path.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') segments.pop();
    else segments.push(uriEncode(segment));
  }
  const trailing = segments.length > 0 && path.endsWith('/') ? '/' : '';
  return `${path.startsWith('/') ? '/' : ''}${segments.join('/')}${trailing}`;
}

/** AWS's URI encoding: everything but unreserved characters, `!'()*` included. */
function uriEncode(text: string): string {
  return encodeURIComponent(text).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}
