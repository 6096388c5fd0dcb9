import { consoleReporter } from '../../sandbox/console-reporter';

describe("the sandbox's console log", () => {
  function log(quiet: boolean) {
    const lines: string[] = [];
    const reporter = consoleReporter({ quiet, color: false, write: (line) => lines.push(line.slice(13)) });
    return { lines, reporter };
  }

  test('says when an idle function instance is shut down, and after how long', () => {
    const { lines, reporter } = log(false);
    reporter.reaped('websocket', 3, 600_000);
    reporter.reaped('notifications', 1, 45_400);
    expect(lines).toEqual([
      'λ websocket: instance 3 shut down after 10 min idle',
      'λ notifications: instance 1 shut down after 45 s idle',
    ]);
  });

  test('not when quiet', () => {
    const { lines, reporter } = log(true);
    reporter.reaped('websocket', 3, 600_000);
    expect(lines).toEqual([]);
  });
});
