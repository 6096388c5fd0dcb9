/** The sends to each group under way in this function instance. */
export class GroupSends {
  private readonly underWay = new Map<string, Set<Promise<unknown>>>();

  /** `sending`, counted for its group until it settles. */
  track<T>(group: string, sending: Promise<T>): Promise<T> {
    let sends = this.underWay.get(group);
    if (!sends) this.underWay.set(group, (sends = new Set()));
    const settled = sending.then(
      () => undefined,
      () => undefined,
    );
    sends.add(settled);
    void settled.then(() => {
      sends.delete(settled);
      if (sends.size === 0 && this.underWay.get(group) === sends) this.underWay.delete(group);
    });
    return sending;
  }

  /** Resolves once no send to `group` is under way, those that start meanwhile included. */
  async settled(group: string): Promise<void> {
    for (let sends = this.underWay.get(group); sends; sends = this.underWay.get(group)) {
      await Promise.all(sends);
    }
  }
}
