import type { Server } from 'node:http';
import { performance } from 'node:perf_hooks';
import { useFixtureSandbox } from '../support/fixture-sandbox';
import { WAIT_GUARD_MS } from '../support/hang-guard';
import { HandshakeRefused, TestSocket } from '../support/socket';

const PER_SECOND = 5;
const BURST = 8;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('a reconnect storm against the sandbox', () => {
  const fixture = useFixtureSandbox({ limits: { newConnectionsPerSecond: PER_SECOND } });

  test('handshakes over the quota are refused with 429, as API Gateway refuses them, and $connect never runs', async () => {
    // When each handshake reached the gateway, seen just before it takes a token. A burst shows the
    // quota exactly only if all of it arrived within one token's refill (200 ms), which a busy
    // machine does not promise: a burst that took longer is tried again once the bucket is full.
    const server = (fixture.sandbox.gateway as unknown as { server?: Server }).server;
    if (!server) throw new Error("The test watches the gateway's HTTP server: where has it gone?");
    let arrivals: number[] = [];
    server.prependListener('upgrade', () => arrivals.push(performance.now()));
    const connects = () =>
      fixture.reporter.lines.filter((line) => line.startsWith('invoked $connect')).length;

    const giveUpAt = Date.now() + WAIT_GUARD_MS;
    for (;;) {
      arrivals = [];
      const connectsBefore = connects();
      const attempts = await Promise.allSettled(
        Array.from({ length: BURST }, () => TestSocket.open(fixture.sandbox.websocketUrl)),
      );
      const opened = attempts.flatMap((attempt) => (attempt.status === 'fulfilled' ? [attempt.value] : []));
      if (Math.max(...arrivals) - Math.min(...arrivals) >= 1000 / PER_SECOND) {
        await Promise.all(opened.map((socket) => socket.close()));
        if (Date.now() > giveUpAt) throw new Error(`No burst of ${BURST} handshakes arrived within 200 ms.`);
        await sleep(1000); // the bucket is full again
        continue;
      }

      const refused = attempts.flatMap((attempt) =>
        attempt.status === 'rejected' ? [attempt.reason as unknown] : [],
      );
      expect(arrivals).toHaveLength(BURST);
      expect(opened).toHaveLength(PER_SECOND);
      expect(refused).toEqual([0, 0, 0].map(() => new HandshakeRefused(429)));
      expect(connects() - connectsBefore).toBe(PER_SECOND);
      expect(fixture.reporter.lines).toContain('refused 429 over 5 new connections a second');

      await sleep(250); // a token and a quarter, at least, since the last handshake took none
      const later = await TestSocket.open(fixture.sandbox.websocketUrl);
      expect(await later.ask({ id: 1, type: 'ping' })).toBe('{"id":1,"type":"pong"}');
      await Promise.all([...opened, later].map((socket) => socket.close()));
      return;
    }
  });
});
