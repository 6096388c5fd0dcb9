/** What the benchmarks share to stand in for AWS: Lambda's environment, counted DynamoDB requests, a management endpoint. */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { localClientConfig } from '../sandbox/aws-local';

/** The credentials the benchmarks sign with; the local endpoints accept any. */
export const CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };

/** What Lambda gives a function: a region and credentials, plus any `extra` variables. */
export function useLambdaEnvironment(extra: Record<string, string> = {}): void {
  Object.assign(process.env, {
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey,
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    ...extra,
  });
}

/** A document client for a local DynamoDB that records the name of every request it sends. */
export function countingDocumentClient(endpoint: string): { db: DynamoDBDocumentClient; requests: string[] } {
  const requests: string[] = [];
  const base = new DynamoDBClient(localClientConfig(endpoint));
  base.middlewareStack.add(
    (next, context) => (args) => (requests.push(context.commandName ?? '?'), next(args)),
    { step: 'finalizeRequest', name: 'countRequests' },
  );
  return { db: DynamoDBDocumentClient.from(base), requests };
}

export interface ManagementEndpoint {
  readonly port: string;
  stop(): void;
}

/**
 * Starts the stand-in for API Gateway's management API (management-endpoint.ts) in its own
 * process, answering `roundTripMs` after each request.
 */
export function startManagementEndpoint(roundTripMs: number): Promise<ManagementEndpoint> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(__dirname, 'management-endpoint.ts'), String(roundTripMs)],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  return new Promise((resolve, reject) => {
    child.stdout.once('data', (chunk: Buffer) =>
      resolve({ port: chunk.toString().trim(), stop: () => child.kill() }),
    );
    child.once('exit', (code) => reject(new Error(`the management endpoint exited with ${code}`)));
  });
}
