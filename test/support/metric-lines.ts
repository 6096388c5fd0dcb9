/**
 * The embedded-metric-format lines written to stdout while `run` runs, parsed; metrics created
 * inside `run` are enabled, though the tests' environment disables them elsewhere.
 */
export async function metricLinesOf(run: () => unknown): Promise<Array<Record<string, unknown>>> {
  const disabled = process.env.POWERTOOLS_METRICS_DISABLED;
  delete process.env.POWERTOOLS_METRICS_DISABLED;
  const written: string[] = [];
  const spy = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    written.push(String(chunk));
    return true;
  });
  try {
    await run();
  } finally {
    spy.mockRestore();
    if (disabled !== undefined) process.env.POWERTOOLS_METRICS_DISABLED = disabled;
  }
  return written.map((line) => JSON.parse(line) as Record<string, unknown>);
}
