import { Aws, Stack, Validations } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { Function as LambdaFunction } from 'aws-cdk-lib/aws-lambda';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import type { PlannedPermission, PlannedQueue, PlannedTable } from '../lambdas/rohrpost/deploy';

/** The deployed resources a planned permission can name. */
export interface PermissionTargets {
  table(id: string): { readonly table: ITable; readonly planned: PlannedTable };
  queue(id: PlannedQueue['id']): IQueue;
  /** The ARN of the stage's `@connections/*` for one HTTP method. */
  connectionsArn(method: 'POST' | 'DELETE'): string;
}

/**
 * Grants a function one planned permission as one IAM statement per resource kind, nothing
 * wider: a table's actions on the table, read actions on its named indexes, writes limited to
 * the planned attributes, ManageConnections on the stage's paths only, SendMessage on one queue.
 */
export function grantPlanned(
  fn: LambdaFunction,
  permission: PlannedPermission,
  targets: PermissionTargets,
): void {
  switch (permission.kind) {
    case 'table': {
      const { table, planned } = targets.table(permission.table);
      fn.addToRolePolicy(
        new PolicyStatement({
          actions: [...permission.actions],
          resources: [table.tableArn],
          ...(permission.onlyAttributes && {
            conditions: {
              'ForAllValues:StringEquals': { 'dynamodb:Attributes': [...permission.onlyAttributes] },
            },
          }),
        }),
      );
      const indexes = planned.definition.indexes ?? [];
      if (permission.indexActions && indexes.length > 0) {
        fn.addToRolePolicy(
          new PolicyStatement({
            actions: [...permission.indexActions],
            resources: indexes.map((index) => `${table.tableArn}/index/${index.name}`),
          }),
        );
      }
      return;
    }
    case 'stream':
      // The event source mapping reads the stream, with the function's role: DynamoEventSource
      // grants it (rohrpost-websocket.ts), limited to the stream.
      return;
    case 'consume-queue':
      // Likewise SqsEventSource grants reading the queue (receive, delete, change visibility), limited to it.
      return;
    case 'manage-connections': {
      const resources = permission.methods.map((method) => targets.connectionsArn(method));
      fn.addToRolePolicy(new PolicyStatement({ actions: ['execute-api:ManageConnections'], resources }));
      for (const resource of resources) {
        Validations.of(fn.role!).acknowledge({
          id: `AwsSolutions-IAM5[Resource::${resolveForNag(fn, resource)}]`,
          reason:
            'Connection ids are assigned by API Gateway at run time; the grant is limited to this API stage and method.',
        });
      }
      return;
    }
    case 'send-message':
      fn.addToRolePolicy(
        new PolicyStatement({
          actions: ['sqs:SendMessage'],
          resources: [targets.queue(permission.queue).queueArn],
        }),
      );
      return;
  }
}

/** PostToConnection (POST) or DeleteConnection (DELETE) on any connection of one API stage. */
export function connectionsArn(apiId: string, stageName: string, method: 'POST' | 'DELETE'): string {
  return `arn:${Aws.PARTITION}:execute-api:${Aws.REGION}:${Aws.ACCOUNT_ID}:${apiId}/${stageName}/${method}/@connections/*`;
}

/** A resource as cdk-nag prints it: tokens as `<LogicalId>`, pseudo parameters as `<AWS::Name>`. */
function resolveForNag(scope: LambdaFunction, resource: string): string {
  const joined = Stack.of(scope).resolve(resource) as {
    'Fn::Join': [string, Array<string | { Ref: string }>];
  };
  return joined['Fn::Join'][1].map((part) => (typeof part === 'string' ? part : `<${part.Ref}>`)).join('');
}
