/**
 * One running swapstate: the HTTP server, the current actor tree, reload and shutdown.
 *
 * Reload (SIGHUP, `--watch-config`) keeps the actor tree: the new config is handed to the
 * running scheduler (RECONFIGURE), which keeps unchanged models running (process, TTL, requests
 * in flight), replaces changed ones once idle, stops removed ones once idle and adds new ones
 * stopped (src/core/reload-plan.ts). llama-swap builds a new server and stops every model
 * instead (reference 1.4). What belongs to the config as a whole is new at once: the config
 * every request reads, the active profile (none, as in llama-swap), the log levels; the
 * preload hooks run again (a model still loaded costs nothing). A config that fails to load
 * leaves the old state serving.
 */
import type * as Http from 'node:http';
import { http } from './node-http.ts';
import type { InspectionEvent, Observer } from 'xstate';
import https from 'node:https';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { describeSources, loadConfigSources, type ConfigSources } from './config/load-sources.ts';
import type { Config } from './config/types.ts';
import { ActiveProfile } from './http/active-profile.ts';
import { BodyBudget } from './http/body-budget.ts';
import { createRequestListener, serveRequests } from './http/front.ts';
import type { AppDeps, ServerState } from './http/deps.ts';
import { OpenStreams } from './http/open-streams.ts';
import { PeerForwards } from './http/peer-forwards.ts';
import { createUpstreamProxy } from './http/proxy.ts';
import { agentPoolOptions } from './http/transport-timeouts.ts';
import { ActivityLog } from './observability/activity-log.ts';
import { InflightTracker } from './observability/inflight.ts';
import type { Logs } from './observability/logger.ts';
import { LoopMonitor } from './observability/loop-monitor.ts';
import { SwapstateMetrics } from './observability/metrics.ts';
import { ABLATED } from './perf/ablate.ts';
import { MemoryTrim, memoryReducingGc, type Trimmed, type TrimOptions } from './runtime/memory-trim.ts';
import { startScheduler } from './runtime/scheduler-runtime.ts';
import { schedulerInputFor } from './runtime/scheduler-input.ts';

/** Graceful shutdown budget shared by draining requests and stopping models (llama-swap: 30 s). */
export const SHUTDOWN_BUDGET_MS = 30_000;

export interface ListenOptions {
  host: string;
  port: number;
  tls?: { cert: string; key: string } | undefined;
}

export class SwapstateServer {
  private current: ServerState;
  private readonly proxy = createUpstreamProxy();
  private server: Http.Server | null = null;
  private reloading = false;
  /** What a reload re-reads; null: reload does nothing. */
  private readonly sources: ConfigSources | null;
  private closing: Promise<void> | null = null;
  private readonly loop = new LoopMonitor().start();
  /** In-flight requests outlive a reload: one tracker for the server's whole life. */
  private readonly inflight = new InflightTracker();
  /** Activity rows and captures outlive a reload too; a new config's bounds apply at once. */
  readonly activity = new ActivityLog(() => ({
    maxInMemory: this.current.config.metricsMaxInMemory,
    captureBytes: this.current.config.captureBuffer * 1024 * 1024,
  }));
  private readonly streams = new OpenStreams();
  /** Upgraded (websocket) connections, which the HTTP server no longer tracks (upgrade.ts). */
  private readonly upgraded = new Set<Duplex>();
  /** Requests forwarded to peers, across reloads (a reload does not cut a forward short). */
  private readonly peers = new PeerForwards();
  /** Request bodies held in memory, across reloads: a new config's limit applies at once. */
  readonly bodies = new BodyBudget(() => this.current.config.maxBufferedRequestBytes);
  private readonly stateListeners = new Set<(state: ServerState) => void>();
  /**
   * `/metrics`: one registry for the server's whole life. It follows each state that serves
   * (a state listener, like `/api/events`), and reads the current one at scrape time.
   */
  readonly metrics = new SwapstateMetrics(() => this.current);

  constructor(
    config: Config,
    private readonly logs: Logs,
    /** What a reload re-reads: a `-config` path, or `-config` and `-config-dir`; null: no reload. */
    configSources: ConfigSources | string | null = null,
    private readonly version = '0.0.0',
    /** XState inspection for every actor tree this server builds (see observability/inspect.ts). */
    private readonly inspect?: Observer<InspectionEvent>,
    /** The idle memory trim's timing (tests). */
    trim: Partial<TrimOptions> = {},
  ) {
    this.sources = typeof configSources === 'string' ? { config: configSources, configDir: null } : configSources;
    this.current = this.buildState(config);
    this.memoryTrim = this.startMemoryTrim(trim);
    this.metrics.follow(this.current);
    this.stateListeners.add((state) => this.metrics.follow(state));
    // Tokens in and out (/metrics) from the activity rows, which parse them from the answers.
    // Only rows that carry tokens: a row of an unknown model names whatever a client asked
    // for, and a label per such name would let any client grow the exposition without bound.
    this.activity.onRecord((row) => {
      const { input_tokens: input, output_tokens: output } = row.tokens;
      if (input > 0 || output > 0) this.metrics.observeTokens(row.model, input, output);
    });
  }

  /** Gives a load's memory back once quiet (runtime/memory-trim.ts); null where V8 has no such GC. */
  readonly memoryTrim: MemoryTrim | null;

  private startMemoryTrim(options: Partial<TrimOptions>): MemoryTrim | null {
    const collect = ABLATED.trim ? null : memoryReducingGc();
    if (!collect) return null;
    const mb = (bytes: number) => (bytes / 1048576).toFixed(1);
    const sources = {
      arrived: () => this.current.runtime.tickets.opened + this.peers.begun,
      open: () => this.current.runtime.tickets.openCount + this.peers.size,
      rss: () => process.memoryUsage.rss(),
    };
    const logTrim = (t: Trimmed) =>
      this.logs.logger.debug(`memory trim after a quiet spell: RSS ${mb(t.rssBefore)} -> ${mb(t.rssAfter)} MB (a memory-reducing GC, ${t.ms.toFixed(0)} ms)`);
    return new MemoryTrim(sources, collect, logTrim, options).start();
  }

  /** A new state for a reloaded config, around the same actor tree (see the file's comment). */
  private reconfiguredState(config: Config): ServerState {
    for (const w of config.warnings) this.logs.logger.warn(w);
    const runtime = this.current.runtime;
    runtime.reconfigure(schedulerInputFor(config));
    const state: ServerState = { config, runtime, profile: new ActiveProfile(config.profiles) };
    void this.preload(state);
    return state;
  }

  get config(): Config {
    return this.current.config;
  }

  /** The state serving right now (config, actor tree); for inspection and tests. */
  state(): ServerState {
    return this.current;
  }

  private buildState(config: Config): ServerState {
    const logger = this.logs.logger;
    for (const w of config.warnings) logger.warn(w);
    const runtime = startScheduler({
      input: schedulerInputFor(config),
      logs: this.logs.hub,
      log: { info: (m) => logger.info(m), warn: (m) => logger.warn(m) },
      ...(this.inspect ? { inspect: this.inspect } : {}),
      // Each model's agent pools as its `timeouts` say (keepalive, idleConn), read when a start's
      // agent is made: the config loaded last (a reload keeps this tree), or the first one.
      agentOptions: (model) => {
        const t = ((this.current as ServerState | undefined)?.config ?? config).models[model]?.timeouts;
        return t ? agentPoolOptions(t) : {};
      },
    });
    const state: ServerState = { config, runtime, profile: new ActiveProfile(config.profiles) };
    void this.preload(state);
    return state;
  }

  /** hooks.on_startup.preload: load each model in turn, as a request would (reference 2.9). */
  private async preload(state: ServerState): Promise<void> {
    for (const model of state.config.preload) {
      const ticket = state.runtime.request(model);
      const refused = await ticket.admission;
      const grant = await ticket.grant;
      ticket.done();
      if (refused || !grant.ok) {
        this.logs.logger.warn(`preload ${model} failed: ${(refused ?? (!grant.ok ? grant.error : null))?.message}`);
      } else {
        this.logs.logger.info(`preloaded ${model}`);
      }
    }
  }

  /** Starts listening; rejects when the address cannot be bound. */
  async listen(opts: ListenOptions): Promise<AddressInfo> {
    const deps: AppDeps = {
      current: () => this.current,
      logs: this.logs,
      proxy: this.proxy,
      version: this.version,
      listenHost: opts.host,
      liveness: () => this.liveness(),
      inflight: this.inflight,
      metrics: this.metrics,
      activity: this.activity,
      peers: this.peers,
      streams: this.streams,
      bodies: this.bodies,
      watchState: (listener) => {
        const entry = (state: ServerState) => listener(state);
        this.stateListeners.add(entry);
        return () => this.stateListeners.delete(entry);
      },
    };
    const listener = createRequestListener(deps);
    const server = opts.tls ? https.createServer({ cert: readFileSync(opts.tls.cert), key: readFileSync(opts.tls.key) }) : http.createServer();
    serveRequests(server, listener, this.upgraded);
    // A response may stream for as long as generation takes (llama-swap has no timeouts), but
    // receiving a request is bounded: a client that sends headers and never its body must
    // not hold a connection forever. Node's timeout covers only the request's reception.
    server.requestTimeout = 300_000;
    server.headersTimeout = 60_000;
    server.keepAliveTimeout = 65_000;
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(opts.port, opts.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    return server.address() as AddressInfo;
  }

  /** Client connections open right now (0 before `listen`); for inspection and tests. */
  openConnections(): Promise<number> {
    const server = this.server;
    if (!server) return Promise.resolve(0);
    return new Promise((resolve, reject) => server.getConnections((err, n) => (err ? reject(err) : resolve(n))));
  }

  /** Why swapstate cannot serve right now, or null. */
  liveness(): string | null {
    const status = this.current.runtime.actor.getSnapshot().status;
    if (status !== 'active') return `scheduler is not running (${status})`;
    const stall = this.loop.recentStall();
    if (stall) return `event loop stalled for ${stall.ms} ms ${Math.round((Date.now() - stall.at) / 1000)}s ago`;
    return null;
  }

  /**
   * Re-reads the config sources (`-config-dir` is listed again, so added files count). A
   * trigger while a reload runs is dropped, as in llama-swap.
   * Returns whether the new config is now serving.
   */
  async reload(): Promise<boolean> {
    if (!this.sources || this.reloading || this.closing) return false;
    this.reloading = true;
    try {
      let config: Config;
      let from: string;
      try {
        const loaded = loadConfigSources(this.sources);
        config = loaded.config;
        from = describeSources(this.sources, loaded.files);
      } catch (err) {
        this.logs.logger.warn(`failed to reload config: ${(err as Error).message}`);
        return false;
      }
      this.logs.apply(config);
      this.current = this.reconfiguredState(config);
      this.logs.logger.info(`config reloaded from ${from}`);
      for (const listener of this.stateListeners) {
        try {
          listener(this.current);
        } catch (err) {
          this.logs.logger.warn(`state listener failed: ${(err as Error).message}`);
        }
      }
      return true;
    } finally {
      this.reloading = false;
    }
  }

  /**
   * Stops accepting, lets in-flight requests finish within the budget, stops every model
   * with what is left of it, then closes the remaining connections.
   */
  shutdown(budgetMs = SHUTDOWN_BUDGET_MS): Promise<void> {
    this.closing ??= this.doShutdown(budgetMs);
    return this.closing;
  }

  private async doShutdown(budgetMs: number): Promise<void> {
    const deadline = Date.now() + budgetMs;
    const server = this.server;
    this.streams.endAll();
    // Go's Shutdown neither waits for nor closes hijacked (websocket) connections, and
    // stopping the models ends them anyway; Node's close() would wait for them: cut them.
    for (const socket of this.upgraded) socket.destroy();
    // Peer forwards in flight may finish within the drain below (new ones are refused);
    // whatever still runs when it ends is cut (reference 5.5).
    this.peers.beginClosing();
    if (server) {
      const drained = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      // Node closes only the connections idle right now; a keep-alive connection whose last
      // response ends during the drain would hold `close()` (and the models' grace) until the
      // client drops it. Go's Shutdown closes connections as they turn idle: so do we.
      const sweep = setInterval(() => server.closeIdleConnections(), 100);
      await Promise.race([drained, new Promise((r) => setTimeout(r, Math.max(1, deadline - Date.now())).unref())]);
      clearInterval(sweep);
    }
    const cut = this.peers.abortAll();
    if (cut > 0) this.logs.logger.warn(`shutdown: ${cut} peer request(s) still in flight after the drain; cancelled`);
    // Every model, also those a reload is still stopping, within what is left of the budget.
    const left = Math.max(1, deadline - Date.now());
    await this.current.runtime.shutdown(left);
    this.proxy.close();
    this.peers.close();
    this.loop.stop();
    this.memoryTrim?.stop();
    this.metrics.close();
    server?.closeAllConnections();
  }
}
