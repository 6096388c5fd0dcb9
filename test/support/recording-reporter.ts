import type { SandboxReporter } from '../../sandbox/sandbox';
import { WAIT_GUARD_MS } from './hang-guard';

/** Keeps what the sandbox reports, one line per event, for tests that check its behaviour. */
export function recordingReporter(): SandboxReporter & { lines: string[] } {
  const lines: string[] = [];
  const add = (...parts: unknown[]) => lines.push(parts.join(' '));
  return {
    lines,
    connected: (id) => add('connected', id),
    refused: (status, reason) => add('refused', status, reason),
    disconnected: (id, code) => add('disconnected', id, code),
    frame: (direction, id, text) => add('frame', direction, id, text),
    invoked: (route, id, _ms, outcome) => add('invoked', route, id, outcome),
    failed: (message) => add('failed', message),
    output: (name, line, stream) => add('output', name, stream, line),
    reloaded: (name) => add('reloaded', name),
    coldStart: (name, instance) => add('coldStart', name, instance),
    reaped: (name, instance) => add('reaped', name, instance),
    functionFailed: (name, message) => add('functionFailed', name, message),
    streamDelivered: (table, records) => add('streamDelivered', table, records),
    streamRetrying: (table, sequenceNumber, attempt) => add('streamRetrying', table, sequenceNumber, attempt),
    deadLettered: (letter) =>
      letter.source === 'function'
        ? add('deadLettered', letter.kind, letter.table, letter.sequenceNumber)
        : add('deadLettered', letter.condition, letter.startSequenceNumber, letter.endSequenceNumber),
    streamFailed: (table, message) => add('streamFailed', table, message),
    queueDelivered: (queue, messages) => add('queueDelivered', queue, messages),
    queueItemsFailed: (queue, messageIds) => add('queueItemsFailed', queue, messageIds.length),
    queueBatchFailed: (queue, messages, reason) => add('queueBatchFailed', queue, messages, reason),
    queueDeadLettered: (queue, messageId, deadLetterQueue) =>
      add('queueDeadLettered', queue, messageId, deadLetterQueue),
  };
}

/**
 * Waits until `predicate` holds, polling every `pollMs`. It waits for the condition, however long
 * a busy machine takes; only a hang (`timeoutMs`, a guard: hang-guard.ts) fails it.
 */
export async function eventually(
  predicate: () => boolean | Promise<boolean>,
  { timeoutMs = WAIT_GUARD_MS, pollMs = 20 }: { timeoutMs?: number; pollMs?: number } = {},
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms (a hang guard)`);
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}
