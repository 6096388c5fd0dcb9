import type { StackProps } from 'aws-cdk-lib';
import { CfnOutput, Stack } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import type { ResolvedConfig } from '../lambdas/rohrpost/deploy';
import type { RohrpostWebSocketProps } from './rohrpost-websocket';
import { RohrpostWebSocket } from './rohrpost-websocket';

export interface RohrpostStackProps extends StackProps, Omit<RohrpostWebSocketProps, 'config'> {
  /** The project's configuration (rohrpost.config.ts). */
  readonly config: ResolvedConfig;
}

/** The project as one stack: the rohrpost construct and the outputs a user needs. */
export class RohrpostStack extends Stack {
  readonly rohrpost: RohrpostWebSocket;

  constructor(scope: Construct, id: string, props: RohrpostStackProps) {
    super(scope, id, props);
    this.rohrpost = new RohrpostWebSocket(this, 'Rohrpost', props);
    new CfnOutput(this, 'WebSocketUrl', {
      value: this.rohrpost.url,
      description: 'Where clients connect (wss://)',
    });
    new CfnOutput(this, 'ManagementEndpoint', {
      value: this.rohrpost.managementEndpoint,
      description: 'The management API endpoint, for @aws-sdk/client-apigatewaymanagementapi',
    });
    if (this.rohrpost.deadLetterQueue) {
      new CfnOutput(this, 'DeadLetterQueueUrl', {
        value: this.rohrpost.deadLetterQueue.queueUrl,
        description: 'Records set aside and stream batches Lambda gave up on: npm run redrive -- --queue-url',
      });
    }
    if (this.rohrpost.notificationFunction) {
      new CfnOutput(this, 'NotificationFunctionName', {
        value: this.rohrpost.notificationFunction.functionName,
        description: 'The notification function, which npm run redrive -- --function sends records to again',
      });
    }
  }
}
