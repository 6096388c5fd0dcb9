import type { SandboxReporter } from './sandbox';

const MAX_FRAME_CHARACTERS = 300;

interface Style {
  dim(text: string): string;
  red(text: string): string;
  green(text: string): string;
  cyan(text: string): string;
  yellow(text: string): string;
}

const ANSI: Style = {
  dim: (text) => `\x1b[2m${text}\x1b[22m`,
  red: (text) => `\x1b[31m${text}\x1b[39m`,
  green: (text) => `\x1b[32m${text}\x1b[39m`,
  cyan: (text) => `\x1b[36m${text}\x1b[39m`,
  yellow: (text) => `\x1b[33m${text}\x1b[39m`,
};
const PLAIN: Style = { dim: (t) => t, red: (t) => t, green: (t) => t, cyan: (t) => t, yellow: (t) => t };

/**
 * The sandbox's log on a terminal: each frame in (→) and out (←), each invocation (λ), the
 * functions' own output. `quiet` keeps only what needs attention: failures, refusals, reloads
 * and what functions write to stderr.
 */
export function consoleReporter(options: {
  quiet: boolean;
  color: boolean;
  write?: (line: string) => void;
}): SandboxReporter {
  const style = options.color ? ANSI : PLAIN;
  const write = options.write ?? ((line: string) => process.stdout.write(`${line}\n`));
  const at = () => style.dim(new Date().toISOString().slice(11, 23));
  const short = (connectionId: string) => style.cyan(connectionId);
  const verbose = (line: () => string) => {
    if (!options.quiet) write(`${at()} ${line()}`);
  };
  const always = (line: string) => write(`${at()} ${line}`);

  return {
    connected: (connectionId, sourceIp) =>
      verbose(() => `${style.green('+')} ${short(connectionId)} connected from ${sourceIp}`),
    disconnected: (connectionId, code, reason) =>
      verbose(
        () => `${style.yellow('-')} ${short(connectionId)} closed ${code}${reason ? ` ${reason}` : ''}`,
      ),
    refused: (status, reason) => always(`${style.yellow('x')} connection refused with ${status} ${reason}`),
    frame: (direction, connectionId, text) =>
      verbose(() => `${direction === 'in' ? '→' : '←'} ${short(connectionId)} ${truncate(text)}`),
    invoked: (route, connectionId, milliseconds, outcome) =>
      verbose(() => style.dim(`λ ${route} ${connectionId} ${milliseconds} ms → ${outcome}`)),
    failed: (message) => always(style.red(`! ${message}`)),
    output: (functionName, line, stream) => {
      if (stream === 'stderr') always(`${style.dim(`[${functionName}]`)} ${style.red(line)}`);
      else verbose(() => `${style.dim(`[${functionName}]`)} ${line}`);
    },
    coldStart: (functionName, instance, milliseconds) =>
      verbose(() => style.dim(`λ ${functionName}: cold start of instance ${instance}, ${milliseconds} ms`)),
    reaped: (functionName, instance, idleMilliseconds) =>
      verbose(() =>
        style.dim(
          `λ ${functionName}: instance ${instance} shut down after ${formatIdle(idleMilliseconds)} idle`,
        ),
      ),
    reloaded: (functionName, milliseconds) =>
      always(style.green(`↻ ${functionName} reloaded (${milliseconds} ms)`)),
    functionFailed: (functionName, message) => always(style.red(`! ${functionName}: ${message}`)),
    streamDelivered: (table, records, milliseconds) =>
      verbose(() =>
        style.dim(
          `λ notifications: ${records} record${records === 1 ? '' : 's'} of ${table} in ${milliseconds} ms`,
        ),
      ),
    streamRetrying: (table, sequenceNumber, attempt, reason) =>
      always(style.yellow(`↻ ${table} record ${sequenceNumber} failed (${reason}); retry ${attempt}`)),
    deadLettered: (letter) =>
      always(
        style.red(
          letter.source === 'lambda'
            ? `! Lambda gave up on records ${letter.startSequenceNumber}..${letter.endSequenceNumber} of ` +
                `${letter.streamArn.split('/')[1]} (${letter.condition}): their description is in the dead-letter ` +
                'queue; npm run redrive sends them again'
            : `! ${letter.table} record ${letter.sequenceNumber} ` +
                (letter.kind === 'undeliverable' ? 'can never be notified' : 'kept failing') +
                `${letter.groups ? ` in ${letter.groups.join(', ')}` : ''} and was dead-lettered ` +
                `(${letter.reason}): ${JSON.stringify(letter.record.dynamodb?.Keys)}`,
        ),
      ),
    streamFailed: (table, message) => always(style.red(`! ${table} stream: ${message}`)),
    queueDelivered: (queue, messages, milliseconds) =>
      verbose(() =>
        style.dim(`λ ${queue}: ${messages} job${messages === 1 ? '' : 's'} in ${milliseconds} ms`),
      ),
    queueItemsFailed: (queue, messageIds) =>
      always(
        style.yellow(
          `↻ ${queue}: ${messageIds.length} job${messageIds.length === 1 ? '' : 's'} failed; retried`,
        ),
      ),
    queueBatchFailed: (queue, messages, reason) =>
      always(
        style.yellow(
          `↻ ${queue}: a batch of ${messages} failed (${reason}); retried after its visibility timeout`,
        ),
      ),
    queueDeadLettered: (queue, messageId, deadLetterQueue) =>
      always(
        style.red(`! ${queue}: job ${messageId} failed every receive and was moved to ${deadLetterQueue}`),
      ),
  };
}

function formatIdle(milliseconds: number): string {
  const seconds = Math.round(milliseconds / 1000);
  return seconds < 120 ? `${seconds} s` : `${Math.round(seconds / 60)} min`;
}

function truncate(text: string): string {
  return text.length > MAX_FRAME_CHARACTERS
    ? `${text.slice(0, MAX_FRAME_CHARACTERS)}… (${text.length} characters)`
    : text;
}
