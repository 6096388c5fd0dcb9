/** The sign-in panel and the account in the header, when connections need a token. */
import { byId } from './dom';
import type { Session, SignOutReason } from './session';

const NOTICES: Record<Exclude<SignOutReason, 'signed-out'>, (user: string) => string> = {
  expired: (user) => `The sign-in of ${user} expired. Sign in again.`,
  refused: (user) =>
    `Sign-in refused: the sandbox no longer accepts the token of ${user} (it may have been signed with a key the sandbox no longer has). Sign in again for a new one.`,
};

export function showSignIn(session: Session, { onSignOut }: { readonly onSignOut: () => void }): void {
  const panel = byId<HTMLElement>('sign-in');
  const app = byId<HTMLElement>('app');
  const notice = byId<HTMLParagraphElement>('sign-in-notice');
  const form = byId<HTMLFormElement>('sign-in-form');
  const input = byId<HTMLInputElement>('sign-in-user');
  const account = byId<HTMLDivElement>('account');

  const render = () => {
    const user = session.user;
    const signedOut = session.required && user === undefined;
    panel.hidden = !signedOut;
    app.hidden = signedOut;
    account.hidden = user === undefined;
    byId('account-name').textContent = user ?? '';
    byId('account-initial').textContent = (user ?? '').slice(0, 1);
    const ended = session.lastSignOut;
    const text = ended && ended.reason !== 'signed-out' ? NOTICES[ended.reason](ended.user) : '';
    notice.textContent = text;
    notice.hidden = text === '';
    if (signedOut && ended && input.value === '') input.value = ended.user;
  };

  const signIn = async (user: string) => {
    for (const button of panel.querySelectorAll('button')) button.disabled = true;
    try {
      await session.signIn(user.trim());
    } catch (error) {
      notice.textContent = `Could not sign in: ${(error as Error).message}`;
      notice.hidden = false;
    } finally {
      for (const button of panel.querySelectorAll('button')) button.disabled = false;
    }
  };

  for (const button of panel.querySelectorAll<HTMLButtonElement>('button[data-user]')) {
    button.addEventListener('click', () => void signIn(button.dataset.user!));
  }
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    void signIn(input.value);
  });
  byId<HTMLButtonElement>('sign-out').addEventListener('click', () => {
    session.end('signed-out');
    onSignOut();
  });
  session.onChange(render);
  render();
}
