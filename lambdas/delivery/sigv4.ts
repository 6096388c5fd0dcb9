import { createHash, createHmac } from 'node:crypto';

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

/**
 * AWS Signature Version 4 for requests without a query string, as the SDK's SignatureV4 signs
 * them (a test holds the two to the same output), at a sixth of its cost: the management API
 * is called once per member of a group, so the signer is on the fan-out's hot path.
 */
export class RequestSigner {
  private cachedKey: { scope: string; secret: string; key: Buffer } | undefined;
  // A fan-out signs the same body for every member, within the same few seconds.
  private cachedBody: { body: string; hash: string } | undefined;
  private cachedDate: { second: number; amzDate: string } | undefined;

  constructor(
    private readonly service: string,
    private readonly region: string,
  ) {}

  /** The headers to send besides the request's own: `x-amz-date`, the session token, `authorization`. */
  sign(request: RequestToSign, credentials: SigningCredentials, now = new Date()): Record<string, string> {
    const amzDate = this.amzDate(now);
    const date = amzDate.slice(0, 8);
    const added: Record<string, string> = { 'x-amz-date': amzDate };
    if (credentials.sessionToken) added['x-amz-security-token'] = credentials.sessionToken;

    const headers = { ...request.headers, ...added };
    const names = Object.keys(headers).sort();
    const canonicalHeaders = names
      .map((name) => `${name}:${headers[name]!.trim().replace(/\s+/g, ' ')}\n`)
      .join('');
    const signedHeaders = names.join(';');
    const canonicalRequest = [
      request.method,
      canonicalPath(request.path),
      '',
      canonicalHeaders,
      signedHeaders,
      this.bodyHash(request.body),
    ].join('\n');
    const scope = `${date}/${this.region}/${this.service}/aws4_request`;
    const stringToSign = `AWS4-HMAC-SHA256\n${amzDate}\n${scope}\n${sha256Hex(canonicalRequest)}`;
    const signature = createHmac('sha256', this.signingKey(scope, date, credentials.secretAccessKey))
      .update(stringToSign)
      .digest('hex');
    added.authorization =
      `AWS4-HMAC-SHA256 Credential=${credentials.accessKeyId}/${scope}, ` +
      `SignedHeaders=${signedHeaders}, Signature=${signature}`;
    return added;
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

  private bodyHash(body: string): string {
    if (this.cachedBody?.body !== body) this.cachedBody = { body, hash: sha256Hex(body) };
    return this.cachedBody.hash;
  }

  /** The day's signing key, derived once per day and secret. */
  private signingKey(scope: string, date: string, secret: string): Buffer {
    if (this.cachedKey?.scope === scope && this.cachedKey.secret === secret) return this.cachedKey.key;
    const hmac = (key: string | Buffer, data: string) => createHmac('sha256', key).update(data).digest();
    const key = hmac(hmac(hmac(hmac(`AWS4${secret}`, date), this.region), this.service), 'aws4_request');
    this.cachedKey = { scope, secret, key };
    return key;
  }
}

/**
 * SigV4's canonical URI for services other than S3: dot segments resolved, empty segments
 * dropped (RFC 3986), then every segment URI-encoded once more.
 */
function canonicalPath(path: string): string {
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

function sha256Hex(data: string): string {
  return createHash('sha256').update(data).digest('hex');
}
