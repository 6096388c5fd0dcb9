/**
 * Keeps the functions' embedded-metric-format lines out of a benchmark's output while still
 * paying for them as Lambda does (they are built and handed to stdout); counts them.
 */
export function interceptMetricLines(): { readonly count: () => number; readonly restore: () => void } {
  const write = process.stdout.write.bind(process.stdout);
  let lines = 0;
  // Fixed parameters, not `...rest`: an array per line would add to what the line seems to cost.
  const intercept = (chunk: string | Uint8Array, encoding?: never, callback?: never): boolean => {
    if ((typeof chunk === 'string' ? chunk : String(chunk)).startsWith('{"_aws"')) {
      lines++;
      return true;
    }
    return write(chunk, encoding, callback);
  };
  process.stdout.write = intercept;
  return { count: () => lines, restore: () => void (process.stdout.write = write) };
}
