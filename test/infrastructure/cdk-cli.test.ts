import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { RohrpostWebSocket } from '../../lib/rohrpost-websocket';
import config from '../../rohrpost.config';
import { PROJECT_ROOT } from '../support/cdk';

describe('npx cdk synth', () => {
  const out = mkdtempSync(join(tmpdir(), 'cdk-out-'));
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  test('synthesizes the app offline, bundling with the local esbuild, with cdk-nag passing', () => {
    const result = spawnSync(
      join(PROJECT_ROOT, 'node_modules/.bin/cdk'),
      ['synth', '--quiet', '--output', out],
      {
        cwd: PROJECT_ROOT,
        encoding: 'utf8',
        // No AWS account or network: the CLI must not need either to synthesize.
        env: {
          PATH: process.env.PATH,
          HOME: out,
          CDK_DISABLE_CLI_TELEMETRY: 'true',
          AWS_EC2_METADATA_DISABLED: 'true',
        },
      },
    );
    expect(`${result.stderr}${result.stdout}`).not.toMatch(/AwsSolutions-|Validation failed|docker/i);
    expect(result.status).toBe(0);
    const template = JSON.parse(readFileSync(join(out, 'Rohrpost.template.json'), 'utf8')) as {
      Outputs: object;
    };
    expect(Object.keys(template.Outputs)).toEqual(
      expect.arrayContaining(['WebSocketUrl', 'ManagementEndpoint']),
    );
  }, 120_000);
});

describe('RohrpostWebSocket in another CDK app', () => {
  test('embeds in any stack under any id', () => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
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
