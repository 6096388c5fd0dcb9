import { Pacer } from '../../lambdas/rohrpost/delivery/pacer';

/** A pacer on a clock that moves only when it sleeps. */
function pacerAt(rate: number, burst?: number) {
  let now = 0;
  const sleeps: number[] = [];
  const pacer = new Pacer({
    rate,
    ...(burst !== undefined && { burst }),
    now: () => now,
    sleep: (ms) => {
      sleeps.push(ms);
      now += ms;
      return Promise.resolve();
    },
  });
  return { pacer, clock: () => now, advance: (ms: number) => (now += ms), sleeps };
}

describe('Pacer', () => {
  test('lets a burst through at once, then one request per interval', async () => {
    const { pacer, clock } = pacerAt(100, 10);
    for (let i = 0; i < 10; i++) await pacer.take();
    expect(clock()).toBe(0);
    for (let i = 0; i < 100; i++) await pacer.take();
    // 100 more at 100 a second take a second, less the burst's head start.
    expect(clock()).toBeCloseTo(1000, 0);
  });

  test('a request of cost c takes c slots: at cost 1/2 twice the rate, at cost 2 half of it', async () => {
    for (const [cost, milliseconds] of [
      [0.5, 500],
      [2, 2000],
    ] as const) {
      const { pacer, clock } = pacerAt(100, 1);
      await pacer.take(cost);
      for (let i = 0; i < 100; i++) await pacer.take(cost);
      expect(clock()).toBeCloseTo(milliseconds, 0);
    }
  });

  test('requests that ask together wait in the order they asked', async () => {
    const { pacer } = pacerAt(10, 1);
    const order: number[] = [];
    await Promise.all([0, 1, 2].map(async (i) => (await pacer.take(), order.push(i))));
    expect(order).toEqual([0, 1, 2]);
  });

  test('throttling halves the rate once per 100 ms, never below the floor, and it grows back', async () => {
    const { pacer, advance } = pacerAt(1000);
    pacer.throttled();
    pacer.throttled();
    expect(pacer.rate).toBe(500);
    advance(100);
    pacer.throttled();
    expect(pacer.rate).toBeCloseTo(255, 0); // 500, plus 10 % of 1,000 a second for 0.1 s, halved
    for (let i = 0; i < 20; i++) {
      advance(100);
      pacer.throttled();
    }
    expect(pacer.rate).toBe(50);
    advance(10_000);
    await pacer.take();
    expect(pacer.rate).toBe(1000);
  });

  test('refuses a rate that is not above zero', () => {
    expect(() => new Pacer({ rate: 0 })).toThrow(/above 0/);
  });
});
