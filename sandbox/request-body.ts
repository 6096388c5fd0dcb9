import type { IncomingMessage } from 'node:http';

/**
 * A request's body, or `undefined` once it is over `limit` bytes: the rest is left unread, so
 * answer with `connection: close`.
 */
export async function readBoundedBody(request: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  if (Number(request.headers['content-length'] ?? 0) > limit) return undefined;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) return undefined;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, size);
}
