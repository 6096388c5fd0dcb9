/**
 * A stand-in for API Gateway's management API for benchmarks, in its own process: the
 * sandbox's @connections routes, where every connection takes every message, answered after
 * an optional delay (argument 1, in ms) that stands for the network round trip to API Gateway.
 * Prints the port it listens on, then serves until killed.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serveManagementApi } from '../sandbox/management-api';

const everyoneListens = {
  send: () => true,
  close: () => true,
  info: () => ({ connectedAt: 0, lastActiveAt: 0, sourceIp: '127.0.0.1' }),
};
// Signatures are not checked here (the tests do that): the floor posts unsigned, and a check
// would add the endpoint's CPU to every figure.
const signatures = { verify: () => Promise.resolve(undefined) };
const roundTripMs = Number(process.argv[2] ?? 0);
const serve = (request: IncomingMessage, response: ServerResponse) => {
  if (!serveManagementApi(request, response, everyoneListens, signatures)) response.writeHead(404).end();
};
const server = createServer((request, response) => {
  if (roundTripMs > 0) setTimeout(serve, roundTripMs, request, response);
  else serve(request, response);
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => process.stdout.write(`${(server.address() as AddressInfo).port}\n`));
