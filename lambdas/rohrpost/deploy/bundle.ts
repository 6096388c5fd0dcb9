/**
 * How a function's code is bundled for Lambda: by the CDK construct at synth, and by the sandbox
 * on every save, with the same options, so that the sandbox runs what `cdk deploy` ships.
 *
 * A bundle is a folder: `index.js` with the application and the framework, minified, with a
 * source map, which `index.js` reads when it first formats a stack, so that stack traces point
 * into the TypeScript (../runtime/lazy-source-maps.ts); `aws-sdk.js` with the AWS SDK, without
 * one; and a one-line module under `node_modules/` per SDK package that leads into `aws-sdk.js`.
 * Node looks in the bundle's own `node_modules` before Lambda's runtime SDK, so the function runs
 * the SDK the tests ran, and parses it only when the code first requires it: V8 parses every byte
 * of a file it loads, and a plain reply never needs the SDK (bench:cold-start measures both).
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import { basename, dirname, join, relative } from 'node:path';
import type { BuildOptions, BuildResult, Metafile } from 'esbuild';
import * as esbuild from 'esbuild';
import { InputWatcher } from './input-watcher';

/** The file of a bundle that holds the AWS SDK, beside its `index.js`. */
export const SDK_CHUNK = 'aws-sdk.js';

/** The packages that go to the SDK chunk rather than into `index.js`. */
const SDK_PACKAGES = ['@aws-sdk/*', '@smithy/*'];

const COMMON: BuildOptions = {
  bundle: true,
  platform: 'node',
  format: 'cjs',
  // Lambda's runtime (lib/rohrpost-websocket.ts runs every function on Node.js 24).
  target: 'node24',
  minify: true,
  // The SDK's ES modules tree-shake better than its CommonJS builds.
  mainFields: ['module', 'main'],
  logLevel: 'silent',
};

/** The options of a function's `index.js`: everything but the SDK, with a source map. */
function mainOptions(entry: string): BuildOptions {
  return {
    ...COMMON,
    entryPoints: [entry],
    // Runs before the function's own code.
    inject: [join(__dirname, '../runtime/bundle-prelude.ts')],
    sourcemap: true,
    sourcesContent: false,
    external: SDK_PACKAGES,
    metafile: true,
  };
}

/**
 * Bundles the function at `entry` (an absolute path) into `outputDir`, synchronously: CDK's local
 * bundling calls this at synth. Throws with esbuild's messages when the code does not build.
 */
export function bundleFunction(entry: string, outputDir: string): void {
  const main = esbuild.buildSync({
    ...mainOptions(entry),
    outfile: join(outputDir, 'index.js'),
    logLevel: 'warning',
  });
  const packages = sdkPackagesOf(main.metafile!);
  writeSdkChunk(outputDir, packages, sdkChunkSync(entry, packages));
}

export interface WatchedBundleOptions {
  /** The function's entry module, an absolute path. */
  readonly entry: string;
  /** Where each build's folder is written: `<root>/v1`, `<root>/v2`... */
  readonly root: string;
  /** Rebuild when a source file changes. */
  readonly watch: boolean;
  /** A new build's folder, once it is complete; not called when the code did not change. */
  readonly onBundle: (directory: string) => void | Promise<void>;
  /** A build that failed, with esbuild's messages; the previous build stays. */
  readonly onError: (message: string) => void;
}

/**
 * The sandbox's bundler: the same bundle as `bundleFunction`, built again whenever a source file
 * changes, each build in a folder of its own so that instances still running the previous code
 * keep it. Resolves once the first build is written, or rejects with its errors.
 */
export class WatchedBundle {
  private version = 0;
  private lastHash: string | undefined;
  private builds: Promise<void> = Promise.resolve();
  private firstError: string | undefined;
  private context: esbuild.BuildContext | undefined;
  private inputs: InputWatcher | undefined;

  private constructor(private readonly options: WatchedBundleOptions) {}

  static async start(options: WatchedBundleOptions): Promise<WatchedBundle> {
    const bundle = new WatchedBundle(options);
    const context = await esbuild.context({
      ...mainOptions(options.entry),
      write: false,
      // Never written: each build goes to a folder of its own, at the same depth, so that the
      // source map's relative paths hold there.
      outfile: join(options.root, 'current', 'index.js'),
      plugins: [
        { name: 'rohrpost-bundle', setup: (build) => build.onEnd((result) => bundle.enqueue(result)) },
      ],
    });
    bundle.context = context;
    if (options.watch) bundle.inputs = new InputWatcher(() => context.rebuild());
    await context.rebuild().catch(() => undefined); // its errors arrive through onEnd
    await bundle.builds;
    if (bundle.firstError !== undefined) {
      await bundle.inputs?.close();
      await context.dispose();
      throw new Error(bundle.firstError);
    }
    return bundle;
  }

  /** Stops watching; waits for a build under way. */
  async stop(): Promise<void> {
    await this.inputs?.close();
    await this.context?.dispose();
    await this.builds;
  }

  private enqueue(result: BuildResult): void {
    this.inputs?.watch(result.metafile);
    this.builds = this.builds.then(() => this.write(result));
  }

  private async write(result: BuildResult): Promise<void> {
    const initial = this.version === 0;
    if (result.errors.length > 0) {
      const message = `Could not build ${relative(process.cwd(), this.options.entry)}:\n${esbuild
        .formatMessagesSync(result.errors, { kind: 'error' })
        .join('\n')}`;
      if (initial) this.firstError = message;
      else this.options.onError(message);
      return;
    }
    const files = result.outputFiles ?? [];
    const hash = createHash('sha256');
    for (const file of files) hash.update(file.path).update(file.contents);
    const digest = hash.digest('hex');
    if (digest === this.lastHash) return;
    const packages = sdkPackagesOf(result.metafile!);
    let sdk: string;
    try {
      sdk = await sdkChunk(this.options.entry, packages);
    } catch (error) {
      const message = `Could not bundle the AWS SDK for ${this.options.entry}: ${(error as Error).message}`;
      if (initial) this.firstError = message;
      else this.options.onError(message);
      return;
    }
    const directory = join(this.options.root, `v${++this.version}`);
    mkdirSync(directory, { recursive: true });
    for (const file of files) writeFileSync(join(directory, basename(file.path)), file.contents);
    writeSdkChunk(directory, packages, sdk);
    this.lastHash = digest;
    await this.options.onBundle(directory);
  }
}

/** The SDK packages `index.js` requires, sorted. */
function sdkPackagesOf(metafile: Metafile): string[] {
  return [
    ...new Set(
      Object.values(metafile.outputs)
        .flatMap((output) => output.imports)
        .filter((imported) => imported.external && !isBuiltin(imported.path))
        .map((imported) => imported.path),
    ),
  ].sort();
}

/** The SDK chunk's entry: each package is evaluated when first required, as it would be from node_modules. */
function sdkChunkEntry(entry: string, packages: readonly string[]): esbuild.StdinOptions {
  const contents = `module.exports = {${packages
    .map((name) => `${JSON.stringify(name)}: () => require(${JSON.stringify(name)})`)
    .join(',\n')}};`;
  return { contents, resolveDir: dirname(entry), loader: 'js' };
}

function sdkChunkSync(entry: string, packages: readonly string[]): string {
  const cached = readSdkCache(entry, packages);
  if (cached.text !== undefined) return cached.text;
  const built = esbuild.buildSync({ ...COMMON, stdin: sdkChunkEntry(entry, packages), write: false });
  return cached.store(built.outputFiles[0]!.text);
}

async function sdkChunk(entry: string, packages: readonly string[]): Promise<string> {
  const cached = readSdkCache(entry, packages);
  if (cached.text !== undefined) return cached.text;
  const built = await esbuild.build({ ...COMMON, stdin: sdkChunkEntry(entry, packages), write: false });
  return cached.store(built.outputFiles[0]!.text);
}

/**
 * The SDK chunk of a set of packages, kept in the project's `node_modules/.cache` (it takes a
 * third of a second to build, the same for every function and every sandbox start), by a key of
 * the packages, the installed versions (the lockfile) and the bundler's options.
 */
function readSdkCache(
  entry: string,
  packages: readonly string[],
): { text: string | undefined; store(text: string): string } {
  const lockfile = findUp(dirname(entry), 'package-lock.json');
  if (!lockfile) return { text: undefined, store: (text) => text };
  const key = createHash('sha256')
    .update(JSON.stringify({ packages, options: COMMON, esbuild: esbuild.version }))
    .update(readFileSync(lockfile))
    .digest('hex')
    .slice(0, 32);
  const file = join(dirname(lockfile), 'node_modules', '.cache', 'rohrpost-bundles', `sdk-${key}.js`);
  const text = existsSync(file) ? readFileSync(file, 'utf8') : undefined;
  return {
    text,
    store(built) {
      mkdirSync(dirname(file), { recursive: true });
      // Atomically: bundlers in other processes may write the same file at the same time.
      const temporary = `${file}.${process.pid}.${Date.now()}`;
      writeFileSync(temporary, built);
      renameSync(temporary, file);
      return built;
    },
  };
}

function findUp(from: string, name: string): string | undefined {
  for (let directory = from; ; directory = dirname(directory)) {
    if (existsSync(join(directory, name))) return join(directory, name);
    if (dirname(directory) === directory) return undefined;
  }
}

/** Writes the SDK chunk and, for each package, the module under `node_modules/` that leads into it. */
function writeSdkChunk(outputDir: string, packages: readonly string[], sdk: string): void {
  writeFileSync(join(outputDir, SDK_CHUNK), sdk);
  for (const name of packages) {
    const stub = join(outputDir, 'node_modules', name, 'index.js');
    mkdirSync(dirname(stub), { recursive: true });
    const chunk = relative(dirname(stub), join(outputDir, SDK_CHUNK));
    writeFileSync(stub, `module.exports = require(${JSON.stringify(chunk)})[${JSON.stringify(name)}]();\n`);
  }
}
