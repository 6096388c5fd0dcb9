/**
 * `npm run client [-- url]`: a WebSocket client for trying the sandbox by hand or from a pipe.
 * Each line read is sent as one text frame, in order (lines read before the connection opens
 * wait for it); every frame that arrives is printed. When the input ends, it waits for the
 * replies still due, then closes.
 */
import { createInterface } from 'node:readline';
import WebSocket from 'ws';
import { DueReplies } from './due-replies';

/** API Gateway gives up on an integration after 29 s: a reply not there 30 s after the lines went out will not come. */
const REPLY_WAIT_MS = 30_000;

const url = process.argv[2] ?? 'ws://localhost:3001';
const interactive = Boolean(process.stdin.isTTY);
const socket = new WebSocket(url);
const input = createInterface({
  input: process.stdin,
  output: interactive ? process.stdout : undefined,
  prompt: '> ',
});
const unsent: string[] = [];
const due = new DueReplies();
let inputEnded = false;
let giveUpTimer: NodeJS.Timeout | undefined;

input.on('line', (line) => {
  if (line.trim() !== '') {
    if (socket.readyState === WebSocket.OPEN) send(line);
    else unsent.push(line);
  }
  prompt();
});
input.on('close', () => {
  inputEnded = true;
  closeWhenAnswered();
});

socket.on('open', () => {
  process.stdout.write(
    interactive
      ? `Connected to ${url}. Type a message and press Enter; Ctrl-D to quit.\n`
      : `Connected to ${url}.\n`,
  );
  for (const line of unsent.splice(0)) send(line);
  prompt();
  closeWhenAnswered();
});
socket.on('message', (data: Buffer) => {
  const text = data.toString();
  process.stdout.write(`${interactive ? '\r' : ''}< ${text}\n`);
  prompt(true);
  due.received(text);
  closeWhenAnswered();
});
socket.on('unexpected-response', (_request, response) => {
  process.stderr.write(`${url} refused the connection: ${response.statusCode} ${response.statusMessage}\n`);
  process.exit(1);
});
socket.on('error', (error) => {
  process.stderr.write(
    `Could not connect to ${url}: ${error.message}\nIs the sandbox running (npm start)?\n`,
  );
  process.exit(1);
});
socket.on('close', (code, reason) => {
  process.stdout.write(
    `${interactive ? '\n' : ''}Closed: ${code}${reason.length ? ` ${String(reason)}` : ''}\n`,
  );
  process.exit(); // with the exit code set so far: 0, or 1 after replies that never came
});

/** Shows the prompt while someone types; a pipe that ended has no one to prompt (Node 24 throws then). */
function prompt(preserveCursor = false): void {
  if (interactive && !inputEnded) input.prompt(preserveCursor);
}

function send(line: string): void {
  socket.send(line);
  due.sent(line);
}

/** Closes once the input has ended and everything sent is answered, or when the replies still due are late. */
function closeWhenAnswered(): void {
  if (!inputEnded || socket.readyState !== WebSocket.OPEN) return;
  if (due.count === 0) return void socket.close(1000);
  giveUpTimer ??= setTimeout(() => {
    process.stderr.write(`No reply to ${due.count} message(s) within ${REPLY_WAIT_MS / 1000} s; closing.\n`);
    process.exitCode = 1;
    socket.close(1000);
  }, REPLY_WAIT_MS);
}
