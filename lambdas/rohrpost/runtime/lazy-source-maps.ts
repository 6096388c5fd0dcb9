/**
 * Stack traces that point into the TypeScript sources, paid for when a stack is first formatted
 * rather than at every cold start.
 *
 * `--enable-source-maps` reads and parses a bundle's source map while Node loads the bundle, on
 * every cold start, though most instances never format a stack (bench:cold-start measures both).
 * Turning Node's support on later does not help: "Only source maps in JavaScript files that are
 * loaded after source maps has been enabled will be parsed and loaded"
 * (https://nodejs.org/docs/latest-v24.x/api/module.html#modulesetsourcemapssupportenabled-options,
 * and the same for process.setSourceMapsEnabled), and the bundle is loaded by then. So the bundle
 * maps its own frames: its `Error.prepareStackTrace`
 * (https://v8.dev/docs/stack-trace-api#customizing-stack-traces) reads the map the first time
 * it runs, with Node's `SourceMap` class
 * (https://nodejs.org/docs/latest-v24.x/api/module.html#class-modulesourcemap), and writes each
 * frame as Node's own source map support does (lib/internal/source_map/prepare_stack_trace.js).
 */
import { readFileSync } from 'node:fs';
import type { SourceMapPayload, SourceMapping } from 'node:module';
import { SourceMap } from 'node:module';
import { dirname, resolve } from 'node:path';

/** V8's call site, whose `toString` writes the frame as V8 does. */
interface CallSite extends NodeJS.CallSite {
  toString(): string;
}

/** What `findEntry` returns: Node 24 adds the name, which @types/node 22 does not declare. */
type Entry = Partial<SourceMapping> & { name?: string };

/**
 * From now on, frames in `bundle` (a bundled file with `<bundle>.map` beside it) are written as
 * their place in the sources. Does nothing when Node maps stacks itself (`--enable-source-maps`).
 */
export function mapStackTracesLazily(bundle: string): void {
  if (process.sourceMapsEnabled) return;
  const formatUnmapped =
    typeof Error.prepareStackTrace === 'function' ? Error.prepareStackTrace.bind(Error) : undefined;
  let sourceMap: SourceMap | null | undefined;
  Error.prepareStackTrace = (error: Error, trace: CallSite[]): string => {
    // Node's default with no frames gives the first line as Node writes it (a Node error's code too).
    const header = formatUnmapped ? String(formatUnmapped(error, [])) : Error.prototype.toString.call(error);
    if (sourceMap === undefined) sourceMap = readSourceMap(`${bundle}.map`);
    const map = sourceMap;
    const frames = trace.map((frame, index) => {
      if (!map || frame.getFileName() !== bundle) return frame.toString();
      try {
        return mappedFrame(map, trace, index) ?? frame.toString();
      } catch {
        return frame.toString();
      }
    });
    return frames.length === 0 ? header : `${header}\n    at ${frames.join('\n    at ')}`;
  };
}

/** The map at `file` with its sources as absolute paths, as Node resolves them; null if there is none. */
function readSourceMap(file: string): SourceMap | null {
  try {
    const payload = JSON.parse(readFileSync(file, 'utf8')) as SourceMapPayload;
    const root = payload.sourceRoot ?? '';
    const sources = payload.sources.map((source) => resolve(dirname(file), root + source));
    return new SourceMap({ ...payload, sourceRoot: '', sources });
  } catch {
    return null;
  }
}

function mappedFrame(map: SourceMap, trace: CallSite[], index: number): string | undefined {
  const frame = trace[index]!;
  const entry: Entry = map.findEntry(frame.getLineNumber()! - 1, frame.getColumnNumber()! - 1);
  const { originalSource, originalLine, originalColumn } = entry;
  if (!originalSource || originalLine === undefined || originalColumn === undefined) return undefined;
  const name = originalName(map, trace, index);
  const typeName = frame.getTypeName();
  const functionName = frame.getFunctionName() ?? frame.getMethodName();
  const generatedName = `${typeName !== null && typeName !== 'global' ? `${typeName}.` : ''}${
    functionName || '<anonymous>'
  }`;
  const shown = name && name !== generatedName ? name : generatedName;
  const prefix = frame.isAsync() ? 'async ' : frame.isConstructor() ? 'new ' : '';
  return `${prefix}${shown} (${originalSource}:${originalLine + 1}:${originalColumn + 1})`;
}

/** The minifier renamed functions: the enclosing function's name in the sources, or its caller's call. */
function originalName(map: SourceMap, trace: CallSite[], index: number): string | undefined {
  const frame = trace[index]!;
  const [line, column] = [frame.getEnclosingLineNumber(), frame.getEnclosingColumnNumber()];
  if (line !== null && column !== null) {
    const enclosing: Entry = map.findEntry(line - 1, column - 1);
    if (enclosing.name) return enclosing.name;
  }
  const next = trace[index + 1];
  if (next && next.getFileName() === frame.getFileName()) {
    const called: Entry = map.findEntry(next.getLineNumber()! - 1, next.getColumnNumber()! - 1);
    return called.name;
  }
  return undefined;
}
