import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ResolvedConfig } from '../../lambdas/rohrpost/config';
import { PROJECT_ROOT } from './cdk';

/**
 * rohrpost.config.ts with one of its commented-out blocks switched on, as a user does it: the
 * block that starts with `// <key>:` loses its comment marks, and the file is evaluated.
 */
export function configWithBlockUncommented(key: string): ResolvedConfig {
  const lines = readFileSync(join(PROJECT_ROOT, 'rohrpost.config.ts'), 'utf8').split('\n');
  const start = lines.findIndex((line) => line.trimStart().startsWith(`// ${key}:`));
  if (start === -1) throw new Error(`rohrpost.config.ts has no commented-out block '${key}'.`);
  const indent = lines[start]!.indexOf('//');
  const closing = `${' '.repeat(indent)}// },`;
  const end = lines.findIndex((line, i) => i > start && line === closing);
  for (let i = start; i <= end; i++) lines[i] = lines[i]!.replace(/^(\s*)\/\/ ?/, '$1');
  // Beside the original, so that its imports resolve as they do.
  const file = join(PROJECT_ROOT, `.rohrpost.config.${key}-${process.pid}.ts`);
  writeFileSync(file, lines.join('\n'));
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- evaluated as the CDK app and npm start evaluate it
    return (require(file) as { default: ResolvedConfig }).default;
  } finally {
    rmSync(file, { force: true });
  }
}
