import { ACCOUNT_REQUEST_QUOTA, TokenBucket } from '../../sandbox/request-quota';

describe("the account's request quota, a token bucket", () => {
  const takes = (bucket: TokenBucket, count: number) =>
    Array.from({ length: count }, () => bucket.take()).filter(Boolean).length;

  test('a full bucket lets a burst through at once, then refills continuously at the rate', () => {
    let now = 0;
    const bucket = new TokenBucket({ rate: 10_000, burst: 5_000 }, () => now);
    expect(takes(bucket, 6_000)).toBe(5_000);
    now += 0.05; // half a token
    expect(bucket.take()).toBe(false);
    now += 0.05;
    expect([bucket.take(), bucket.take()]).toEqual([true, false]);
    now += 100; // a thousand tokens
    expect(takes(bucket, 2_000)).toBe(1_000);
  });

  test('it holds no more than the burst however long it rests', () => {
    let now = 0;
    const bucket = new TokenBucket({ rate: 10, burst: 4 }, () => now);
    expect(takes(bucket, 10)).toBe(4);
    now += 60_000;
    expect(takes(bucket, 10)).toBe(4);
  });

  test('a steady rate at the quota is never throttled once the burst is spent', () => {
    let now = 0;
    const bucket = new TokenBucket({ rate: 100, burst: 50 }, () => now);
    expect(takes(bucket, 50)).toBe(50);
    for (let i = 0; i < 1_000; i++) {
      now += 10;
      expect(bucket.take()).toBe(true);
    }
    expect(bucket.take()).toBe(false);
  });

  test('an Infinity rate takes every request', () => {
    const bucket = new TokenBucket({ rate: Infinity, burst: Infinity }, () => 0);
    expect(takes(bucket, 100_000)).toBe(100_000);
  });

  test("the default is API Gateway's: 10,000 a second in bursts of 5,000", () => {
    expect(ACCOUNT_REQUEST_QUOTA).toEqual({ rate: 10_000, burst: 5_000 });
  });

  test.each([
    { rate: 0, burst: 1 },
    { rate: 10, burst: 0 },
    { rate: NaN, burst: 5 },
  ])('refuses %p', (limit) => {
    expect(() => new TokenBucket(limit)).toThrow(RangeError);
  });
});
