/**
 * `swapstate --check-config`: what a loaded config would run, like `nginx -t`, without
 * listening or starting anything.
 *
 * The loader has already checked everything llama-swap checks at load. One more thing is
 * checked here: that every `cmd` (and `cmdStop`) splits into words. swapstate only splits a
 * command when it starts the model, so a stray quote would otherwise show up as a failed
 * start at the first request, not at the check meant to catch it.
 */
import { parseCommand } from './runtime/command-line.ts';
import { DEFAULT_GROUP, withDefaultGroup } from './core/group-swapper.ts';
import { DEFAULT_MODEL_TIMEOUTS, TIMEOUT_KEYS } from './config/timeouts.ts';
import type { Config, ModelConfig, PeerConfig, UpstreamTimeouts } from './config/types.ts';
import { isSecretHeader, REDACTED } from './observability/redact.ts';

export interface ConfigReport {
  /** The report, for stdout. */
  text: string;
  /** What makes the config unusable although it loaded (a cmd that cannot be split); none: valid. */
  problems: string[];
}

/** Where the check says the server would listen (from the command line). */
export interface ListenPlan {
  host: string;
  port: number;
  tls: boolean;
}

/** `["llama-server", "--port", "5800"]`: each word exactly, quoted so spaces and quotes show. */
function words(argv: readonly string[]): string {
  return `[${argv.map((w) => JSON.stringify(w)).join(', ')}]`;
}

/** The port a proxy URL reaches (its explicit port, else the scheme's), or null when unparsable. */
export function proxyPort(proxy: string): number | null {
  try {
    const url = new URL(proxy);
    if (url.port !== '') return Number(url.port);
    return url.protocol === 'https:' ? 443 : url.protocol === 'http:' ? 80 : null;
  } catch {
    return null;
  }
}

/** `NAME=value`, with the value hidden when the name says it is a secret (key, token, ...). */
function envEntry(entry: string): string {
  const eq = entry.indexOf('=');
  const name = eq < 0 ? entry : entry.slice(0, eq);
  return eq >= 0 && isSecretHeader(name) ? `${name}=${REDACTED}` : entry;
}

/** The model's lines; a cmd that cannot be split adds to `problems`. */
function modelLines(id: string, m: ModelConfig, place: { label: 'group' | 'sets'; value: string }, problems: string[]): string[] {
  const lines = [`  ${id}${m.unlisted ? ' (unlisted)' : ''}`];
  const field = (name: string, value: string) => lines.push(`    ${`${name}:`.padEnd(13)}${value}`);
  if (m.aliases.length > 0) field('aliases', m.aliases.join(', '));
  try {
    field('cmd', words(parseCommand(m.cmd)));
  } catch (err) {
    const why = `model ${id}: cmd cannot be split into words: ${(err as Error).message}`;
    problems.push(why);
    field('cmd', `INVALID: ${(err as Error).message}`);
  }
  if (m.cmdStop !== '') {
    try {
      // ${PID} is filled in at stop time; any number shows the words.
      parseCommand(m.cmdStop.replaceAll('${PID}', '0'));
      field('cmdStop', m.cmdStop.trim());
    } catch (err) {
      problems.push(`model ${id}: cmdStop cannot be split into words: ${(err as Error).message}`);
      field('cmdStop', `INVALID: ${(err as Error).message}`);
    }
  }
  if (m.env.length > 0) field('env', m.env.map(envEntry).join(' '));
  const port = proxyPort(m.proxy);
  field('proxy', port === null ? m.proxy : `${m.proxy} (port ${port})`);
  field('health', m.checkEndpoint === 'none' ? 'none (ready once started)' : `GET ${m.checkEndpoint}`);
  field('ttl', m.ttl > 0 ? `${m.ttl}s (unloaded after ${m.ttl} s without requests)` : 'none (stays loaded until swapped out or unloaded)');
  field(place.label, place.value);
  // Only when they differ from llama-swap's defaults, so a plain model's report stays short.
  if (TIMEOUT_KEYS.some((k) => m.timeouts[k] !== DEFAULT_MODEL_TIMEOUTS[k])) field('timeouts', timeoutsText(m.timeouts));
  if (m.compat.ignoreWebsockets) field('websockets', 'ignored (never start the model, take no slot)');
  return lines;
}

/** The lines of a peer: where it is, its models by FQN, whose key goes, filters, timeouts off the defaults. */
/** `connect 30s, keepalive 30s, responseHeader off, ...` */
function timeoutsText(t: UpstreamTimeouts): string {
  return TIMEOUT_KEYS.map((k) => `${k} ${t[k] === 0 ? 'off' : `${t[k]}s`}`).join(', ');
}

function peerLines(id: string, p: PeerConfig): string[] {
  const lines = [`  ${id}`];
  const field = (name: string, value: string) => lines.push(`    ${`${name}:`.padEnd(13)}${value}`);
  const port = proxyPort(p.proxy);
  field('proxy', port === null ? p.proxy : `${p.proxy} (port ${port})`);
  field('models', p.models.map((m) => `${id}/${m}`).join(', '));
  field('apiKey', p.apiKey === '' ? "none (the client's Authorization is forwarded)" : 'set (not shown; sent as Bearer and x-api-key)');
  const { stripParams, setParams, setParamsByID } = p.filters;
  const filters = [
    ...(stripParams.length > 0 ? [`strip ${stripParams.join(', ')}`] : []),
    ...(Object.keys(setParams).length > 0 ? [`set ${Object.keys(setParams).sort().join(', ')}`] : []),
    ...(Object.keys(setParamsByID).length > 0 ? [`set by id ${Object.keys(setParamsByID).sort().join(', ')}`] : []),
  ];
  if (filters.length > 0) field('filters', filters.join('; '));
  field('timeouts', timeoutsText(p.timeouts));
  return lines;
}

/**
 * The report of what `config` (loaded from `file`) would run: every model (aliases, the exact
 * command words, proxy and port, health check, ttl, group), the groups, the peers (proxy,
 * models by FQN, key, filters, timeouts), and the loader's warnings. Secret-looking env values are hidden; nothing is started or probed.
 */
export function describeConfig(config: Config, file: string, listen: ListenPlan): ConfigReport {
  const problems: string[] = [];
  const ids = Object.keys(config.models).sort();
  const groups = withDefaultGroup(config.groups, ids);
  const groupOf = new Map<string, string>();
  for (const [name, g] of Object.entries(groups)) for (const m of g.members) if (!groupOf.has(m)) groupOf.set(m, name);

  const host = listen.host.includes(':') ? `[${listen.host}]` : listen.host;
  const out: string[] = [
    `config:       ${file}`,
    `listen:       ${listen.tls ? 'https' : 'http'}://${host}:${listen.port}`,
    `settings:     healthCheckTimeout ${config.healthCheckTimeout}s, startPort ${config.startPort}, ` +
      `apiKeys ${config.apiKeys.length === 0 ? 'none (no authentication)' : `${config.apiKeys.length} (not shown)`}`,
  ];
  if (config.preload.length > 0) out.push(`preload:      ${config.preload.join(', ')}`);

  out.push('', `models (${ids.length}):`);
  if (ids.length === 0) out.push('  none: every request will be answered 404');
  // Under the matrix router the groups decide nothing: each model shows the sets it is in.
  const place = (id: string): { label: 'group' | 'sets'; value: string } =>
    config.matrix
      ? {
          label: 'sets',
          value: `${[...new Set(config.matrix.sets.filter((s) => s.members.includes(id)).map((s) => s.name))].join(', ') || 'none (runs alone)'}`,
        }
      : { label: 'group', value: groupOf.get(id) ?? DEFAULT_GROUP };
  for (const id of ids) out.push(...modelLines(id, config.models[id]!, place(id), problems));

  if (config.matrix) {
    const m = config.matrix;
    out.push('', `matrix (${m.sets.length} combinations, in the solver's order):`);
    for (const set of m.sets) out.push(`  ${set.name} (${set.dsl}): ${set.members.join(', ')}`);
    const costs = Object.entries(m.evictCosts);
    out.push(`  evict costs: ${costs.length === 0 ? 'all 1' : `${costs.map(([id, c]) => `${id} ${c}`).join(', ')}; others 1`}`);
  } else {
    const names = Object.keys(groups);
    out.push('', `groups (${names.length}):`);
    for (const name of names) {
      const g = groups[name]!;
      out.push(`  ${name}: swap ${g.swap}, exclusive ${g.exclusive}, persistent ${g.persistent}; members: ${g.members.join(', ') || 'none'}`);
    }
  }

  const peerIds = Object.keys(config.peers);
  if (peerIds.length > 0) {
    out.push('', `peers (${peerIds.length}; requests for their models are forwarded, nothing starts here):`);
    for (const id of peerIds) out.push(...peerLines(id, config.peers[id]!));
  }

  out.push('', `warnings (${config.warnings.length}):`);
  for (const w of config.warnings) out.push(`  ${w}`);
  if (config.warnings.length === 0) out.push('  none');
  out.push('');
  return { text: out.join('\n'), problems };
}
