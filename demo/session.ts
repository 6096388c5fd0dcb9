/**
 * Who is signed in, when the sandbox's authorizer wants a token (`authorizer.jwt`), and whether
 * the sandbox still accepts their token. The tokens come from the sandbox's sign-in endpoints
 * (sandbox/sign-in.ts), a local stand-in for an identity provider: on AWS a page signs in with
 * Cognito or another OIDC provider instead.
 *
 * A browser is never told that a handshake was refused: a refused WebSocket closes with 1006,
 * as one whose server is down does. So when connections keep failing to open while the sandbox
 * answers HTTP, the token is what it refuses, and the page stops trying until somebody signs in.
 */
import type { RohrpostClient } from '../client/src';

/** What `GET /.sandbox/auth` says. */
interface AuthSettings {
  /** Whether connections need a token. */
  readonly jwt: boolean;
  /** The query parameter the token goes in. */
  readonly tokenParameter?: string;
}

interface SignedIn {
  readonly user: string;
  readonly token: string;
  readonly expiresAt: string;
}

/** Why nobody is signed in any more. */
export type SignOutReason = 'signed-out' | 'expired' | 'refused';

/** Kept per tab, so that two tabs can be two users. */
const STORAGE_KEY = 'rohrpost-demo.sign-in';
/** A token this close to its expiry would be refused before its connection opens. */
const EXPIRY_MARGIN_MS = 30_000;
/**
 * Connections in a row that never opened, while the sandbox answers, before a sign-in counts as
 * refused. More than one: a sandbox that is starting refuses handshakes (503) for a moment.
 */
const REFUSED_AFTER_FAILURES = 3;

export class Session {
  private signedIn: SignedIn | undefined = stored();
  private ended: { readonly user: string; readonly reason: SignOutReason } | undefined;
  private readonly waiting: Array<(token: string) => void> = [];
  private readonly listeners: Array<() => void> = [];
  /** Connections in a row that closed without ever opening. */
  private failedHandshakes = 0;

  private constructor(private readonly settings: AuthSettings) {
    if (this.expired) this.end('expired');
  }

  /** Asks the sandbox whether connections need a token. */
  static async load(): Promise<Session> {
    // Unreachable now, the sandbox is offline: the connection's status will say so.
    const response = await fetch('/.sandbox/auth').catch(() => undefined);
    const settings = response?.ok ? ((await response.json()) as AuthSettings) : { jwt: false };
    return new Session(settings);
  }

  /** Whether connections need somebody signed in. */
  get required(): boolean {
    return this.settings.jwt;
  }

  get tokenParameter(): string | undefined {
    return this.settings.tokenParameter;
  }

  get user(): string | undefined {
    return this.signedIn?.user;
  }

  /** Who was signed in last, and why not any more. */
  get lastSignOut(): { readonly user: string; readonly reason: SignOutReason } | undefined {
    return this.ended;
  }

  /** Counts the client's connections that never opened. */
  watch(client: RohrpostClient): void {
    client.on('open', () => (this.failedHandshakes = 0));
    client.on('close', ({ opened }) => (this.failedHandshakes = opened ? 0 : this.failedHandshakes + 1));
  }

  /**
   * The token to connect with, for the client's `token` provider: none when connections need
   * none, and otherwise only once somebody is signed in, so the page never connects without one.
   * An expired token, or one the sandbox keeps refusing, ends the sign-in first.
   */
  async token(): Promise<string | undefined> {
    if (!this.settings.jwt) return undefined;
    if (this.expired) this.end('expired');
    if (this.signedIn && this.failedHandshakes >= REFUSED_AFTER_FAILURES && (await sandboxAnswers())) {
      this.end('refused');
    }
    if (this.signedIn) return this.signedIn.token;
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  /** Signs `user` in with a token from the sandbox; rejects with the sandbox's reason. */
  async signIn(user: string): Promise<void> {
    const response = await fetch('/.sandbox/token', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ user }),
    });
    const answer = (await response.json().catch(() => ({}))) as Partial<SignedIn> & { error?: string };
    if (!response.ok || !answer.user || !answer.token || !answer.expiresAt) {
      throw new Error(answer.error ?? `The sandbox answered ${response.status}.`);
    }
    this.signedIn = { user: answer.user, token: answer.token, expiresAt: answer.expiresAt };
    this.ended = undefined;
    this.failedHandshakes = 0;
    sessionStorage.setItem(STORAGE_KEY, JSON.stringify(this.signedIn));
    for (const resolve of this.waiting.splice(0)) resolve(answer.token);
    this.changed();
  }

  /** Nobody is signed in any more; the next connection waits for a sign-in. */
  end(reason: SignOutReason): void {
    if (!this.signedIn) return;
    this.ended = { user: this.signedIn.user, reason };
    this.signedIn = undefined;
    sessionStorage.removeItem(STORAGE_KEY);
    this.changed();
  }

  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }

  private get expired(): boolean {
    return (
      this.signedIn !== undefined && Date.parse(this.signedIn.expiresAt) - EXPIRY_MARGIN_MS <= Date.now()
    );
  }

  private changed(): void {
    for (const listener of this.listeners) listener();
  }
}

/** Whether the sandbox is there: then a connection that does not open is refused. */
function sandboxAnswers(): Promise<boolean> {
  return fetch('/.sandbox/auth').then(
    (response) => response.ok,
    () => false,
  );
}

/** The sign-in this tab kept, if it is one. */
function stored(): SignedIn | undefined {
  try {
    const value = JSON.parse(sessionStorage.getItem(STORAGE_KEY) ?? 'null') as Partial<SignedIn> | null;
    if (
      typeof value?.user === 'string' &&
      typeof value.token === 'string' &&
      typeof value.expiresAt === 'string'
    ) {
      return { user: value.user, token: value.token, expiresAt: value.expiresAt };
    }
  } catch {
    // Not ours, or damaged: nobody is signed in.
  }
  return undefined;
}
