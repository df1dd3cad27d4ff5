#!/usr/bin/env -S node --max-semi-space-size=2 --no-allocation-site-pretenuring --no-maglev
/**
 * The `swapstate` command: load the config, serve, and handle signals like llama-swap
 * (reference 1.3): SIGHUP reloads; SIGINT / SIGTERM drain and stop every model, exit 0.
 */
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { describeSources, loadConfigSources, type ConfigSources } from './config/load-sources.ts';
import { watchConfigSources } from './config/watch-sources.ts';
import { parseInspectMode } from './config/inspect-mode.ts';
import type { Config } from './config/types.ts';
import { describeConfig } from './check-config.ts';
import { CliError, isLoopback, parseArgs, parseListen, USAGE } from './cli-args.ts';
import { createInspection } from './observability/inspect.ts';
import { Logs } from './observability/logger.ts';
import { GroupLedger } from './runtime/group-ledger.ts';
import { processGroups } from './runtime/process-groups.ts';
import { pipesDrained } from './runtime/os-process.ts';
import { SHUTDOWN_BUDGET_MS, SwapstateServer } from './server.ts';

/** Force exit if a graceful shutdown hangs past its budget (llama-swap: 35 s). */
const SHUTDOWN_BACKSTOP_MS = SHUTDOWN_BUDGET_MS + 5_000;

function packageVersion(): string {
  for (const rel of ['../package.json', '../../package.json']) {
    try {
      return (JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as { version: string }).version;
    } catch {
      /* try the next layout (src/ under tsx, dist/src/ when built) */
    }
  }
  return '0.0.0';
}

function fail(message: string): never {
  process.stderr.write(`swapstate: ${message}\n`);
  process.exit(1);
}

async function main(): Promise<void> {
  let args;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (err) {
    if (err instanceof CliError) {
      process.stderr.write(`${err.message}\n${USAGE}`);
      process.exit(2);
    }
    throw err;
  }
  if (args.help) {
    process.stdout.write(USAGE);
    return;
  }
  const v = packageVersion();
  if (args.version) {
    process.stdout.write(`version: ${v} (unknown), built at unknown\n`);
    return;
  }
  if (args.config === null && args.configDir === null) fail('at least one of -config or -config-dir must be provided');
  if ((args.tlsCertFile === null) !== (args.tlsKeyFile === null)) {
    fail('both -tls-cert-file and -tls-key-file must be provided for TLS');
  }
  const tls = args.tlsCertFile && args.tlsKeyFile ? { cert: args.tlsCertFile, key: args.tlsKeyFile } : undefined;

  const sources: ConfigSources = { config: args.config, configDir: args.configDir };
  let config: Config;
  let from: string;
  try {
    const loaded = loadConfigSources(sources);
    config = loaded.config;
    from = describeSources(sources, loaded.files);
  } catch (err) {
    fail(`failed to load config: ${(err as Error).message}`);
  }
  let listen;
  try {
    listen = parseListen(args.listen ?? (tls ? '127.0.0.1:8443' : '127.0.0.1:8080'));
  } catch (err) {
    fail((err as Error).message);
  }
  if (args.checkConfig) {
    // Like `nginx -t`: report and exit before anything is reaped, listened on or started.
    const report = describeConfig(config, from, { ...listen, tls: tls !== undefined });
    process.stdout.write(report.text);
    if (report.problems.length > 0) {
      for (const p of report.problems) process.stderr.write(`swapstate: ${from}: ${p}\n`);
      process.stderr.write(`swapstate: ${from}: config check failed\n`);
      process.exitCode = 1;
    } else {
      process.stdout.write(`swapstate: ${from}: config is valid\n`);
    }
    return;
  }

  const logs = new Logs(config);
  // A swapstate that was SIGKILLed could not stop its model servers: stop them now, before
  // ours claim the same ports and GPUs. Then record our own groups for the next start.
  const ledger = new GroupLedger();
  const reaped = ledger.reapOrphans();
  if (reaped.length > 0) {
    logs.logger.warn(`reaped ${reaped.length} model process group(s) left by a swapstate that was killed: ${reaped.join(', ')}`);
  }
  ledger.follow(processGroups);
  process.on('exit', () => ledger.remove());
  let inspection;
  try {
    inspection = await createInspection(args.inspect !== null ? parseInspectMode(args.inspect) : config.inspect, logs.logger);
  } catch (err) {
    fail((err as Error).message);
  }
  const server = new SwapstateServer(config, logs, sources, v, inspection.inspect);
  try {
    const addr = await server.listen({ ...listen, tls });
    logs.logger.info(`swapstate ${v} listening on ${tls ? 'https' : 'http'}://${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}`);
  } catch (err) {
    await server.shutdown(1_000);
    fail(`failed to listen on ${args.listen ?? `${listen.host}:${listen.port}`}: ${(err as Error).message}`);
  }
  if (!isLoopback(listen.host) && config.apiKeys.length === 0) {
    logs.logger.warn(`listening on ${listen.host}, reachable from other hosts, and no apiKeys are configured: anyone on the network can use and unload your models`);
    if (config.allowedHosts.length === 0) {
      // The DNS-rebinding guard (http/browser-guard.ts) would answer 403 to a DNS name it does
      // not know; say so before the first client meets it.
      logs.logger.info(
        `clients must name this server by an IP address, localhost or "${hostname()}"; add any other name they use (a DNS name, a reverse proxy's Host) to allowedHosts`,
      );
    }
  }

  process.on('SIGHUP', () => void server.reload());
  if (args.watchConfig) watchConfigSources(sources, () => void server.reload());

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return; // further signals during shutdown are swallowed, as in llama-swap
    stopping = true;
    logs.logger.info(`received ${signal}, shutting down`);
    setTimeout(() => process.exit(1), SHUTDOWN_BACKSTOP_MS).unref();
    void server
      .shutdown()
      .then(() => pipesDrained())
      .then(() => {
        inspection.stop();
        logs.logger.info('shutdown complete');
        process.exit(0);
      });
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

void main();
