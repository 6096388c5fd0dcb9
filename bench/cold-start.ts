/**
 * The websocket function's cold start as Lambda pays it: the synthesized asset (bundled and
 * minified by the CDK app, as deployed) is required in a fresh Node process, then handles one
 * `ping`. Beside it, in the same run, an empty bundle: what any function costs. With and
 * without `--enable-source-maps`, which the stack sets. Median of several processes each.
 * Every phase has a deadline (bench/deadline.ts).
 *
 *   npm run bench:cold-start
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { SDK_CHUNK } from '../lambdas/rohrpost/deploy';
import { childPhase, runBenchmark } from './deadline';
import { formatNumber, median, printTable } from './stats';

const RUNS = 15;
const TARGET_MS = 10;

/**
 * Run in each fresh process: load the bundle, handle a ping, then load the SDK as a first
 * DynamoDB call would; print the three times in ms, and whether the ping loaded the SDK.
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
Promise.resolve(handler(event, {})).then(() => {
  const pinged = performance.now();
  const sdkLoadedByPing = Object.keys(require.cache).some((file) => file.endsWith('${SDK_CHUNK}'));
  const sdkEntry = join(dirname(process.argv[1]), 'node_modules/@aws-sdk/lib-dynamodb');
  if (require('node:fs').existsSync(sdkEntry)) require(sdkEntry); // an empty bundle has none
  const sdk = performance.now() - pinged;
  process.stdout.write('\\n' + JSON.stringify({ load: loaded - started, ping: pinged - loaded, sdk, sdkLoadedByPing }));
});
`;

interface Probe {
  load: number;
  ping: number;
  sdk: number;
  sdkLoadedByPing: boolean;
}

/**
 * A synth bundles three functions with esbuild (about 7 s on a quiet machine); a probe starts
 * Node and loads a bundle (under 0.5 s). Both five times over for a loaded machine, and more.
 */
const SYNTH_DEADLINE_MS = 120_000;
const PROBE_DEADLINE_MS = 10_000;

async function measure(bundle: string, nodeOptions: string[]): Promise<Probe> {
  const probes: Probe[] = [];
  for (let run = 0; run < RUNS; run++) {
    const output = await childPhase(
      `probe ${run + 1} of ${RUNS} of ${bundle}`,
      PROBE_DEADLINE_MS,
      process.execPath,
      [...nodeOptions, '-e', PROBE, bundle],
      { PATH: process.env.PATH, AWS_REGION: 'eu-central-1', AWS_LAMBDA_FUNCTION_NAME: 'bench' },
    );
    probes.push(JSON.parse(output.trim().split('\n').at(-1)!) as Probe); // after the ping's metric line
  }
  const medianOf = (key: 'load' | 'ping' | 'sdk') => median(probes.map((probe) => probe[key]));
  return {
    load: medianOf('load'),
    ping: medianOf('ping'),
    sdk: medianOf('sdk'),
    sdkLoadedByPing: probes.some((probe) => probe.sdkLoadedByPing),
  };
}

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
    const sdkKb = readFileSync(join(dirname(asset), SDK_CHUNK)).length / 1024;

    const emptyPlain = await measure(empty, []);
    const plain = await measure(asset, []);
    const emptyMapped = await measure(empty, ['--enable-source-maps']);
    const mapped = await measure(asset, ['--enable-source-maps']);
    const ms = (value: number) => `${formatNumber(value, 1)} ms`;
    printTable(
      `websocket function cold start: index.js of the synthesized asset (${formatNumber(sizeKb)} KB; the SDK's file ${formatNumber(sdkKb)} KB), median of ${RUNS} processes`,
      [
        ['empty bundle: load', ms(emptyPlain.load)],
        ['websocket: load', ms(plain.load)],
        [
          'websocket: first ping',
          `${ms(plain.ping)} (loads the SDK: ${plain.sdkLoadedByPing ? 'yes' : 'no'})`,
        ],
        ['websocket: loading the SDK on first use, after the ping', ms(plain.sdk)],
        [
          'load beyond the empty bundle',
          `${ms(plain.load - emptyPlain.load)} (target: within ${TARGET_MS} ms)`,
        ],
        ['with --enable-source-maps: load', `${ms(mapped.load)} (empty bundle ${ms(emptyMapped.load)})`],
        ['with --enable-source-maps: first ping', ms(mapped.ping)],
        ['what source maps add to the load', ms(mapped.load - plain.load)],
        ['with --enable-source-maps: loading the SDK on first use', ms(mapped.sdk)],
      ],
    );
  } finally {
    rmSync(workspace, { recursive: true, force: true });
  }
}

runBenchmark(main);
