import { mkdirSync, writeFileSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import { dirname, join, relative } from 'node:path';
import type { BundlingOptions, ILocalBundling } from 'aws-cdk-lib';
import { AssetHashType, DockerImage } from 'aws-cdk-lib';
import { Code } from 'aws-cdk-lib/aws-lambda';
import type { BuildOptions } from 'esbuild';
import * as esbuild from 'esbuild';

/** The file of a bundled function that holds the AWS SDK, beside its `index.js`. */
export const SDK_CHUNK = 'aws-sdk.js';

/** The packages that go to the SDK chunk rather than into `index.js`. */
const SDK_PACKAGES = ['@aws-sdk/*', '@smithy/*'];

const COMMON: BuildOptions = {
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node24',
  minify: true,
  // The SDK's ES modules tree-shake better than its CommonJS builds.
  mainFields: ['module', 'main'],
  logLevel: 'warning',
};

/**
 * A function's code, bundled by the local esbuild in two files. `index.js` holds the handlers
 * and the framework, with a source map (stack traces point into the TypeScript). `aws-sdk.js`
 * holds the AWS SDK, without one, and is loaded when the code first requires an SDK package,
 * through a one-line module per package under `node_modules/`. A plain reply never does, so a
 * cold start compiles a twentieth of the code: V8 parses every byte of a file it loads, used or
 * not (bench:cold-start measures both files' cost).
 */
export function bundledFunctionCode(projectRoot: string, entry: string): Code {
  return Code.fromAsset(projectRoot, {
    assetHashType: AssetHashType.OUTPUT,
    bundling: new LocalEsbuild(entry),
  });
}

class LocalEsbuild implements BundlingOptions {
  // Bundling always happens locally, so this image is never pulled; CDK asks for one.
  readonly image = DockerImage.fromRegistry('dummy');
  readonly local: ILocalBundling;

  constructor(entry: string) {
    this.local = { tryBundle: (outputDir) => (bundleFunction(entry, outputDir), true) };
  }
}

/** Writes `index.js`, its source map, the SDK chunk and the modules that lead to it into `outputDir`. */
function bundleFunction(entry: string, outputDir: string): void {
  const main = esbuild.buildSync({
    ...COMMON,
    entryPoints: [entry],
    outfile: join(outputDir, 'index.js'),
    sourcemap: true,
    sourcesContent: false,
    external: SDK_PACKAGES,
    metafile: true,
  });
  const packages = [
    ...new Set(
      Object.values(main.metafile.outputs)
        .flatMap((output) => output.imports)
        .filter((imported) => imported.external && !isBuiltin(imported.path))
        .map((imported) => imported.path),
    ),
  ].sort();
  // Each package is evaluated when first required, as it would be from node_modules.
  const chunkEntry = `module.exports = {${packages
    .map((name) => `${JSON.stringify(name)}: () => require(${JSON.stringify(name)})`)
    .join(',\n')}};`;
  esbuild.buildSync({
    ...COMMON,
    stdin: { contents: chunkEntry, resolveDir: dirname(entry), loader: 'js' },
    outfile: join(outputDir, SDK_CHUNK),
  });
  for (const name of packages) {
    // Node looks in the function's own node_modules before the runtime's, so the SDK that
    // Lambda ships is never mixed with the one the function was tested with.
    const stub = join(outputDir, 'node_modules', name, 'index.js');
    mkdirSync(dirname(stub), { recursive: true });
    const chunk = relative(dirname(stub), join(outputDir, SDK_CHUNK));
    writeFileSync(stub, `module.exports = require(${JSON.stringify(chunk)})[${JSON.stringify(name)}]();\n`);
  }
}
