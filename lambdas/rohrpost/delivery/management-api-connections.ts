import {
  ApiGatewayManagementApiClient,
  DeleteConnectionCommand,
  GoneException,
  PostToConnectionCommand,
} from '@aws-sdk/client-apigatewaymanagementapi';
import type { Connections } from './connections';
import { ConnectionGoneError } from './connections';

/** `Connections` over API Gateway's management API (PostToConnection, DeleteConnection). */
export class ManagementApiConnections implements Connections {
  constructor(private readonly client: ApiGatewayManagementApiClient) {}

  /** Over a new SDK client for the management API at `endpoint`. */
  static at(endpoint: string): ManagementApiConnections {
    return new ManagementApiConnections(new ApiGatewayManagementApiClient({ endpoint }));
  }

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
