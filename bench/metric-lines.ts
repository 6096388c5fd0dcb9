/**
 * Keeps the functions' embedded-metric-format lines out of a benchmark's output while still
 * paying for them as Lambda does (they are built and handed to stdout); counts them.
 */
export function interceptMetricLines(): { readonly count: () => number; readonly restore: () => void } {
  const write = process.stdout.write.bind(process.stdout);
  let lines = 0;
  process.stdout.write = (chunk: string | Uint8Array, ...rest: never[]) => {
    if (String(chunk).startsWith('{"_aws"')) {
      lines++;
      return true;
    }
    return write(chunk, ...rest);
  };
  return { count: () => lines, restore: () => void (process.stdout.write = write) };
}
