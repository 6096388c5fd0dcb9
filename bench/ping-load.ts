/**
 * Closed-loop ping load: N connections, each sending a ping and waiting for its pong before the
 * next. Counts lost and mismatched replies and measures round trips. Runs against any rohrpost
 * endpoint, the sandbox or a deployed stage:
 *
 *   node --import tsx bench/ping-load.ts ws://localhost:3001 [connections] [pings]
 */
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';

export interface PingLoadResult {
  connections: number;
  pingsPerConnection: number;
  sent: number;
  answered: number;
  mismatched: number;
  lost: number;
  wallMilliseconds: number;
  roundTripsMilliseconds: number[];
}

const REPLY_TIMEOUT_MS = 10_000;
const OPEN_TIMEOUT_MS = 10_000;
/** How often the load reports its progress on standard error, for a caller whose deadline passes. */
const PROGRESS_INTERVAL_MS = 1_000;

async function runPingLoad(url: string, connections: number, pings: number): Promise<PingLoadResult> {
  const sockets = await Promise.all(Array.from({ length: connections }, () => open(url)));
  const roundTrips: number[] = [];
  let answered = 0;
  let mismatched = 0;
  let lost = 0;
  const started = performance.now();
  const progress = setInterval(() => {
    const done = answered + mismatched + lost;
    process.stderr.write(`${done} of ${connections * pings} pings answered or lost\n`);
  }, PROGRESS_INTERVAL_MS);
  await Promise.all(
    sockets.map(async (socket, connection) => {
      for (let i = 0; i < pings; i++) {
        // From 1: the Python original leaves a falsy id (0) out of its reply.
        const id = connection * pings + i + 1;
        const sentAt = performance.now();
        const reply = await ask(socket, JSON.stringify({ id, type: 'ping', data: { n: i } }));
        if (reply === undefined) {
          lost++;
          continue;
        }
        roundTrips.push(performance.now() - sentAt);
        const parsed = JSON.parse(reply) as { id?: unknown; type?: unknown; data?: { n?: unknown } };
        if (parsed.id === id && parsed.type === 'pong' && parsed.data?.n === i) answered++;
        else mismatched++;
      }
    }),
  );
  const wallMilliseconds = performance.now() - started;
  clearInterval(progress);
  await Promise.all(
    sockets.map((socket) => new Promise((resolve) => (socket.once('close', resolve), socket.close()))),
  );
  return {
    connections,
    pingsPerConnection: pings,
    sent: connections * pings,
    answered,
    mismatched,
    lost,
    wallMilliseconds,
    roundTripsMilliseconds: roundTrips,
  };
}

function open(url: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, { handshakeTimeout: OPEN_TIMEOUT_MS });
    socket.once('open', () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Sends one frame and waits for the next one; `undefined` when none comes in time. */
function ask(socket: WebSocket, frame: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      socket.off('message', onMessage);
      resolve(undefined);
    }, REPLY_TIMEOUT_MS);
    const onMessage = (data: Buffer) => {
      clearTimeout(timer);
      resolve(data.toString());
    };
    socket.once('message', onMessage);
    socket.send(frame);
  });
}

if (require.main === module) {
  const [url = 'ws://localhost:3001', connections = '50', pings = '200'] = process.argv.slice(2);
  void runPingLoad(url, Number(connections), Number(pings)).then((result) =>
    process.stdout.write(`${JSON.stringify(result)}\n`),
  );
}
