/**
 * Bench child: the baseline. A bare node:http server that answers every request with the bytes
 * and headers captured from the gateway (--body FILE, --headers JSON-FILE). Keep-alive matches
 * Fastify's default (72 s) so both servers hold connections the same way.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { announce, flags, onShutdown, required } from './lifecycle.ts';

const args = flags();
const body = readFileSync(required(args, 'body'));
const headers = JSON.parse(readFileSync(required(args, 'headers'), 'utf8')) as Record<string, string>;
headers['content-length'] = String(body.length);

const server = createServer((req, res) => {
  req.resume();
  res.writeHead(200, headers);
  res.end(body);
});
server.keepAliveTimeout = 72_000;
await new Promise<void>((ready) => server.listen(0, '127.0.0.1', ready));
onShutdown(
  () =>
    new Promise<void>((done) => {
      server.close(() => done());
      server.closeAllConnections();
    }),
);
announce({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` });
