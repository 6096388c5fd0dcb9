import { GroupSends } from '../../lambdas/rohrpost/runtime/group-sends';

function deferred(): { promise: Promise<void>; resolve: () => void; reject: (error: Error) => void } {
  let resolve!: () => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe('GroupSends', () => {
  test('settled waits for every send to the group, those started meanwhile and failed ones included', async () => {
    const sends = new GroupSends();
    const first = deferred();
    const second = deferred();
    const other = deferred();
    void sends.track('a', first.promise);
    void sends.track('b', other.promise);
    let settled = false;
    const waiting = sends.settled('a').then(() => (settled = true));

    void sends.track('a', second.promise).catch(() => undefined);
    first.resolve();
    await new Promise((resolve) => setImmediate(resolve));
    expect(settled).toBe(false);

    second.reject(new Error('failed'));
    await waiting;
    expect(settled).toBe(true);
  });

  test('a group with nothing under way is settled at once, whatever other groups do', async () => {
    const sends = new GroupSends();
    void sends.track('b', new Promise(() => undefined));
    await expect(sends.settled('a')).resolves.toBeUndefined();
  });

  test('track hands back the send itself, its failure included', async () => {
    const sends = new GroupSends();
    await expect(sends.track('a', Promise.resolve(7))).resolves.toBe(7);
    await expect(sends.track('a', Promise.reject(new Error('no')))).rejects.toThrow('no');
    await expect(sends.settled('a')).resolves.toBeUndefined();
  });
});
