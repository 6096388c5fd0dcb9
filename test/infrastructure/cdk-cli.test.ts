import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { RohrpostWebSocket } from '../../lib/rohrpost-websocket';
import config from '../../rohrpost.config';
import { PROJECT_ROOT } from '../support/cdk';

describe('npm run synth', () => {
  const out = mkdtempSync(join(tmpdir(), 'cdk-out-'));
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  test('synthesizes the app offline, bundling with the local esbuild, with cdk-nag passing, and says what it would deploy', () => {
    // As `npm run synth -- --output <out>` runs it; the one synth of the suite, ~10 s.
    const result = spawnSync(process.execPath, ['--import', 'tsx', 'bin/synth.ts', '--output', out], {
      cwd: PROJECT_ROOT,
      encoding: 'utf8',
      // No AWS account, region or network: the CLI must not need any of them to synthesize.
      env: {
        PATH: process.env.PATH,
        HOME: out,
        CDK_DISABLE_CLI_TELEMETRY: 'true',
        AWS_EC2_METADATA_DISABLED: 'true',
      },
    });
    expect(`${result.stderr}${result.stdout}`).not.toMatch(/AwsSolutions-|Validation failed|docker/i);
    expect(result.status).toBe(0);
    const template = JSON.parse(readFileSync(join(out, 'Rohrpost.template.json'), 'utf8')) as {
      Resources: Record<string, { Type: string; Metadata?: Record<string, string> }>;
      Outputs: object;
    };
    expect(Object.keys(template.Outputs)).toEqual(
      expect.arrayContaining(['WebSocketUrl', 'ManagementEndpoint']),
    );

    // The summary tells what the assembly holds.
    const summary = result.stdout;
    const resources = Object.values(template.Resources);
    expect(summary).toContain(`Stack Rohrpost: ${resources.length} resources`);
    expect(summary).toContain("Region     us-east-1, CDK's default: no region was set");
    const functions = resources.filter((resource) => resource.Type === 'AWS::Lambda::Function');
    expect(functions.length).toBeGreaterThanOrEqual(2);
    for (const fn of functions) {
      const name = fn.Metadata!['aws:cdk:path']!.split('/').at(-2)!;
      const asset = fn.Metadata!['aws:asset:path']!;
      const sizeOf = (file: string) => `${Math.round(statSync(join(out, asset, file)).size / 1024)} KB`;
      expect(summary).toMatch(
        new RegExp(
          `^\\s+(Functions)?\\s+${name}\\s+nodejs\\S+ arm64, \\d+ MB, \\d+ s\\s+` +
            `index\\.js ${sizeOf('index.js')} \\+ aws-sdk\\.js ${sizeOf('aws-sdk.js')}\\s+${asset.slice(0, 16)}\\.\\.\\.$`,
          'm',
        ),
      );
    }
    const assets = functions.map((fn) => fn.Metadata!['aws:asset:path']);
    expect(summary.includes('share one asset')).toBe(new Set(assets).size < assets.length);
    expect(summary).toMatch(
      /^\s+Routes\s+\$connect \(no authorizer: anyone may connect\), \$disconnect, \$default/m,
    );
    const alarms = resources.filter((resource) => resource.Type === 'AWS::CloudWatch::Alarm').length;
    expect(summary).toMatch(new RegExp(`^\\s+Alarms\\s+${alarms}: `, 'm'));
    expect(summary).toMatch(
      /^\s+Outputs\s+WebSocketUrl, ManagementEndpoint, DeadLetterQueueUrl, NotificationFunctionName$/m,
    );
  });
});

describe('RohrpostWebSocket in another CDK app', () => {
  const outdir = mkdtempSync(join(tmpdir(), 'cdk-out-'));
  afterAll(() => rmSync(outdir, { recursive: true, force: true }));

  test('embeds in any stack under any id', () => {
    const app = new App({ outdir, context: { 'aws:cdk:bundling-stacks': [] } });
    const stack = new Stack(app, 'ChatService');
    const chat = new RohrpostWebSocket(stack, 'Chat', {
      config,
      projectRoot: PROJECT_ROOT,
      stageName: 'v1',
      setApiGatewayAccountRole: false,
    });
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::ApiGatewayV2::Api', 1);
    template.hasResourceProperties('AWS::ApiGatewayV2::Stage', { StageName: 'v1' });
    expect(chat.tables.notes).toBeDefined();
    expect(chat.url).toContain('wss://');
    expect(chat.alarms.length).toBeGreaterThan(0);
  });
});
