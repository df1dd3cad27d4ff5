/**
 * The selector step of the model routes (reference/llama-swap.md 2.8, 3.4, 5.6): a request
 * naming a selector is rewritten to the target the selector picks, everywhere the request
 * names its model (body and query), and then goes on as a request for that target (aliases,
 * peers, filters and the scheduler as usual).
 *
 * A spillover selector counts its own requests per target, from the choice until the
 * response has ended or the client has left (exactly once). The counts belong to one server
 * state: a reload starts from zero, as llama-swap builds a new server, while a request begun
 * before the reload gives its count back to the state it was counted in.
 *
 * Not on `/upstream/...`: that route resolves models, aliases and peers only (404 otherwise).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { resolveSelectorTargets } from '../config/selectors.ts';
import type { SelectorConfig } from '../config/types.ts';
import { chooseTarget, type ChoiceTarget, type TargetState } from '../core/selector-choice.ts';
import type { SchedulerRuntime } from '../runtime/scheduler-runtime.ts';
import type { ServerState } from './deps.ts';
import { httpErrors } from './error-catalogue.ts';
import type { HttpError } from './http-error.ts';
import { rewriteModel, rewriteQueryModel } from './model-rewrite.ts';

export type SelectorOutcome =
  /** The model is no selector: nothing changed. */
  | { kind: 'none' }
  | { kind: 'refused'; error: HttpError }
  | {
      kind: 'chosen';
      selector: string;
      /** The target as the selector lists it (a model id, alias or peer model): the request's model now. */
      model: string;
      body: Buffer;
      /** The query (with its `?`, or ''), its `model` rewritten where it named one. */
      query: string;
    };

/** One selector's view within a server state: its targets resolved, and its own requests in flight. */
class SelectorLoad {
  readonly targets: ChoiceTarget[];
  private readonly inflight = new Map<string, number>();
  private roundRobin = 0;

  constructor(
    readonly selector: SelectorConfig,
    state: ServerState,
  ) {
    this.targets = resolveSelectorTargets(state.config, selector);
  }

  choose(runtime: SchedulerRuntime): ReturnType<typeof chooseTarget> {
    const choice = chooseTarget({
      id: this.selector.id,
      strategy: this.selector.strategy,
      targets: this.targets,
      spillover: this.selector.spillover,
      stateOf: (key) => targetState(runtime, key),
      inflightOf: (key) => this.inflight.get(key) ?? 0,
      roundRobin: this.roundRobin,
    });
    if (choice.ok && choice.rotated) this.roundRobin++;
    return choice;
  }

  /** Counts one request to `target`; the returned function gives it back (only the first call counts). */
  reserve(target: ChoiceTarget): () => void {
    this.inflight.set(target.key, (this.inflight.get(target.key) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.inflight.get(target.key) ?? 1) - 1;
      if (left > 0) this.inflight.set(target.key, left);
      else this.inflight.delete(target.key);
    };
  }
}

/** Per server state, per selector id; dropped with the state after a reload. */
const loads = new WeakMap<ServerState, Map<string, SelectorLoad>>();

function loadOf(state: ServerState, selector: SelectorConfig): SelectorLoad {
  let perState = loads.get(state);
  if (!perState) loads.set(state, (perState = new Map()));
  let load = perState.get(selector.id);
  if (!load) perState.set(selector.id, (load = new SelectorLoad(selector, state)));
  return load;
}

/**
 * A local target's process as the choice sees it. States an extension adds (sleep mode's
 * `sleeping`) count as ready when they serve requests without a start, else as stopped.
 */
function targetState(runtime: SchedulerRuntime, model: string): TargetState {
  const state = runtime.process(model)?.state ?? 'stopped';
  switch (state) {
    case 'ready':
    case 'starting':
    case 'stopping':
    case 'stopped':
      return state;
    case 'shutdown':
    case 'backoff':
      return 'unavailable';
    default:
      return runtime.serving(model) ? 'ready' : 'stopped';
  }
}

/** The selector `requested` names in this state's config, or null. */
export function selectorOf(state: ServerState, requested: string): SelectorConfig | null {
  return Object.hasOwn(state.config.selectors, requested) ? (state.config.selectors[requested] ?? null) : null;
}

/**
 * Applies the selector `requested` names, if any: picks its target and rewrites the request
 * to it. `body` is the request body as read, `query` the request's query (with its `?`).
 * A spillover choice is counted until `res` closes.
 */
export function applySelector(
  state: ServerState,
  req: IncomingMessage,
  res: ServerResponse,
  requested: string,
  body: Buffer,
  query: string,
  debug: (line: string) => void,
): SelectorOutcome {
  const selector = selectorOf(state, requested);
  if (selector === null) return { kind: 'none' };
  const load = loadOf(state, selector);
  const choice = load.choose(state.runtime);
  if (!choice.ok) return { kind: 'refused', error: httpErrors.noSpilloverTargets(selector.id) };
  const target = choice.target;
  if (selector.strategy === 'spillover') {
    const release = load.reserve(target);
    // 'close' comes once the response has ended, and also when the client left before.
    res.once('close', release);
    if (res.destroyed) release();
  }
  debug(`selector: id=${selector.id} target=${target.name}`);

  const isGet = req.method === 'GET' || req.method === 'HEAD';
  const contentType = String(req.headers['content-type'] ?? '');
  // JSON requests name their model in the body only (the query is not read); GET requests in
  // the query only; forms in the body, or in the query when the body has none.
  const jsonBody = !isGet && contentType.toLowerCase().includes('application/json');
  return {
    kind: 'chosen',
    selector: selector.id,
    model: target.name,
    body: isGet ? body : rewriteModel(body, contentType, target.name),
    query: jsonBody ? query : rewriteQueryModel(query, target.name),
  };
}
