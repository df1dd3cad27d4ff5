#!/usr/bin/env node
// @ts-check
// A test upstream that shows what swapstate forwarded: `GET /health` answers 200, every other
// request is answered 200 with JSON `{id, method, url, headers, body, bodyBase64, length}`,
// where `body` is the raw request body as UTF-8 and `bodyBase64` its exact bytes.
// Logs `<id> <METHOD> <url>` (query included) to stdout for every request.
// Usage: node echo-upstream.mjs --port <port> --id <id>
import http from 'node:http';

/** @param {string} name @returns {string | undefined} */
function arg(name) {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? undefined : process.argv[i + 1];
}

const port = Number(arg('port'));
const id = arg('id') ?? 'echo';
if (!Number.isInteger(port) || port <= 0) {
  process.stderr.write('echo-upstream: --port is required\n');
  process.exit(2);
}
process.stdout.on('error', () => {});

const server = http.createServer((req, res) => {
  process.stdout.write(`${id} ${req.method} ${req.url}\n`);
  if (req.method === 'GET' && req.url === '/health') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"status":"ok"}');
    return;
  }
  /** @type {Buffer[]} */
  const parts = [];
  req.on('data', (c) => parts.push(c));
  req.on('end', () => {
    const raw = Buffer.concat(parts);
    const out = JSON.stringify({
      id,
      method: req.method,
      url: req.url,
      headers: req.headers,
      body: raw.toString('utf8'),
      bodyBase64: raw.toString('base64'),
      length: raw.length,
    });
    res.writeHead(200, { 'content-type': 'application/json', 'x-echo-upstream': id });
    res.end(out);
  });
});

server.on('error', (err) => {
  process.stderr.write(`${id} server error: ${err.message}\n`);
  process.exit(1);
});
server.listen(port, '127.0.0.1', () => process.stdout.write(`echo ${id} listening on ${port} pid ${process.pid}\n`));

const stop = () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
  setTimeout(() => process.exit(0), 500).unref();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
