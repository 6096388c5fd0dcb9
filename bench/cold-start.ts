/**
 * The websocket function's cold start as Lambda pays it: the synthesized asset (bundled and
 * minified by the CDK app, as deployed) is required in a fresh Node process, then handles one
 * `ping`, loads the SDK as a first DynamoDB call would, and logs a first error. First as
 * deployed: with the NODE_OPTIONS the deployment plan gives the function; then with
 * `--enable-source-maps`, which the plan set until the bundle mapped its stack traces itself
 * (lambdas/rohrpost/runtime/lazy-source-maps.ts). Beside each, in the same run, an empty bundle
 * with the same options: what any function costs. The variants take turns, one process each per
 * round, so that a change in the machine's load falls on all of them; medians of the rounds.
 * Every phase has a deadline (bench/deadline.ts).
 *
 *   npm run bench:cold-start
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { deploymentPlan, environmentOf, plannedFunction, SDK_CHUNK } from '../lambdas/rohrpost/deploy';
import config from '../rohrpost.config';
import { childPhase, runBenchmark } from './deadline';
import { formatNumber, machineLoad, median, printTable } from './stats';

const RUNS = 15;
const TARGET_MS = 10;

/**
 * Run in each fresh process: load the bundle, handle a ping, load the SDK as a first DynamoDB
 * call would, then an invocation that fails and logs its error with the stack (an event without
 * a request context). Prints the times in ms, whether the ping loaded the SDK, and whether the
 * logged stack named a TypeScript file.
 */
const PROBE = `
const { performance } = require('node:perf_hooks');
const { dirname, join } = require('node:path');
const started = performance.now();
const { handler } = require(process.argv[1]);
const loaded = performance.now();
const event = {
  requestContext: { eventType: 'MESSAGE', routeKey: '$default', connectionId: 'c', apiId: 'a', stage: 's',
    domainName: 'd', requestId: 'r', messageId: 'm', connectedAt: 0, requestTimeEpoch: 0 },
  body: '{"id":1,"type":"ping"}', isBase64Encoded: false,
};
(async () => {
  await handler(event, {});
  const pinged = performance.now();
  const sdkLoadedByPing = Object.keys(require.cache).some((file) => file.endsWith('${SDK_CHUNK}'));
  const sdkEntry = join(dirname(process.argv[1]), 'node_modules/@aws-sdk/lib-dynamodb');
  if (require('node:fs').existsSync(sdkEntry)) require(sdkEntry); // an empty bundle has none
  const sdk = performance.now() - pinged;
  let logged = '';
  const write = process.stderr.write;
  process.stderr.write = (chunk) => ((logged += chunk), true);
  const failing = performance.now();
  await handler({}, {});
  const failed = performance.now() - failing;
  process.stderr.write = write;
  const mappedStack = /\\.ts:\\d+:\\d+/.test(logged);
  process.stdout.write('\\n' + JSON.stringify({ load: loaded - started, ping: pinged - loaded, sdk, failed, sdkLoadedByPing, mappedStack }));
})();
`;

interface Probe {
  load: number;
  ping: number;
  sdk: number;
  failed: number;
  sdkLoadedByPing: boolean;
  mappedStack: boolean;
}

/**
 * A synth bundles three functions with esbuild (about 7 s on a quiet machine); a probe starts
 * Node and loads a bundle (under 0.5 s). Both five times over for a loaded machine, and more.
 */
const SYNTH_DEADLINE_MS = 120_000;
const PROBE_DEADLINE_MS = 10_000;

/** NODE_OPTIONS as the deployment plan gives the websocket function; the names it is told do not matter here. */
function deployedNodeOptions(): string {
  const environment = environmentOf(plannedFunction(deploymentPlan(config), 'websocket'), {
    managementEndpoint: 'https://example.invalid/prod',
    tableName: (id) => id,
    queueUrl: (id) => id,
    metricsNamespace: 'bench',
  });
  return environment.NODE_OPTIONS ?? '';
}

interface Variant {
  readonly name: string;
  readonly bundle: string;
  /** NODE_OPTIONS, as Lambda passes them: in the environment. */
  readonly nodeOptions: string;
  readonly probes: Probe[];
}

async function probe(variant: Variant, run: number): Promise<void> {
  const output = await childPhase(
    `probe ${run + 1} of ${RUNS} of ${variant.name}`,
    PROBE_DEADLINE_MS,
    process.execPath,
    ['-e', PROBE, variant.bundle],
    {
      PATH: process.env.PATH,
      AWS_REGION: 'eu-central-1',
      AWS_LAMBDA_FUNCTION_NAME: 'bench',
      ...(variant.nodeOptions && { NODE_OPTIONS: variant.nodeOptions }),
    },
  );
  variant.probes.push(JSON.parse(output.trim().split('\n').at(-1)!) as Probe); // after the ping's metric line
}

const medianOf = (variant: Variant, key: 'load' | 'ping' | 'sdk' | 'failed') =>
  median(variant.probes.map((probe) => probe[key]));

async function main(): Promise<void> {
  const workspace = mkdtempSync(join(tmpdir(), 'cold-start-'));
  try {
    const synthesized = await childPhase('synth', SYNTH_DEADLINE_MS, process.execPath, [
      '--import',
      'tsx',
      join(__dirname, 'websocket-asset.ts'),
      join(workspace, 'cdk.out'),
    ]);
    const asset = synthesized.trim();
    const empty = join(workspace, 'empty.js');
    writeFileSync(empty, 'exports.handler = async () => ({ statusCode: 200 });\n');
    const sizeKb = readFileSync(asset).length / 1024;
    const mapKb = readFileSync(`${asset}.map`).length / 1024;
    const sdkKb = readFileSync(join(dirname(asset), SDK_CHUNK)).length / 1024;

    const deployed = deployedNodeOptions();
    const mapped = '--enable-source-maps';
    const variant = (name: string, bundle: string, nodeOptions: string): Variant => ({
      name,
      bundle,
      nodeOptions,
      probes: [],
    });
    const variants = {
      emptyDeployed: variant('the empty bundle, as deployed', empty, deployed),
      deployed: variant('the websocket function, as deployed', asset, deployed),
      emptyMapped: variant('the empty bundle, --enable-source-maps', empty, mapped),
      mapped: variant('the websocket function, --enable-source-maps', asset, mapped),
    };
    const loadBefore = machineLoad();
    for (let run = 0; run < RUNS; run++) {
      for (const each of Object.values(variants)) await probe(each, run);
    }
    const loadAfter = machineLoad();

    const ms = (value: number) => `${formatNumber(value, 1)} ms`;
    const beyond = (fn: Variant, emptyBundle: Variant) =>
      medianOf(fn, 'load') - medianOf(emptyBundle, 'load');
    const stackNamesSources = (fn: Variant) =>
      fn.probes.every((probe) => probe.mappedStack) ? 'names the .ts line' : 'NOT the .ts line';
    const { deployed: asDeployed, emptyDeployed, mapped: withMaps, emptyMapped } = variants;
    printTable(
      `websocket function cold start: index.js of the synthesized asset (${formatNumber(sizeKb)} KB, its source map ${formatNumber(mapKb)} KB; the SDK's file ${formatNumber(sdkKb)} KB), median of ${RUNS} processes each`,
      [
        [
          `as deployed (NODE_OPTIONS: ${deployed || 'none'}): load beyond the empty bundle`,
          `${ms(beyond(asDeployed, emptyDeployed))} (target: within ${TARGET_MS} ms)`,
        ],
        [
          '  load',
          `${ms(medianOf(asDeployed, 'load'))} (empty bundle ${ms(medianOf(emptyDeployed, 'load'))})`,
        ],
        [
          '  first ping',
          `${ms(medianOf(asDeployed, 'ping'))} (loads the SDK: ${asDeployed.probes.some((p) => p.sdkLoadedByPing) ? 'yes' : 'no'})`,
        ],
        ['  loading the SDK on first use, after the ping', ms(medianOf(asDeployed, 'sdk'))],
        [
          '  then a failing invocation, its error logged',
          `${ms(medianOf(asDeployed, 'failed'))} (the stack ${stackNamesSources(asDeployed)})`,
        ],
        ['with --enable-source-maps: load beyond the empty bundle', ms(beyond(withMaps, emptyMapped))],
        ['  load', `${ms(medianOf(withMaps, 'load'))} (empty bundle ${ms(medianOf(emptyMapped, 'load'))})`],
        ['  first ping', ms(medianOf(withMaps, 'ping'))],
        ['  loading the SDK on first use, after the ping', ms(medianOf(withMaps, 'sdk'))],
        [
          '  then a failing invocation, its error logged',
          `${ms(medianOf(withMaps, 'failed'))} (the stack ${stackNamesSources(withMaps)})`,
        ],
        [
          'as deployed against --enable-source-maps',
          `load ${ms(medianOf(asDeployed, 'load') - medianOf(withMaps, 'load'))}, first logged error ${ms(medianOf(asDeployed, 'failed') - medianOf(withMaps, 'failed'))}`,
        ],
        ['machine load (1 min)', `${loadBefore} before the probes, ${loadAfter} after`],
      ],
    );
    if (!asDeployed.probes.every((probe) => probe.mappedStack)) process.exitCode = 1;
  } finally {
    rmSync(workspace, { recursive: true, force: true });
  }
}

runBenchmark(main);
