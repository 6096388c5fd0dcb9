/**
 * How long a test waits before it calls a wait a hang. These are guards, not measures: no test
 * waits for a time, each waits for what it is about (a frame, a condition, a process's output, a
 * page's state), and a loaded 2-core machine (other work, a sandbox of one's own, CPU burners
 * beside the run) takes seconds for what takes milliseconds on an idle one. A guard only turns a
 * hang into a failure that says what was awaited, far beyond what any working machine takes.
 */

/** One awaited thing. */
export const WAIT_GUARD_MS = 90_000;

/** One test, or one hook: jest.setTimeout in both projects (test-timeout.ts). */
export const TEST_GUARD_MS = 300_000;
