// @ts-nocheck -- browser code: the project's tsconfig type-checks src/ with Node's libs only.
/**
 * Live data: the `/api/events` SSE stream (llama-swap's format: each frame is
 * `{type, data}` with `data` a JSON string, so it is parsed twice). If the stream cannot be
 * opened at all (an older server without it), falls back to polling `/api/state` and
 * `/v1/models` every second, which is enough to show states, queue and swaps.
 */

/**
 * @param handlers {Record<string, (data) => void>} by event type (modelStatus, logData,
 *   inflight, state, uiConfig), plus `listing` for the polled /v1/models records
 * @param onMode {(mode: 'connecting'|'live'|'polling') => void}
 */
export function connect(handlers, onMode) {
  const dispatch = (type, data) => {
    try {
      handlers[type]?.(data);
    } catch (err) {
      console.error(`swapstate ui: ${type} handler failed`, err);
    }
  };

  const es = new EventSource('/api/events');
  onMode('connecting');
  es.addEventListener('open', () => onMode('live'));
  es.addEventListener('message', (e) => {
    const msg = JSON.parse(e.data);
    dispatch(msg.type, typeof msg.data === 'string' ? JSON.parse(msg.data) : msg.data);
  });
  // While the connection drops and retries, readyState is CONNECTING and the browser
  // reconnects by itself. CLOSED means it was refused (404, not event-stream): poll instead.
  es.addEventListener('error', () => {
    if (es.readyState === EventSource.CLOSED) startPolling();
    else onMode('connecting');
  });

  let polling = false;
  function startPolling() {
    if (polling) return;
    polling = true;
    onMode('polling');
    const tick = async () => {
      try {
        const [state, models] = await Promise.all([
          fetch('/api/state').then((r) => r.json()),
          // Marked as the UI's own, so the access log writes it at DEBUG (access-log.ts).
          fetch('/v1/models?from=ui').then((r) => r.json()),
        ]);
        dispatch('listing', models.data ?? []);
        dispatch('state', state);
      } catch {
        /* server away: try again next second */
      }
      setTimeout(tick, 1000);
    };
    tick();
  }
}
