import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { Browser, Page } from 'playwright-core';
import config from '../../rohrpost.config';
import type { Sandbox } from '../../sandbox/sandbox';
import { startSandbox } from '../../sandbox/sandbox';
import { launchChromium } from '../support/browser';
import { testDynamoDbEndpoint, uniquePrefix } from '../support/dynamodb';
import { eventually } from '../support/recording-reporter';

const PROJECT_ROOT = join(__dirname, '../..');
/** Where the run leaves its screenshot. */
const RESULTS = join(PROJECT_ROOT, 'test-results');

/**
 * The demo page in a real browser (Debian's Chromium, headless): two tabs of the notes example
 * follow each other's changes and a direct DynamoDB write, and a tab whose connection is
 * dropped gets what it missed when it is back.
 */
describe('the demo page in Chromium', () => {
  let sandbox: Sandbox;
  let browser: Browser;
  let db: DynamoDBDocumentClient;
  const errors: string[] = [];

  beforeAll(async () => {
    sandbox = await startSandbox({
      config,
      page: join(PROJECT_ROOT, 'demo'),
      port: 0,
      dynamodb: { endpoint: testDynamoDbEndpoint() },
      tablePrefix: uniquePrefix(),
    });
    browser = await launchChromium();
    db = DynamoDBDocumentClient.from(new DynamoDBClient({ endpoint: sandbox.dynamodbEndpoint }));
  }, 30_000);
  afterAll(async () => {
    db?.destroy();
    await browser?.close();
    await sandbox?.stop();
  });

  async function open(): Promise<Page> {
    const page = await browser.newPage({ viewport: { width: 1100, height: 720 } });
    page.on('pageerror', (error) => errors.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'error') errors.push(message.text());
    });
    await page.goto(sandbox.pageUrl!.replace('localhost', '127.0.0.1'));
    await page.waitForSelector('#state[data-state="open"]');
    return page;
  }

  const entry = (page: Page, title: string) => page.locator('#notes li', { hasText: title });

  test('two tabs follow each other, a direct write, and a dropped tab recovers', async () => {
    const [alice, bob] = [await open(), await open()];

    // Alice adds a note: it opens in her editor, and appears in Bob's list.
    await alice.fill('#create input[name=title]', 'Shopping list');
    await alice.click('#create button');
    await alice.waitForSelector('#edit:not([hidden])');
    await entry(bob, 'Shopping list').waitFor();

    // Bob writes its body; Alice's list shows the start of it.
    await entry(bob, 'Shopping list').click();
    await bob.waitForSelector('#edit:not([hidden])');
    await bob.fill('#edit textarea', 'Milk, bread, coffee');
    await bob.click('#edit button[type=submit]');
    await entry(alice, 'Milk, bread, coffee').waitFor();
    // Her editor follows the note's own group, whose message may come after the list's.
    await eventually(async () => (await alice.inputValue('#edit textarea')) === 'Milk, bread, coffee');

    // A note written straight to DynamoDB, as the AWS CLI would, reaches both lists.
    await db.send(
      new PutCommand({
        TableName: sandbox.tableNames.notes,
        Item: {
          id: 'from-the-cli',
          title: 'Written to DynamoDB directly',
          updatedAt: new Date().toISOString(),
        },
      }),
    );
    await entry(alice, 'Written to DynamoDB directly').waitFor();
    await entry(bob, 'Written to DynamoDB directly').waitFor();

    // Alice's connection drops for 3 s; Bob renames the note meanwhile.
    await alice.click('#drop');
    await alice.waitForSelector('#state[data-state="reconnecting"]');
    await bob.fill('#edit input[name=title]', 'Shopping list, revised');
    await bob.click('#edit button[type=submit]');
    await entry(bob, 'Shopping list, revised').waitFor();
    expect(await entry(alice, 'Shopping list, revised').count()).toBe(0);

    // Back, Alice recovers what she missed, without reloading anything.
    await alice.waitForSelector('#state[data-state="open"]', { timeout: 10_000 });
    await entry(alice, 'Shopping list, revised').waitFor();
    await alice.locator('#log li', { hasText: 'missed update of notes-all recovered' }).waitFor();
    mkdirSync(RESULTS, { recursive: true });
    await alice.screenshot({ path: join(RESULTS, 'demo-page.png'), fullPage: true });

    // Deleting it in one tab removes it from the other.
    await alice.click('#delete');
    await entry(bob, 'Shopping list, revised').waitFor({ state: 'detached' });
    expect(errors).toEqual([]);
  }, 60_000);
});
