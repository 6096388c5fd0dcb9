import { statSync } from 'node:fs';
import { join } from 'node:path';
import { CloudAssembly, UNKNOWN_REGION } from 'aws-cdk-lib/cx-api';
import { SDK_CHUNK } from '../lambdas/rohrpost/deploy';
import type { ConfiguredRegion } from './configured-region';

/** The part of a CloudFormation template the summary reads. */
export interface Template {
  readonly Resources?: Readonly<Record<string, Resource>>;
  readonly Outputs?: Readonly<Record<string, unknown>>;
}

interface Resource {
  readonly Type: string;
  readonly Properties?: Readonly<Record<string, unknown>>;
  readonly Metadata?: Readonly<Record<string, unknown>>;
}

interface FunctionProperties {
  readonly Runtime?: string;
  readonly Architectures?: readonly string[];
  readonly MemorySize?: number;
  readonly Timeout?: number;
}

interface TableProperties {
  readonly TableName?: string;
  readonly KeySchema?: readonly { readonly AttributeName: string }[];
  readonly GlobalSecondaryIndexes?: readonly unknown[];
  readonly StreamSpecification?: { readonly StreamViewType: string };
  readonly TimeToLiveSpecification?: { readonly AttributeName: string; readonly Enabled: boolean };
}

interface RouteProperties {
  readonly RouteKey: string;
  readonly AuthorizerId?: { readonly Ref?: string };
}

export interface StackToSummarize {
  readonly stackName: string;
  /** The region the stack was synthesized for, as the cloud assembly names it. */
  readonly region: string;
  /** The region the CDK CLI found in the environment or the AWS profile, if it found one. */
  readonly configuredRegion: ConfiguredRegion | undefined;
  readonly template: Template;
  /** The size in bytes of a file in an asset folder of the assembly, or undefined if there is none. */
  readonly fileSize: (assetFolder: string, file: string) => number | undefined;
}

type Entry = readonly [logicalId: string, resource: Resource];

/** The region the CDK CLI synthesizes for when it finds none. */
const CDK_DEFAULT_REGION = 'us-east-1';
const LABEL_WIDTH = 11;
const LINE_WIDTH = 100;

/** A resource's name as its construct path says it (`Rohrpost/Rohrpost/WebSocket/Resource` is `WebSocket`). */
function nameOf([logicalId, resource]: Entry): string {
  const path = resource.Metadata?.['aws:cdk:path'];
  if (typeof path !== 'string') return logicalId;
  const segments = path.split('/');
  if (segments.at(-1) === 'Resource') segments.pop();
  return segments.at(-1) ?? logicalId;
}

function propertiesOf<T>([, resource]: Entry): Partial<T> {
  return (resource.Properties ?? {}) as Partial<T>;
}

function assetOf([, resource]: Entry): string | undefined {
  const asset = resource.Metadata?.['aws:asset:path'];
  return typeof asset === 'string' ? asset : undefined;
}

/** An asset folder by the start of its hash: `asset.993bfc8f92...`. */
function shortAsset(folder: string): string {
  return `${folder.slice(0, 'asset.'.length + 10)}...`;
}

function kilobytes(bytes: number): string {
  return `${Math.round(bytes / 1024)} KB`;
}

/** `label` beside the first line, the others indented under it. */
function rows(label: string, lines: readonly string[]): string[] {
  return lines.map((line, index) => `  ${(index === 0 ? label : '').padEnd(LABEL_WIDTH)}${line}`);
}

/** Cells in aligned columns, three spaces apart. */
function columns(cells: readonly (readonly string[])[]): string[] {
  const widths = (cells[0] ?? []).map((_, column) => Math.max(...cells.map((row) => row[column]!.length)));
  return cells.map((row) =>
    row.map((cell, column) => (column < row.length - 1 ? cell.padEnd(widths[column]!) : cell)).join('   '),
  );
}

/** A list, comma-separated after `lead`, broken into lines that fit beside the labels. */
function wrapped(items: readonly string[], lead = ''): string[] {
  const lines: string[] = [];
  for (const [index, item] of items.entries()) {
    const last = lines.at(-1);
    if (last !== undefined && 2 + LABEL_WIDTH + last.length + item.length + 2 <= LINE_WIDTH) {
      lines[lines.length - 1] = `${last}, ${item}`;
    } else {
      lines.push(index === 0 ? `${lead}${item}` : item);
    }
  }
  return lines.map((line, index) => (index < lines.length - 1 ? `${line},` : line));
}

function describeRegion({ region, configuredRegion }: StackToSummarize): string {
  if (region === UNKNOWN_REGION) return 'none: the stack is environment-agnostic';
  if (configuredRegion?.region === region) return `${region} (from ${configuredRegion.source})`;
  if (configuredRegion || region !== CDK_DEFAULT_REGION) return region;
  return `${region}, CDK's default: no region was set (AWS_REGION or a profile's region)`;
}

/** Each function's settings and bundle: `index.js` and the SDK chunk (lambdas/rohrpost/deploy/bundle.ts). */
function describeFunctions(stack: StackToSummarize, functions: readonly Entry[]): string[] {
  return columns(
    functions.map((entry) => {
      // Lambda's defaults, for what the template leaves out.
      const {
        Runtime = 'image',
        Architectures = ['x86_64'],
        MemorySize = 128,
        Timeout = 3,
      } = propertiesOf<FunctionProperties>(entry);
      const asset = assetOf(entry);
      const files = [`index.js`, SDK_CHUNK].map((file) => {
        const size = asset === undefined ? undefined : stack.fileSize(asset, file);
        return size === undefined ? `no ${file}` : `${file} ${kilobytes(size)}`;
      });
      return [
        nameOf(entry),
        `${Runtime} ${Architectures.join(',')}, ${MemorySize} MB, ${Timeout} s`,
        files.join(' + '),
        asset === undefined ? 'code from outside the assembly' : shortAsset(asset),
      ];
    }),
  );
}

/** A line for each asset that several functions deploy: they would all run the same code. */
function sharedAssets(functions: readonly Entry[]): string[] {
  const byAsset = new Map<string, string[]>();
  for (const entry of functions) {
    const asset = assetOf(entry);
    if (asset !== undefined) byAsset.set(asset, [...(byAsset.get(asset) ?? []), nameOf(entry)]);
  }
  return [...byAsset]
    .filter(([, names]) => names.length > 1)
    .map(
      ([asset, names]) =>
        `${names.join(' and ')} share one asset (${shortAsset(asset)}): they would run the same code`,
    );
}

function describeTables(tables: readonly Entry[]): string[] {
  return columns(
    tables.map((entry) => {
      const table = propertiesOf<TableProperties>(entry);
      const indexes = table.GlobalSecondaryIndexes?.length ?? 0;
      const features = [
        `key ${(table.KeySchema ?? []).map((key) => key.AttributeName).join(' + ')}`,
        indexes > 0 && `${indexes} ${indexes === 1 ? 'index' : 'indexes'}`,
        table.StreamSpecification && `stream ${table.StreamSpecification.StreamViewType}`,
        table.TimeToLiveSpecification?.Enabled && `TTL ${table.TimeToLiveSpecification.AttributeName}`,
      ];
      return [table.TableName ?? nameOf(entry), features.filter(Boolean).join(', ')];
    }),
  );
}

function describeRoutes(
  routes: readonly Entry[],
  authorizers: readonly Entry[],
  stages: readonly Entry[],
): string[] {
  const authorizerNames = new Map(authorizers.map((entry) => [entry[0], nameOf(entry)]));
  const described = routes.map((entry) => {
    const { RouteKey = '?', AuthorizerId } = propertiesOf<RouteProperties>(entry);
    const authorizer = AuthorizerId?.Ref && authorizerNames.get(AuthorizerId.Ref);
    if (authorizer) return `${RouteKey} (authorizer ${authorizer})`;
    return RouteKey === '$connect' ? `${RouteKey} (no authorizer: anyone may connect)` : RouteKey;
  });
  const stageNames = stages.map((entry) => `stage ${propertiesOf<{ StageName: string }>(entry).StageName}`);
  return wrapped([...described, ...stageNames]);
}

function describeQueues(queues: readonly Entry[]): string[] {
  return wrapped(
    queues.map((entry) => {
      // SQS keeps messages 4 days unless told otherwise.
      const { MessageRetentionPeriod = 4 * 86_400 } = propertiesOf<{ MessageRetentionPeriod: number }>(entry);
      return `${nameOf(entry)} (keeps messages ${Math.round(MessageRetentionPeriod / 86_400)} days)`;
    }),
  );
}

/** What a synthesized stack would deploy, in a dozen lines a person reads. */
export function summarizeStack(stack: StackToSummarize): string[] {
  const resources = Object.entries(stack.template.Resources ?? {});
  const ofType = (type: string) => resources.filter(([, resource]) => resource.Type === type);
  const functions = ofType('AWS::Lambda::Function');
  const alarms = ofType('AWS::CloudWatch::Alarm').map((entry) => nameOf(entry).replace(/Alarm$/, ''));
  const outputs = Object.keys(stack.template.Outputs ?? {});
  return [
    `Stack ${stack.stackName}: ${resources.length} resources`,
    ...rows('Region', [describeRegion(stack)]),
    ...rows('Functions', describeFunctions(stack, functions)),
    ...rows('Warning', sharedAssets(functions)),
    ...rows('Tables', describeTables(ofType('AWS::DynamoDB::Table'))),
    ...rows(
      'Routes',
      describeRoutes(
        ofType('AWS::ApiGatewayV2::Route'),
        ofType('AWS::ApiGatewayV2::Authorizer'),
        ofType('AWS::ApiGatewayV2::Stage'),
      ),
    ),
    ...rows('Queues', describeQueues(ofType('AWS::SQS::Queue'))),
    ...rows('Alarms', alarms.length > 0 ? wrapped(alarms, `${alarms.length}: `) : ['none']),
    ...rows('Outputs', outputs.length > 0 ? wrapped(outputs) : ['none']),
  ];
}

/** The summary of every stack in the cloud assembly at `directory`, as `cdk synth` left it. */
export function summarizeAssembly(
  directory: string,
  configuredRegion: ConfiguredRegion | undefined,
): string[] {
  const fileSize = (assetFolder: string, file: string) => {
    try {
      return statSync(join(directory, assetFolder, file)).size;
    } catch {
      return undefined; // not in this bundle
    }
  };
  return new CloudAssembly(directory).stacks.flatMap((stack, index) => [
    ...(index > 0 ? [''] : []),
    ...summarizeStack({
      stackName: stack.stackName,
      region: stack.environment.region,
      configuredRegion,
      template: stack.template as Template,
      fileSize,
    }),
  ]);
}
