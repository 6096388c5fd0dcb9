import { RemovalPolicy, Validations } from 'aws-cdk-lib';
import { AccessLogFormat, CfnAccount } from 'aws-cdk-lib/aws-apigateway';
import type { WebSocketApi } from 'aws-cdk-lib/aws-apigatewayv2';
import { LogGroupLogDestination, WebSocketStage } from 'aws-cdk-lib/aws-apigatewayv2';
import { ManagedPolicy, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { LogGroup } from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';

export interface StageOptions {
  readonly stageName: string;
  readonly rateLimit: number;
  readonly burstLimit: number;
  readonly logRetention: RetentionDays;
  /** Write JSON access logs, through the account's API Gateway logging role. */
  readonly accessLogs: boolean;
  /** Set that account-wide role from this stack. */
  readonly setAccountRole: boolean;
}

/** The stage clients connect to, throttled, with JSON access logs when asked for. */
export function createStage(scope: Construct, api: WebSocketApi, options: StageOptions): WebSocketStage {
  const stage = new WebSocketStage(scope, 'Stage', {
    webSocketApi: api,
    stageName: options.stageName,
    autoDeploy: true,
    throttle: { rateLimit: options.rateLimit, burstLimit: options.burstLimit },
    ...(options.accessLogs && {
      accessLogSettings: {
        destination: new LogGroupLogDestination(
          new LogGroup(scope, 'AccessLogs', {
            retention: options.logRetention,
            removalPolicy: RemovalPolicy.DESTROY,
          }),
        ),
        format: AccessLogFormat.custom(
          JSON.stringify({
            requestId: '$context.requestId',
            connectionId: '$context.connectionId',
            eventType: '$context.eventType',
            routeKey: '$context.routeKey',
            status: '$context.status',
            integrationStatus: '$context.integration.status',
            error: '$context.error.message',
            sourceIp: '$context.identity.sourceIp',
            principalId: '$context.authorizer.principalId',
            requestTime: '$context.requestTime',
          }),
        ),
      },
    }),
  });
  if (options.setAccountRole) stage.node.addDependency(setAccountLoggingRole(scope));
  if (!options.accessLogs) {
    Validations.of(stage).acknowledge({
      id: 'AwsSolutions-APIG1',
      reason:
        "Access logs go through API Gateway's account-wide logging role, which this stack does not set " +
        'unless asked (setApiGatewayAccountRole); the functions log every connection and message.',
    });
  }
  return stage;
}

/**
 * API Gateway writes logs through one role per account and region (an `AWS::ApiGateway::Account`
 * singleton): setting it replaces whatever role the account pointed to.
 */
function setAccountLoggingRole(scope: Construct): CfnAccount {
  const role = new Role(scope, 'ApiGatewayLoggingRole', {
    assumedBy: new ServicePrincipal('apigateway.amazonaws.com'),
    managedPolicies: [
      ManagedPolicy.fromAwsManagedPolicyName('service-role/AmazonAPIGatewayPushToCloudWatchLogs'),
    ],
  });
  Validations.of(role).acknowledge({
    id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]',
    reason:
      "AWS's managed policy for API Gateway's account-wide logging role: API Gateway picks the log " +
      'groups at run time, so no narrower policy is possible.',
  });
  return new CfnAccount(scope, 'ApiGatewayAccount', { cloudWatchRoleArn: role.roleArn });
}
