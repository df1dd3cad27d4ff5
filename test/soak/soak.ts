/**
 * Soak run: the real swapstate CLI under a seeded random load for N minutes.
 *
 *   npm run soak -- --minutes N [--clients 16] [--seed S] [--deadline-ms 60000] [--keep]
 *
 * It writes a config of five demo-upstream models (a `swap: true` chat group of three with
 * different load delays, one of them with a TTL; a persistent embeddings model; a flaky model
 * that crashes while starting or a few seconds after it became ready), starts
 * `node --import tsx src/main.ts` in its own process group with an environment marker that
 * every model server inherits, and runs C clients that send a mix of chat (plain, streamed,
 * slow), requests they abort at a random point, embeddings, flaky-model requests, model
 * listings and unloads. Meanwhile `GET /running` is sampled every 250 ms.
 *
 * Invariants (any breach exits 1):
 * - hung 0: every request has a client-side deadline; one that got no complete answer by then;
 * - lost 0: every request's promise settled by the end of the run;
 * - unexpected 0: every answer is a valid 2xx from the right model, or a failure with a
 *   reason (see `explain`): 429, anything from the flaky model, or a 500/502/cut stream of a
 *   model that a concurrent unload covered;
 * - groupViolations 0: at no `/running` sample are two members of the swap group resident
 *   (starting, ready or stopping) at once: a swap stops its evictees before it starts its
 *   target, and swaps touching the same models never run side by side;
 * - every swap swapstate logged evicted exactly what the group policy says (`checkEvictions`),
 *   and its log shows no actor failure, watchdog expiry or uncaught error;
 * - after the run one request per steady model succeeds, `/health` is 200, SIGTERM exits 0,
 *   and no process carrying the marker is alive afterwards (orphans 0).
 *
 * Prints a table and one JSON line (the summary). When something failed it keeps the run's
 * directory: config.yaml, swapstate.log, and hang-N.txt (`/running` and every model's
 * upstream log, taken when each of the first three requests hit its deadline).
 */
import { spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { randomUUID } from 'node:crypto';
import { MAIN, markedProcesses, ROOT, UPSTREAM } from '../cli/cli-harness.ts';
import { freePort, freePortBlock } from '../helpers/real-upstreams.ts';
import { mulberry32 } from '../helpers/seeded-random.ts';

/** The environment variable test/cli/cli-harness.ts's `markedProcesses` looks for. */
export const MARKER_ENV = 'SWAPSTATE_CLI_MARKER';
const FLAKY_UPSTREAM = fileURLToPath(new URL('./flaky-upstream.mjs', import.meta.url));

export const SWAP_GROUP = ['chat-a', 'chat-b', 'chat-c'] as const;
export const FLAKY = 'flaky';
export const EMBED = 'embed';
const ALL_MODELS = [...SWAP_GROUP, EMBED, FLAKY];

export interface SoakOptions {
  /** Length of the load phase. */
  durationMs: number;
  clients: number;
  seed: number;
  /** Client-side deadline of every request (default 60 s). */
  deadlineMs?: number;
  /** Progress lines (default: stderr). */
  log?: (line: string) => void;
  /** Keep the run's directory even when it passed. */
  keep?: boolean;
}

export interface Rss {
  start: number;
  warm: number;
  end: number;
  max: number;
}

export interface SoakSummary {
  requests: number;
  ok: number;
  hung: number;
  lost: number;
  groupViolations: number;
  orphans: number;
  rssKb: Rss;
  aborted: number;
  networkErrors: number;
  byStatus: Record<string, number>;
  expectedFailures: number;
  unexpected: number;
  weakGroupViolations: number;
  samples: number;
  sampleErrors: number;
  unloads: number;
  probeFailures: number;
  /** Swaps swapstate logged, and those whose evictions differ from the group policy. */
  swaps: number;
  policyViolations: number;
  logAnomalies: number;
  exitCode: number | null;
  exitSignal: string | null;
  latencyMs: { p50: number; p99: number; max: number };
  clients: number;
  seed: number;
  durationS: number;
  passed: boolean;
}

export interface SoakResult {
  summary: SoakSummary;
  /** Why the run failed; empty when it passed. */
  failures: string[];
  /** Up to 40 unexpected outcomes, described. */
  unexpectedExamples: string[];
  /** Up to 20 group-violation samples. */
  violationExamples: string[];
  /** Per-model outcome table, printed by the CLI. */
  table: string;
  dir: string;
  marker: string;
}

// ---------------------------------------------------------------------------------------
// Seeded randomness
// ---------------------------------------------------------------------------------------

type Rng = () => number;
const randInt = (rng: Rng, lo: number, hi: number) => lo + Math.floor(rng() * (hi - lo + 1));
function weighted<T extends string>(rng: Rng, table: ReadonlyArray<readonly [T, number]>): T {
  const total = table.reduce((s, [, w]) => s + w, 0);
  let x = rng() * total;
  for (const [v, w] of table) {
    x -= w;
    if (x < 0) return v;
  }
  return table[table.length - 1]![0];
}

// ---------------------------------------------------------------------------------------
// Processes
// ---------------------------------------------------------------------------------------

/** Markers of runs started by this process, for {@link killAllSoakRuns}. */
const liveMarkers = new Set<string>();

/** SIGKILLs every process carrying `marker` (swapstate and every model server it started). */
export function killMarked(marker: string): number {
  let n = 0;
  for (const p of markedProcesses(marker)) {
    try {
      process.kill(p.pid, 'SIGKILL');
      n++;
    } catch {
      /* gone meanwhile */
    }
  }
  return n;
}

/** Safety net (vitest afterAll, SIGINT): kills what every run of this process started. */
export function killAllSoakRuns(): void {
  for (const m of liveMarkers) killMarked(m);
  liveMarkers.clear();
}

function vmRssKb(pid: number): number {
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'latin1'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** Quotes one word for a llama-swap `cmd` line (POSIX shell words, no shell). */
function word(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

function configYaml(startPort: number): string {
  const node = word(process.execPath);
  const up = word(UPSTREAM);
  const model = (id: string, cmd: string, extra: string[] = []) =>
    [`  ${id}:`, `    cmd: ${cmd}`, '    proxy: http://127.0.0.1:${PORT}', ...extra.map((l) => `    ${l}`)].join('\n');
  return [
    '# written by test/soak/soak.ts',
    'healthCheckTimeout: 15',
    'logLevel: info',
    'logTimeFormat: stampmilli',
    `startPort: ${startPort}`,
    'unloadTimeout: 5',
    'models:',
    model('chat-a', `${node} ${up} --port \${PORT} --id chat-a --load-delay 100`),
    model('chat-b', `${node} ${up} --port \${PORT} --id chat-b --load-delay 600`),
    model('chat-c', `${node} ${up} --port \${PORT} --id chat-c --load-delay 1500`, ['ttl: 4']),
    model(EMBED, `${node} ${up} --port \${PORT} --id embed --load-delay 200`),
    model(FLAKY, `${node} ${word(FLAKY_UPSTREAM)} --p-start-crash 0.25 --port \${PORT} --id flaky --load-delay 300`),
    'groups:',
    '  chat:',
    '    swap: true',
    '    exclusive: true',
    `    members: [${SWAP_GROUP.join(', ')}]`,
    '  embeddings:',
    '    swap: false',
    '    exclusive: false',
    '    persistent: true',
    `    members: [${EMBED}]`,
    '  flaky:',
    '    swap: false',
    '    exclusive: false',
    `    members: [${FLAKY}]`,
    '',
  ].join('\n');
}

// ---------------------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------------------

type Kind = 'chat' | 'stream' | 'slow' | 'abort' | 'embed' | 'flaky' | 'models' | 'unload-one' | 'unload-all';

const MIX: ReadonlyArray<readonly [Kind, number]> = [
  ['chat', 24],
  ['stream', 20],
  ['slow', 8],
  ['abort', 10],
  ['embed', 14],
  ['flaky', 14],
  ['models', 3],
  ['unload-one', 0.6],
  ['unload-all', 0.25],
];
const CHAT_MIX: ReadonlyArray<readonly [string, number]> = [
  ['chat-a', 40],
  ['chat-b', 35],
  ['chat-c', 25],
];

type Outcome = 'ok' | 'http' | 'bad' | 'aborted' | 'hung' | 'network';

interface Done {
  id: number;
  kind: Kind;
  /** The model the request is for; for unload-one its target; null for the rest. */
  model: string | null;
  t0: number;
  t1: number;
  outcome: Outcome;
  status: number | null;
  detail: string;
}

interface Unload {
  target: string | null;
  t0: number;
  t1: number;
}

interface Plan {
  kind: Kind;
  model: string | null;
  method: 'GET' | 'POST';
  path: string;
  body?: Record<string, unknown>;
  /** Abort ourselves this long after sending. */
  abortAfterMs?: number;
  /** Validates a 2xx body; returns why it is wrong, or null. */
  check(text: string): string | null;
}

const messages = (id: number) => [{ role: 'user', content: `soak request ${id}` }];

function checkChat(model: string) {
  return (text: string): string | null => {
    let j: { model?: unknown; choices?: Array<{ message?: { content?: unknown } }> };
    try {
      j = JSON.parse(text) as typeof j;
    } catch {
      return `unparsable body ${JSON.stringify(text.slice(0, 120))}`;
    }
    if (j.model !== model) return `answered by ${String(j.model)}`;
    const content = j.choices?.[0]?.message?.content;
    if (typeof content !== 'string' || !content.startsWith(`Hello from ${model}.`)) return `bad content ${JSON.stringify(content)}`;
    return null;
  };
}

function checkStream(model: string, chunks: number) {
  return (text: string): string | null => {
    const data = text
      .split('\n')
      .filter((l) => l.startsWith('data: '))
      .map((l) => l.slice(6));
    if (data[data.length - 1] !== '[DONE]') return `stream ended without [DONE] after ${data.length} events`;
    const events = data.slice(0, -1);
    if (events.length !== chunks) return `stream had ${events.length} chunks, asked ${chunks}`;
    for (const e of events) {
      let j: { model?: unknown };
      try {
        j = JSON.parse(e) as typeof j;
      } catch {
        return `unparsable chunk ${JSON.stringify(e.slice(0, 120))}`;
      }
      if (j.model !== model) return `chunk from ${String(j.model)}`;
    }
    return null;
  };
}

function checkEmbed(inputs: number) {
  return (text: string): string | null => {
    let j: { model?: unknown; data?: Array<{ embedding?: unknown[] }> };
    try {
      j = JSON.parse(text) as typeof j;
    } catch {
      return `unparsable body ${JSON.stringify(text.slice(0, 120))}`;
    }
    if (j.model !== EMBED) return `answered by ${String(j.model)}`;
    if (j.data?.length !== inputs || !j.data.every((d) => d.embedding?.length === 8)) return 'bad embeddings';
    return null;
  };
}

function plan(rng: Rng, id: number): Plan {
  const kind = weighted(rng, MIX);
  const chatModel = () => weighted(rng, CHAT_MIX);
  const chatPlan = (model: string, mode: 'plain' | 'stream' | 'slow'): Plan => {
    if (mode === 'stream') {
      // The flaky model's streams are long (0.2 to 3.6 s) so that its crashes often cut one.
      const chunks = model === FLAKY ? randInt(rng, 10, 60) : randInt(rng, 1, 30);
      const delay = model === FLAKY ? randInt(rng, 20, 60) : randInt(rng, 0, 40);
      return {
        kind,
        model,
        method: 'POST',
        path: '/v1/chat/completions',
        body: { model, stream: true, chunks, chunk_delay_ms: delay, messages: messages(id) },
        check: checkStream(model, chunks),
      };
    }
    const body: Record<string, unknown> = { model, messages: messages(id) };
    if (mode === 'slow') body['delay_ms'] = randInt(rng, 300, 4_000);
    return { kind, model, method: 'POST', path: '/v1/chat/completions', body, check: checkChat(model) };
  };
  switch (kind) {
    case 'chat':
      return chatPlan(chatModel(), 'plain');
    case 'stream':
      return chatPlan(chatModel(), 'stream');
    case 'slow':
      return chatPlan(chatModel(), 'slow');
    case 'abort': {
      const mode = weighted(rng, [['plain', 1], ['stream', 2], ['slow', 2]] as const);
      return { ...chatPlan(chatModel(), mode), abortAfterMs: randInt(rng, 0, 2_500) };
    }
    case 'flaky':
      return chatPlan(FLAKY, rng() < 0.5 ? 'plain' : 'stream');
    case 'embed': {
      const inputs = randInt(rng, 1, 4);
      return {
        kind,
        model: EMBED,
        method: 'POST',
        path: '/v1/embeddings',
        body: { model: EMBED, input: Array.from({ length: inputs }, (_, i) => `soak ${id} input ${i}`) },
        check: checkEmbed(inputs),
      };
    }
    case 'models':
      return {
        kind,
        model: null,
        method: 'GET',
        path: '/v1/models',
        check: (text) => {
          try {
            const ids = (JSON.parse(text) as { data: Array<{ id: string }> }).data.map((m) => m.id).sort();
            return ids.join() === [...ALL_MODELS].sort().join() ? null : `listed ${ids.join()}`;
          } catch {
            return 'unparsable model list';
          }
        },
      };
    case 'unload-one': {
      const model = ALL_MODELS[randInt(rng, 0, ALL_MODELS.length - 1)]!;
      return { kind, model, method: 'POST', path: `/api/models/unload/${model}`, check: (t) => (t === 'OK' ? null : `body ${t}`) };
    }
    case 'unload-all':
      return {
        kind,
        model: null,
        method: 'POST',
        path: '/api/models/unload',
        check: (t) => (t.includes('"ok"') ? null : `body ${t}`),
      };
  }
}

/** Sends one planned request with the deadline; always settles. */
async function send(base: string, p: Plan, id: number, deadlineMs: number, onDeadline?: () => void): Promise<Done> {
  const t0 = Date.now();
  const ac = new AbortController();
  let why: 'deadline' | 'ours' | null = null;
  const deadline = setTimeout(() => {
    if (why === null) onDeadline?.();
    why ??= 'deadline';
    ac.abort();
  }, deadlineMs);
  const ours =
    p.abortAfterMs === undefined
      ? undefined
      : setTimeout(() => {
          why ??= 'ours';
          ac.abort();
        }, p.abortAfterMs);
  const done = (outcome: Outcome, status: number | null, detail: string): Done => ({
    id,
    kind: p.kind,
    model: p.model,
    t0,
    t1: Date.now(),
    outcome,
    status,
    detail,
  });
  let status: number | null = null;
  try {
    const res = await fetch(base + p.path, {
      method: p.method,
      signal: ac.signal,
      ...(p.body ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(p.body) } : {}),
    });
    status = res.status;
    const text = await res.text();
    if (status >= 200 && status < 300) {
      const wrong = p.check(text);
      return wrong === null ? done('ok', status, '') : done('bad', status, wrong);
    }
    return done('http', status, text.slice(0, 200));
  } catch (err) {
    if (why === 'deadline') return done('hung', status, `no complete answer within ${deadlineMs} ms${status === null ? '' : ` (status ${status} received)`}`);
    if (why === 'ours') return done('aborted', status, '');
    const e = err as Error & { cause?: { code?: string; message?: string } };
    return done('network', status, `${e.message}${e.cause ? `: ${e.cause.code ?? ''} ${e.cause.message ?? ''}` : ''}`);
  } finally {
    clearTimeout(deadline);
    clearTimeout(ours);
  }
}

/**
 * Why an outcome is not acceptable, or null. Acceptable failures: 429 (concurrency limit);
 * anything from the flaky model (crash while starting: 500; while serving: 502 or a cut
 * stream; crash loop: 503 backoff); for the other models a 500 (e.g. "model unloaded"), 502 or
 * cut stream while an unload that covers the model ran (in-flight requests are not waited for).
 */
export function explain(d: Done, unloads: readonly Unload[]): string | null {
  if (d.outcome === 'ok' || d.outcome === 'aborted') return null;
  if (d.outcome === 'hung') return 'hung';
  if (d.status === 429) return null;
  if (d.kind === 'unload-one' || d.kind === 'unload-all' || d.kind === 'models') return 'management request failed';
  if (d.model === FLAKY) return null;
  const failedByUnload = d.outcome === 'network' || d.outcome === 'bad' || d.status === 500 || d.status === 502;
  const slack = 2_000;
  const covered = unloads.some(
    (u) => (u.target === null || u.target === d.model) && d.t0 <= u.t1 + slack && d.t1 >= u.t0 - slack,
  );
  if (failedByUnload && covered) return null;
  return covered ? 'status not explained by the concurrent unload' : 'no unload of this model ran meanwhile';
}

function describe(d: Done, why: string): string {
  const what = `${d.kind}${d.model ? ` ${d.model}` : ''}`;
  const st = d.status === null ? '' : ` ${d.status}`;
  return `#${d.id} ${what}:${st} ${d.outcome} after ${d.t1 - d.t0} ms (${why})${d.detail ? `: ${d.detail}` : ''}`;
}

// ---------------------------------------------------------------------------------------
// The run
// ---------------------------------------------------------------------------------------

interface RunningEntry {
  model: string;
  state: string;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export async function runSoak(opts: SoakOptions): Promise<SoakResult> {
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const deadlineMs = opts.deadlineMs ?? 60_000;
  const marker = `soak-${randomUUID()}`;
  liveMarkers.add(marker);
  const dir = mkdtempSync(join(tmpdir(), 'swapstate-soak-'));
  const failures: string[] = [];
  try {
    return await run();
  } catch (err) {
    failures.push(String(err)); // keeps the directory, whose log says why
    throw err;
  } finally {
    // Whatever happened above, nothing of this run may outlive it.
    killMarked(marker);
    liveMarkers.delete(marker);
    if (failures.length === 0 && !opts.keep) rmSync(dir, { recursive: true, force: true });
  }

  async function run(): Promise<SoakResult> {
    const startPort = await freePortBlock(ALL_MODELS.length);
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const configPath = join(dir, 'config.yaml');
    writeFileSync(configPath, configYaml(startPort));
    const outPath = join(dir, 'swapstate.log');
    const out = openSync(outPath, 'a');
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN, '--config', configPath, '--listen', `127.0.0.1:${port}`], {
      cwd: ROOT,
      detached: true,
      stdio: ['ignore', out, out],
      env: { ...process.env, [MARKER_ENV]: marker, SWAPSTATE_STATE_DIR: join(dir, 'state'), SOAK_SEED: String(opts.seed) },
    });
    closeSync(out);
    if (child.pid === undefined) throw new Error('failed to spawn swapstate');
    const pid = child.pid;
    let exit: { code: number | null; signal: string | null } | null = null;
    const exited = new Promise<void>((resolve) => {
      child.once('exit', (code, signal) => {
        exit = { code, signal };
        resolve();
      });
    });
    log(`soak: swapstate pid ${pid} on ${base}, ${opts.clients} clients, ${Math.round(opts.durationMs / 1000)} s, seed ${opts.seed}, dir ${dir}`);

    // Listening?
    const listenBy = Date.now() + 30_000;
    for (;;) {
      if (exit) throw new Error(`swapstate exited before listening (${JSON.stringify(exit)}); see ${outPath}`);
      try {
        const r = await fetch(`${base}/health`, { signal: AbortSignal.timeout(2_000) });
        await r.arrayBuffer();
        if (r.status === 200) break;
      } catch {
        /* not yet */
      }
      if (Date.now() > listenBy) throw new Error(`swapstate did not listen within 30 s; see ${outPath}`);
      await sleep(50);
    }

    const rss: Rss = { start: vmRssKb(pid), warm: 0, end: 0, max: 0 };
    rss.max = rss.start;
    const startedAt = Date.now();
    const endAt = startedAt + opts.durationMs;

    // --- /running sampler: the group invariant ---
    let samples = 0;
    let sampleErrors = 0;
    let groupViolations = 0;
    let weakGroupViolations = 0;
    const violationExamples: string[] = [];
    let sampling = true;
    const sampler = (async () => {
      let nextRss = Date.now();
      while (sampling) {
        const at = Date.now();
        try {
          const r = await fetch(`${base}/running`, { signal: AbortSignal.timeout(5_000) });
          const j = (await r.json()) as { running: RunningEntry[] };
          samples++;
          // Strict rule: at most one swap-group member resident (starting | ready | stopping).
          const members = j.running.filter((e) => (SWAP_GROUP as readonly string[]).includes(e.model) && e.state !== 'backoff');
          if (members.length > 1) {
            groupViolations++;
            if (members.filter((e) => e.state === 'ready').length > 1) weakGroupViolations++;
            if (violationExamples.length < 20) {
              violationExamples.push(`t+${at - startedAt} ms: ${members.map((e) => `${e.model}=${e.state}`).join(' ')}`);
            }
          }
        } catch {
          sampleErrors++;
        }
        if (Date.now() >= nextRss) {
          rss.max = Math.max(rss.max, vmRssKb(pid));
          nextRss = Date.now() + 2_000;
        }
        await sleep(Math.max(0, 250 - (Date.now() - at)));
      }
    })();
    const warmTimer = setTimeout(() => {
      rss.warm = vmRssKb(pid);
      log(`soak: warm-up over, RSS ${rss.warm} kB`);
    }, opts.durationMs * 0.1);

    // --- diagnostics: what swapstate looked like when a request hung (first three) ---
    const snapshots: Array<Promise<void>> = [];
    const snapshot = (why: string) => {
      if (snapshots.length >= 3) return;
      const n = snapshots.length + 1;
      snapshots.push(
        (async () => {
          const parts = [`${why}, t+${Date.now() - startedAt} ms`];
          try {
            const r = await fetch(`${base}/running`, { signal: AbortSignal.timeout(5_000) });
            parts.push(`GET /running: ${await r.text()}`);
          } catch (err) {
            parts.push(`GET /running failed: ${(err as Error).message}`);
          }
          for (const m of ALL_MODELS) parts.push(`--- ${m} upstream log (last 100 KiB) ---\n${await logHistory(base, m)}`);
          writeFileSync(join(dir, `hang-${n}.txt`), `${parts.join('\n')}\n`);
        })(),
      );
    };

    // --- clients ---
    let nextId = 0;
    const pending = new Map<number, { kind: Kind; model: string | null; t0: number }>();
    const done: Done[] = [];
    const unloads: Unload[] = [];
    const latencies: number[] = [];
    let okCount = 0;
    const progress = setInterval(() => {
      const hung = done.filter((d) => d.outcome === 'hung').length;
      log(
        `soak: t+${Math.round((Date.now() - startedAt) / 1000)} s: ${nextId} sent, ${okCount} ok, ${pending.size} pending, ` +
          `${hung} hung, ${groupViolations} group violations, RSS ${vmRssKb(pid)} kB`,
      );
    }, 10_000);
    const client = async (c: number) => {
      const rng = mulberry32((opts.seed * 0x9e3779b1 + c * 0x85ebca6b) >>> 0);
      while (Date.now() < endAt && !exit) {
        const id = nextId++;
        const p = plan(rng, id);
        pending.set(id, { kind: p.kind, model: p.model, t0: Date.now() });
        const d = await send(base, p, id, deadlineMs, () => snapshot(`request #${id} (${p.kind} ${p.model ?? ''}) hit its deadline`));
        pending.delete(id);
        if (d.kind === 'unload-one' || d.kind === 'unload-all') unloads.push({ target: d.model, t0: d.t0, t1: d.t1 });
        count(d);
        if (d.outcome === 'ok') {
          okCount++;
          if (d.kind !== 'unload-one' && d.kind !== 'unload-all') latencies.push(d.t1 - d.t0);
          if (d.status !== null) bump(d.status);
        } else {
          done.push(d);
          if (d.status !== null && d.outcome !== 'hung' && d.outcome !== 'aborted') bump(d.status);
        }
        await sleep(rng() * 30);
      }
    };
    const byStatus: Record<string, number> = {};
    const tally = new Map<string, Map<string, number>>();
    const count = (d: Done) => {
      const row = d.model !== null && d.kind !== 'unload-one' ? d.model : `(${d.kind})`;
      const col = d.outcome === 'ok' ? '2xx' : d.outcome === 'http' ? String(d.status) : d.outcome === 'bad' ? `bad${d.status}` : d.outcome;
      const r = tally.get(row) ?? new Map<string, number>();
      r.set('sent', (r.get('sent') ?? 0) + 1);
      r.set(col, (r.get(col) ?? 0) + 1);
      tally.set(row, r);
    };
    const bump = (s: number) => (byStatus[s] = (byStatus[s] ?? 0) + 1);
    // Per-model table rows.
    const clients = Promise.all(Array.from({ length: opts.clients }, (_, c) => client(c)));
    const settled = await Promise.race([clients.then(() => true), sleep(opts.durationMs + deadlineMs + 10_000).then(() => false)]);
    clearInterval(progress);
    clearTimeout(warmTimer);
    if (rss.warm === 0) rss.warm = vmRssKb(pid);
    const lostList = [...pending.entries()].map(([id, p]) => `#${id} ${p.kind}${p.model ? ` ${p.model}` : ''} sent at t+${p.t0 - startedAt} ms`);
    if (!settled) log(`soak: ${lostList.length} request(s) never settled`);

    // --- after the load: is it still serving? ---
    const probeFailures: string[] = [];
    if (!exit) {
      for (const m of [...SWAP_GROUP, EMBED]) {
        const p: Plan =
          m === EMBED
            ? { kind: 'embed', model: m, method: 'POST', path: '/v1/embeddings', body: { model: m, input: 'probe' }, check: checkEmbed(1) }
            : { kind: 'chat', model: m, method: 'POST', path: '/v1/chat/completions', body: { model: m, messages: messages(-1) }, check: checkChat(m) };
        const d = await send(base, p, -1, Math.min(deadlineMs, 30_000));
        if (d.outcome !== 'ok') probeFailures.push(describe(d, 'post-run probe'));
      }
      try {
        const r = await fetch(`${base}/health`, { signal: AbortSignal.timeout(5_000) });
        const t = await r.text();
        if (r.status !== 200) probeFailures.push(`/health ${r.status}: ${t}`);
      } catch (err) {
        probeFailures.push(`/health: ${(err as Error).message}`);
      }
    }
    sampling = false;
    await sampler;
    await Promise.all(snapshots);
    rss.end = vmRssKb(pid);
    rss.max = Math.max(rss.max, rss.end);

    // --- shutdown ---
    const exitedEarly = exit !== null;
    if (!exit) child.kill('SIGTERM');
    const exitedInTime = await Promise.race([exited.then(() => true), sleep(45_000).then(() => false)]);
    // Orphans: every process that carries the marker and is still alive once swapstate has
    // exited (swapstate stops its model servers before it exits 0).
    const orphanList = exitedInTime ? markedProcesses(marker).filter((p) => p.pid !== pid) : [];
    if (!exitedInTime) {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    killMarked(marker);
    const finalExit = exit as { code: number | null; signal: string | null } | null;

    // --- verdict ---
    const logText = safeRead(outPath);
    const anomalyRe = /actor \S+ failed|scheduler stopped on error|did not finish within|Uncaught|Unhandled|TypeError|RangeError/;
    const logAnomalyLines = logText.split('\n').filter((l) => anomalyRe.test(l));
    const policy = checkEvictions(logText);
    const unexpectedExamples: string[] = [];
    let unexpected = 0;
    let expectedFailures = 0;
    for (const d of done) {
      if (d.outcome === 'aborted' || d.outcome === 'hung') continue;
      const why = explain(d, unloads);
      if (why === null) expectedFailures++;
      else {
        unexpected++;
        if (unexpectedExamples.length < 40) unexpectedExamples.push(describe(d, why));
      }
    }
    const hungList = done.filter((d) => d.outcome === 'hung');
    const requests = nextId;
    const sorted = latencies.sort((a, b) => a - b);
    const summary: SoakSummary = {
      requests,
      ok: okCount,
      hung: hungList.length,
      lost: lostList.length,
      groupViolations,
      orphans: orphanList.length,
      rssKb: rss,
      aborted: done.filter((d) => d.outcome === 'aborted').length,
      networkErrors: done.filter((d) => d.outcome === 'network').length,
      byStatus,
      expectedFailures,
      unexpected,
      weakGroupViolations,
      samples,
      sampleErrors,
      unloads: unloads.length,
      probeFailures: probeFailures.length,
      swaps: policy.swaps,
      policyViolations: policy.violations.length,
      logAnomalies: logAnomalyLines.length,
      exitCode: finalExit?.code ?? null,
      exitSignal: finalExit?.signal ?? null,
      latencyMs: { p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted[sorted.length - 1] ?? 0 },
      clients: opts.clients,
      seed: opts.seed,
      durationS: Math.round(opts.durationMs / 1000),
      passed: false,
    };

    if (exitedEarly) failures.push(`swapstate exited during the run: ${JSON.stringify(finalExit)}`);
    if (summary.hung > 0) failures.push(`${summary.hung} request(s) hung: ${hungList.slice(0, 10).map((d) => describe(d, 'deadline')).join('; ')}`);
    if (summary.lost > 0) failures.push(`${summary.lost} request(s) lost: ${lostList.slice(0, 10).join('; ')}`);
    if (unexpected > 0) failures.push(`${unexpected} unexpected outcome(s)`);
    if (groupViolations > 0) failures.push(`${groupViolations} /running sample(s) with two swap-group members resident`);
    if (!exitedInTime) failures.push('swapstate did not exit within 45 s of SIGTERM');
    else if (finalExit?.code !== 0) failures.push(`swapstate exited with ${JSON.stringify(finalExit)}, expected code 0`);
    if (orphanList.length > 0) failures.push(`orphans after exit: ${orphanList.map((p) => `${p.pid} ${p.cmd}`).join('; ')}`);
    if (probeFailures.length > 0) failures.push(`post-run probes failed: ${probeFailures.join('; ')}`);
    if (policy.violations.length > 0) failures.push(`eviction policy broken: ${policy.violations.slice(0, 5).join(' | ')}`);
    if (logAnomalyLines.length > 0) failures.push(`log anomalies: ${logAnomalyLines.slice(0, 5).join(' | ')}`);
    if (samples === 0) failures.push('no /running sample succeeded');
    summary.passed = failures.length === 0;

    return {
      summary,
      failures,
      unexpectedExamples,
      violationExamples,
      table: table(tally, unloads.length),
      dir,
      marker,
    };
  }
}

/**
 * Checks every logged swap (`swap to T: running [..], evicting [..]`) against this config's
 * group policy: a chat target evicts every other running chat model and the flaky one
 * (exclusive group; embed is persistent); embed and flaky (non-exclusive, no swap) evict
 * nothing. `running` is what the scheduler saw, so this checks the decision, not the timing.
 */
export function checkEvictions(logText: string): { swaps: number; violations: string[] } {
  const re = /swap to (\S+): running \[([^\]]*)\], evicting \[([^\]]*)\]/;
  const list = (s: string) => s.split(',').map((x) => x.trim()).filter(Boolean).sort();
  let swaps = 0;
  const violations: string[] = [];
  for (const line of logText.split('\n')) {
    const m = re.exec(line);
    if (!m) continue;
    swaps++;
    const [, target = '', running = '', evicting = ''] = m;
    const expected = (SWAP_GROUP as readonly string[]).includes(target)
      ? list(running).filter((r) => r !== target && ((SWAP_GROUP as readonly string[]).includes(r) || r === FLAKY))
      : [];
    if (expected.join() !== list(evicting).join()) violations.push(`${line.trim()} (expected evicting [${expected.join(', ')}])`);
  }
  return { swaps, violations };
}

/** A model's upstream log history (`/logs/stream/<model>` is history, then live: cut short). */
async function logHistory(base: string, model: string): Promise<string> {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), 500);
  let text = '';
  try {
    const r = await fetch(`${base}/logs/stream/${model}`, { signal: ac.signal });
    const decoder = new TextDecoder();
    for await (const chunk of r.body as unknown as AsyncIterable<Uint8Array>) text += decoder.decode(chunk, { stream: true });
  } catch {
    /* cut short on purpose */
  } finally {
    clearTimeout(timer);
  }
  return text;
}

function safeRead(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

/** Outcomes by model (management requests by kind). */
function table(tally: Map<string, Map<string, number>>, unloads: number): string {
  const order = ['sent', '2xx', 'aborted', 'hung', 'network'];
  const seen = new Set([...tally.values()].flatMap((r) => [...r.keys()]));
  const cols = [...order, ...[...seen].filter((c) => !order.includes(c)).sort()];
  const names = [...tally.keys()].sort();
  const totals = new Map<string, number>();
  for (const r of tally.values()) for (const [c, n] of r) totals.set(c, (totals.get(c) ?? 0) + n);
  const w = Math.max(14, ...names.map((n) => n.length + 2));
  const cell = (s: string | number) => String(s).padStart(9);
  const row = (name: string, r: Map<string, number> | undefined) => `${name.padEnd(w)}${cols.map((c) => cell(r?.get(c) ?? 0)).join('')}`;
  return [
    `outcomes by model (unload calls: ${unloads}):`,
    `${'model'.padEnd(w)}${cols.map(cell).join('')}`,
    ...names.map((n) => row(n, tally.get(n))),
    row('total', totals),
  ].join('\n');
}

// ---------------------------------------------------------------------------------------
// CLI
// ---------------------------------------------------------------------------------------

function parseCli(argv: string[]): SoakOptions {
  const o: SoakOptions = { durationMs: 60_000, clients: 16, seed: 1 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const eq = a.indexOf('=');
    const name = (eq < 0 ? a : a.slice(0, eq)).replace(/^--?/, '');
    const value = () => (eq >= 0 ? a.slice(eq + 1) : argv[++i]);
    const num = () => {
      const v = Number(value());
      if (!Number.isFinite(v) || v < 0) throw new Error(`--${name} needs a non-negative number`);
      return v;
    };
    switch (name) {
      case 'minutes':
        o.durationMs = num() * 60_000;
        break;
      case 'seconds':
        o.durationMs = num() * 1000;
        break;
      case 'clients':
        o.clients = Math.max(1, Math.floor(num()));
        break;
      case 'seed':
        o.seed = Math.floor(num());
        break;
      case 'deadline-ms':
        o.deadlineMs = num();
        break;
      case 'keep':
        o.keep = true;
        break;
      default:
        throw new Error(`unknown option ${a}\nusage: npm run soak -- --minutes N [--clients 16] [--seed S] [--deadline-ms 60000] [--keep]`);
    }
  }
  return o;
}

async function cli(): Promise<void> {
  let opts: SoakOptions;
  try {
    opts = parseCli(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    process.exit(2);
  }
  const bail = (signal: string) => {
    killAllSoakRuns();
    process.stderr.write(`soak: ${signal}, killed the run's processes\n`);
    process.exit(130);
  };
  process.on('SIGINT', () => bail('SIGINT'));
  process.on('SIGTERM', () => bail('SIGTERM'));
  const r = await runSoak(opts);
  const s = r.summary;
  const out = [
    '',
    r.table,
    '',
    `hung ${s.hung}, lost ${s.lost}, aborted by us ${s.aborted}, network errors ${s.networkErrors}, expected failures ${s.expectedFailures}, unexpected ${s.unexpected}`,
    `/running samples ${s.samples} (${s.sampleErrors} failed): group violations ${s.groupViolations} (two ready: ${s.weakGroupViolations})`,
    `RSS kB: start ${s.rssKb.start}, warm ${s.rssKb.warm}, end ${s.rssKb.end}, max ${s.rssKb.max}`,
    `latency of 2xx ms: p50 ${s.latencyMs.p50}, p99 ${s.latencyMs.p99}, max ${s.latencyMs.max}`,
    `swaps ${s.swaps} (eviction policy violations ${s.policyViolations}), post-run probe failures ${s.probeFailures}, log anomalies ${s.logAnomalies}`,
    `exit ${JSON.stringify({ code: s.exitCode, signal: s.exitSignal })}, orphans ${s.orphans}`,
    ...(r.unexpectedExamples.length ? ['unexpected outcomes:', ...r.unexpectedExamples.map((l) => `  ${l}`)] : []),
    ...(r.violationExamples.length ? ['group violations:', ...r.violationExamples.map((l) => `  ${l}`)] : []),
    ...(r.failures.length
      ? ['FAILED:', ...r.failures.map((l) => `  ${l}`), `run directory kept (config, swapstate.log, hang-*.txt): ${r.dir}`]
      : ['PASSED']),
    '',
  ];
  process.stdout.write(out.join('\n'));
  process.stdout.write(`${JSON.stringify(s)}\n`);
  process.exit(s.passed ? 0 : 1);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  void cli();
}
