import { cpSync } from 'node:fs';
import { join } from 'node:path';
import { WatchedBundle } from '../../lambdas/rohrpost/deploy';

/** Where a local function's code comes from: a folder, as Lambda unpacks a deployment package. */
export interface FunctionCode {
  /**
   * Provides the code: resolves with the first folder, or rejects when there is none; later
   * folders (the code changed) go to `onChange`, failures to build them to `onError`.
   */
  start(onChange: (directory: string) => Promise<void>, onError: (message: string) => void): Promise<string>;
  stop(): Promise<void>;
}

/**
 * The function's entry bundled as the CDK construct bundles it for `cdk deploy` (the same
 * bundler, lambdas/rohrpost/deploy/bundle.ts), into `root`, and with `watch` again on every save.
 */
export function bundledCode(entry: string, root: string, watch: boolean): FunctionCode {
  let bundle: WatchedBundle | undefined;
  let first: ((directory: string) => void) | undefined;
  return {
    async start(onChange, onError) {
      const firstDirectory = new Promise<string>((resolve) => (first = resolve));
      bundle = await WatchedBundle.start({
        entry,
        root,
        watch,
        onBundle: (directory) => {
          if (first) {
            first(directory);
            first = undefined;
            return;
          }
          return onChange(directory);
        },
        onError,
      });
      return firstDirectory;
    },
    stop: async () => bundle?.stop(),
  };
}

/** The code of a synthesized asset (`cdk.out/asset.<hash>`), copied into `root`: what `cdk deploy` uploads. */
export function assetCode(asset: string, root: string): FunctionCode {
  return {
    start() {
      const directory = join(root, 'asset');
      cpSync(asset, directory, { recursive: true });
      return Promise.resolve(directory);
    },
    stop: () => Promise.resolve(),
  };
}
