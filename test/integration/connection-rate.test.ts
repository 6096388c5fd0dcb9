import { useFixtureSandbox } from '../support/fixture-sandbox';
import { HandshakeRefused, TestSocket } from '../support/socket';

describe('a reconnect storm against the sandbox', () => {
  const fixture = useFixtureSandbox({ limits: { newConnectionsPerSecond: 5 } });

  test('handshakes over the quota are refused with 429, as API Gateway refuses them, and $connect never runs', async () => {
    const attempts = await Promise.allSettled(
      Array.from({ length: 8 }, () => TestSocket.open(fixture.sandbox.websocketUrl)),
    );
    const opened = attempts.flatMap((attempt) => (attempt.status === 'fulfilled' ? [attempt.value] : []));
    const refused = attempts.flatMap((attempt) =>
      attempt.status === 'rejected' ? [attempt.reason as unknown] : [],
    );
    expect(opened).toHaveLength(5);
    expect(refused).toEqual([0, 0, 0].map(() => new HandshakeRefused(429)));
    expect(fixture.reporter.lines.filter((line) => line.startsWith('invoked $connect'))).toHaveLength(5);
    expect(fixture.reporter.lines).toContain('refused 429 over 5 new connections a second');

    await new Promise((resolve) => setTimeout(resolve, 250)); // a token and a quarter
    const later = await TestSocket.open(fixture.sandbox.websocketUrl);
    expect(await later.ask({ id: 1, type: 'ping' })).toBe('{"id":1,"type":"pong"}');
    await Promise.all([...opened, later].map((socket) => socket.close()));
  });
});
