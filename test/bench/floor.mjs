/**
 * "The floor" of the performance targets: a pass-through proxy that does nothing but forward
 * (keep-alive agent, request and response piped, no body parsing, no routing, no logging).
 * The bench runs it with swapstate's own Node flags against the same upstream, so its CPU
 * per request and added latency show what any Node proxy pays on this machine.
 * `node test/bench/floor.mjs <listen port> <upstream port> [<listen port> <upstream port>]...`:
 * one process, each listen port forwarding to its upstream (the burst row's floor carries a
 * burst on one pair and streams on another, as swapstate carries both).
 */
import http from 'node:http';

const ports = process.argv.slice(2);
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
let listening = 0;

for (let i = 0; i + 1 < ports.length; i += 2) serve(Number(ports[i]), Number(ports[i + 1]));

/** @param {number} port @param {number} upstreamPort */
function serve(port, upstreamPort) {
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
    .listen(port, '127.0.0.1', () => {
      if (++listening === ports.length >> 1) process.stdout.write('listening\n');
    });
}
