import { GoneConnections } from '../../lambdas/rohrpost/delivery/fan-out';
import { Limiter } from '../../lambdas/rohrpost/delivery/limiter';

describe('Limiter', () => {
  test('never lets more than its limit run at once, and runs everything', async () => {
    const limiter = new Limiter(3);
    let running = 0;
    let most = 0;
    const tasks = Array.from({ length: 20 }, async (_, i) => {
      const release = await limiter.acquire();
      running++;
      most = Math.max(most, running);
      await new Promise((resolve) => setTimeout(resolve, (i % 4) + 1));
      running--;
      release();
      return i;
    });
    expect(await Promise.all(tasks)).toEqual([...Array(20).keys()]);
    expect(most).toBe(3);
  });

  test('releasing twice gives back one slot only', async () => {
    const limiter = new Limiter(1);
    const release = await limiter.acquire();
    release();
    release();
    await limiter.acquire();
    let second = false;
    void limiter.acquire().then(() => (second = true));
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(second).toBe(false);
  });

  test('tryAcquire takes a free slot at once and refuses when all are taken', async () => {
    const limiter = new Limiter(2);
    const first = limiter.tryAcquire();
    const second = limiter.tryAcquire();
    expect([typeof first, typeof second, limiter.tryAcquire()]).toEqual(['function', 'function', undefined]);
    const waiting = limiter.acquire();
    first!();
    // The freed slot went to the one waiting, not to whoever asks next.
    expect(limiter.tryAcquire()).toBeUndefined();
    (await waiting)();
    second!();
    expect(limiter.tryAcquire()).toBeDefined();
  });

  test.each([0, -1, 1.5])('refuses the limit %p', (limit) => {
    expect(() => new Limiter(limit)).toThrow(RangeError);
  });
});

describe('GoneConnections', () => {
  test('remembers each gone connection once and forgets the oldest beyond its capacity', () => {
    const gone = new GoneConnections(2);
    expect(gone.add('a')).toBe(true);
    expect(gone.add('a')).toBe(false);
    gone.add('b');
    gone.add('c');
    expect([gone.has('a'), gone.has('b'), gone.has('c')]).toEqual([false, true, true]);
  });
});
