import {
  ApiGatewayManagementApiClient,
  DeleteConnectionCommand,
  GoneException,
  PostToConnectionCommand,
} from '@aws-sdk/client-apigatewaymanagementapi';
import { EnvironmentVariables, readEnvironment } from '../environment';

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

/** `Connections` over API Gateway's management API (PostToConnection, DeleteConnection). */
export class ManagementApiConnections implements Connections {
  constructor(private readonly client: ApiGatewayManagementApiClient) {}

  async post(connectionId: string, payload: string): Promise<void> {
    try {
      await this.client.send(
        new PostToConnectionCommand({ ConnectionId: connectionId, Data: Buffer.from(payload) }),
      );
    } catch (error) {
      if (error instanceof GoneException) throw new ConnectionGoneError(connectionId);
      throw error;
    }
  }

  async close(connectionId: string): Promise<void> {
    try {
      await this.client.send(new DeleteConnectionCommand({ ConnectionId: connectionId }));
    } catch (error) {
      if (!(error instanceof GoneException)) throw error;
    }
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

const clientsByEndpoint = new Map<string, ManagementApiConnections>();

/**
 * The SDK-backed `Connections` for an endpoint: one kept-alive client per endpoint for the life
 * of the Lambda instance, created on first use so that module loading does no work for it.
 * Fan-out uses `SignedConnections` instead, which sends the same requests at a fraction of the CPU.
 */
export function connectionsAt(endpoint: string): ManagementApiConnections {
  let connections = clientsByEndpoint.get(endpoint);
  if (!connections) {
    connections = new ManagementApiConnections(new ApiGatewayManagementApiClient({ endpoint }));
    clientsByEndpoint.set(endpoint, connections);
  }
  return connections;
}
