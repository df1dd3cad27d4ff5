/**
 * `GET /api/events` (reference 3.11): llama-swap's server-sent events for its web UI, plus
 * our `state` message (the `/api/state` snapshot, whenever it changes). What is sent comes
 * from the {@link EventHub}; this is the HTTP side: headers, and the stream's end when the
 * client leaves or the server shuts down.
 */
import type { AppDeps } from './deps.ts';
import { EventHub } from './event-hub.ts';
import { RouteList } from './route-list.ts';
import { SseClient } from './sse-client.ts';

export function eventsRoutes(deps: AppDeps): RouteList {
  const r = new RouteList();
  const hub = new EventHub(deps);

  r.get('/api/events', (req, res) => {
    res.status(200);
    res.setHeader('Content-Type', 'text/event-stream');
    res.setHeader('Cache-Control', 'no-cache');
    res.setHeader('Connection', 'keep-alive');
    res.setHeader('X-Content-Type-Options', 'nosniff');
    // nginx and friends buffer the stream unless told not to.
    res.setHeader('X-Accel-Buffering', 'no');
    if (req.method === 'HEAD') return void res.end();
    res.flushHeaders();

    const client = new SseClient(res, (m) => deps.logs.logger.warn(m));
    let open = true;
    const end = () => {
      if (!open) return;
      open = false;
      unregister();
      hub.remove(client);
      if (!res.writableEnded) res.end();
    };
    const unregister = deps.streams.add(end);
    res.on('close', end);
    hub.add(client);
  });

  return r;
}
