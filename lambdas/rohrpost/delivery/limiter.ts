/** Gives a slot back; calling it again does nothing. */
export type Release = () => void;

/** At most `limit` tasks at once; the rest wait their turn, first come first served. */
export class Limiter {
  private active = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1)
      throw new RangeError(`A limit is a whole number above 0, not ${limit}.`);
  }

  /** A slot now, or undefined when all are taken: the fan-out's path without a promise. */
  tryAcquire(): Release | undefined {
    // While anyone waits every slot is taken: a release hands its slot to the next in line.
    if (this.active >= this.limit) return undefined;
    this.active++;
    return this.releaser();
  }

  /** Waits for a free slot. */
  async acquire(): Promise<Release> {
    const release = this.tryAcquire();
    if (release) return release;
    await new Promise<void>((resolve) => this.waiting.push(resolve));
    return this.releaser();
  }

  private releaser(): Release {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiting.shift();
      if (next) next();
      else this.active--;
    };
  }
}
