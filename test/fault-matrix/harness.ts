/**
 * The fault matrix's lab: an in-process swapstate over real demo upstreams whose faults a test
 * switches on and off (`src/demo/upstream.mjs --faults FILE`), clients that never wait without
 * a deadline, and the checks every cell ends with (no process of the model left, the next
 * request served once the fault is gone).
 *
 * Every model of a lab gets its own faults file `<dir>/<id>.json`, and every command the lab
 * starts for it carries `<dir>/<id>.` in its command line, so a model's processes are found
 * in /proc without guessing (a forking wrapper's grandchild is found by its pid file).
 *
 * Each model `m` has a partner `m~` in a swap group of its own (`exclusive: false`, so labs
 * with many models run their cells side by side): a request for `m~` evicts `m`.
 */
import http from 'node:http';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ExpectStatic } from 'vitest';
import { freePortBlock, isAlive, until, UPSTREAM } from '../helpers/real-upstreams.ts';
import { startServer, type RunningServer } from '../helpers/server-harness.ts';

export { isAlive, until };

/** What a faults file may say (src/demo/upstream.mjs, `--faults`). */
export interface Faults {
  loading?: boolean;
  crash?: boolean;
  hang?: boolean;
  healthFlap?: boolean;
  ignoreSigterm?: boolean;
  slowStop?: boolean;
  /** Sleep mode (issue 13): POST /sleep answers 500. */
  sleepFail?: boolean;
  /** POST /wake_up answers 500. */
  wakeFail?: boolean;
  /** POST /sleep is never answered. */
  sleepHang?: boolean;
  /** POST /wake_up is never answered. */
  wakeHang?: boolean;
}

/** A stranger listening on a model's port (see {@link Lab.squat}). */
export interface Squatter {
  server: http.Server;
  /** Requests it has received so far. */
  requests(): number;
}

export interface ModelSpec {
  id: string;
  /** Extra YAML lines of the model (`ttl: 1`, `cmdStop: ...`); `{dir}` is the lab's folder. */
  extra?: string[];
  /** Extra upstream arguments; `{dir}` is the lab's folder. */
  args?: string;
  /** The command is `<dir>/bin/<id>-server`, which does not exist until `installCommand`. */
  missingCommand?: boolean;
}

export interface LabOptions {
  /** Write the config to `<dir>/config.yaml` and give the server its path (for reload). */
  reloadable?: boolean;
}

const DEFAULT_GLOBALS = ['healthCheckTimeout: 15', 'healthCheckInterval: 50', 'unloadTimeout: 1', 'logToStdout: none'];

export class Lab {
  srv!: RunningServer;
  readonly configPath: string;
  private yaml: string;
  /** Per model, the reload whose config changed it last (see reloadChanging). */
  private readonly generation: Record<string, number> = {};
  private reloads = 0;
  private readonly squatters = new Set<http.Server>();

  private constructor(
    readonly dir: string,
    private readonly specs: ModelSpec[],
    yaml: string,
    private readonly reloadable: boolean,
    private readonly ports: number[],
  ) {
    this.yaml = yaml;
    this.configPath = join(dir, 'config.yaml');
  }

  static async start(specs: ModelSpec[], opts: LabOptions = {}): Promise<Lab> {
    const dir = mkdtempSync(join(tmpdir(), 'swapstate-matrix-'));
    const ports = await reservePorts(specs.length * 2);
    const lab = new Lab(dir, specs, renderConfig(dir, specs, ports, {}), opts.reloadable ?? false, ports);
    if (lab.reloadable) writeFileSync(lab.configPath, lab.yaml);
    await lab.boot();
    return lab;
  }

  /**
   * A reload that changes `models`' config so that each must be replaced (README, Reload):
   * their `env` gains `MATRIX_RELOAD=<n>`, n counting this lab's reloads. Rewrites the config
   * file, runs `server.reload()` (what SIGHUP runs) and returns what it returned.
   */
  async reloadChanging(models: string[]): Promise<boolean> {
    if (!this.reloadable) throw new Error('the lab was not started reloadable');
    this.reloads += 1;
    for (const m of models) this.generation[m] = this.reloads;
    this.yaml = renderConfig(this.dir, this.specs, this.ports, this.generation);
    writeFileSync(this.configPath, this.yaml);
    return this.srv.server.reload();
  }

  /** The `MATRIX_RELOAD` its process was started with: the reload whose config it runs (0: none). */
  generationOf(pid: number): number {
    const env = readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0');
    const entry = env.find((e) => e.startsWith('MATRIX_RELOAD='));
    return entry ? Number(entry.slice('MATRIX_RELOAD='.length)) : 0;
  }

  /** Starts (again) a swapstate on this lab's config: the same models on the same ports. */
  async boot(): Promise<void> {
    if (this.srv) this.srv.logs.close();
    this.srv = await startServer(this.yaml, this.reloadable ? { configPath: this.configPath } : {});
  }

  get url(): string {
    return this.srv.url;
  }

  faultsFile(model: string): string {
    return join(this.dir, `${model}.json`);
  }

  /** Switches faults on (atomically replacing the file) or, with null, off ("the fault is gone"). */
  setFaults(model: string, faults: Faults | null): void {
    const file = this.faultsFile(model);
    if (faults === null) {
      rmSync(file, { force: true });
      return;
    }
    const tmp = `${file}.tmp`;
    writeFileSync(tmp, JSON.stringify(faults));
    renameSync(tmp, file);
  }

  /** The model's port (`${PORT}` as given to it). */
  port(model: string): number {
    return Number(new URL(this.srv.server.config.models[model]!.proxy).port);
  }

  /** The process as swapstate sees it now. */
  view(model: string) {
    const v = this.srv.server.state().runtime.process(model);
    if (!v) throw new Error(`no process for ${model}`);
    return v;
  }

  state(model: string): string {
    return this.view(model).state;
  }

  async waitState(model: string, state: string, timeoutMs = 10_000): Promise<void> {
    try {
      await until(() => this.state(model) === state, `${model} to be ${state}`, timeoutMs);
    } catch (err) {
      throw new Error(`${(err as Error).message} (it is ${this.state(model)})`);
    }
  }

  /** Requests queued in the scheduler (not yet granted, not waiting on a swap). */
  queued(): number {
    return this.srv.server.state().runtime.actor.getSnapshot().context.fifo.queue.length;
  }

  /** Whether a request for `model` waits in the scheduler's queue. */
  isQueued(model: string): boolean {
    return this.srv.server.state().runtime.actor.getSnapshot().context.fifo.queue.some((r) => r.model === model);
  }

  /** Unloads under way that stop `model`. */
  unloadsOf(model: string): number {
    const active = this.srv.server.state().runtime.actor.getSnapshot().context.fifo.active;
    return active.filter((a) => a.target === null && a.evict.includes(model)).length;
  }

  /** Requests waiting on the running swap to `model`. */
  swapWaiters(model: string): number {
    const active = this.srv.server.state().runtime.actor.getSnapshot().context.fifo.active;
    return active.filter((a) => a.target === model).reduce((n, a) => n + a.waiters.length, 0);
  }

  /** Live processes of `model`: its upstream, a cmdStop of it, a forked grandchild. */
  procs(model: string): Array<{ pid: number; cmd: string }> {
    const needle = `${this.dir}/${model}.`;
    const out: Array<{ pid: number; cmd: string }> = [];
    for (const name of readdirSync('/proc')) {
      const pid = Number(name);
      if (!Number.isInteger(pid)) continue;
      try {
        const cmd = readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0').join(' ').trim();
        if (cmd.includes(needle) && isAlive(pid)) out.push({ pid, cmd });
      } catch {
        /* gone meanwhile */
      }
    }
    const child = this.childPid(model);
    if (child !== null && isAlive(child) && !out.some((p) => p.pid === child)) out.push({ pid: child, cmd: 'forked child' });
    return out;
  }

  /** The pid a forking wrapper wrote for its grandchild, if any. */
  childPid(model: string): number | null {
    const file = join(this.dir, `${model}.child.pid`);
    if (!existsSync(file)) return null;
    const pid = Number(readFileSync(file, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  }

  /**
   * When swapstate saw `model`'s process stop (its process actor back in `stopped`), polled
   * from now. Read from the actor, so it times the stop itself, not whatever comes after it.
   */
  stoppedAt(model: string, timeoutMs = 60_000): Promise<number> {
    return handled(until(() => this.srv.server.state().runtime.process(model)?.state === 'stopped', `${model} to stop`, timeoutMs).then(() => Date.now()));
  }

  /** How long from now until `model`'s process is stopped (see stoppedAt). */
  msUntilStopped(model: string): Promise<number> {
    const from = Date.now();
    return handled(this.stoppedAt(model).then((at) => at - from));
  }

  /** Waits until no process of `model` is left. */
  async noProcesses(model: string, timeoutMs = 5_000): Promise<void> {
    await until(() => this.procs(model).length === 0, () => `no process of ${model} (left: ${JSON.stringify(this.procs(model))})`, timeoutMs);
  }

  /** Lines the model's upstream (and swapstate's notes about it) wrote. */
  modelLog(model: string): string {
    return this.srv.logs.hub.forModel(model).history();
  }

  proxyLog(): string {
    return this.srv.logs.proxy.history();
  }

  /**
   * A squatter on the model's port: a stranger that answers every request (health probes
   * included) with 200 and "Hello from stale.", the worst kind, since a health check passes
   * against it. It counts the requests it got.
   */
  async squat(model: string): Promise<Squatter> {
    let requests = 0;
    const srv = http.createServer((req, res) => {
      requests++;
      req.resume();
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ status: 'ok', choices: [{ index: 0, message: { role: 'assistant', content: 'Hello from stale.' } }] }));
    });
    await new Promise<void>((resolve, reject) => {
      srv.once('error', reject);
      srv.listen(this.port(model), '127.0.0.1', () => resolve());
    });
    this.squatters.add(srv);
    return { server: srv, requests: () => requests };
  }

  async unsquat(squatter: Squatter): Promise<void> {
    this.squatters.delete(squatter.server);
    squatter.server.closeAllConnections();
    await new Promise<void>((resolve) => squatter.server.close(() => resolve()));
  }

  /** Heals "command not found": the missing command appears (a script running the demo upstream). */
  installCommand(model: string): void {
    const path = commandPath(this.dir, model);
    mkdirSync(join(this.dir, 'bin'), { recursive: true });
    const tmp = `${path}.tmp`;
    writeFileSync(tmp, `#!${process.execPath}\nimport(${JSON.stringify(pathToFileURL(UPSTREAM).href)});\n`);
    chmodSync(tmp, 0o755);
    renameSync(tmp, path);
  }

  /** Every model id of the lab, partners included. */
  ids(): string[] {
    return this.specs.flatMap((s) => [s.id, `${s.id}~`]);
  }

  /**
   * Shuts the server down (as SIGTERM would) and waits for every process of the lab to be
   * gone; returns those still alive after `waitMs`, which are then SIGKILLed.
   */
  async close(waitMs = 6_000): Promise<Array<{ pid: number; cmd: string }>> {
    // A short budget: models whose stop is useless by design need not hold the teardown.
    await this.srv.server.shutdown(1_000);
    this.srv.logs.close();
    for (const s of this.squatters) {
      s.closeAllConnections();
      s.close();
    }
    const alive = () => this.ids().flatMap((id) => this.procs(id));
    await until(() => alive().length === 0, 'the lab to be empty', waitMs).catch(() => undefined);
    const left = alive();
    for (const p of left) {
      try {
        process.kill(p.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    rmSync(this.dir, { recursive: true, force: true });
    for (const p of this.ports) reserved.delete(p);
    return left;
  }
}

/**
 * Marks a promise the caller awaits later as handled meanwhile: a cell that fails on something
 * else first must not also leave an unhandled rejection behind. Awaiting it still throws.
 */
function handled<T>(p: Promise<T>): Promise<T> {
  p.catch(() => undefined);
  return p;
}

/**
 * When process `pid` died, polled from now (a process swapstate no longer tracks, e.g. the old
 * config's, whose model already runs a new one).
 */
export function diedAt(pid: number, what: string, timeoutMs = 20_000): Promise<number> {
  return handled(until(() => !isAlive(pid), what, timeoutMs).then(() => Date.now()));
}

/**
 * Runs `fn` on a fresh lab, then shuts it down; a lab that leaves a process behind fails the
 * test (unless `fn` failed first: then its own error is the one reported).
 */
export async function withLab(specs: ModelSpec[], opts: LabOptions, fn: (lab: Lab) => Promise<void>): Promise<void> {
  const lab = await Lab.start(specs, opts);
  let failed = false;
  try {
    await fn(lab);
  } catch (err) {
    failed = true;
    // A cell that fails now and then (a race on a loaded machine) must explain itself from
    // the run that failed: swapstate's own log (starts, stops, exits, errors) goes with it.
    const last = (text: string | undefined, n: number) => text?.split('\n').slice(-n).join('\n') ?? '';
    const logs = lab.srv?.logs;
    if (logs && err instanceof Error) {
      err.message += `\n--- swapstate's log, last lines ---\n${last(logs.proxy.history(), 60)}\n--- the models' output, last lines ---\n${last(logs.mux.history(), 40)}`;
    }
    throw err;
  } finally {
    const left = await lab.close();
    if (!failed && left.length > 0) throw new Error(`processes left behind: ${JSON.stringify(left)}`);
  }
}

/**
 * Runs one scenario per process state side by side (each on its own model) and reports every
 * failure with the state it belongs to.
 */
export async function perState(scenarios: Partial<Record<StateName, () => Promise<void>>> & Record<string, () => Promise<void>>): Promise<void> {
  const names = Object.keys(scenarios);
  const results = await Promise.allSettled(names.map((n) => scenarios[n]!()));
  const label = (n: string) => STATE_LABEL[n as StateName] ?? n;
  const failures = results.flatMap((r, i) =>
    r.status === 'rejected' ? [`[${label(names[i]!)}] ${r.reason instanceof Error ? (r.reason.stack ?? r.reason.message) : String(r.reason)}`] : [],
  );
  if (failures.length > 0) throw new Error(failures.join('\n\n'));
}

export type StateName = 'starting' | 'idle' | 'busy' | 'stopping';
export const STATE_LABEL: Record<StateName, string> = {
  starting: 'starting',
  idle: 'ready idle',
  busy: 'ready busy',
  stopping: 'stopping',
};

// ---------------------------------------------------------------------------------------
// The four states. Each helper leaves the model in its state with `faults` in its file and
// returns the client(s) holding it there.
// ---------------------------------------------------------------------------------------

/** starting: a request waits on a load that lasts until `loading` is switched off. */
export async function enterStarting(lab: Lab, model: string, faults: Faults = {}, opts: CallOptions = {}): Promise<Call> {
  lab.setFaults(model, { loading: true, ...faults });
  const r1 = chat(lab.url, model, {}, { deadlineMs: 40_000, ...opts });
  await lab.waitState(model, 'starting');
  await until(() => lab.modelLog(model).includes('listening on'), `${model}'s upstream to listen`);
  return r1;
}

/** ready idle: served once, nothing in flight. */
export async function enterIdle(lab: Lab, model: string, faults: Faults | null = null): Promise<void> {
  lab.setFaults(model, faults);
  const r = await chat(lab.url, model).reply;
  if (r.status !== 200 || !r.body.includes(`Hello from ${model}.`)) throw new Error(`${model} not served: ${r.status} ${r.body}`);
  if (lab.state(model) !== 'ready') throw new Error(`${model} is ${lab.state(model)}, not ready`);
}

/** ready busy: a stream that would go on for minutes is in flight. */
export async function enterBusy(lab: Lab, model: string, faults: Faults | null = null): Promise<Call> {
  await enterIdle(lab, model, faults);
  const r1 = longStream(lab.url, model);
  await r1.firstData;
  return r1;
}

/**
 * stopping: an unload is under way and the upstream takes its time to exit: held by
 * `slowStop` (released by switching it off), or by the fault itself (`hold: 'fault'`: an
 * ignored SIGTERM, a useless cmdStop) until the grace ends. `clientLeaves`: the unload's
 * client goes away once the model is stopping (the stop goes on), so an HTTP drain does not
 * wait for it.
 */
export async function enterStopping(
  lab: Lab,
  model: string,
  faults: Faults | null = null,
  opts: { hold?: 'slowStop' | 'fault'; clientLeaves?: boolean; beforeStop?: () => Promise<unknown> } = {},
): Promise<Call> {
  const hold = opts.hold ?? 'slowStop';
  await enterIdle(lab, model, hold === 'slowStop' ? { ...faults, slowStop: true } : faults);
  await opts.beforeStop?.();
  const u0 = unload(lab.url, model, { deadlineMs: 40_000 });
  await lab.waitState(model, 'stopping');
  if (hold === 'slowStop') await until(() => lab.modelLog(model).includes('stopping slowly'), `${model} to stop slowly`);
  if (opts.clientLeaves) u0.abort();
  return u0;
}

/**
 * Ports held by the labs of this worker. `freePortBlock` only knows what is bound right now,
 * and the labs of a file start side by side before their models bind anything: two of them
 * could pick overlapping blocks, and a model would then meet another lab's upstream on its port.
 */
const reserved = new Set<number>();

async function reservePorts(count: number): Promise<number[]> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = await freePortBlock(count);
    const block = Array.from({ length: count }, (_, i) => base + i);
    if (block.some((p) => reserved.has(p))) continue;
    for (const p of block) reserved.add(p);
    return block;
  }
  throw new Error(`no block of ${count} ports free of other labs`);
}

function commandPath(dir: string, model: string): string {
  return join(dir, 'bin', `${model}-server`);
}

/** The lab's config; a model with a generation gets it in its `env` (see Lab.reloadChanging). */
function renderConfig(dir: string, specs: ModelSpec[], ports: number[], generation: Record<string, number>): string {
  const lines = [...DEFAULT_GLOBALS, `startPort: ${ports[0]}`, 'models:'];
  const groups: string[] = [];
  for (const spec of specs) {
    const partner = `${spec.id}~`;
    lines.push(...modelYaml(dir, spec.id, spec, generation[spec.id]), ...modelYaml(dir, partner, { id: partner }, generation[partner]));
    groups.push(`  g-${spec.id}: { swap: true, exclusive: false, members: ["${spec.id}", "${partner}"] }`);
  }
  lines.push('groups:', ...groups);
  return `${lines.join('\n')}\n`;
}

function modelYaml(dir: string, id: string, spec: ModelSpec, generation?: number): string[] {
  const sub = (s: string) => s.replaceAll('{dir}', dir);
  const exe = spec.missingCommand ? commandPath(dir, id) : `${process.execPath} ${UPSTREAM}`;
  const args = `--port \${PORT} --id ${id} --faults ${dir}/${id}.json${spec.args ? ` ${sub(spec.args)}` : ''}`;
  const env = generation ? [`    env: ["MATRIX_RELOAD=${generation}"]`] : [];
  return [`  "${id}":`, `    cmd: ${exe} ${args}`, ...env, ...(spec.extra ?? []).map((l) => `    ${sub(l)}`)];
}

// ---------------------------------------------------------------------------------------
// Clients. Each one answers with what happened (status, body, a cut stream), never rejects,
// and fails the test when nothing happened within its deadline: nothing may hang.
// ---------------------------------------------------------------------------------------

export interface Reply {
  /** HTTP status; 0 when no response head arrived (connection refused or reset). */
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  /** The response started, then its connection ended before the body was complete. */
  cut: boolean;
  /** The client gave up (`abortAfterMs`) before the response was complete. */
  abandoned: boolean;
  /** Transport error, if any (ECONNREFUSED, ECONNRESET...). */
  error: string | null;
  /** Milliseconds from sending to the end of the exchange. */
  ms: number;
  /** Date.now() at the end of the exchange. */
  at: number;
}

export interface CallOptions {
  /** The test fails if the exchange has not ended by then (default 20 s). */
  deadlineMs?: number;
  /** The client gives up after this long (a hung upstream's defined answer is the client's own timeout). */
  abortAfterMs?: number;
}

export interface Call {
  /** Resolves when the response head has arrived (status known). */
  readonly head: Promise<number>;
  /** Resolves with the first body bytes (a stream's first event). */
  readonly firstData: Promise<void>;
  readonly reply: Promise<Reply>;
  /** Characters of the body received so far. */
  received(): number;
  /** The client goes away now. */
  abort(): void;
}

export function call(url: string, method: string, path: string, body: unknown, opts: CallOptions = {}): Call {
  const deadlineMs = opts.deadlineMs ?? 20_000;
  const started = Date.now();
  let resolveHead!: (s: number) => void;
  let resolveData!: () => void;
  const head = new Promise<number>((r) => (resolveHead = r));
  const firstData = new Promise<void>((r) => (resolveData = r));
  let req!: http.ClientRequest;
  let abandoned = false;
  let text = '';
  const reply = new Promise<Reply>((resolve, reject) => {
    let status = 0;
    let headers: http.IncomingHttpHeaders = {};
    let cut = false;
    let error: string | null = null;
    let settled = false;
    const finish = () => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      clearTimeout(giveUp);
      resolveHead(status);
      resolveData();
      resolve({ status, headers, body: text, cut, abandoned, error, ms: Date.now() - started, at: Date.now() });
    };
    const deadline = setTimeout(() => {
      if (settled) return;
      settled = true;
      req.destroy();
      reject(new Error(`${method} ${path} got no complete answer within ${deadlineMs} ms (status ${status}, body so far: ${text.slice(0, 300)})`));
    }, deadlineMs);
    const giveUp =
      opts.abortAfterMs === undefined
        ? undefined
        : setTimeout(() => {
            abandoned = true;
            req.destroy();
          }, opts.abortAfterMs);
    const payload = body === undefined ? undefined : JSON.stringify(body);
    req = http.request(
      `${url}${path}`,
      {
        method,
        agent: false,
        headers: payload === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
      },
      (res) => {
        status = res.statusCode ?? 0;
        headers = res.headers;
        resolveHead(status);
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          text += c;
          resolveData();
        });
        res.on('end', finish);
        res.on('error', (err) => {
          error ??= err.message;
        });
        res.on('close', () => {
          if (!res.complete) cut = true;
          finish();
        });
      },
    );
    req.on('error', (err) => {
      error ??= err.message;
      if (status !== 0) cut = true;
      finish();
    });
    req.end(payload);
  });
  return {
    head,
    firstData,
    reply,
    received: () => text.length,
    abort: () => {
      abandoned = true;
      req.destroy();
    },
  };
}

/** A chat completion for `model`; `extra` goes into the body (`delay_ms`, `stream`...). */
export function chat(url: string, model: string, extra: Record<string, unknown> = {}, opts: CallOptions = {}): Call {
  return call(url, 'POST', '/v1/chat/completions', { model, messages: [{ role: 'user', content: 'hi' }], ...extra }, opts);
}

/** A stream that goes on for minutes unless cut: a model kept busy. */
export function longStream(url: string, model: string, opts: CallOptions = {}): Call {
  return chat(url, model, { stream: true, chunks: 100_000, chunk_delay_ms: 50 }, { deadlineMs: 60_000, ...opts });
}

/** A stream of `chunks` events 50 ms apart that ends by itself, with `[DONE]`. */
export function finiteStream(url: string, model: string, chunks: number, opts: CallOptions = {}): Call {
  return chat(url, model, { stream: true, chunks, chunk_delay_ms: 50 }, { deadlineMs: 60_000, ...opts });
}

/** POST /api/models/unload/<model>. */
export function unload(url: string, model: string, opts: CallOptions = {}): Call {
  return call(url, 'POST', `/api/models/unload/${encodeURIComponent(model)}`, undefined, opts);
}

// ---------------------------------------------------------------------------------------
// Assertions.
// ---------------------------------------------------------------------------------------

/** The reply is swapstate's error envelope with this status and message. */
export function expectError(expect: ExpectStatic, r: Reply, status: number, message: string | RegExp): void {
  expect(r.status, r.body).toBe(status);
  const parsed = JSON.parse(r.body) as { src?: string; error?: { message?: string } };
  expect(parsed.src).toBe('swapstate');
  if (typeof message === 'string') expect(parsed.error?.message).toBe(message);
  else expect(parsed.error?.message).toMatch(message);
}

/** The reply is a normal answer from the model's upstream. */
export function expectServed(expect: ExpectStatic, r: Reply, model: string): void {
  expect(r.status, r.body).toBe(200);
  expect(r.cut, 'cut').toBe(false);
  expect(r.body).toContain(`Hello from ${model}.`);
}

/** The reply is a stream that started (200) and was cut before its end. */
export function expectCutStream(expect: ExpectStatic, r: Reply): void {
  expect(r.status, r.body.slice(0, 300)).toBe(200);
  expect(r.body).toContain('data: ');
  expect(r.body).not.toContain('[DONE]');
  expect(r.cut, 'the stream was cut').toBe(true);
}

/** The reply is a stream that ran to its end: `[DONE]`, not cut. */
export function expectCompleteStream(expect: ExpectStatic, r: Reply): void {
  expect(r.status, r.body.slice(0, 300)).toBe(200);
  expect(r.cut, 'the stream was cut').toBe(false);
  expect(r.body.trimEnd().endsWith('data: [DONE]'), r.body.slice(-300)).toBe(true);
}

/**
 * A reload replaced `model`: its old process was stopped once (the log line of its retirement
 * appears once), and the next request is served by a fresh process started from the new
 * config (`generation`, see Lab.reloadChanging). Returns that request's reply.
 */
export async function expectReplaced(expect: ExpectStatic, lab: Lab, model: string, oldPid: number | null, generation = 1): Promise<Reply> {
  const line = `reload: ${model} stopped, its new config runs from its next start`;
  await until(() => lab.proxyLog().includes(line), `${model} to be retired`);
  const r = await chat(lab.url, model).reply;
  expectServed(expect, r, model);
  const pid = lab.view(model).pid!;
  expect(pid).not.toBe(oldPid);
  expect(lab.generationOf(pid), `the config ${model}'s new process runs`).toBe(generation);
  expect(count(lab.proxyLog(), line)).toBe(1);
  return r;
}

/** Once the fault is gone, the next request for the model is served. */
export async function expectNextServed(expect: ExpectStatic, lab: Lab, model: string): Promise<void> {
  const r = await chat(lab.url, model).reply;
  expectServed(expect, r, model);
}

/** An unload's own answer: `OK` once the model is stopped. */
export function expectUnloaded(expect: ExpectStatic, r: Reply): void {
  expect(r.status, r.body).toBe(200);
  expect(r.body).toBe('OK');
}

/** How often `needle` occurs in `text`. */
export function count(text: string, needle: string): number {
  return text.split(needle).length - 1;
}

/** Until `model`'s upstream has logged `needle` at least `n` times. */
export async function logged(lab: Lab, model: string, needle: string, n = 1, timeoutMs = 10_000): Promise<void> {
  await until(() => count(lab.modelLog(model), needle) >= n, `${model} to log "${needle}" ${n}x`, timeoutMs);
}

/** 502 for a request whose upstream died before answering. */
export const badGateway = (model: string): RegExp => new RegExp(`^bad gateway: upstream ${model} unreachable: `);

const escapeRegExp = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * A failed start's message: `text`, then (always after a health-check timeout, and after a
 * start that was retried because it failed right after an eviction) how long the request
 * waited (error-wording.ts waitedText).
 */
const failedStart = (text: string, waited: 'maybe' | 'always' = 'maybe'): RegExp =>
  new RegExp(
    `^${escapeRegExp(text)}( \\(the request waited \\d+\\.\\ds(: the start was retried once after evicting [^)]+)?\\))${waited === 'always' ? '' : '?'}$`,
  );

// Messages clients get, in one place.
export const MSG = {
  /** The demo upstream of `model` crashed while loading (`crash` fault): its exit code and last stderr line. */
  exitedPrematurely: (model: string) =>
    failedStart(`unspecific error: upstream command exited prematurely (exit code 1): ${model} crashing (fault injected)`),
  /** Someone else listens on the model's port: the start fails before its command runs. */
  portTaken: (port: number, proxy: string) => {
    // The squatter is a server of this test process: the message names it (pid and command).
    const known = failedStart(`unspecific error: port ${port} (from proxy ${proxy}) is already in use by another process`).source;
    return new RegExp(known.replace(' by another process', ` by another process \\(pid ${process.pid}: [^)]+\\)`));
  },
  unloaded: 'unspecific error: swapstate: model unloaded',
  shuttingDown: 'swapstate is shutting down',
  healthTimeout: failedStart('unspecific error: health check timed out after 15s', 'always'),
  stoppedWhileStarting: failedStart('unspecific error: aborted: model stopped while starting'),
};
