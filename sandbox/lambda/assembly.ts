import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** A function of a synthesized stack: the folder of its code asset and its handler, as `cdk deploy` creates it. */
export interface AssemblyFunction {
  readonly logicalId: string;
  /** The construct's id in the stack: `WebSocket`, `Notifications`, `Authorizer`. */
  readonly constructId: string;
  /** The folder of its code asset in the cloud assembly. */
  readonly asset: string;
  /** `<file>.<export>`, as Lambda reads it. */
  readonly handler: string;
  /** The environment as the template writes it: strings, or CloudFormation functions of other resources. */
  readonly environment: Readonly<Record<string, unknown>>;
}

interface TemplateResource {
  readonly Type: string;
  readonly Properties: Record<string, unknown>;
  readonly Metadata?: Record<string, unknown>;
}

/**
 * The Lambda functions of `stack` in a cloud assembly (`cdk synth`'s output folder), found by
 * the construct path and asset metadata that `cdk synth` writes.
 */
export function assemblyFunctions(directory: string, stack: string): AssemblyFunction[] {
  const template = JSON.parse(readFileSync(join(directory, `${stack}.template.json`), 'utf8')) as {
    Resources: Record<string, TemplateResource>;
  };
  return Object.entries(template.Resources)
    .filter(([, resource]) => resource.Type === 'AWS::Lambda::Function')
    .map(([logicalId, resource]) => {
      const path = resource.Metadata?.['aws:cdk:path'];
      const asset = resource.Metadata?.['aws:asset:path'];
      if (typeof path !== 'string' || typeof asset !== 'string') {
        throw new Error(
          `${logicalId} in ${directory} carries no construct path or asset metadata: synthesize with \`cdk synth\`, which writes them.`,
        );
      }
      return {
        logicalId,
        constructId: path.split('/').at(-2)!,
        asset: join(directory, asset),
        handler: resource.Properties.Handler as string,
        environment:
          (resource.Properties.Environment as { Variables?: Record<string, unknown> } | undefined)
            ?.Variables ?? {},
      };
    });
}
