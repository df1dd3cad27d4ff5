/**
 * `npm run inspector [-- --port 8090]`: a local relay for `--inspect ws://127.0.0.1:<port>`.
 * It is @statelyai/inspect's inspector server: a WebSocket endpoint that swapstate connects
 * to, and a page at http://127.0.0.1:<port> that shows the actor tree in the Stately
 * inspector (the page embeds stately.ai/inspect, so the browser needs internet).
 */
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { port: { type: 'string', default: '8090' } } });
const port = Number(values.port);
const { createInspectorServer } = await import('@statelyai/inspect/server');
const server = createInspectorServer({ port, autoOpen: false });
process.stdout.write(
  `inspector relay on ws://127.0.0.1:${port}; open http://127.0.0.1:${port} in a browser,\n` +
    `then start swapstate with --inspect ws://127.0.0.1:${port}\n`,
);
const stop = () => {
  server.stop();
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
