import { relative } from 'node:path';
import type { BundlingOptions, ILocalBundling } from 'aws-cdk-lib';
import { AssetHashType, DockerImage } from 'aws-cdk-lib';
import { Code } from 'aws-cdk-lib/aws-lambda';
import { bundleFunction } from '../lambdas/rohrpost/deploy';

/**
 * A function's code, bundled by the local esbuild as the sandbox bundles it (see
 * lambdas/rohrpost/deploy/bundle.ts): `index.js` with a source map, and the AWS SDK in a file of
 * its own that loads on first use.
 */
export function bundledFunctionCode(projectRoot: string, entry: string): Code {
  return Code.fromAsset(projectRoot, {
    assetHashType: AssetHashType.OUTPUT,
    bundling: new LocalEsbuild(projectRoot, entry),
  });
}

class LocalEsbuild implements BundlingOptions {
  // Bundling always happens locally, so this image is never pulled; CDK asks for one.
  readonly image = DockerImage.fromRegistry('dummy');
  /**
   * Never run: it names the entry, because CDK caches local bundling by the options it can
   * serialise. Without it every function would get the first function's bundle.
   */
  readonly command: string[];
  readonly local: ILocalBundling;

  constructor(projectRoot: string, entry: string) {
    this.command = ['esbuild', relative(projectRoot, entry)];
    this.local = { tryBundle: (outputDir) => (bundleFunction(entry, outputDir), true) };
  }
}
