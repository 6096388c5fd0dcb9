import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configuredRegion } from '../../bin/configured-region';
import type { StackToSummarize, Template } from '../../bin/synth-summary';
import { summarizeStack } from '../../bin/synth-summary';

const SHARED = 'asset.0123456789abcdef';
const OWN = 'asset.fedcba9876543210';
const path = (construct: string) => ({ 'aws:cdk:path': `Chat/${construct}/Resource` });

/** A small stack: three functions (two of them on one asset), two tables, a route with an authorizer. */
const template: Template = {
  Resources: {
    Api: { Type: 'AWS::ApiGatewayV2::Api', Metadata: path('Api') },
    Authorizer1234: { Type: 'AWS::ApiGatewayV2::Authorizer', Metadata: path('Api/Login') },
    ConnectRoute: {
      Type: 'AWS::ApiGatewayV2::Route',
      Properties: {
        RouteKey: '$connect',
        AuthorizationType: 'CUSTOM',
        AuthorizerId: { Ref: 'Authorizer1234' },
      },
    },
    DefaultRoute: { Type: 'AWS::ApiGatewayV2::Route', Properties: { RouteKey: '$default' } },
    Stage: { Type: 'AWS::ApiGatewayV2::Stage', Properties: { StageName: 'v1' } },
    Socket1234: {
      Type: 'AWS::Lambda::Function',
      Properties: { MemorySize: 512, Timeout: 29, Runtime: 'nodejs24.x', Architectures: ['arm64'] },
      Metadata: { ...path('Socket'), 'aws:asset:path': SHARED },
    },
    Notify1234: {
      Type: 'AWS::Lambda::Function',
      Properties: { Runtime: 'nodejs24.x' },
      Metadata: { ...path('Notify'), 'aws:asset:path': SHARED },
    },
    Login1234: {
      Type: 'AWS::Lambda::Function',
      Properties: { MemorySize: 256, Timeout: 5, Runtime: 'nodejs24.x', Architectures: ['arm64'] },
      Metadata: { ...path('Login'), 'aws:asset:path': OWN },
    },
    Notes1234: {
      Type: 'AWS::DynamoDB::Table',
      Properties: {
        TableName: 'notes',
        KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
        StreamSpecification: { StreamViewType: 'NEW_AND_OLD_IMAGES' },
      },
      Metadata: path('Notes'),
    },
    Sessions1234: {
      Type: 'AWS::DynamoDB::Table',
      Properties: {
        KeySchema: [
          { AttributeName: 'user', KeyType: 'HASH' },
          { AttributeName: 'session', KeyType: 'RANGE' },
        ],
        GlobalSecondaryIndexes: [{}, {}],
        TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
      },
      Metadata: path('Sessions'),
    },
    Letters1234: { Type: 'AWS::SQS::Queue', Metadata: path('Letters') },
    ErrorsAlarm1234: { Type: 'AWS::CloudWatch::Alarm', Metadata: path('ErrorsAlarm') },
    LagAlarm1234: { Type: 'AWS::CloudWatch::Alarm', Metadata: path('LagAlarm') },
  },
  Outputs: { Url: { Value: 'wss://...' } },
};

const sizes: Record<string, number> = {
  [`${SHARED}/index.js`]: 56_600,
  [`${SHARED}/aws-sdk.js`]: 442_750,
  [`${OWN}/index.js`]: 10_240,
};

const stack: StackToSummarize = {
  stackName: 'Chat',
  region: 'eu-central-1',
  configuredRegion: { region: 'eu-central-1', source: 'AWS_REGION' },
  template,
  fileSize: (folder, file) => sizes[`${folder}/${file}`],
};

describe('the synth summary', () => {
  test('says in a dozen lines what the stack would deploy, and warns of functions sharing an asset', () => {
    expect(summarizeStack(stack)).toEqual([
      'Stack Chat: 13 resources',
      '  Region     eu-central-1 (from AWS_REGION)',
      '  Functions  Socket   nodejs24.x arm64, 512 MB, 29 s   index.js 55 KB + aws-sdk.js 432 KB   asset.0123456789...',
      '             Notify   nodejs24.x x86_64, 128 MB, 3 s   index.js 55 KB + aws-sdk.js 432 KB   asset.0123456789...',
      '             Login    nodejs24.x arm64, 256 MB, 5 s    index.js 10 KB + no aws-sdk.js       asset.fedcba9876...',
      '  Warning    Socket and Notify share one asset (asset.0123456789...): they would run the same code',
      '  Tables     notes      key id, stream NEW_AND_OLD_IMAGES',
      '             Sessions   key user + session, 2 indexes, TTL expiresAt',
      '  Routes     $connect (authorizer Login), $default, stage v1',
      '  Queues     Letters (keeps messages 4 days)',
      '  Alarms     2: Errors, Lag',
      '  Outputs    Url',
    ]);
  });

  test('says when no region was set, and CDK synthesized for its default', () => {
    const region = (of: Partial<StackToSummarize>) => summarizeStack({ ...stack, ...of })[1];
    expect(region({ region: 'us-east-1', configuredRegion: undefined })).toBe(
      "  Region     us-east-1, CDK's default: no region was set (AWS_REGION or a profile's region)",
    );
    // The app chose a region of its own: the assembly's is the one deployed to.
    expect(region({ region: 'eu-west-1', configuredRegion: undefined })).toBe('  Region     eu-west-1');
    expect(region({ region: 'unknown-region' })).toBe('  Region     none: the stack is environment-agnostic');
  });

  test('lists no functions, tables or queues where there are none, and says so of alarms and outputs', () => {
    expect(summarizeStack({ ...stack, template: { Resources: {} } })).toEqual([
      'Stack Chat: 0 resources',
      '  Region     eu-central-1 (from AWS_REGION)',
      '  Alarms     none',
      '  Outputs    none',
    ]);
  });
});

describe('the region the CDK CLI finds', () => {
  const home = mkdtempSync(join(tmpdir(), 'home-'));
  afterAll(() => rmSync(home, { recursive: true, force: true }));

  test('is none without a variable or a profile that sets one', () => {
    expect(configuredRegion({}, home)).toBeUndefined();
  });

  test('comes from the environment first, then from the profile, then from the default profile', () => {
    mkdirSync(join(home, '.aws'), { recursive: true });
    writeFileSync(
      join(home, '.aws', 'config'),
      '[default]\nregion = eu-west-1\n\n[profile work]\noutput = json\nregion=ap-south-1\n',
    );
    expect(configuredRegion({ AWS_DEFAULT_REGION: 'us-west-2', AWS_PROFILE: 'work' }, home)).toEqual({
      region: 'us-west-2',
      source: 'AWS_DEFAULT_REGION',
    });
    expect(configuredRegion({ AWS_PROFILE: 'work' }, home)).toEqual({
      region: 'ap-south-1',
      source: 'profile work',
    });
    expect(configuredRegion({ AWS_PROFILE: 'unset' }, home)).toEqual({
      region: 'eu-west-1',
      source: 'profile default',
    });
  });
});
