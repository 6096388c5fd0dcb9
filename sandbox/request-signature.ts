import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { SignatureV4 } from '@smithy/signature-v4';
import type { Checksum, SourceData } from '@smithy/types';

/** AWS credentials the sandbox hands its functions: the only ones its APIs accept. */
export interface LocalCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
}

/** A request as it arrived, body read. */
export interface ArrivedRequest {
  readonly method: string;
  /** The path as sent, percent-escapes and all, without the query. */
  readonly path: string;
  readonly query: URLSearchParams;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

/** Why AWS refuses a request's signature: always 403, with AWS's error type. */
export interface SignatureRefusal {
  readonly errorType: string;
  readonly message: string;
}

/** How far a request's date may be from the sandbox's clock, as AWS allows. */
const MAX_CLOCK_SKEW_MS = 5 * 60 * 1000;
const AUTHORIZATION =
  /^AWS4-HMAC-SHA256 Credential=([^,\s]+),\s*SignedHeaders=([^,\s]+),\s*Signature=([0-9a-f]{64})$/;

/**
 * Checks AWS Signature Version 4 on requests to a local AWS API, as AWS does: the access key
 * must be the sandbox's, the scope this region and service, the date within five minutes, and
 * the signature the one the SDK's own signer (`@smithy/signature-v4`) computes from what arrived.
 */
export class RequestSignatureVerifier {
  private readonly signer: SignatureV4;

  constructor(
    private readonly credentials: LocalCredentials,
    private readonly region: string,
    private readonly service: string,
  ) {
    this.signer = new SignatureV4({ credentials, region, service, sha256: Sha256, applyChecksum: false });
  }

  /** `undefined` when the signature is good, or why AWS would refuse the request. */
  async verify(request: ArrivedRequest): Promise<SignatureRefusal | undefined> {
    const header = request.headers.authorization;
    if (header === undefined) {
      return { errorType: 'MissingAuthenticationTokenException', message: 'Missing Authentication Token' };
    }
    const [, credential, signedHeaderList, signature] = AUTHORIZATION.exec(header) ?? [];
    if (!credential || !signedHeaderList || !signature) {
      return {
        errorType: 'IncompleteSignatureException',
        message:
          "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' parameters " +
          `in the form AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=<64 hex digits>.`,
      };
    }
    const [accessKeyId, day, region, service, terminator] = credential.split('/');
    if (accessKeyId !== this.credentials.accessKeyId) {
      return {
        errorType: 'UnrecognizedClientException',
        message: 'The security token included in the request is invalid.',
      };
    }
    if (region !== this.region || service !== this.service || terminator !== 'aws4_request') {
      return {
        errorType: 'InvalidSignatureException',
        message: `Credential should be scoped to a valid region and service: ${this.region}/${this.service}/aws4_request.`,
      };
    }
    const signedHeaders = signedHeaderList.split(';');
    const amzDate = headerValue(request.headers, 'x-amz-date');
    const signingDate = amzDate === undefined ? undefined : parseAmzDate(amzDate);
    if (!signedHeaders.includes('host') || !signingDate || !amzDate?.startsWith(day ?? '-')) {
      return {
        errorType: 'IncompleteSignatureException',
        message:
          "A signature needs a signed host header and an X-Amz-Date header of the credential scope's day.",
      };
    }
    if (Math.abs(Date.now() - signingDate.getTime()) > MAX_CLOCK_SKEW_MS) {
      return {
        errorType: 'InvalidSignatureException',
        message: `Signature expired: ${amzDate} is more than 5 minutes away from the server's time.`,
      };
    }
    const expected = await this.expectedSignature(request, signedHeaders, signingDate);
    if (!timingSafeEqual(Buffer.from(expected), Buffer.from(signature))) {
      return {
        errorType: 'InvalidSignatureException',
        message:
          'The request signature we calculated does not match the signature you provided. ' +
          'Check your AWS Secret Access Key and signing method.',
      };
    }
    return undefined;
  }

  private async expectedSignature(
    request: ArrivedRequest,
    signedHeaders: readonly string[],
    signingDate: Date,
  ): Promise<string> {
    const headers: Record<string, string> = {};
    for (const name of signedHeaders) headers[name] = headerValue(request.headers, name) ?? '';
    const query: Record<string, string | string[]> = {};
    for (const name of new Set(request.query.keys())) {
      const values = request.query.getAll(name);
      query[name] = values.length === 1 ? values[0]! : values;
    }
    const signed = await this.signer.sign(
      {
        method: request.method,
        protocol: 'http:',
        hostname: headers.host ?? '',
        path: request.path,
        query,
        headers,
        body: request.body,
      },
      { signingDate, unsignableHeaders: new Set(), signableHeaders: new Set(signedHeaders) },
    );
    const authorization = String(signed.headers.authorization ?? signed.headers.Authorization ?? '');
    return /Signature=([0-9a-f]{64})$/.exec(authorization)?.[1] ?? '';
  }
}

function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}

/** `20261202T075500Z` as a Date, or `undefined`. */
function parseAmzDate(text: string): Date | undefined {
  const parts = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(text);
  if (!parts) return undefined;
  const [, year, month, day, hour, minute, second] = parts;
  const date = new Date(`${year}-${month}-${day}T${hour}:${minute}:${second}Z`);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

/** The hash @smithy/signature-v4 asks for, on Node's crypto: SHA-256, or HMAC-SHA256 with a secret. */
class Sha256 implements Checksum {
  private hash: ReturnType<typeof createHash> | ReturnType<typeof createHmac>;

  constructor(private readonly secret?: SourceData) {
    this.hash = this.create();
  }

  update(data: Uint8Array): void {
    this.hash.update(data);
  }

  digest(): Promise<Uint8Array> {
    return Promise.resolve(this.hash.digest());
  }

  reset(): void {
    this.hash = this.create();
  }

  private create() {
    return this.secret === undefined ? createHash('sha256') : createHmac('sha256', toBuffer(this.secret));
  }
}

function toBuffer(data: SourceData): Buffer {
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return Buffer.from(data);
}
