/**
 * The demo page of the notes example (`npm start`, then http://localhost:3001/): every note in
 * a list, and an editor, kept live by the rohrpost client. Open it in two tabs, change a note
 * in one, or write one to DynamoDB directly, and watch the others follow. With `authorizer.jwt`
 * configured, it signs in first, with a token from the sandbox's local issuer.
 */
import { RohrpostClient } from '../client/src';
import { showConnectionStatus } from './connection-status';
import { byId } from './dom';
import { activityLog, toast } from './feedback';
import { showNotes } from './notes';
import { Session } from './session';
import { showSignIn } from './sign-in';

async function main(): Promise<void> {
  const log = activityLog(byId('log'));
  const tell = toast(byId('toast'));
  const session = await Session.load();
  /** The "drop" button holds the reconnect until then, so that there is something to recover. */
  let offlineUntil = 0;

  const client = new RohrpostClient({
    url: `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/`,
    tokenParameter: session.tokenParameter,
    // Called before every connect: waits out a drop, and for somebody to sign in when a token is needed.
    token: async () => {
      const wait = offlineUntil - Date.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      return session.token();
    },
  });
  client.on('error', (error) => log(`Error: ${error.message}`));
  session.watch(client);

  showConnectionStatus(client, session, byId('state'), log);
  const notes = showNotes(client, { log, tell });
  showSignIn(session, {
    // The open connection is this user's: close it, and the next one waits for a sign-in.
    onSignOut: () => {
      notes.clear();
      client.dropConnection();
    },
  });

  byId<HTMLButtonElement>('drop').addEventListener('click', () => {
    offlineUntil = Date.now() + 3_000;
    log('Dropping the connection for 3 s: changes made meanwhile are recovered when it is back.');
    client.dropConnection();
  });
}

void main();
