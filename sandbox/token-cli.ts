/**
 * `npm run token -- <user> [options]`: a token from the sandbox's local issuer, for a project
 * whose rohrpost.config.ts sets `authorizer.jwt`. Connect with it: ws://localhost:3001/?token=...
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { ResolvedConfig } from '../lambdas/rohrpost/deploy';
import { LocalIssuer } from './local-issuer';

const HELP = `Usage: npm run token -- <user> [options]

Prints a token the sandbox's authorizer accepts (rohrpost.config.ts's authorizer.jwt): signed by
the sandbox's local issuer, for the configured audience, with <user> as its subject.

Options:
  --expires-in <span>   how long it is valid: 90s, 15m, 2h, 7d (default 1h)
  --claim <name=value>  another claim, e.g. --claim email=alice@example.com (repeatable)
  --config <file>       the configuration (default rohrpost.config.ts)
  -h, --help            show this help
`;

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      'expires-in': { type: 'string', default: '1h' },
      claim: { type: 'string', multiple: true, default: [] },
      config: { type: 'string', default: 'rohrpost.config.ts' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) return void process.stdout.write(HELP);
  const [user] = positionals;
  if (!user || positionals.length > 1) throw new Error('Name one user: npm run token -- alice');
  if (!/^\d+[smhd]$/.test(values['expires-in'])) {
    throw new Error(
      `--expires-in is a number and a unit (s, m, h, d), like 15m, not '${values['expires-in']}'.`,
    );
  }
  const claims: Record<string, string> = {};
  for (const claim of values.claim) {
    const [name, ...value] = claim.split('=');
    if (!name || value.length === 0) throw new Error(`--claim takes name=value, not '${claim}'.`);
    claims[name] = value.join('=');
  }
  const configFile = resolve(values.config);
  const config = ((await import(configFile)) as { default: ResolvedConfig }).default;
  const jwt = config.authorizer?.jwt;
  if (!jwt) throw new Error(`${values.config} sets no authorizer.jwt: the sandbox issues no tokens for it.`);
  const issuer = await LocalIssuer.load(resolve(__dirname, '..'), jwt);
  process.stdout.write(`${await issuer.mint(user, { expiresIn: values['expires-in'], claims })}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).message}\n\n${HELP}`);
  process.exitCode = 2;
});
