import { EnvironmentVariables, readEnvironment } from '../environment';
import type * as ManagementApiModule from './management-api-connections';
import type { ManagementApiConnections } from './management-api-connections';
import type * as SignedModule from './signed-connections';
import type { SignedConnections, SignedConnectionsOptions } from './signed-connections';

/** Sends to and closes WebSocket connections: the one place that talks to the management API. */
export interface Connections {
  /** Sends one text message; rejects with `ConnectionGoneError` when the connection is gone. */
  post(connectionId: string, payload: string): Promise<void>;
  /** Closes the connection; a connection that is already gone counts as closed. */
  close(connectionId: string): Promise<void>;
}

/** The connection no longer exists (API Gateway answered 410 Gone). */
export class ConnectionGoneError extends Error {
  constructor(readonly connectionId: string) {
    super(`Connection ${connectionId} is gone.`);
    this.name = 'ConnectionGoneError';
  }
}

/** The management API's base URL for a WebSocket API stage. */
export function managementEndpoint(request: { apiId: string; stage: string }): string {
  const configured = readEnvironment(EnvironmentVariables.managementEndpoint);
  if (configured) return configured;
  // The execute-api host works for custom domain names too, unlike the request's domainName.
  const region = process.env.AWS_REGION ?? 'us-east-1';
  return `https://${request.apiId}.execute-api.${region}.amazonaws.com/${request.stage}`;
}

// The SDK takes tens of milliseconds to load, which a plain reply never needs: the modules that
// use it are required when a function first sends (bench:cold-start measures the difference).

const clientsByEndpoint = new Map<string, ManagementApiConnections>();

/**
 * The SDK-backed `Connections` for an endpoint: one kept-alive client per endpoint for the life
 * of the Lambda instance, created on first use. Fan-out uses `signedConnectionsAt` instead,
 * which sends the same requests at a fraction of the CPU.
 */
export function connectionsAt(endpoint: string): ManagementApiConnections {
  let connections = clientsByEndpoint.get(endpoint);
  if (!connections) {
    const { ManagementApiConnections } =
      require('./management-api-connections') as typeof ManagementApiModule;
    connections = ManagementApiConnections.at(endpoint);
    clientsByEndpoint.set(endpoint, connections);
  }
  return connections;
}

const signedByEndpoint = new Map<string, SignedConnections>();

/** One `SignedConnections` per endpoint for the life of the Lambda instance, created on first use. */
export function signedConnectionsAt(
  endpoint: string,
  maxSockets = 50,
  options: Pick<SignedConnectionsOptions, 'onThrottled' | 'maxAttempts' | 'timeoutMs'> = {},
): SignedConnections {
  let connections = signedByEndpoint.get(endpoint);
  if (!connections) {
    const { SignedConnections } = require('./signed-connections') as typeof SignedModule;
    connections = new SignedConnections(endpoint, { maxSockets, ...options });
    signedByEndpoint.set(endpoint, connections);
  }
  return connections;
}
