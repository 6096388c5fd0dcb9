import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { ResolvedConfig } from '../../lambdas/rohrpost/config';
import type { RohrpostStackProps } from '../../lib/rohrpost-stack';
import { RohrpostStack } from '../../lib/rohrpost-stack';

export const PROJECT_ROOT = join(__dirname, '../..');

/** The feature flags and settings of cdk.json, which `cdk synth` passes to the app. */
const cdkContext = (JSON.parse(readFileSync(join(PROJECT_ROOT, 'cdk.json'), 'utf8')) as { context: object })
  .context;

/** The cloud assemblies this test file synthesized: removed after it, as CDK leaves its own. */
const outdirs: string[] = [];
afterAll(() => {
  for (const outdir of outdirs.splice(0)) rmSync(outdir, { recursive: true, force: true });
});

export interface Synthesized {
  app: App;
  stack: RohrpostStack;
  template: Template;
}

/**
 * Synthesizes the project's stack as the CDK app does, with cdk-nag's AwsSolutions checks,
 * whose acknowledgements are written into the template's metadata. A finding nobody
 * acknowledged makes synthesis fail. Bundling is skipped unless `bundle` is set.
 */
export function synthesize(
  config: ResolvedConfig,
  options: { bundle?: boolean; props?: Partial<RohrpostStackProps> } = {},
): Synthesized {
  const outdir = mkdtempSync(join(tmpdir(), 'rohrpost-cdk-out-'));
  outdirs.push(outdir);
  const app = new App({
    outdir,
    context: {
      ...cdkContext,
      // What `cdk synth` turns on: each resource's construct path, and its asset's folder.
      'aws:cdk:enable-path-metadata': true,
      'aws:cdk:enable-asset-metadata': true,
      ...(!options.bundle && { 'aws:cdk:bundling-stacks': [] }),
    },
  });
  const stack = new RohrpostStack(app, 'Rohrpost', {
    config,
    projectRoot: PROJECT_ROOT,
    env: { account: '123456789012', region: 'eu-central-1' },
    ...options.props,
  });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { writeSuppressionsToCloudFormation: true }));
  try {
    app.synth();
  } catch (error) {
    const report = join(app.outdir, 'validation-report.json');
    throw new Error(`cdk-nag: ${(error as Error).message}\n${readFileSync(report, 'utf8')}`, {
      cause: error,
    });
  }
  return { app, stack, template: Template.fromStack(stack) };
}
