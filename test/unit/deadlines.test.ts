import { connect, createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { Deadlines } from '../../lambdas/rohrpost/delivery/deadlines';

describe('Deadlines', () => {
  let clock = 0;
  const request = () => ({ destroy: jest.fn<void, [Error]>() });

  beforeEach(() => {
    jest.useFakeTimers();
    clock = 0;
  });
  afterEach(() => jest.useRealTimers());

  test('abandons what is still out after the timeout, and only that', () => {
    const deadlines = new Deadlines(1000, () => clock);
    const [slow, quick, later] = [request(), request(), request()];
    deadlines.start(slow);
    deadlines.start(quick);
    clock = 500;
    deadlines.start(later);
    deadlines.end(quick);

    clock = 1050;
    jest.advanceTimersByTime(1100);
    expect(slow.destroy).toHaveBeenCalledTimes(1);
    expect(slow.destroy).toHaveBeenCalledWith(new Error('No answer within 1000 ms'));
    expect(quick.destroy).not.toHaveBeenCalled();
    expect(later.destroy).not.toHaveBeenCalled();

    clock = 1550;
    jest.advanceTimersByTime(100);
    expect(later.destroy).toHaveBeenCalledTimes(1);
    expect(slow.destroy).toHaveBeenCalledTimes(1);
  });

  test('its one timer stops when nothing is in flight, and starts again with the next request', () => {
    const deadlines = new Deadlines(1000, () => clock);
    const first = request();
    deadlines.start(first);
    deadlines.start(request());
    expect(jest.getTimerCount()).toBe(1);
    deadlines.end(first);
    clock = 2000;
    jest.advanceTimersByTime(101);
    expect(jest.getTimerCount()).toBe(0);
    deadlines.start(request());
    expect(jest.getTimerCount()).toBe(1);
  });

  test.each([0, -5, NaN])('refuses the timeout %p', (timeoutMs) => {
    expect(() => new Deadlines(timeoutMs)).toThrow(RangeError);
  });
});

describe('Deadlines on a thread that could not run', () => {
  test('an answer that came meanwhile is read before anything is abandoned', async () => {
    const server = createServer((socket) => socket.end('answer'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const deadlines = new Deadlines(20);
      const destroyed: Error[] = [];
      const socket = connect((server.address() as AddressInfo).port, '127.0.0.1');
      const request = { destroy: (error: Error) => (destroyed.push(error), socket.destroy()) };
      const answered = new Promise<void>((resolve) => {
        socket.once('data', () => {
          deadlines.end(request);
          resolve();
        });
        socket.once('close', () => resolve());
      });
      await new Promise<void>((resolve) => socket.once('connect', resolve));
      deadlines.start(request);
      // The thread busy well past the deadline, while the answer arrives.
      const busyUntil = performance.now() + 200;
      while (performance.now() < busyUntil);
      await answered;
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(destroyed).toEqual([]);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
