import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export interface ConfiguredRegion {
  readonly region: string;
  /** Where it was found: `AWS_REGION`, `profile default`... */
  readonly source: string;
}

/** The variables the CDK CLI reads a region from, in its order. */
const REGION_VARIABLES = ['AWS_REGION', 'AMAZON_REGION', 'AWS_DEFAULT_REGION', 'AMAZON_DEFAULT_REGION'];

/**
 * The region the CDK CLI finds, looked for as it looks (aws-cdk's `SdkProvider.region`): the
 * environment, then the profile's section of the shared credentials and config files, then the
 * `default` profile's. Undefined when there is none: the CLI then synthesizes for us-east-1.
 * (On EC2 the CLI would ask the instance's metadata too; that region is not one a user set.)
 */
export function configuredRegion(
  env: NodeJS.ProcessEnv = process.env,
  home = homedir(),
): ConfiguredRegion | undefined {
  const variable = REGION_VARIABLES.find((name) => env[name]);
  if (variable) return { region: env[variable]!, source: variable };
  const files = [
    iniSections(env.AWS_SHARED_CREDENTIALS_FILE ?? join(home, '.aws', 'credentials')),
    iniSections(env.AWS_CONFIG_FILE ?? join(home, '.aws', 'config')),
  ];
  const profile = env.AWS_PROFILE || env.AWS_DEFAULT_PROFILE || 'default';
  for (const name of new Set([profile, 'default'])) {
    const region = files.map((sections) => sections.get(name)?.get('region')).find(Boolean);
    if (region) return { region, source: `profile ${name}` };
  }
  return undefined;
}

/** An AWS shared config or credentials file's settings by profile (`[profile x]` is `x`); none when it is missing. */
function iniSections(file: string): Map<string, Map<string, string>> {
  const sections = new Map<string, Map<string, string>>();
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return sections;
  }
  let current: Map<string, string> | undefined;
  for (const line of text.split(/\r?\n/).map((raw) => raw.trim())) {
    const header = /^\[\s*(?:profile\s+)?([^\]]+?)\s*\]$/.exec(line);
    const setting = /^([^=#;]+?)\s*=\s*(.*)$/.exec(line);
    if (header) sections.set(header[1]!, (current = new Map<string, string>()));
    else if (setting && current) current.set(setting[1]!, setting[2]!);
  }
  return sections;
}
