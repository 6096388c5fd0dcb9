import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import config from '../../rohrpost.config';
import type { Sandbox } from '../../sandbox/sandbox';
import { startSandbox } from '../../sandbox/sandbox';
import { testDynamoDbEndpoint, uniquePrefix } from '../support/dynamodb';
import { eventually, recordingReporter } from '../support/recording-reporter';
import { TestSocket } from '../support/socket';

/** The README's code blocks, by how they start. */
const readme = readFileSync(join(__dirname, '../../README.md'), 'utf8');
function transcript(startsWith: string): string[] {
  const block = [...readme.matchAll(/```text\n([\s\S]*?)```/g)]
    .map((m) => m[1]!)
    .find((b) => b.startsWith(startsWith));
  if (!block) throw new Error(`README has no transcript starting with ${startsWith}`);
  return block.trim().split('\n');
}

/** A README line as a pattern: `"..."` stands for any string. */
function pattern(line: string): RegExp {
  const escaped = line.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`^${escaped.replaceAll('"\\.\\.\\."', '"[^"]*"')}$`);
}

/** Message ids are random: compare frames with the id set to 0. */
const withoutId = (frame: string) => frame.replace(/^\{"id":\d+/, '{"id":0');

/** The example application that ships with the project, as the README's walkthrough uses it. */
describe('the notes example', () => {
  let sandbox: Sandbox;
  let alice: TestSocket;
  let bob: TestSocket;
  const reporter = recordingReporter();

  beforeAll(async () => {
    sandbox = await startSandbox({
      config,
      port: 0,
      dynamodb: { endpoint: testDynamoDbEndpoint() },
      tablePrefix: uniquePrefix(),
      reporter,
    });
    [alice, bob] = [await TestSocket.open(sandbox.websocketUrl), await TestSocket.open(sandbox.websocketUrl)];
  });
  afterAll(async () => {
    await Promise.all([alice.close(), bob.close()]);
    await sandbox.stop();
  });

  test("the README's walkthrough works as written", async () => {
    const [subscribe, subscribed] = transcript('> {"id": 1, "type": "subscribe"');
    const reply = await alice.ask(subscribe!.slice(2));
    expect(reply).toMatch(pattern(subscribed!.slice(2)));
    const { epoch } = (JSON.parse(reply) as { data: { epoch: string } }).data;

    const bobs = transcript('> {"id": 1, "type": "note.create"');
    const created = await bob.ask(bobs[0]!.slice(2));
    expect(created).toMatch(pattern(bobs[1]!.slice(2)));
    for (const line of bobs.slice(2)) await bob.ask(line.slice(2));

    const seen = transcript('< {"id":4821');
    expect(seen).toHaveLength(3);
    for (const line of seen) {
      const update = await alice.next();
      expect(withoutId(update)).toMatch(pattern(withoutId(line.slice(2))));
      expect(update).toContain(`"epoch":"${epoch}"`);
    }

    // Alice drops; the note is written straight to DynamoDB while she is away (cli.test.ts runs
    // the README's `npm run table` line itself); a witness sees the change go out.
    await alice.close();
    const witness = await TestSocket.open(sandbox.websocketUrl);
    await witness.ask('{"id": 1, "type": "subscribe", "data": {"type": "note", "id": "welcome"}}');
    const written = /^\$ npm run table -- put notes '(.*)'$/m.exec(readme)?.[1];
    expect(written).toBeDefined();
    const db = DynamoDBDocumentClient.from(new DynamoDBClient({ endpoint: sandbox.dynamodbEndpoint }));
    await db.send(
      new PutCommand({ TableName: sandbox.tableNames.notes, Item: JSON.parse(written!) as object }),
    );
    db.destroy();
    const missed = await witness.next();
    await witness.close();

    alice = await TestSocket.open(sandbox.websocketUrl);
    const [resubscribe, recovered, replied] = transcript('> {"id": 2, "type": "subscribe"');
    alice.send(resubscribe!.slice(2).replace('"epoch": "..."', `"epoch": "${epoch}"`));
    const frames = [await alice.next(), await alice.next()];
    expect(withoutId(frames[0]!)).toMatch(pattern(withoutId(recovered!.slice(2))));
    expect(frames[0]).toBe(missed); // the very message the others got
    expect(frames[1]).toMatch(pattern(replied!.slice(2)));
    expect(frames[1]).toContain(`"epoch":"${epoch}"`);
  });

  test('a write made with the AWS SDK, not through a handler, reaches the subscribers too', async () => {
    await alice.ask('{"id": 4, "type": "subscribe", "data": {"type": "note", "id": "from-sdk"}}');
    const db = DynamoDBDocumentClient.from(new DynamoDBClient({ endpoint: sandbox.dynamodbEndpoint }));
    await db.send(
      new PutCommand({
        TableName: sandbox.tableNames.notes,
        Item: { id: 'from-sdk', title: 'Written directly' },
      }),
    );
    db.destroy();
    expect(await alice.nextJson()).toMatchObject({
      data: {
        group: 'note-from-sdk',
        type: 'create',
        object: { id: 'from-sdk', title: 'Written directly', preview: '' },
      },
    });
  });

  test('subscribing to anything but a note is refused; the sandbox says which authorize refused it', async () => {
    expect(await alice.ask('{"id": 5, "type": "subscribe", "data": {"type": "user", "id": 1}}')).toBe(
      '{"id":5,"type":"subscribe","error":"Not allowed to subscribe to this group."}',
    );
    // The line is the function's own, source-mapped from its deployed bundle to the TypeScript.
    await eventually(() =>
      reporter.lines.some(
        (line) =>
          line.includes(
            'Subscription refused: the authorize function of subscriptionHandlers returned no group',
          ) &&
          line.includes('"defaultName":"user-1"') &&
          /"definedIn":"[^"]*lambdas\/handlers\/subscribe\.ts:\d+:\d+"/.test(line),
      ),
    );
  });

  test.each([
    ['{"id": 6, "type": "note.create", "data": {"body": "no title"}}', "Field 'data.title' is required."],
    [
      '{"id": 6, "type": "note.create", "data": "text"}',
      "Field 'data' must be an object with 'title' and 'body'.",
    ],
    [
      `{"id": 6, "type": "note.create", "data": {"title": "${'t'.repeat(201)}"}}`,
      "Field 'data.title' must be a string of at most 200 characters.",
    ],
    ['{"id": 6, "type": "note.update", "data": {"id": "nope", "title": "x"}}', 'Note not found.'],
    [
      '{"id": 6, "type": "note.update", "data": {"id": "welcome"}}',
      "Send 'data.title', 'data.body' or both.",
    ],
    ['{"id": 6, "type": "note.delete", "data": {"id": "nope"}}', 'Note not found.'],
    [
      '{"id": 6, "type": "note.get", "data": {"id": "../etc"}}',
      "Field 'data.id' must be a note id: 1-64 letters, digits, '-' or '_'.",
    ],
  ])('%s → %s', async (request, error) => {
    expect(await bob.askJson(request)).toMatchObject({ id: 6, error });
  });

  test('creating a note under a taken id is refused', async () => {
    await bob.ask('{"id": 7, "type": "note.create", "data": {"id": "taken", "title": "first"}}');
    expect(
      await bob.askJson('{"id": 8, "type": "note.create", "data": {"id": "taken", "title": "second"}}'),
    ).toEqual({
      id: 8,
      type: 'note.create',
      error: 'A note with this id exists.',
    });
  });
});
