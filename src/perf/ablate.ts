/**
 * A benchmark tool, not a feature: `SWAPSTATE_ABLATE=accesslog,inflight,...` switches parts
 * of a model request's path off, so that test/bench/hot-path.ts can measure what each one
 * costs per request (docs/perf/issue16-ablation.md). Read once at startup; with the variable
 * unset (always, outside a bench) every switch is a constant `false` the request path checks
 * in one property read. A switched-off part is simply skipped: the server then misses that
 * part's output (log lines, metrics, rows), which is the point of the measurement.
 *
 * - `accesslog`: no access log line (front.ts).
 * - `inflight`: no in-flight tracker entry (serve-model.ts).
 * - `activity`: no activity row and no response tap (model-routes.ts).
 * - `metrics`: no Prometheus request metrics (serve-model.ts).
 * - `scheduler`: a ready model's request skips the scheduler's ticket (no REQUEST, grant,
 *   SERVE_DONE); a model that is not serving still goes through it.
 * - `proxy`: a bare `http.request` + `pipe` forward with none of the proxy's behaviours
 *   (headers, errors, aborts, SSE) instead of the real forward path.
 * - `extract`: the body is read but not parsed for its model: the first configured model.
 * - `bytes`: no response byte counter (the access log says 0 bytes, no TTFB).
 * - `trim`: no idle memory trim (server.ts). Not on the request path: the bench's before and
 *   after for RSS once a load has ended.
 */
const KNOWN = ['accesslog', 'inflight', 'activity', 'metrics', 'scheduler', 'proxy', 'extract', 'bytes', 'trim'] as const;

export type Ablation = (typeof KNOWN)[number];

function read(): Readonly<Record<Ablation, boolean>> {
  const asked = new Set(
    (process.env.SWAPSTATE_ABLATE ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== ''),
  );
  const flags = Object.fromEntries(KNOWN.map((k) => [k, asked.has(k)])) as Record<Ablation, boolean>;
  for (const name of asked) if (!(KNOWN as readonly string[]).includes(name)) throw new Error(`SWAPSTATE_ABLATE: unknown part "${name}" (known: ${KNOWN.join(', ')})`);
  if (asked.size > 0) process.emitWarning(`SWAPSTATE_ABLATE=${[...asked].join(',')}: benchmark mode, these parts are switched off`);
  return Object.freeze(flags);
}

/** The parts switched off for a benchmark; all false in normal use. */
export const ABLATED = read();
