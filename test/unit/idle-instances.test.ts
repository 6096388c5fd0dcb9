import type { IdleClock } from '../../sandbox/lambda/idle-instances';
import { IdleInstances } from '../../sandbox/lambda/idle-instances';

/** A clock that moves only when told, running the timers that fall due. */
class ManualClock implements IdleClock {
  private time = 0;
  private timers: Array<{ at: number; callback: () => void }> = [];

  now(): number {
    return this.time;
  }

  setTimeout(callback: () => void, milliseconds: number): unknown {
    const timer = { at: this.time + milliseconds, callback };
    this.timers.push(timer);
    return timer;
  }

  clearTimeout(timer: unknown): void {
    this.timers = this.timers.filter((t) => t !== timer);
  }

  get pendingTimers(): number {
    return this.timers.length;
  }

  advance(milliseconds: number): void {
    const until = this.time + milliseconds;
    for (;;) {
      const due = this.timers.filter((t) => t.at <= until).sort((a, b) => a.at - b.at)[0];
      if (!due) break;
      this.time = due.at;
      this.clearTimeout(due);
      due.callback();
    }
    this.time = until;
  }
}

/** Idle function instances, shut down as Lambda shuts down idle execution environments. */
describe('IdleInstances', () => {
  function setup(idleTimeoutMs = 1_000) {
    const clock = new ManualClock();
    const reaped: Array<[string, number]> = [];
    const idle = new IdleInstances<string>(idleTimeoutMs, (i, ms) => reaped.push([i, ms]), clock);
    return { clock, reaped, idle };
  }

  test('an instance idle for the timeout is reaped, with how long it was idle; not a moment before', () => {
    const { clock, reaped, idle } = setup();
    idle.push('a');
    clock.advance(999);
    expect(reaped).toEqual([]);
    clock.advance(1);
    expect(reaped).toEqual([['a', 1_000]]);
    expect(idle.size).toBe(0);
    expect(clock.pendingTimers).toBe(0);
  });

  test('the most recently used instance is taken first, so that the others can go', () => {
    const { clock, reaped, idle } = setup();
    idle.push('a');
    clock.advance(400);
    idle.push('b');
    expect(idle.pop()).toBe('b');
    idle.push('b');
    clock.advance(600);
    expect(reaped).toEqual([['a', 1_000]]);
    clock.advance(399);
    expect(reaped).toHaveLength(1);
    clock.advance(1);
    expect(reaped).toEqual([
      ['a', 1_000],
      ['b', 1_000],
    ]);
  });

  test('an instance taken for an invocation is not idle any more; back, its idle time starts again', () => {
    const { clock, reaped, idle } = setup();
    idle.push('a');
    clock.advance(900);
    expect(idle.pop()).toBe('a');
    expect(clock.pendingTimers).toBe(0);
    clock.advance(5_000);
    idle.push('a');
    clock.advance(999);
    expect(reaped).toEqual([]);
    clock.advance(1);
    expect(reaped).toEqual([['a', 1_000]]);
  });

  test('instances that became idle together are reaped together', () => {
    const { clock, reaped, idle } = setup();
    for (const instance of ['a', 'b', 'c']) idle.push(instance);
    clock.advance(1_000);
    expect(reaped.map(([instance]) => instance)).toEqual(['a', 'b', 'c']);
  });

  test('an instance that ended, or was drained for new code, is not reaped', () => {
    const { clock, reaped, idle } = setup();
    idle.push('a');
    clock.advance(500);
    idle.push('b');
    expect(idle.remove('a')).toBe(true);
    expect(idle.remove('a')).toBe(false);
    clock.advance(500);
    expect(reaped).toEqual([]);
    expect(idle.drain()).toEqual(['b']);
    clock.advance(10_000);
    expect(reaped).toEqual([]);
    expect(clock.pendingTimers).toBe(0);
  });
});
