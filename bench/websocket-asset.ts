/**
 * Synthesizes the stack into the folder given as argument 1, as `cdk synth` would, and prints
 * the path of the websocket function's deployed `index.js`. bench:cold-start runs it in a
 * process of its own, so that its deadline can stop it: a synth is synchronous.
 *
 *   node --import tsx bench/websocket-asset.ts <outdir>
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { RohrpostStack } from '../lib/rohrpost-stack';
import config from '../rohrpost.config';

const PROJECT_ROOT = join(__dirname, '..');

function synthesizedWebsocketAsset(outdir: string): string {
  const cdkContext = (JSON.parse(readFileSync(join(PROJECT_ROOT, 'cdk.json'), 'utf8')) as { context: object })
    .context;
  const app = new App({ outdir, context: cdkContext });
  new RohrpostStack(app, 'Rohrpost', {
    config,
    projectRoot: PROJECT_ROOT,
    env: { account: '123456789012', region: 'eu-central-1' },
  });
  const assembly = app.synth();
  const template = assembly.getStackByName('Rohrpost').template as {
    Resources: Record<
      string,
      { Type: string; Properties: { Description?: string; Code?: { S3Key?: string } } }
    >;
  };
  const websocket = Object.values(template.Resources).find(
    (resource) =>
      resource.Type === 'AWS::Lambda::Function' &&
      String(resource.Properties.Description).includes('$default'),
  );
  // The asset's folder in the cloud assembly is named by the hash its S3 key carries.
  const hash = websocket?.Properties.Code?.S3Key?.replace(/\.zip$/, '');
  if (!hash) throw new Error('The synthesized stack has no websocket function asset.');
  return join(outdir, `asset.${hash}`, 'index.js');
}

process.stdout.write(`${synthesizedWebsocketAsset(process.argv[2]!)}\n`);
