/**
 * The connection's status in words a person uses (Live, Reconnecting…, Offline, Not signed in,
 * Sign-in refused), and what happens to it, in the log.
 */
import type { RohrpostClient } from '../client/src';
import type { Session, SignOutReason } from './session';

type Status = 'connecting' | 'live' | 'reconnecting' | 'offline' | 'signed-out' | 'refused';

const WORDS: Record<Status, string> = {
  connecting: 'Connecting…',
  live: 'Live',
  reconnecting: 'Reconnecting…',
  offline: 'Offline',
  'signed-out': 'Not signed in',
  refused: 'Sign-in refused',
};

/** Reconnect attempts in a row before "Reconnecting…" turns "Offline". */
const OFFLINE_AFTER_ATTEMPTS = 3;

export function showConnectionStatus(
  client: RohrpostClient,
  session: Session,
  element: HTMLElement,
  log: (text: string) => void,
): void {
  let connection: Status = 'connecting';

  const render = () => {
    const signedOut = session.required && session.user === undefined;
    const status = signedOut
      ? session.lastSignOut?.reason === 'refused'
        ? 'refused'
        : 'signed-out'
      : connection;
    element.textContent = WORDS[status];
    element.dataset.state = status;
  };

  client.on('open', ({ rollover }) => {
    connection = 'live';
    log(rollover ? 'Rolled over to a new connection ahead of the 2-hour limit.' : 'Connected.');
    render();
  });
  client.on('close', ({ code, reason, opened }) =>
    log(
      opened
        ? `Connection closed (${code}${reason ? `: ${reason}` : ''}).`
        : `The connection did not open (${code}): its handshake was refused, or the server is unreachable.`,
    ),
  );
  client.on('reconnecting', ({ attempt, delayMs }) => {
    connection = attempt > OFFLINE_AFTER_ATTEMPTS ? 'offline' : 'reconnecting';
    log(`Reconnecting in ${delayMs} ms (attempt ${attempt}).`);
    render();
  });
  session.onChange(() => {
    const ended = session.lastSignOut;
    if (session.user !== undefined) log(`Signed in as ${session.user}.`);
    else if (ended) log(SIGNED_OUT[ended.reason](ended.user));
    render();
  });
  render();
}

const SIGNED_OUT: Record<SignOutReason, (user: string) => string> = {
  'signed-out': (user) => `${user} signed out.`,
  expired: (user) => `The token of ${user} expired.`,
  refused: (user) => `The sandbox answers, but keeps refusing connections with the token of ${user}.`,
};
