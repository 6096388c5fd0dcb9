/** The CDK app: `npx cdk synth`, `npx cdk deploy`. */
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { join } from 'node:path';
import config from '../rohrpost.config';
import { RohrpostStack } from '../lib/rohrpost-stack';

const app = new App();
new RohrpostStack(app, 'Rohrpost', {
  config,
  projectRoot: join(__dirname, '..'),
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
  description: 'rohrpost: the rohrpost WebSocket protocol on API Gateway, Lambda and DynamoDB',
});
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
