import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import { generateKeyPair, SignJWT } from 'jose';
import type { Browser, Page } from 'playwright-core';
import type { ResolvedConfig } from '../../lambdas/rohrpost';
import config from '../../rohrpost.config';
import { LOCAL_ISSUER } from '../../sandbox/local-issuer';
import type { Sandbox } from '../../sandbox/sandbox';
import { startSandbox } from '../../sandbox/sandbox';
import jwtConfig from '../fixtures/jwt-demo/config';
import { launchChromium } from '../support/browser';
import { testDynamoDbEndpoint, uniquePrefix } from '../support/dynamodb';
import { WAIT_GUARD_MS } from '../support/hang-guard';
import { eventually, recordingReporter } from '../support/recording-reporter';

const PROJECT_ROOT = join(__dirname, '../..');
/** Where the run leaves its screenshots. */
const RESULTS = join(PROJECT_ROOT, 'test-results');

/** A sandbox serving the demo page, and Chromium (Debian's, headless) to open it in. */
function useDemoPage(configuration: ResolvedConfig) {
  const reporter = recordingReporter();
  const started: { sandbox?: Sandbox; browser?: Browser } = {};
  /** What the pages logged as errors, but for the failed handshakes a test expects. */
  const errors: string[] = [];
  let handshakesMayFail = false;

  beforeAll(async () => {
    started.sandbox = await startSandbox({
      config: configuration,
      page: join(PROJECT_ROOT, 'demo'),
      port: 0,
      dynamodb: { endpoint: testDynamoDbEndpoint() },
      tablePrefix: uniquePrefix(),
      reporter,
    });
    started.browser = await launchChromium();
    mkdirSync(RESULTS, { recursive: true });
  });
  afterEach(() => {
    expect(errors.splice(0)).toEqual([]);
    handshakesMayFail = false;
  });
  afterAll(async () => {
    await started.browser?.close();
    await started.sandbox?.stop();
  });

  return {
    reporter,
    get sandbox(): Sandbox {
      return started.sandbox!;
    },
    /** Chromium logs every handshake that fails as an error: a test that makes some fail says so. */
    expectFailedHandshakes() {
      handshakesMayFail = true;
    },
    /**
     * A new tab, `width` pixels wide, at the page; with `clock`, its timers run on a clock the
     * test can stop (page.clock), which runs as the real one until it does.
     */
    async open(width = 1280, { clock = false } = {}): Promise<Page> {
      const page = await started.browser!.newPage({ viewport: { width, height: width < 600 ? 844 : 800 } });
      // Playwright's waits are hang guards too: they wait for what the page shows, however long.
      page.setDefaultTimeout(WAIT_GUARD_MS);
      if (clock) await page.clock.install();
      page.on('pageerror', (error) => errors.push(error.message));
      page.on('console', (message) => {
        if (message.type() !== 'error') return;
        if (handshakesMayFail && /^WebSocket connection to .* failed/.test(message.text())) return;
        errors.push(message.text());
      });
      await page.goto(started.sandbox!.pageUrl!.replace('localhost', '127.0.0.1'));
      return page;
    },
  };
}

/** Waits until the status says `words`, with the state the page styles it by. */
async function status(page: Page, state: string, words: string): Promise<void> {
  await page.waitForSelector(`#state[data-state="${state}"]`);
  expect(await page.textContent('#state')).toBe(words);
}

const entry = (page: Page, title: string) => page.locator('#notes li', { hasText: title });

/** The technical log is in "Connection details", closed until asked for. */
async function openDetails(page: Page): Promise<void> {
  if ((await page.getAttribute('#details', 'open')) === null) await page.click('#details summary');
}

/** How big an element's content is, and how much of it shows (in the page, for `evaluate`). */
function extent(element: {
  scrollWidth: number;
  clientWidth: number;
  scrollHeight: number;
  clientHeight: number;
}) {
  const { scrollWidth, clientWidth, scrollHeight, clientHeight } = element;
  return { scrollWidth, clientWidth, scrollHeight, clientHeight };
}

/** Where an element is on the page. */
async function box(page: Page, selector: string) {
  const found = await page.locator(selector).first().boundingBox();
  if (!found) throw new Error(`${selector} is not on the page`);
  return found;
}

/**
 * The demo page in a real browser: two tabs of the notes example follow each other's changes
 * and a direct DynamoDB write, a tab whose connection is dropped gets what it missed when it is
 * back, and the page reads well from a phone's width to a desktop's.
 */
describe('the demo page in Chromium', () => {
  const demo = useDemoPage(config);
  let db: DynamoDBDocumentClient;
  beforeAll(() => {
    db = DynamoDBDocumentClient.from(new DynamoDBClient({ endpoint: demo.sandbox.dynamodbEndpoint }));
  });
  afterAll(() => db?.destroy());

  test('shows no editor before a note is chosen, and needs no sign-in', async () => {
    const page = await demo.open();
    await status(page, 'live', 'Live');
    expect(await page.isVisible('#nothing-open')).toBe(true);
    for (const hidden of ['#edit', '#save', '#delete', '#sign-in', '#account']) {
      expect([hidden, await page.isVisible(hidden)]).toEqual([hidden, false]);
    }
    // What the page asks the sandbox before connecting: no authorizer.jwt, so no tokens.
    const origin = demo.sandbox.gateway.origin;
    const auth = await fetch(`${origin}/.sandbox/auth`);
    expect([auth.status, await auth.json()]).toEqual([200, { jwt: false }]);
    const token = await fetch(`${origin}/.sandbox/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"user": "alice"}',
    });
    expect([token.status, await token.json()]).toEqual([
      404,
      { error: 'authorizer.jwt is not configured: connections need no token, and the sandbox issues none.' },
    ]);
    await page.close();
  });

  test('two tabs follow each other and a direct write; a dropped tab recovers; a note deleted elsewhere closes', async () => {
    const [alice, bob] = [await demo.open(1280, { clock: true }), await demo.open()];
    await status(alice, 'live', 'Live');
    await status(bob, 'live', 'Live');

    // Alice adds a note: it opens in her editor, and appears in Bob's list.
    await alice.fill('#create input[name=title]', 'Shopping list');
    await alice.click('#create button');
    await alice.waitForSelector('#edit:not([hidden])');
    await entry(bob, 'Shopping list').waitFor();

    // Bob writes its text; Alice's list shows the start of it.
    await entry(bob, 'Shopping list').click();
    await bob.waitForSelector('#edit:not([hidden])');
    await bob.fill('#edit [name=body]', 'Milk, bread, coffee');
    await bob.click('#save');
    await entry(alice, 'Milk, bread, coffee').waitFor();
    // Her editor follows the note's own group, whose message may come after the list's.
    await eventually(async () => (await alice.inputValue('#edit [name=body]')) === 'Milk, bread, coffee');

    // A note written straight to DynamoDB, as the AWS CLI would, reaches both lists.
    await db.send(
      new PutCommand({
        TableName: demo.sandbox.tableNames.notes,
        Item: {
          id: 'from-the-cli',
          title: 'Written to DynamoDB directly',
          updatedAt: new Date().toISOString(),
        },
      }),
    );
    await entry(alice, 'Written to DynamoDB directly').waitFor();
    await entry(bob, 'Written to DynamoDB directly').waitFor();

    // Alice's connection drops for 3 s; Bob renames the note meanwhile. Her clock stands still
    // until his change is in, however long that takes on a busy machine: the 3 s are hers.
    const toldBackOnline = alice
      .locator('#toast', { hasText: 'Back online. 1 change made meanwhile came in.' })
      .waitFor();
    await openDetails(alice);
    await alice.clock.pauseAt((await alice.evaluate(() => Date.now())) + 5_000);
    await alice.click('#drop');
    await status(alice, 'reconnecting', 'Reconnecting…');
    await bob.fill('#edit [name=title]', 'Shopping list, revised');
    await bob.click('#save');
    await entry(bob, 'Shopping list, revised').waitFor();
    expect(await entry(alice, 'Shopping list, revised').count()).toBe(0);

    // Back, Alice recovers what she missed, without reloading anything; the details say how.
    // Her 3 s pass at once, and her clock stays stopped until she has said so: the toast stays.
    await alice.clock.fastForward(3_500);
    await status(alice, 'live', 'Live');
    await entry(alice, 'Shopping list, revised').waitFor();
    await toldBackOnline;
    await alice.clock.resume();
    await alice.locator('#log li', { hasText: '1 missed update of notes-all recovered' }).waitFor();
    await alice.locator('#log li', { hasText: 'Connection closed (4000: dropped on purpose)' }).waitFor();
    await bob.screenshot({ path: join(RESULTS, 'demo-page-1280.png'), fullPage: true });

    // Alice deletes it: it leaves Bob's list, and his editor closes, saying so, his draft gone.
    await alice.click('#delete');
    await bob
      .locator('#editor-notice', { hasText: '“Shopping list, revised” was deleted elsewhere' })
      .waitFor();
    await entry(bob, 'Shopping list, revised').waitFor({ state: 'detached' });
    expect(await bob.isVisible('#edit')).toBe(false);
    expect(await bob.inputValue('#edit [name=title]')).toBe('');
    expect(await bob.inputValue('#edit [name=body]')).toBe('');
    await alice.locator('#editor-notice', { hasText: '“Shopping list, revised” was deleted.' }).waitFor();
    await Promise.all([alice.close(), bob.close()]);
  });

  test('at 390 px wide, a 200-character title wraps or ellipsizes, and nothing scrolls sideways', async () => {
    const page = await demo.open(390);
    await status(page, 'live', 'Live');
    const title = `Quarterly${'planning'.repeat(24)}`.slice(0, 200);
    await page.fill('#create input[name=title]', title);
    await page.click('#create button');
    await page.waitForSelector('#edit:not([hidden])');
    await entry(page, title).waitFor();

    const html = await page.locator('html').evaluate(extent);
    expect(html.scrollWidth).toBeLessThanOrEqual(html.clientWidth);
    const listTitle = await box(page, '#notes li .note-title');
    const listCard = await box(page, '.card:has(#notes)');
    expect(listTitle.x + listTitle.width).toBeLessThanOrEqual(listCard.x + listCard.width);
    const editorTitle = await box(page, '#edit [name=title]');
    const editor = await box(page, '#editor');
    expect(editorTitle.x + editorTitle.width).toBeLessThanOrEqual(editor.x + editor.width);
    // The editor's title wraps, and its field grows: all of it shows, nothing scrolls inside it.
    const field = await page.locator('#edit [name=title]').evaluate(extent);
    expect(field.scrollWidth).toBeLessThanOrEqual(field.clientWidth);
    expect(field.scrollHeight).toBeLessThanOrEqual(field.clientHeight);
    expect(editorTitle.height).toBeGreaterThan(2 * listTitle.height);
    await page.screenshot({ path: join(RESULTS, 'demo-page-390.png'), fullPage: true });
    await page.close();
  });

  test('with the network gone the status turns Offline, and Live again when it is back', async () => {
    demo.expectFailedHandshakes();
    const page = await demo.open();
    await status(page, 'live', 'Live');
    await page.context().setOffline(true);
    await openDetails(page);
    await page.click('#drop');
    await status(page, 'offline', 'Offline');
    await page.context().setOffline(false);
    // By now the client's backoff waits up to 8 s between attempts, or up to its 30 s cap if the
    // machine was slow to come back: status() waits for Live, however long that takes.
    await status(page, 'live', 'Live');
    await page.close();
  });
});

/**
 * The page against the project's configuration with `authorizer.jwt` on: it signs in with the
 * sandbox's local issuer, and says so when the sandbox refuses the token, instead of retrying.
 */
describe('the demo page with sign-in (authorizer.jwt)', () => {
  const demo = useDemoPage(jwtConfig);
  const refusedHandshakes = () => demo.reporter.lines.filter((line) => line.startsWith('refused 401')).length;

  /** Puts a sign-in into the tab's storage, as an earlier visit would have left it, and reloads. */
  async function comeBackWith(page: Page, signIn: { user: string; token: string; expiresAt: string }) {
    await page.evaluate(
      (value) => sessionStorage.setItem('rohrpost-demo.sign-in', value),
      JSON.stringify(signIn),
    );
    await page.reload();
  }

  const connections = () => demo.reporter.lines.filter((line) => line.startsWith('connected')).length;

  test('asks for sign-in, never connects without a token, signs in, shows the user, and signs out', async () => {
    const [connectedEarlier, refusedEarlier] = [connections(), refusedHandshakes()];
    const page = await demo.open();
    await status(page, 'signed-out', 'Not signed in');
    expect(await page.isVisible('#sign-in')).toBe(true);
    expect(await page.isVisible('#app')).toBe(false);
    expect(await page.isVisible('#account')).toBe(false);
    await page.screenshot({ path: join(RESULTS, 'demo-page-sign-in-1280.png'), fullPage: true });

    await page.click('#sign-in button[data-user=alice]');
    await status(page, 'live', 'Live');
    expect(await page.textContent('#account-name')).toBe('alice');
    expect(await page.isVisible('#sign-in')).toBe(false);
    // Its only handshake was the one with alice's token.
    expect(connections() - connectedEarlier).toBe(1);
    expect(refusedHandshakes()).toBe(refusedEarlier);

    await page.fill('#create input[name=title]', 'Signed in as alice');
    await page.click('#create button');
    await entry(page, 'Signed in as alice').waitFor();

    const disconnects = () => demo.reporter.lines.filter((line) => line.startsWith('disconnected')).length;
    const disconnectedEarlier = disconnects();
    await page.click('#sign-out');
    await status(page, 'signed-out', 'Not signed in');
    expect(await page.isVisible('#sign-in')).toBe(true);
    expect(await page.isVisible('#app')).toBe(false);
    // Its connection, alice's, is closed.
    await eventually(() => disconnects() > disconnectedEarlier);

    // Another user, typed in: the same tab is bob's now.
    await page.fill('#sign-in-user', 'bob');
    await page.click('#sign-in-form button');
    await status(page, 'live', 'Live');
    expect(await page.textContent('#account-name')).toBe('bob');
    await entry(page, 'Signed in as alice').waitFor();
    await page.close();
  });

  test('an expired sign-in asks again, and a token the sandbox refuses says so instead of retrying', async () => {
    demo.expectFailedHandshakes();
    const page = await demo.open(390);
    await status(page, 'signed-out', 'Not signed in');
    const issuer = demo.sandbox.localIssuer!;
    const refusedEarlier = refusedHandshakes();

    // A sign-in whose token has expired is not tried at all.
    const expiredToken = await issuer.sign({ sub: 'carol', aud: 'example-app-client', exp: 1 });
    await comeBackWith(page, { user: 'carol', token: expiredToken, expiresAt: new Date(1000).toISOString() });
    await status(page, 'signed-out', 'Not signed in');
    await page.locator('#sign-in-notice', { hasText: 'The sign-in of carol expired.' }).waitFor();
    expect(await page.inputValue('#sign-in-user')).toBe('carol');
    expect(refusedHandshakes()).toBe(refusedEarlier);

    // A token signed with another key, under the issuer's key id, as after the sandbox's key changed.
    const genuine = await issuer.mint('mallory');
    const { kid } = JSON.parse(Buffer.from(genuine.split('.')[0]!, 'base64url').toString()) as {
      kid: string;
    };
    const forged = await new SignJWT({ sub: 'mallory', aud: 'example-app-client' })
      .setProtectedHeader({ alg: 'ES256', kid })
      .setIssuer(LOCAL_ISSUER)
      .setExpirationTime('1h')
      .sign((await generateKeyPair('ES256')).privateKey);
    const expiresAt = new Date(Date.now() + 3_600_000).toISOString();
    await comeBackWith(page, { user: 'mallory', token: forged, expiresAt });
    await status(page, 'refused', 'Sign-in refused');
    await page
      .locator('#sign-in-notice', { hasText: 'Sign-in refused: the sandbox no longer accepts' })
      .waitFor();
    await page.screenshot({ path: join(RESULTS, 'demo-page-refused-390.png'), fullPage: true });
    const refusedBeforeSignIn = refusedHandshakes();
    expect(refusedBeforeSignIn - refusedEarlier).toBe(3);

    // Signing in again works, and nothing was retried with the refused token meanwhile.
    await page.click('#sign-in button[data-user=bob]');
    await status(page, 'live', 'Live');
    expect(await page.textContent('#account-name')).toBe('bob');
    expect(refusedHandshakes()).toBe(refusedBeforeSignIn);
    await page.close();
  });
});
