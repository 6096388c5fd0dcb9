/**
 * `npm run synth`: synthesizes the CDK app offline (`cdk synth --quiet`, cdk-nag's checks
 * included) and prints what would be deployed, read back from the cloud assembly.
 */
import { spawnSync } from 'node:child_process';
import { join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { configuredRegion } from './configured-region';
import { summarizeAssembly } from './synth-summary';

const PROJECT_ROOT = join(__dirname, '..');

const HELP = `Usage: npm run synth [-- --output <dir>]

Synthesizes the CDK app into a cloud assembly, offline, with cdk-nag's checks (cdk synth --quiet),
and prints what it would deploy: the region, the functions and their bundles, the tables, the
routes, the queues, the alarms and the outputs.

Options:
  --output <dir>  where the cloud assembly goes (default cdk.out)
  -h, --help      show this help
`;

function main(): void {
  let values: { output: string; help: boolean };
  try {
    values = parseArgs({
      options: {
        output: { type: 'string', default: 'cdk.out' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }).values;
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n\n${HELP}`);
    process.exitCode = 2;
    return;
  }
  if (values.help) return void process.stdout.write(HELP);

  const output = resolve(values.output);
  const cdk = spawnSync(
    join(PROJECT_ROOT, 'node_modules', '.bin', 'cdk'),
    ['synth', '--quiet', '--output', output],
    { cwd: PROJECT_ROOT, stdio: 'inherit' },
  );
  if (cdk.status !== 0) {
    // cdk has said why (a cdk-nag finding, an error in the app...).
    process.stderr.write(`cdk synth failed${cdk.error ? `: ${cdk.error.message}` : ''}.\n`);
    process.exitCode = cdk.status ?? 1;
    return;
  }
  const summary = summarizeAssembly(output, configuredRegion());
  const shown = relative(process.cwd(), output);
  process.stdout.write(
    `\nSynthesized into ${shown.startsWith('..') ? output : shown || '.'}, nothing deployed.\n\n`,
  );
  process.stdout.write(`${summary.join('\n')}\n`);
}

main();
