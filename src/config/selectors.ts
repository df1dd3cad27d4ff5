/**
 * `selectors.<virtualID>` (reference/llama-swap.md 2.8): virtual model ids that pick a target
 * per request (strategies: src/core/selector-choice.ts).
 *
 * Decoded with the rest of the file (so unknown keys warn in file order), checked last, as in
 * llama-swap, once models, aliases, routing and peers are known. Messages are llama-swap's;
 * each points at the key it is about.
 */
import { ConfigError } from './config-error.ts';
import type { Field } from './field.ts';
import { resolvePeerModel, resolveTarget } from './resolve-model.ts';
import type { Config, SelectorConfig, SelectorStrategy } from './types.ts';
import { anyMapping, block, boolean, integer, mapOf, oneOf, text, textList } from './schema-shapes.ts';

/** llama-swap's implicit group of the models no configured group lists. */
const DEFAULT_GROUP = '(default)';

const STRATEGIES: readonly SelectorStrategy[] = ['warm', 'pin', 'spillover'];

/** `selectors` in config-schema.json. */
export const SELECTORS_SCHEMA = mapOf(
  'Virtual model ids that pick one of their targets per request.',
  block('A selector.', {
    strategy: oneOf('warm: a loaded target first; pin: the first target; spillover: the next target when one is busy. Required.', STRATEGIES),
    targets: textList('Models (local, alias or peer) the selector picks from, in order. At least one.'),
    settings: block('Strategy settings.', {
      spillover: integer('spillover: requests in flight on a target before the next one takes over (>= 1).', { default: 1 }),
    }),
    name: text('Display name in /v1/models.', { default: '' }),
    description: text('Description in /v1/models.', { default: '' }),
    unlisted: boolean('Hide the selector from /v1/models.', { default: false }),
    metadata: anyMapping('Any data, passed through in /v1/models.'),
  }),
);

/** One selector as written, with its fields for `file:line`. */
export interface SelectorDraft extends Omit<SelectorConfig, 'strategy'> {
  field: Field;
  /** As written; checked against the strategies by validateSelectors. */
  strategy: string;
}

/** Reads `selectors` (types and defaults only; the rules are {@link validateSelectors}'). */
export function decodeSelectors(field: Field): SelectorDraft[] {
  return field.entries().map(([id, f]) => {
    f.keys(['strategy', 'targets', 'settings', 'name', 'description', 'unlisted', 'metadata']);
    const settings = f.get('settings').keys(['spillover']);
    return {
      id,
      field: f,
      strategy: f.get('strategy').string(),
      targets: f.get('targets').stringList(),
      spillover: settings.get('spillover').int(1),
      name: f.get('name').string(),
      description: f.get('description').string(),
      unlisted: f.get('unlisted').bool(false),
      metadata: f.get('metadata').plainObject(),
    };
  });
}

/**
 * Checks the selectors against the rest of the loaded config (`cfg.selectors` is not read)
 * and returns them by id.
 *
 * @throws ConfigError e.g. `selectors.fast.targets[1] references selector "slow"; selector chaining is not supported`
 */
export function validateSelectors(drafts: readonly SelectorDraft[], cfg: Config): Record<string, SelectorConfig> {
  const ids = new Set(drafts.map((d) => d.id));
  checkPeerNamespace(drafts, cfg);
  const out: Record<string, SelectorConfig> = {};
  for (const d of drafts) {
    const fail = (message: string, at: Field = d.field): never => {
      throw new ConfigError(message, at.where ?? d.field.where);
    };
    const { id } = d;
    if (id.trim() === '') fail('selectors: selector names cannot be empty');
    if (Object.hasOwn(cfg.models, id)) fail(`selectors.${id}: name conflicts with model ID ${JSON.stringify(id)}`);
    if (Object.hasOwn(cfg.aliases, id)) fail(`selectors.${id}: name conflicts with model alias ${JSON.stringify(id)}`);

    const strategy = d.strategy as SelectorStrategy;
    if (d.strategy === '') fail(`selectors.${id}.strategy is required`, d.field.get('strategy'));
    if (!STRATEGIES.includes(strategy)) {
      fail(`selectors.${id}.strategy: unknown strategy ${JSON.stringify(d.strategy)} (valid: warm, pin, spillover)`, d.field.get('strategy'));
    }
    if (d.targets.length === 0) fail(`selectors.${id}.targets must contain at least one entry`, d.field.get('targets'));

    const items = d.field.get('targets').items();
    // Spillover counts requests per resolved model (a local id, a peer FQN): two names of one
    // model would count it twice.
    const resolved: string[] = [];
    const local: string[] = [];
    d.targets.forEach((target, i) => {
      const at = items[i] ?? d.field;
      if (ids.has(target)) {
        fail(`selectors.${id}.targets[${i}] references selector ${JSON.stringify(target)}; selector chaining is not supported`, at);
      }
      const where = resolveTarget(cfg, target);
      if (where === null) fail(`selectors.${id}.targets[${i}] references unknown model ${JSON.stringify(target)}`, at);
      if (strategy === 'warm' && where?.kind !== 'local') {
        fail(`selectors.${id}.targets[${i}] must resolve to a local model for strategy ${JSON.stringify(strategy)}`, at);
      }
      if (where?.kind === 'local') {
        resolved.push(where.model);
        local.push(where.model);
      } else if (where) {
        resolved.push(where.fqn);
      }
    });

    if (strategy === 'spillover') {
      if (d.spillover < 1) fail(`selectors.${id}.settings.spillover must be >= 1`, d.field.get('settings').get('spillover'));
      const seen = new Set<string>();
      for (const model of resolved) {
        if (seen.has(model)) fail(`selectors.${id}.targets contains duplicate resolved model ${JSON.stringify(model)}`, d.field.get('targets'));
        seen.add(model);
      }
      const problem = coexistProblem(cfg, id, local);
      if (problem !== null) fail(problem, d.field.get('targets'));
    }

    out[id] = {
      id,
      strategy,
      targets: d.targets,
      spillover: d.spillover,
      name: d.name,
      description: d.description,
      unlisted: d.unlisted,
      metadata: d.metadata,
    };
  }
  return out;
}

/**
 * A selector id equal to a peer model's FQN would hide it. llama-swap finds this in its
 * peer-namespace pass, before the selector rules, and so does this (FQNs in sorted order).
 */
function checkPeerNamespace(drafts: readonly SelectorDraft[], cfg: Config): void {
  const fqns = Object.entries(cfg.peers)
    .flatMap(([peer, p]) => p.models.map((m) => `${peer}/${m}`))
    .sort();
  for (const fqn of fqns) {
    const clash = drafts.find((d) => d.id === fqn);
    if (clash) throw new ConfigError(`selector ID ${JSON.stringify(fqn)} conflicts with fully qualified peer model name`, clash.field.where);
  }
}

/**
 * Why the local targets of a spillover selector could not all run at once, or null. Spillover
 * keeps every target in use loaded: a router that swapped one out for the next would thrash.
 * Matrix: one expanded set holds them all. Groups: one group, with `swap: false`.
 */
function coexistProblem(cfg: Config, id: string, local: readonly string[]): string | null {
  if (local.length <= 1) return null;
  if (cfg.router === 'matrix') {
    const together = (cfg.matrix?.sets ?? []).some((set) => local.every((m) => set.members.includes(m)));
    return together ? null : `selectors.${id}.targets must all appear together in one expanded matrix set`;
  }
  // Models in no group are in llama-swap's implicit `(default)` group, which swaps.
  const groupOf = (model: string): string => Object.entries(cfg.groups).find(([, g]) => g.members.includes(model))?.[0] ?? DEFAULT_GROUP;
  const group = groupOf(local[0] as string);
  const swaps = group === DEFAULT_GROUP || cfg.groups[group]?.swap !== false;
  if (swaps) return `selectors.${id} spillover targets must share a group with swap: false`;
  if (local.some((m) => groupOf(m) !== group)) return `selectors.${id} spillover targets must share one routing group`;
  return null;
}

/** A selector target with what it resolves to, for the request path and the listing. */
export interface ResolvedSelectorTarget {
  /** As written. */
  name: string;
  /** The real model id (local) or the peer FQN. */
  key: string;
  local: boolean;
}

/** The targets of a loaded selector, resolved (configs are immutable, so callers may cache this). */
export function resolveSelectorTargets(cfg: Config, selector: SelectorConfig): ResolvedSelectorTarget[] {
  return selector.targets.map((name) => {
    const where = resolveTarget(cfg, name);
    if (where?.kind === 'local') return { name, key: where.model, local: true };
    // Validation made sure every target resolves; a peer model's count is kept under its FQN.
    return { name, key: where?.fqn ?? resolvePeerModel(cfg, name)?.fqn ?? name, local: false };
  });
}
