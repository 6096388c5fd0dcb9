import { execFileSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import { join } from 'node:path';
import { Match } from 'aws-cdk-lib/assertions';
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { defineConfig } from '../../lambdas/rohrpost/config';
import { SDK_CHUNK } from '../../lambdas/rohrpost/deploy';
import config from '../../rohrpost.config';
import { deploymentPlan, environmentOf } from '../../lambdas/rohrpost/deploy';
import { logicalIdsByConstructId, resolveValue } from '../support/assembly';
import { configWithBlockUncommented } from '../support/uncommented-config';
import type { Template } from '../support/assembly';
import type { Synthesized } from '../support/cdk';
import { PROJECT_ROOT, synthesize } from '../support/cdk';

type Resource = { Type: string; Properties: Record<string, unknown>; Metadata?: Record<string, unknown> };

const resourceOf = (synthesized: Synthesized, logicalId: string) =>
  (synthesized.template.toJSON() as { Resources: Record<string, Resource> }).Resources[logicalId]!;
const resourcesOf = (synthesized: Synthesized, type: string) =>
  Object.entries(synthesized.template.findResources(type) as Record<string, Resource>);

/** The policy statements of the role a function runs as. */
function statementsOf(synthesized: Synthesized, functionLogicalId: string) {
  const fn = resourceOf(synthesized, functionLogicalId);
  const roleId = (fn.Properties.Role as { 'Fn::GetAtt': [string] })['Fn::GetAtt'][0];
  return resourcesOf(synthesized, 'AWS::IAM::Policy')
    .filter(([, policy]) =>
      (policy.Properties.Roles as Array<{ Ref: string }>).some((role) => role.Ref === roleId),
    )
    .flatMap(
      ([, policy]) =>
        (policy.Properties.PolicyDocument as { Statement: Array<Record<string, unknown>> }).Statement,
    );
}

const listOf = <T>(value: T | T[]) => (Array.isArray(value) ? value : [value]);
const actionsOf = (statements: Array<Record<string, unknown>>) =>
  statements.flatMap((s) => listOf(s.Action as string));
const functionId = (synthesized: Synthesized, description: string) =>
  resourcesOf(synthesized, 'AWS::Lambda::Function').find(([, fn]) =>
    String(fn.Properties.Description).includes(description),
  )![0];

describe('the CDK stack with the project configuration', () => {
  let synthesized: Synthesized;
  let websocketId: string;
  let notificationsId: string;
  let laneWorkerId: string;

  beforeAll(() => {
    synthesized = synthesize(config, { bundle: true });
    websocketId = functionId(synthesized, '$default');
    notificationsId = functionId(synthesized, 'subscription-update');
    laneWorkerId = functionId(synthesized, 'one lane per shard');
  });

  describe('the WebSocket API', () => {
    test('$connect, $disconnect and $default run the websocket function', () => {
      const routes = resourcesOf(synthesized, 'AWS::ApiGatewayV2::Route').map(
        ([, route]) => route.Properties,
      );
      expect(routes.map((route) => route.RouteKey).sort()).toEqual(['$connect', '$default', '$disconnect']);
      const [integrationId] = resourcesOf(synthesized, 'AWS::ApiGatewayV2::Integration').map(([id]) => id);
      for (const route of routes) {
        expect(route.Target).toEqual({ 'Fn::Join': ['', ['integrations/', { Ref: integrationId }]] });
      }
      synthesized.template.hasResourceProperties('AWS::ApiGatewayV2::Integration', {
        IntegrationType: 'AWS_PROXY',
        IntegrationUri: Match.objectLike({
          'Fn::Join': Match.arrayWith([
            Match.arrayWith([Match.objectLike({ 'Fn::GetAtt': [websocketId, 'Arn'] })]),
          ]),
        }),
      });
    });

    test('$default has a route response, so the return value reaches the client', () => {
      const [defaultRouteId] = resourcesOf(synthesized, 'AWS::ApiGatewayV2::Route').find(
        ([, route]) => route.Properties.RouteKey === '$default',
      )!;
      synthesized.template.hasResourceProperties('AWS::ApiGatewayV2::Route', {
        RouteKey: '$default',
        RouteResponseSelectionExpression: '$default',
      });
      synthesized.template.hasResourceProperties('AWS::ApiGatewayV2::RouteResponse', {
        RouteId: { Ref: defaultRouteId },
        RouteResponseKey: '$default',
      });
    });

    test('the stage deploys automatically, with throttling, and leaves the account-wide logging role alone', () => {
      synthesized.template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
        StageName: 'prod',
        AutoDeploy: true,
        DefaultRouteSettings: { ThrottlingRateLimit: 1000, ThrottlingBurstLimit: 500 },
        AccessLogSettings: Match.absent(),
      });
      // An account singleton: setting it would replace a role other stacks rely on.
      synthesized.template.resourceCountIs('AWS::ApiGateway::Account', 0);
    });

    test('access logs when asked for; the account role only when explicitly opted into', () => {
      for (const props of [{ accessLogs: true }, { setApiGatewayAccountRole: true }]) {
        const logged = synthesize(config, { props });
        logged.template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
          AccessLogSettings: {
            DestinationArn: Match.anyValue(),
            Format: Match.stringLikeRegexp(
              '"connectionId":"\\$context.connectionId".*"routeKey":"\\$context.routeKey"',
            ),
          },
        });
        logged.template.resourceCountIs('AWS::ApiGateway::Account', props.setApiGatewayAccountRole ? 1 : 0);
      }
    });

    test('API Gateway may invoke the function for this API and its routes only', () => {
      const permissions = resourcesOf(synthesized, 'AWS::Lambda::Permission').map(([, p]) => p.Properties);
      expect(permissions).toHaveLength(3);
      for (const permission of permissions) {
        expect(permission.Principal).toBe('apigateway.amazonaws.com');
        const arn = JSON.stringify(permission.SourceArn);
        expect(arn).toContain('"Ref":"RohrpostApiAE301011"');
        expect(arn).toMatch(/\/\*\$(connect|disconnect|default)"/);
      }
    });
  });

  describe('the membership table', () => {
    test('answers "who is in group G" by its key and "which groups has connection C" by an index', () => {
      synthesized.template.hasResourceProperties('AWS::DynamoDB::Table', {
        KeySchema: [
          { AttributeName: 'group', KeyType: 'HASH' },
          { AttributeName: 'connectionId', KeyType: 'RANGE' },
        ],
        BillingMode: 'PAY_PER_REQUEST',
        TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
        DeletionProtectionEnabled: false,
        GlobalSecondaryIndexes: [
          {
            IndexName: 'byConnection',
            KeySchema: [
              { AttributeName: 'connectionId', KeyType: 'HASH' },
              { AttributeName: 'group', KeyType: 'RANGE' },
            ],
            Projection: { ProjectionType: 'KEYS_ONLY' },
          },
        ],
      });
    });
  });

  describe('the history table', () => {
    test("keeps each group's messages in its partition, expiring by TTL, and is replaceable", () => {
      const [[, table]] = resourcesOf(synthesized, 'AWS::DynamoDB::Table').filter(([id]) =>
        id.startsWith('RohrpostHistory'),
      ) as [[string, Resource & { DeletionPolicy?: string }]];
      expect(table.Properties).toEqual({
        KeySchema: [
          { AttributeName: 'group', KeyType: 'HASH' },
          { AttributeName: 'key', KeyType: 'RANGE' },
        ],
        AttributeDefinitions: [
          { AttributeName: 'group', AttributeType: 'S' },
          { AttributeName: 'key', AttributeType: 'S' },
        ],
        BillingMode: 'PAY_PER_REQUEST',
        TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
      });
      expect(table.DeletionPolicy).toBe('Delete');
    });
  });

  describe('the notes table and its notifications', () => {
    test('the table streams new and old images, keeps backups, and is retained', () => {
      synthesized.template.hasResource('AWS::DynamoDB::Table', {
        Properties: Match.objectLike({
          KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
          StreamSpecification: { StreamViewType: 'NEW_AND_OLD_IMAGES' },
          PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        }),
        DeletionPolicy: 'Retain',
      });
    });

    test('the event source mapping reports batch item failures, bisects, and gives up after bounded retries', () => {
      const [queueId] = resourcesOf(synthesized, 'AWS::SQS::Queue')[0]!;
      synthesized.template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
        FunctionName: { Ref: notificationsId },
        StartingPosition: 'LATEST',
        BatchSize: 100,
        FunctionResponseTypes: ['ReportBatchItemFailures'],
        BisectBatchOnFunctionError: true,
        MaximumRetryAttempts: 5,
        MaximumRecordAgeInSeconds: 3600,
        DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [queueId, 'Arn'] } } },
      });
    });

    test('the dead-letter queue is encrypted and refuses anything but TLS', () => {
      synthesized.template.hasResourceProperties('AWS::SQS::Queue', {
        SqsManagedSseEnabled: true,
        MessageRetentionPeriod: 14 * 24 * 60 * 60,
      });
      synthesized.template.hasResourceProperties('AWS::SQS::QueuePolicy', {
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          ]),
        },
      });
    });
  });

  describe('the functions', () => {
    test.each([
      ['websocket', () => websocketId, 29, []],
      ['notification', () => notificationsId, 60, ['ROHRPOST_DEAD_LETTER_QUEUE_URL']],
    ])(
      'the %s function: Node.js 24 on arm64, its log group, and the environment both sides read',
      (_name, id, timeout, own) => {
        const fn = resourceOf(synthesized, id());
        expect(fn.Properties).toMatchObject({
          Runtime: 'nodejs24.x',
          Architectures: ['arm64'],
          MemorySize: 256,
          Timeout: timeout,
          LoggingConfig: { LogGroup: { Ref: expect.any(String) } },
        });
        const variables = (fn.Properties.Environment as { Variables: Record<string, unknown> }).Variables;
        expect(Object.keys(variables).sort()).toEqual(
          [
            'POWERTOOLS_METRICS_NAMESPACE',
            'ROHRPOST_HISTORY',
            'ROHRPOST_LANES',
            'ROHRPOST_MANAGEMENT_ENDPOINT',
            'ROHRPOST_MEMBERSHIP_TABLE',
            'ROHRPOST_TABLE_NAMES',
            ...own,
          ].sort(),
        );
        // The history's settings come from rohrpost.config.ts, its table name from the stack.
        const history = JSON.stringify(variables.ROHRPOST_HISTORY);
        expect(history).toContain('{"Ref":"RohrpostHistory');
        expect(history).toContain(
          '\\",\\"retentionSeconds\\":3600,\\"maxMessages\\":100,\\"positionLifetimeSeconds\\":2592000,\\"recordLifetimeSeconds\\":3600}',
        );
        expect(JSON.stringify(variables.ROHRPOST_MANAGEMENT_ENDPOINT)).toMatch(
          /"https:\/\/",\{"Ref":"RohrpostApi\w+"\},".execute-api.eu-central-1.",\{"Ref":"AWS::URLSuffix"\},"\/prod"/,
        );
      },
    );

    test('logs are kept for a month', () => {
      for (const [, group] of resourcesOf(synthesized, 'AWS::Logs::LogGroup')) {
        expect(group.Properties.RetentionInDays).toBe(30);
      }
    });

    test('the bundles are minified with source maps, carry their own SDK in a file of its own, and load without network I/O', () => {
      for (const id of [websocketId, notificationsId]) {
        const fn = resourceOf(synthesized, id);
        const key = (fn.Properties.Code as { S3Key: string }).S3Key.replace('.zip', '');
        const asset = join(synthesized.app.outdir, `asset.${key}`);
        const bundle = join(asset, 'index.js');
        const code = readFileSync(bundle, 'utf8');
        expect(statSync(`${bundle}.map`).isFile()).toBe(true);
        expect(code.length / code.split('\n').length).toBeGreaterThan(2_000); // minified: a few very long lines
        expect(statSync(bundle).size).toBeLessThan(128 * 1024);
        // index.js requires Node's own modules and the SDK's packages, nothing else; each of
        // those packages leads into the SDK's file, which requires only Node's own modules and
        // the SDK's optional CRT signer, which it loads only for SigV4a.
        const requiredBy = (file: string) =>
          [...new Set(readFileSync(file, 'utf8').match(/require\("[^"]+"\)/g))]
            .map((call) => call.slice('require("'.length, -2))
            .filter((name) => !isBuiltin(name));
        const sdkPackages = requiredBy(bundle);
        expect(sdkPackages).toEqual(
          expect.arrayContaining(['@aws-sdk/client-dynamodb', '@aws-sdk/lib-dynamodb']),
        );
        for (const name of sdkPackages) expect(name).toMatch(/^@(aws-sdk|smithy)\//);
        expect(requiredBy(join(asset, SDK_CHUNK))).toEqual(['@aws-sdk/signature-v4-crt']);
        // The asset lies outside the project, so only its own node_modules can resolve these.
        const loaded = execFileSync(
          process.execPath,
          [
            '--require',
            join(__dirname, '../support/no-network.cjs'),
            '-e',
            `require(${JSON.stringify(bundle)});
             const sdkLoaded = () => Object.keys(require.cache).some((file) => file.endsWith(${JSON.stringify(SDK_CHUNK)}));
             console.log('SDK loaded with the bundle:', sdkLoaded());
             for (const name of ${JSON.stringify(sdkPackages)}) {
               const exported = require(require.resolve(name, { paths: [${JSON.stringify(asset)}] }));
               if (Object.keys(exported).length === 0) throw new Error(name + ' exports nothing');
             }
             console.log('SDK loaded on demand:', sdkLoaded());`,
          ],
          { encoding: 'utf8', env: { PATH: process.env.PATH, AWS_REGION: 'eu-central-1' } },
        );
        expect(loaded.trim().split('\n')).toEqual([
          'SDK loaded with the bundle: false',
          'SDK loaded on demand: true',
          'network attempts: 0',
        ]);
      }
    });
  });

  describe('least privilege', () => {
    test('ManageConnections only on this stage’s @connections paths, never the whole API', () => {
      const manage = (id: string) =>
        statementsOf(synthesized, id)
          .filter((s) => actionsOf([s]).includes('execute-api:ManageConnections'))
          .flatMap((s) => listOf(s.Resource))
          .map((resource) => JSON.stringify(resource));
      const path = (method: string) =>
        new RegExp(`\\{"Ref":"RohrpostApi\\w+"\\},"/prod/${method}/@connections/\\*"\\]\\]\\}$`);
      const websocket = manage(websocketId);
      expect(websocket).toHaveLength(2);
      expect(websocket).toEqual(
        expect.arrayContaining([expect.stringMatching(path('POST')), expect.stringMatching(path('DELETE'))]),
      );
      const notifications = manage(notificationsId);
      expect(notifications).toEqual([expect.stringMatching(path('POST'))]);
    });

    test('DynamoDB: the membership table by name, and only Query on its index, no wildcards', () => {
      const membership = (id: string, index: boolean) =>
        statementsOf(synthesized, id).filter(
          (s) =>
            JSON.stringify(s.Resource).includes('RohrpostMemberships') &&
            JSON.stringify(s.Resource).includes('/index/byConnection') === index,
        );
      expect(actionsOf(membership(websocketId, false)).sort()).toEqual([
        'dynamodb:BatchWriteItem',
        'dynamodb:DeleteItem',
        'dynamodb:PutItem',
        'dynamodb:Query',
      ]);
      // The notification function writes a big group's layout when it gives it lanes.
      expect(actionsOf(membership(notificationsId, false)).sort()).toEqual([
        'dynamodb:BatchWriteItem',
        'dynamodb:Query',
        'dynamodb:UpdateItem',
      ]);
      // A lane reads its shard and the layout; a split copies members and writes the layout.
      expect(actionsOf(membership(laneWorkerId, false)).sort()).toEqual([
        'dynamodb:BatchWriteItem',
        'dynamodb:GetItem',
        'dynamodb:Query',
        'dynamodb:UpdateItem',
      ]);
      for (const id of [websocketId, notificationsId, laneWorkerId]) {
        expect(actionsOf(membership(id, true))).toEqual(['dynamodb:Query']);
        for (const statement of statementsOf(synthesized, id)) {
          expect(JSON.stringify(statement.Resource)).not.toContain('/index/*');
        }
      }
    });

    test("handlers may use the tables with handlerAccess, as it says, and the notification function can't write them", () => {
      const notes = (id: string) =>
        statementsOf(synthesized, id).filter((s) =>
          JSON.stringify(s.Resource).includes('RohrpostTablenotes'),
        );
      expect(actionsOf(notes(websocketId))).toEqual(
        expect.arrayContaining([
          'dynamodb:GetItem',
          'dynamodb:PutItem',
          'dynamodb:UpdateItem',
          'dynamodb:DeleteItem',
        ]),
      );
      const streamOnly = actionsOf(notes(notificationsId));
      expect(streamOnly.sort()).toEqual([
        'dynamodb:DescribeStream',
        'dynamodb:GetRecords',
        'dynamodb:GetShardIterator',
      ]);
    });

    test('the history: the websocket function reads and starts positions, the notification function places messages', () => {
      const history = (id: string) =>
        statementsOf(synthesized, id).filter((s) => JSON.stringify(s.Resource).includes('RohrpostHistory'));
      expect(actionsOf(history(websocketId)).sort()).toEqual([
        'dynamodb:GetItem',
        'dynamodb:PutItem',
        'dynamodb:Query',
      ]);
      // A handler could otherwise forge recoverable messages: it may write a group's head, and only that.
      expect(history(websocketId).find((s) => actionsOf([s]).includes('dynamodb:PutItem'))).toMatchObject({
        Action: 'dynamodb:PutItem',
        Condition: {
          'ForAllValues:StringEquals': {
            'dynamodb:Attributes': ['group', 'key', 'expiresAt', 'epoch', 'top'],
          },
        },
      });
      expect(actionsOf(history(notificationsId)).sort()).toEqual([
        'dynamodb:BatchWriteItem',
        'dynamodb:ConditionCheckItem',
        'dynamodb:GetItem',
        'dynamodb:PutItem',
        'dynamodb:UpdateItem',
      ]);
      expect(actionsOf(history(laneWorkerId)).sort()).toEqual([
        'dynamodb:ConditionCheckItem',
        'dynamodb:GetItem',
        'dynamodb:PutItem',
        'dynamodb:Query',
        'dynamodb:UpdateItem',
      ]);
      for (const statement of [
        ...history(websocketId),
        ...history(notificationsId),
        ...history(laneWorkerId),
      ]) {
        expect(statement.Resource).toEqual({
          'Fn::GetAtt': [expect.stringMatching(/^RohrpostHistory/), 'Arn'],
        });
      }
    });

    test('the notification function may send to its dead-letter queue and the lanes, and to no other', () => {
      const sqs = (id: string) =>
        statementsOf(synthesized, id).filter((s) =>
          actionsOf([s]).some((action) => action.startsWith('sqs:')),
        );
      expect(actionsOf(sqs(notificationsId))).toEqual(['sqs:SendMessage']);
      expect(sqs(notificationsId).flatMap((s) => listOf(s.Resource))).toEqual([
        { 'Fn::GetAtt': [expect.stringMatching(/^RohrpostDeadLetters/), 'Arn'] },
        { 'Fn::GetAtt': [expect.stringMatching(/^RohrpostLaneQueue/), 'Arn'] },
      ]);
      // The lane worker reads its queue (the event source's grant) and asks it for splits, nothing more.
      for (const statement of sqs(laneWorkerId)) {
        expect(statement.Resource).toEqual({
          'Fn::GetAtt': [expect.stringMatching(/^RohrpostLaneQueue/), 'Arn'],
        });
      }
      expect(actionsOf(sqs(laneWorkerId)).sort()).toEqual([
        'sqs:ChangeMessageVisibility',
        'sqs:DeleteMessage',
        'sqs:GetQueueAttributes',
        'sqs:GetQueueUrl',
        'sqs:ReceiveMessage',
        'sqs:SendMessage',
      ]);
    });

    test('the lanes: a high-throughput FIFO queue, its own dead letters, and the worker fed one lane at a time, sixteen at once', () => {
      const queues = resourcesOf(synthesized, 'AWS::SQS::Queue');
      const [, laneQueue] = queues.find(([id]) => id.startsWith('RohrpostLaneQueue'))!;
      const [laneDeadLettersId, laneDeadLetters] = queues.find(([id]) =>
        id.startsWith('RohrpostLaneDeadLetters'),
      )!;
      expect(laneQueue.Properties).toMatchObject({
        FifoQueue: true,
        DeduplicationScope: 'messageGroup',
        FifoThroughputLimit: 'perMessageGroupId',
        VisibilityTimeout: 720,
        SqsManagedSseEnabled: true,
        RedrivePolicy: {
          deadLetterTargetArn: { 'Fn::GetAtt': [laneDeadLettersId, 'Arn'] },
          maxReceiveCount: 20,
        },
      });
      expect(laneDeadLetters.Properties).toMatchObject({
        FifoQueue: true,
        MessageRetentionPeriod: 14 * 24 * 60 * 60,
      });
      synthesized.template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
        FunctionName: { Ref: laneWorkerId },
        EventSourceArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^RohrpostLaneQueue'), 'Arn'] },
        BatchSize: 1,
        ScalingConfig: { MaximumConcurrency: 16 },
        FunctionResponseTypes: ['ReportBatchItemFailures'],
      });
      expect(resourceOf(synthesized, laneWorkerId).Properties).toMatchObject({
        Runtime: 'nodejs24.x',
        MemorySize: 512,
        Timeout: 120,
      });
    });

    test('the one Resource "*" is ListStreams, which has no resource-level permissions', () => {
      const wildcards = [websocketId, notificationsId]
        .flatMap((id) => statementsOf(synthesized, id))
        .filter((s) => listOf(s.Resource).includes('*'));
      expect(actionsOf(wildcards)).toEqual(['dynamodb:ListStreams']);
    });
  });

  describe('operations', () => {
    test('outputs: the wss:// URL, the management endpoint and the dead-letter queue', () => {
      const outputs = synthesized.template.toJSON().Outputs as Record<string, { Value: unknown }>;
      expect(JSON.stringify(outputs.WebSocketUrl!.Value)).toMatch(
        /^\{"Fn::Join":\["",\["wss:\/\/",.*"\/prod"\]\]\}$/,
      );
      expect(JSON.stringify(outputs.ManagementEndpoint!.Value)).toMatch(
        /^\{"Fn::Join":\["",\["https:\/\/",.*"\/prod"\]\]\}$/,
      );
      expect(outputs.DeadLetterQueueUrl!.Value).toEqual({
        Ref: expect.stringMatching(/^RohrpostDeadLetters/),
      });
    });

    test('alarms: dead letters, function errors and throttles, notification lag, failed records, latency, handler errors', () => {
      const alarms = resourcesOf(synthesized, 'AWS::CloudWatch::Alarm').map(([, alarm]) => alarm.Properties);
      const metric = (name: string) => alarms.filter((alarm) => alarm.MetricName === name);
      // The stream records' and the lanes' dead letters.
      expect(metric('ApproximateNumberOfMessagesVisible')).toEqual([
        expect.objectContaining({ Threshold: 1, ComparisonOperator: 'GreaterThanOrEqualToThreshold' }),
        expect.objectContaining({ Threshold: 1, ComparisonOperator: 'GreaterThanOrEqualToThreshold' }),
      ]);
      expect(metric('Errors')).toHaveLength(3);
      expect(metric('Throttles')).toHaveLength(3);
      // A big group's message waiting a minute for its lane.
      expect(metric('ApproximateAgeOfOldestMessage')).toEqual([
        expect.objectContaining({ Threshold: 60, Statistic: 'Maximum', Period: 60 }),
      ]);
      expect(metric('IteratorAge')).toEqual([
        expect.objectContaining({ Threshold: 1_800_000, Statistic: 'Maximum' }),
      ]);
      // Fires in the first minute a record fails, not an hour later at the dead-letter queue.
      // The namespace the functions are told is the one the alarms read.
      const namespace = 'rohrpost/Rohrpost';
      for (const id of [websocketId, notificationsId, laneWorkerId]) {
        const variables = (resourceOf(synthesized, id).Properties.Environment as { Variables: object })
          .Variables;
        expect(variables).toMatchObject({ POWERTOOLS_METRICS_NAMESPACE: namespace });
      }
      expect(metric('RecordsFailed')).toEqual([
        expect.objectContaining({
          Namespace: namespace,
          Dimensions: [{ Name: 'service', Value: 'rohrpost-notifications' }],
          Statistic: 'Sum',
          Period: 60,
          EvaluationPeriods: 1,
          Threshold: 1,
        }),
      ]);
      expect(metric('LastPostLatency')).toEqual([
        expect.objectContaining({
          Namespace: namespace,
          Statistic: 'Maximum',
          Period: 300,
          Threshold: 10_000,
        }),
      ]);
      // Answered handler failures are no Lambda errors: the function's own count, over all types.
      expect(metric('HandlerErrors')).toEqual([
        expect.objectContaining({
          Namespace: namespace,
          Dimensions: [{ Name: 'service', Value: 'rohrpost-websocket' }],
          Statistic: 'Sum',
          Period: 300,
          Threshold: 1,
        }),
      ]);
      for (const alarm of alarms) expect(alarm.TreatMissingData).toBe('notBreaching');
    });
  });

  describe('cdk-nag (AwsSolutions)', () => {
    test('every acknowledgement is one of the reviewed ones, with its reason', () => {
      const acknowledged = new Map<string, string>();
      for (const [, resource] of Object.entries(
        synthesized.template.toJSON().Resources as Record<string, Resource>,
      )) {
        const rules = (
          resource.Metadata?.cdk_nag as { rules_to_suppress?: Array<{ id: string; reason: string }> }
        )?.rules_to_suppress;
        for (const rule of rules ?? []) acknowledged.set(rule.id.replace(/<[^>]+>/g, '<…>'), rule.reason);
      }
      expect([...acknowledged.keys()].sort()).toEqual(
        [
          'AwsSolutions-APIG1',
          'AwsSolutions-APIG4',
          'AwsSolutions-DDB3',
          'AwsSolutions-IAM5[Resource::*]',
          'AwsSolutions-IAM5[Resource::<…>:*]',
          'AwsSolutions-IAM5[Resource::arn:<…>:execute-api:<…>:<…>:<…>/prod/DELETE/@connections/*]',
          'AwsSolutions-IAM5[Resource::arn:<…>:execute-api:<…>:<…>:<…>/prod/POST/@connections/*]',
          'AwsSolutions-SQS3',
          'AwsSolutions-SQS3',
        ].filter((id, i, all) => all.indexOf(id) === i),
      );
      for (const reason of acknowledged.values()) expect(reason.length).toBeGreaterThan(60);
    });
  });
});

/**
 * The construct builds what the deployment plan says, and the sandbox runs the same plan: these
 * hold the stack to the plan, resource by resource, for configurations of each kind.
 */
describe('the stack is the deployment plan', () => {
  const configurations = {
    'the project configuration': config,
    'an authorizer of your own and no history': defineConfig({
      authorizer: { entry: join(PROJECT_ROOT, 'test/fixtures/app/authorizer.ts') },
      tables: config.tables,
      notifications: {
        ...config.notifications,
        history: false,
        lanes: false,
        retryAttempts: 3,
        batchSize: 7,
      },
    }),
  };

  test.each(Object.entries(configurations))('%s', (_name, configuration) => {
    const synthesized = synthesize(configuration);
    const template = synthesized.template.toJSON() as Template;
    const plan = deploymentPlan(configuration);
    const ids = logicalIdsByConstructId(template);
    const resource = (constructId: string) => template.Resources[ids[constructId]!]!;

    // Every planned table, and no other; streams as planned.
    expect(
      resourcesOf(synthesized, 'AWS::DynamoDB::Table')
        .map(([id]) => id)
        .sort(),
    ).toEqual(plan.tables.map((table) => ids[table.constructId]).sort());
    for (const table of plan.tables) {
      expect(Boolean(resource(table.constructId).Properties.StreamSpecification)).toBe(table.stream);
    }

    // Every planned function, told exactly the planned environment, with the planned settings.
    const symbols: Record<string, string> = { 'AWS::URLSuffix': 'SUFFIX', [ids.Api!]: 'API' };
    for (const table of plan.tables) symbols[ids[table.constructId]!] = `table:${table.id}`;
    for (const queue of plan.queues) symbols[ids[queue.constructId]!] = `queue:${queue.id}`;
    expect(resourcesOf(synthesized, 'AWS::Lambda::Function')).toHaveLength(plan.functions.length);
    for (const planned of plan.functions) {
      const fn = resource(planned.constructId).Properties;
      expect(fn).toMatchObject({
        Handler: `index.${planned.handler}`,
        MemorySize: planned.memorySize,
        Timeout: planned.timeoutSeconds,
      });
      const variables = (fn.Environment as { Variables: Record<string, unknown> }).Variables;
      const told = Object.fromEntries(
        Object.entries(variables).map(([name, value]) => [name, resolveValue(value, symbols)]),
      );
      expect(told).toEqual(
        environmentOf(planned, {
          managementEndpoint: 'https://API.execute-api.eu-central-1.SUFFIX/prod',
          tableName: (id) => `table:${id}`,
          queueUrl: (id) => `queue:${id}`,
          metricsNamespace: 'rohrpost/Rohrpost',
        }),
      );
    }

    // Every planned stream source, with Lambda's settings as planned.
    const mappings = resourcesOf(synthesized, 'AWS::Lambda::EventSourceMapping').map(([, m]) => m.Properties);
    expect(mappings).toHaveLength(plan.streamSources.length + plan.queueSources.length);
    for (const source of plan.streamSources) {
      const table = plan.tables.find((candidate) => candidate.id === source.table)!;
      expect(mappings).toContainEqual(
        expect.objectContaining({
          FunctionName: { Ref: ids[plan.functions.find((fn) => fn.role === source.function)!.constructId] },
          EventSourceArn: { 'Fn::GetAtt': [ids[table.constructId], 'StreamArn'] },
          StartingPosition: source.startingPosition,
          BatchSize: source.batchSize,
          BisectBatchOnFunctionError: source.bisectBatchOnFunctionError,
          FunctionResponseTypes: source.reportBatchItemFailures ? ['ReportBatchItemFailures'] : undefined,
          MaximumRetryAttempts: source.maximumRetryAttempts,
          MaximumRecordAgeInSeconds: source.maximumRecordAgeSeconds,
        }),
      );
    }

    // Every planned queue, as planned, and its queue sources.
    expect(resourcesOf(synthesized, 'AWS::SQS::Queue')).toHaveLength(plan.queues.length);
    for (const queue of plan.queues) {
      expect(resource(queue.constructId).Properties).toMatchObject({
        MessageRetentionPeriod: queue.retentionSeconds,
        ...(queue.fifo && { FifoQueue: true }),
        ...(queue.visibilityTimeoutSeconds !== undefined && {
          VisibilityTimeout: queue.visibilityTimeoutSeconds,
        }),
        ...(queue.deadLetter && {
          RedrivePolicy: {
            deadLetterTargetArn: {
              'Fn::GetAtt': [
                ids[plan.queues.find((other) => other.id === queue.deadLetter!.queue)!.constructId],
                'Arn',
              ],
            },
            maxReceiveCount: queue.deadLetter.maxReceiveCount,
          },
        }),
      });
    }
    for (const source of plan.queueSources) {
      const queue = plan.queues.find((candidate) => candidate.id === source.queue)!;
      expect(mappings).toContainEqual({
        FunctionName: { Ref: ids[plan.functions.find((fn) => fn.role === source.function)!.constructId] },
        EventSourceArn: { 'Fn::GetAtt': [ids[queue.constructId], 'Arn'] },
        BatchSize: source.batchSize,
        ScalingConfig: { MaximumConcurrency: source.maximumConcurrency },
        FunctionResponseTypes: source.reportBatchItemFailures ? ['ReportBatchItemFailures'] : undefined,
      });
    }

    // The planned routes, behind the authorizer where planned.
    const routes = resourcesOf(synthesized, 'AWS::ApiGatewayV2::Route').map(([, route]) => route.Properties);
    expect(routes.map((route) => [route.RouteKey, route.AuthorizationType]).sort()).toEqual(
      plan.routes.map((route) => [route.key, route.authorized ? 'CUSTOM' : 'NONE']).sort(),
    );
    if (plan.authorizer) {
      synthesized.template.hasResourceProperties('AWS::ApiGatewayV2::Authorizer', {
        IdentitySource: [...plan.authorizer.identitySource],
      });
    }
  });
});

describe('the CDK stack with other configurations', () => {
  test('an existing table: not created, its stream feeds the notifications, and reading it is granted', () => {
    const streamArn =
      'arn:aws:dynamodb:eu-central-1:123456789012:table/orders/stream/2026-01-01T00:00:00.000';
    const synthesized = synthesize(
      defineConfig({
        tables: {
          orders: {
            partitionKey: { name: 'id', type: 'string' },
            existing: { tableName: 'orders', streamArn },
            notifications: {},
          },
        },
      }),
    );
    // The membership and history tables.
    expect(
      resourcesOf(synthesized, 'AWS::DynamoDB::Table').map(([id]) => id.replace(/[0-9A-F]{8}$/, '')),
    ).toEqual(['RohrpostMemberships', 'RohrpostHistory']);
    synthesized.template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: streamArn,
    });
    const notifications = functionId(synthesized, 'subscription-update');
    expect(statementsOf(synthesized, notifications)).toContainEqual(
      expect.objectContaining({
        Action: ['dynamodb:DescribeStream', 'dynamodb:GetRecords', 'dynamodb:GetShardIterator'],
        Resource: streamArn,
      }),
    );
  });

  test('an authorizer runs before $connect, with its identity source', () => {
    const synthesized = synthesize(
      defineConfig({ authorizer: { entry: join(PROJECT_ROOT, 'test/fixtures/app/authorizer.ts') } }),
    );
    synthesized.template.hasResourceProperties('AWS::ApiGatewayV2::Authorizer', {
      AuthorizerType: 'REQUEST',
      IdentitySource: ['route.request.querystring.token'],
    });
    synthesized.template.hasResourceProperties('AWS::ApiGatewayV2::Route', {
      RouteKey: '$connect',
      AuthorizationType: 'CUSTOM',
    });
    synthesized.template.hasResourceProperties('AWS::ApiGatewayV2::Route', {
      RouteKey: '$default',
      AuthorizationType: 'NONE',
    });
  });

  test('authorizer.jwt deploys the built-in JWT check on $connect, told its settings, with no data access', () => {
    const synthesized = synthesize(
      defineConfig({
        authorizer: {
          jwt: {
            issuer: 'https://cognito-idp.eu-central-1.amazonaws.com/eu-central-1_Example',
            clientId: 'app-client',
            queryParameter: 'access_token',
          },
        },
      }),
    );
    synthesized.template.hasResourceProperties('AWS::ApiGatewayV2::Authorizer', {
      AuthorizerType: 'REQUEST',
      IdentitySource: ['route.request.querystring.access_token'],
    });
    const authorizer = functionId(synthesized, 'JWT check');
    const variables = (
      resourceOf(synthesized, authorizer).Properties.Environment as { Variables: Record<string, string> }
    ).Variables;
    expect(JSON.parse(variables.ROHRPOST_JWT!)).toEqual({
      issuer: 'https://cognito-idp.eu-central-1.amazonaws.com/eu-central-1_Example',
      jwksUri: 'https://cognito-idp.eu-central-1.amazonaws.com/eu-central-1_Example/.well-known/jwks.json',
      audience: [],
      clientId: ['app-client'],
      queryParameter: 'access_token',
      claims: ['sub'],
      algorithms: ['RS256', 'ES256'],
    });
    expect(JSON.stringify(statementsOf(synthesized, authorizer))).not.toMatch(/dynamodb|execute-api|sqs/);

    // A refused token is routine, though Lambda counts it as an error: the alarm watches real failures.
    const alarms = resourcesOf(synthesized, 'AWS::CloudWatch::Alarm').map(([, alarm]) => alarm.Properties);
    const onAuthorizerErrors = alarms.filter(
      (alarm) =>
        alarm.MetricName === 'Errors' && JSON.stringify(alarm.Dimensions).includes(`"Ref":"${authorizer}"`),
    );
    expect(onAuthorizerErrors).toEqual([]);
    const failures = alarms.find((alarm) =>
      JSON.stringify(alarm.Metrics ?? '').includes('AuthorizerFailures'),
    );
    expect(failures?.Metrics).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          Expression:
            'FILL(failures, 0) + IF(FILL(errors, 0) > FILL(refused, 0), FILL(errors, 0) - FILL(refused, 0), 0)',
          ReturnData: true,
        }),
        expect.objectContaining({
          Id: 'refused',
          MetricStat: expect.objectContaining({
            Metric: expect.objectContaining({
              MetricName: 'ConnectionsRefused',
              Dimensions: [{ Name: 'service', Value: 'rohrpost-authorizer' }],
            }),
          }),
        }),
      ]),
    );
  });

  test('the JWT block shipped commented out in rohrpost.config.ts refuses to synthesize until it names a real user pool, and says what to put there', () => {
    const refused = () => synthesize(configWithBlockUncommented('authorizer'));
    expect(refused).toThrow(
      'rohrpost.config.ts: authorizer.jwt.issuer is still the placeholder "https://cognito-idp.<region>.amazonaws.com/<user pool id>". ' +
        "Put your identity provider's issuer there",
    );
    expect(refused).toThrow('npm start works with the placeholder: the sandbox signs its own tokens.');
    expect(refused).toThrow(
      'rohrpost.config.ts: authorizer.jwt.audience is still the placeholder "<app client id>". Put your app client\'s id there',
    );
  });

  test.each([
    [{}, { LastPostLatency: 10_000, IteratorAge: 1_800_000, RecordsFailed: 1, HandlerErrors: 1, Errors: 1 }],
    [
      {
        notificationLatencyAlarm: Duration.seconds(3),
        notificationLagAlarm: Duration.minutes(1),
        failedRecordsAlarm: 5,
        handlerErrorsAlarm: 10,
        functionErrorsAlarm: 2,
      },
      { LastPostLatency: 3_000, IteratorAge: 60_000, RecordsFailed: 5, HandlerErrors: 10, Errors: 2 },
    ],
    [
      {
        notificationLatencyAlarm: false,
        notificationLagAlarm: false,
        failedRecordsAlarm: false,
        handlerErrorsAlarm: false,
        functionErrorsAlarm: false,
      },
      {},
    ],
  ] as const)('alarm props %j set thresholds or turn alarms off', (props, thresholds) => {
    const synthesized = synthesize(config, { props });
    const alarms = resourcesOf(synthesized, 'AWS::CloudWatch::Alarm').map(([, alarm]) => alarm.Properties);
    const thresholdOf = (name: string) => [
      ...new Set(alarms.filter((alarm) => alarm.MetricName === name).map((alarm) => alarm.Threshold)),
    ];
    for (const name of ['LastPostLatency', 'IteratorAge', 'RecordsFailed', 'HandlerErrors', 'Errors']) {
      const expected = (thresholds as Record<string, number>)[name];
      expect([name, thresholdOf(name)]).toEqual([name, expected === undefined ? [] : [expected]]);
    }
  });

  test('the other alarms turn off, and the metrics namespace can be named', () => {
    const synthesized = synthesize(config, {
      props: {
        functionThrottlesAlarm: false,
        deadLetterAlarm: false,
        metricsNamespace: 'chat-prod',
      },
    });
    const alarms = resourcesOf(synthesized, 'AWS::CloudWatch::Alarm').map(([, alarm]) => alarm.Properties);
    expect(alarms.map((alarm) => alarm.MetricName).sort()).toEqual(
      [
        'ApproximateAgeOfOldestMessage',
        'Errors',
        'Errors',
        'Errors',
        'HandlerErrors',
        'IteratorAge',
        'LastPostLatency',
        'RecordsFailed',
      ].sort(),
    );
    for (const alarm of alarms.filter(
      (alarm) => !['AWS/Lambda', 'AWS/SQS'].includes(alarm.Namespace as string),
    )) {
      expect(alarm.Namespace).toBe('chat-prod');
    }
  });

  test('a dashboard shows traffic, the functions, the notifications and the alarms, unless turned off', () => {
    const body = (synthesized: ReturnType<typeof synthesize>) =>
      resourcesOf(synthesized, 'AWS::CloudWatch::Dashboard').map(([, dashboard]) =>
        JSON.stringify(dashboard.Properties.DashboardBody),
      );
    const [dashboard, ...others] = body(synthesize(config));
    expect(others).toEqual([]);
    for (const shown of ['ConnectCount', 'MessageCount', 'Errors', 'Throttles', 'Duration', 'RecordsFailed'])
      expect(dashboard).toContain(shown);
    for (const posts of ['NotificationsSent', 'PostsDelivered', 'PostsGone', 'PostsThrottled', 'PostsFailed'])
      expect(dashboard).toContain(posts);
    expect(dashboard).toContain('FirstPostLatency');
    expect(dashboard).toContain('LastPostLatency');
    // The lanes' throughput and the 429s that slow them.
    for (const lanes of ['LaneMessagesSent', 'LanesRun', 'LaneFailures', 'ShardSplits', 'rohrpost-lanes'])
      expect(dashboard).toContain(lanes);
    // Messages and handler errors per type, whichever types the application registers.
    for (const metric of ['MessagesHandled', 'HandlerErrors']) {
      const search = new RegExp(
        `SEARCH\\('\\{\\W*rohrpost/Rohrpost\\W*,service,type\\} service=\\W*rohrpost-websocket\\W* MetricName=\\W*${metric}\\W*', 'Sum', 60\\)`,
      );
      expect(dashboard).toMatch(search);
    }
    expect(dashboard).toContain('\\"type\\":\\"alarm\\"');
    expect(body(synthesize(config, { props: { dashboard: false } }))).toEqual([]);
  });

  test('without notifying tables there is no notification function, queue, event source or history', () => {
    const synthesized = synthesize(defineConfig({}));
    expect(resourcesOf(synthesized, 'AWS::Lambda::Function')).toHaveLength(1);
    synthesized.template.resourceCountIs('AWS::SQS::Queue', 0);
    synthesized.template.resourceCountIs('AWS::Lambda::EventSourceMapping', 0);
    synthesized.template.resourceCountIs('AWS::DynamoDB::Table', 1);
  });

  test('with history turned off there is no history table, and the functions are not told of one', () => {
    const synthesized = synthesize(
      defineConfig({
        tables: config.tables,
        // Without a history there are no lanes either: they send what it keeps.
        notifications: { ...config.notifications, history: false, lanes: false },
      }),
    );
    expect(
      resourcesOf(synthesized, 'AWS::DynamoDB::Table').some(([id]) => id.startsWith('RohrpostHistory')),
    ).toBe(false);
    for (const [, fn] of resourcesOf(synthesized, 'AWS::Lambda::Function')) {
      expect(fn.Properties.Environment).not.toHaveProperty('Variables.ROHRPOST_HISTORY');
    }
  });

  test('the props reach the resources', () => {
    const synthesized = synthesize(config, {
      props: {
        stageName: 'live',
        throttlingRateLimit: 50,
        throttlingBurstLimit: 20,
        membershipDeletionProtection: true,
        tableRemovalPolicy: RemovalPolicy.DESTROY,
      },
    });
    synthesized.template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      StageName: 'live',
      DefaultRouteSettings: { ThrottlingRateLimit: 50, ThrottlingBurstLimit: 20 },
    });
    synthesized.template.hasResourceProperties('AWS::DynamoDB::Table', { DeletionProtectionEnabled: true });
    synthesized.template.hasResource('AWS::DynamoDB::Table', {
      Properties: Match.objectLike({ StreamSpecification: Match.anyValue() }),
      DeletionPolicy: 'Delete',
    });
    synthesized.template.resourceCountIs('AWS::ApiGateway::Account', 0);
  });
});
