import { ConnectionRate } from '../../sandbox/connection-rate';

describe("the sandbox's connection rate, API Gateway's quota on new connections", () => {
  test("a second's worth may come at once; then one more each 1/rate of a second", () => {
    let now = 0;
    const rate = new ConnectionRate(500, () => now);
    const taken = Array.from({ length: 600 }, () => rate.take()).filter(Boolean).length;
    expect(taken).toBe(500);
    now += 1;
    expect(rate.take()).toBe(false); // half a token
    now += 1;
    expect([rate.take(), rate.take()]).toEqual([true, false]);
    now += 10_000; // the bucket holds a second's worth, not more
    expect(Array.from({ length: 600 }, () => rate.take()).filter(Boolean).length).toBe(500);
  });

  test('Infinity takes every handshake', () => {
    const rate = new ConnectionRate(Infinity, () => 0);
    expect(Array.from({ length: 10_000 }, () => rate.take()).every(Boolean)).toBe(true);
  });
});
