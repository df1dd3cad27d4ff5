/**
 * "The floor" of the performance targets: a pass-through proxy that does nothing but forward
 * (keep-alive agent, request and response piped, no body parsing, no routing, no logging).
 * The bench runs it with swapstate's own Node flags against the same upstream, so its CPU
 * per request and added latency show what any Node proxy pays on this machine.
 * `node test/bench/floor.mjs <listen port> <upstream port>`.
 */
import http from 'node:http';

const [port, upstreamPort] = process.argv.slice(2).map(Number);
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

http
  .createServer((req, res) => {
    // The client's Connection is its own hop's: passed on (a stream client's `close`), it made
    // the upstream close a socket this agent would reuse, and the next request on it got 400.
    const headers = req.headers;
    delete headers.connection;
    const up = http.request(
      { host: '127.0.0.1', port: upstreamPort, method: req.method, path: req.url, headers, agent },
      (upRes) => {
        res.writeHead(upRes.statusCode ?? 502, upRes.headers);
        upRes.pipe(res);
      },
    );
    up.on('error', () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    res.on('close', () => {
      if (!res.writableFinished) up.destroy();
    });
    req.pipe(up);
  })
  .listen(port, '127.0.0.1', () => process.stdout.write('listening\n'));
