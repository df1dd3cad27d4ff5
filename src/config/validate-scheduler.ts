/**
 * Name lists that point at models: `routing.scheduler` (reference 2.3) and
 * `hooks.on_startup.preload` (reference 2.9). Both accept a model id or an alias and are
 * stored under the real model id.
 */
import type { ConfigDraft } from './decode-config.ts';
import { ConfigError } from './config-error.ts';

/** Model id first, then alias: a model id always wins over a same-named alias. */
export type NameResolver = (name: string) => string | null;

/**
 * `routing.scheduler.settings.fifo.priority`, keyed by real model id.
 *
 * llama-swap lets an alias key pass validation and then never matches it (its lookup uses
 * the real id), so the priority silently does nothing. We resolve the alias. When a model is
 * named both by its id and by an alias, the id entry wins.
 */
export function validateScheduler(draft: ConfigDraft, resolve: NameResolver): Record<string, number> {
  const scheduler = draft.root.get('routing').get('scheduler');
  const use = draft.schedulerUse === '' ? 'fifo' : draft.schedulerUse;
  if (use !== 'fifo') {
    throw new ConfigError(`routing.scheduler.use: unknown scheduler ${JSON.stringify(use)} (valid: fifo)`, scheduler.get('use').where);
  }
  const byId = new Map<string, number>();
  const fromAlias = new Map<string, number>();
  for (const { key, value, field } of draft.priority) {
    const id = resolve(key);
    if (id === null) {
      throw new ConfigError(`routing.scheduler.settings.fifo.priority references unknown model ${JSON.stringify(key)}`, field.where);
    }
    (id === key ? byId : fromAlias).set(id, value);
  }
  for (const [id, value] of fromAlias) if (!byId.has(id)) byId.set(id, value);
  return Object.fromEntries(byId);
}

/** Trimmed, resolved to model ids; empty and unknown names are dropped without a word, as in llama-swap. */
export function resolvePreload(draft: ConfigDraft, resolve: NameResolver): string[] {
  const preload: string[] = [];
  for (const entry of draft.preload) {
    const name = entry.trim();
    if (name === '') continue;
    const id = resolve(name);
    if (id !== null) preload.push(id);
  }
  return preload;
}
