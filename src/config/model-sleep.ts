/**
 * A model's sleep mode (issue 13), configured as llama-swap's fork llmsnap has it (reference
 * field.md section 7): `sleepMode: enable|disable`, and `sleepEndpoints` / `wakeEndpoints`,
 * lists of `{endpoint, method?, body?, timeout?}` called in order against the model's proxy
 * URL. A sleep-enabled model evicted by a swap is put to sleep (vLLM's `POST /sleep?level=1`)
 * instead of stopped, and woken by the next request for it.
 *
 * Three entries of the field table (model-fields.ts) are decoded here. Their rules, in the
 * order they are found: an entry's types while decoding (a mapping; `endpoint`, `method` and
 * `body` scalars, `timeout` an integer), then per key: each entry's `endpoint` given and
 * starting with `/`, its method GET, POST, PUT or PATCH (any case, kept upper case; POST when
 * absent), its timeout >= 0 (0 or absent: the global sleepRequestTimeout / wakeRequestTimeout),
 * then the pairing: `sleepMode: enable` needs sleepEndpoints, sleepEndpoints need
 * wakeEndpoints and the reverse. Endpoints written without `sleepMode: enable` are unused, as
 * in llmsnap: that loads with a warning.
 *
 * Macros (`${PORT}`, `${MODEL_ID}`, the user's) expand in `endpoint` and `body` as in every
 * model string (expand-macros.ts); a leftover one is named `found in M.sleepEndpoints.endpoint`.
 */
import type { Field } from './field.ts';
import { checkSeconds, MAX_TIMER_SECONDS } from './limits.ts';
import type { ModelFieldContext } from './model-field.ts';
import { block, integer, listOf, oneOf, text, type JsonSchema } from './schema-shapes.ts';

export type SleepMode = 'enable' | 'disable';

/** The HTTP methods an endpoint may use (llmsnap's). */
export const SLEEP_ENDPOINT_METHODS = ['GET', 'POST', 'PUT', 'PATCH'] as const;

export type SleepEndpointMethod = (typeof SLEEP_ENDPOINT_METHODS)[number];

/** One HTTP call of a sleep or a wake, as the runtime makes it. */
export interface SleepEndpoint {
  /** Path (and query) appended to the model's proxy URL, macros expanded: `/sleep?level=1`. */
  endpoint: string;
  method: SleepEndpointMethod;
  /** Request body as written ('' none), macros expanded; llmsnap sends it as JSON. */
  body: string;
  /** Effective seconds this call may take: its own `timeout`, else the global one (>= 1). */
  timeout: number;
}

/** An entry as written, types checked. */
export interface SleepEndpointDraft {
  /** null when the entry has no `endpoint`. */
  endpoint: string | null;
  method: string;
  body: string;
  /** 0 when absent: the global timeout. */
  timeout: number;
}

const ENTRY_KEYS = ['endpoint', 'method', 'body', 'timeout'];

const SLEEP_MODES: readonly SleepMode[] = ['enable', 'disable'];

/** Which list a key is, and the global timeout its entries fall back to. */
type ListKey = 'sleepEndpoints' | 'wakeEndpoints';
const GLOBAL_TIMEOUT = { sleepEndpoints: 'sleepRequestTimeout', wakeEndpoints: 'wakeRequestTimeout' } as const;
const OTHER_LIST = { sleepEndpoints: 'wakeEndpoints', wakeEndpoints: 'sleepEndpoints' } as const;

/** `sleepMode` in config-schema.json. */
export const SLEEP_MODE_SCHEMA = oneOf(
  'llmsnap: `enable` puts the model to sleep on a swap instead of stopping it (needs sleepEndpoints and wakeEndpoints).',
  SLEEP_MODES,
  { default: 'disable' },
);

/** `sleepEndpoints` or `wakeEndpoints` in config-schema.json. */
export function sleepEndpointsSchema(key: ListKey): JsonSchema {
  const what = key === 'sleepEndpoints' ? 'put the model to sleep' : 'wake the model';
  return listOf(
    `llmsnap: the HTTP calls that ${what}, in order, against its proxy URL (required with ${OTHER_LIST[key]}).`,
    block('One call.', {
      endpoint: text('Path (and query) on the proxy URL, starting with "/": `/sleep?level=1`. Required.'),
      method: oneOf('HTTP method (any case).', SLEEP_ENDPOINT_METHODS, { anyCase: true, default: 'POST' }),
      body: text('Request body, sent as JSON; macros expand in it.', { default: '' }),
      timeout: integer(`Seconds this call may take; 0 or absent: the global ${GLOBAL_TIMEOUT[key]}.`, {
        minimum: 0,
        maximum: MAX_TIMER_SECONDS,
        default: 0,
      }),
    }),
  );
}

/** `sleepEndpoints` or `wakeEndpoints` as written; unknown keys in an entry warn. */
export function decodeSleepEndpoints(field: Field): SleepEndpointDraft[] {
  return field.items().map((item) => {
    item.keys(ENTRY_KEYS);
    const endpoint = item.get('endpoint');
    return {
      endpoint: endpoint.isSet ? endpoint.string() : null,
      method: item.get('method').string('POST'),
      body: item.get('body').string(),
      timeout: item.get('timeout').int(0),
    };
  });
}

/** `sleepMode`: enable or disable, exactly; enable needs sleepEndpoints (which need wakeEndpoints). */
export function resolveSleepMode(mode: string, { id, field }: ModelFieldContext): SleepMode {
  const valid = SLEEP_MODES.find((m) => m === mode);
  if (!valid) return field.fail(`model ${id}: sleepMode must be enable or disable, got ${JSON.stringify(mode)}`);
  const sleepEndpoints = field.sibling('sleepEndpoints').items().length;
  const wakeEndpoints = field.sibling('wakeEndpoints').items().length;
  if (valid === 'enable' && sleepEndpoints === 0) {
    field.fail(`model ${id}: sleepMode enable needs sleepEndpoints (and wakeEndpoints): the calls that put the model to sleep and wake it`);
  }
  if (valid === 'disable' && sleepEndpoints + wakeEndpoints > 0) {
    const written = sleepEndpoints > 0 ? 'sleepEndpoints' : 'wakeEndpoints';
    const at = field.isSet ? field.where : field.sibling(written).where;
    field.ctx.warnings.push(
      `${at ?? field.ctx.sources.file}: model ${id}: ${written} are set but sleepMode is not enable: ` +
        'the model is stopped on a swap, never put to sleep (add sleepMode: enable)',
    );
  }
  return valid;
}

/**
 * The entries of `sleepEndpoints` (or `wakeEndpoints`) with their rules and effective
 * timeouts, then the rule that the other list is there too.
 */
export function resolveSleepEndpoints(key: ListKey): (drafts: SleepEndpointDraft[], at: ModelFieldContext) => SleepEndpoint[] {
  return (drafts, { id, field, globals }) => {
    const items = field.items();
    const fallback = globals[GLOBAL_TIMEOUT[key]];
    const endpoints = drafts.map((draft, index) => resolveEntry(draft, items[index]!, `model ${id}: ${key}[${index}]`, fallback));
    const other = OTHER_LIST[key];
    if (endpoints.length > 0 && field.sibling(other).items().length === 0) {
      field.fail(`model ${id}: ${other} is required with ${key}`);
    }
    return endpoints;
  };
}

function resolveEntry(draft: SleepEndpointDraft, item: Field, subject: string, globalTimeout: number): SleepEndpoint {
  if (draft.endpoint === null || draft.endpoint === '') {
    return item.fail(`${subject}: endpoint is required (a path such as /sleep?level=1)`);
  }
  if (!draft.endpoint.startsWith('/')) {
    item.get('endpoint').fail(`${subject}: endpoint ${JSON.stringify(draft.endpoint)} must start with "/" (a path on the proxy URL)`);
  }
  const method = SLEEP_ENDPOINT_METHODS.find((m) => m === draft.method.toUpperCase());
  if (!method) {
    return item.get('method').fail(`${subject}: invalid method ${JSON.stringify(draft.method)} (must be GET, POST, PUT or PATCH)`);
  }
  const timeout = item.get('timeout');
  if (draft.timeout < 0) timeout.fail(`${subject}: invalid timeout value ${draft.timeout} (seconds, >= 0; 0 means the global one)`);
  checkSeconds(draft.timeout, `${subject}: timeout`, timeout.where);
  return { endpoint: draft.endpoint, method, body: draft.body, timeout: draft.timeout === 0 ? globalTimeout : draft.timeout };
}
