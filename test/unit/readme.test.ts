import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MessageHandler } from '../../lambdas/rohrpost';
import { createWebSocketHandler } from '../../lambdas/rohrpost/runtime/websocket-handler';
import { roundTrip } from '../support/events';

/** The README's handler example runs as written, and answers what the README says it does. */
const readme = readFileSync(join(__dirname, '../../README.md'), 'utf8');

function codeBlock(startsWith: string): string {
  const block = [...readme.matchAll(/```\w*\n([\s\S]*?)```/g)]
    .map((m) => m[1]!)
    .find((b) => b.startsWith(startsWith));
  if (!block) throw new Error(`README has no code block starting with ${startsWith}`);
  return block;
}

describe('README: writing a handler', () => {
  const folder = mkdtempSync(join(tmpdir(), 'readme-'));
  afterAll(() => rmSync(folder, { recursive: true, force: true }));

  test('the greet example answers as the transcript shows', async () => {
    const rohrpost = join(__dirname, '../../lambdas/rohrpost');
    const source = codeBlock('// lambdas/handlers/greet.ts').replace(
      "from '../rohrpost'",
      `from '${rohrpost}'`,
    );
    const file = join(folder, 'greet.ts');
    writeFileSync(file, source);
    const greet = ((await import(file)) as { default: MessageHandler }).default;
    const handler = createWebSocketHandler({ handlers: [greet] });

    const transcript = codeBlock('> {"id": 1, "type": "greet"')
      .trim()
      .split('\n')
      .map((line) => line.slice(2));
    expect(transcript.length).toBeGreaterThanOrEqual(2);
    for (let i = 0; i < transcript.length; i += 2) {
      expect(await roundTrip(handler, transcript[i])).toBe(transcript[i + 1]);
    }
  });
});

describe('README: notification hooks', () => {
  test('the hook example is the shipped module, word for word', () => {
    const shipped = readFileSync(join(__dirname, '../../lambdas/notification-hooks/notes.ts'), 'utf8').trim();
    expect(
      codeBlock('// lambdas/notification-hooks/notes.ts')
        .replace('// lambdas/notification-hooks/notes.ts\n', '')
        .trim(),
    ).toBe(shipped);
  });
});

describe('README: snippets are safe to paste', () => {
  test("the handlers index it shows is the project's own, with the new handler's two lines", () => {
    const shown = codeBlock('// lambdas/handlers/index.ts').split('\n').slice(1);
    const project = readFileSync(join(__dirname, '../../lambdas/handlers/index.ts'), 'utf8').split('\n');
    const withoutGreet = shown
      .filter((line) => line !== "import greet from './greet';")
      .map((line) => line.replace(', greet]', ']'));
    expect(withoutGreet.join('\n').trim()).toBe(project.join('\n').trim());
  });
});
