/**
 * `npm run client [-- url]`: a WebSocket client for trying the sandbox by hand. Each line you
 * type is sent as one text frame; every frame that arrives is printed.
 */
import { createInterface } from 'node:readline';
import WebSocket from 'ws';

const url = process.argv[2] ?? 'ws://localhost:3001';
const socket = new WebSocket(url);
const prompt = createInterface({ input: process.stdin, output: process.stdout, prompt: '> ' });

socket.on('open', () => {
  process.stdout.write(`Connected to ${url}. Type a message and press Enter; Ctrl-D to quit.\n`);
  prompt.prompt();
  prompt.on('line', (line) => {
    if (line.trim() !== '') socket.send(line);
    prompt.prompt();
  });
  prompt.on('close', () => socket.close(1000));
});
socket.on('message', (data: Buffer) => {
  process.stdout.write(`\r< ${data.toString()}\n`);
  prompt.prompt(true);
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
  process.stdout.write(`\nClosed: ${code}${reason.length ? ` ${String(reason)}` : ''}\n`);
  process.exit(0);
});
