/**
 * The keys of a `models.<id>` entry (reference 2.12): the one list of them. The decoded types
 * (ModelDraft, ModelConfig), the keys the decoder knows (and suggests for a misspelt one), the
 * decoder itself, the per-key rules and their messages, and the wording of a leftover macro
 * are all read from MODEL_FIELDS, and so is the key's part of config-schema.json (`schema`), so
 * a new model key is one entry here (and a test).
 *
 * The table's order is the order keys are decoded and checked in, so it keeps llama-swap's
 * order of rules: ttl, unloadTimeout, capabilities (then swapstate's and llmsnap's own: the
 * proxy URL, sleep mode). The rules that need every model (aliases)
 * are in validate-models.ts.
 */
import type { Field } from './field.ts';
import { checkSeconds, MAX_TIMER_SECONDS } from './limits.ts';
import { CAPABILITIES_SCHEMA, decodeCapabilities, resolveCapabilities } from './model-capabilities.ts';
import { decodeFields, modelField, type Drafts, type ModelFieldContext, type Values } from './model-field.ts';
import { decodeFilters, filtersSchema } from './model-filters.ts';
import { decodeSleepEndpoints, resolveSleepEndpoints, resolveSleepMode, SLEEP_MODE_SCHEMA, sleepEndpointsSchema } from './model-sleep.ts';
import { anyMapping, block, boolean, integer, text, textList } from './schema-shapes.ts';
import { invalidProxyUrl } from './proxy-url.ts';
import { decodeTimeouts, DEFAULT_MODEL_TIMEOUTS, timeoutsSchema } from './timeouts.ts';

/** llama-swap's default admission limit per model, and its floor for ComfyUI (reference 3.9). */
const DEFAULT_CONCURRENCY_LIMIT = 10;
export const COMFYUI_MODEL_ID = 'comfyui_auto';
const COMFYUI_MIN_CONCURRENCY = 50;

export const MODEL_FIELDS = {
  /** Comment lines dropped, macros and `${PORT}` expanded; split into words at spawn. */
  cmd: modelField({
    decode: (f) => f.string(),
    leftoverMacros: 'named',
    schema: text('Command that starts the model server: POSIX-shell words, run without a shell; lines starting with # are dropped. Macros and ${PORT} expand.'),
  }),
  /** '' when unset; `${PID}` is left for stop time. */
  cmdStop: modelField({
    decode: (f) => f.string(),
    leftoverMacros: 'named',
    schema: text('Command that stops the model gracefully (${PID} is its pid); empty: SIGTERM, then SIGKILL after unloadTimeout.', { default: '' }),
  }),
  /** Upstream base URL (default `http://localhost:${PORT}`, set during macro expansion). */
  proxy: modelField({
    decode: (f) => f.string(),
    check: checkProxy,
    leftoverMacros: 'named',
    schema: text('Base URL requests are forwarded to: an absolute http(s) URL. Set it when cmd does not use ${PORT}.', {
      default: 'http://localhost:${PORT}',
    }),
  }),
  /**
   * Path probed until HTTP 200, or `none`. Trimmed, so `none` with stray spaces still disables
   * health checking, as in llama-swap.
   */
  checkEndpoint: modelField({
    decode: (f) => f.string('/health').trim(),
    leftoverMacros: 'named',
    schema: text('Path probed until it answers 200 before the model takes requests; `none` skips health checking.', { default: '/health' }),
  }),
  /** Effective idle seconds before unload (`ttl`, -1 meaning `globalTTL`); 0 never. */
  ttl: modelField({
    decode: (f) => f.int(-1),
    resolve: resolveTtl,
    schema: integer('Seconds idle before the model is unloaded; 0 never, -1 the global globalTTL.', {
      minimum: -1,
      maximum: MAX_TIMER_SECONDS,
      default: -1,
    }),
  }),
  /** Effective stop grace in seconds for unloads and TTL (0 meaning the global one). */
  unloadTimeout: modelField({
    decode: (f) => f.int(0),
    resolve: resolveUnloadTimeout,
    schema: integer('Seconds between SIGTERM (or cmdStop) and SIGKILL when unloading this model; 0: the global unloadTimeout.', {
      minimum: 0,
      maximum: MAX_TIMER_SECONDS,
      default: 0,
    }),
  }),
  /** As written; validate-models.ts adds the setParamsByID keys that become aliases. */
  aliases: modelField({ decode: (f) => f.stringList(), schema: textList('Other names requests may use for this model; unique over the config.') }),
  /** `NAME=value` entries appended to swapstate's environment. */
  env: modelField({ decode: (f) => f.stringList(), schema: textList('`NAME=value` entries added to the environment of cmd.') }),
  /** Rewrites the request's `model` field sent upstream; '' none. */
  useModelName: modelField({
    decode: (f) => f.string(),
    schema: text('Model name sent upstream in place of the requested one; empty: unchanged.', { default: '' }),
  }),
  unlisted: modelField({ decode: (f) => f.bool(false), schema: boolean('Hide the model from /v1/models; it still serves requests.', { default: false }) }),
  name: modelField({
    decode: (f) => f.string().trim(),
    leftoverMacros: 'named',
    schema: text('Display name in /v1/models.', { default: '' }),
  }),
  description: modelField({
    decode: (f) => f.string().trim(),
    leftoverMacros: 'named',
    schema: text('Description in /v1/models.', { default: '' }),
  }),
  metadata: modelField({
    decode: (f) => f.plainObject(),
    leftoverMacros: 'block',
    schema: anyMapping('Any data, passed through in /v1/models.'),
  }),
  /** Effective admission limit (0 or less in the file means 10). */
  concurrencyLimit: modelField({
    decode: (f) => f.int(0),
    resolve: resolveConcurrencyLimit,
    schema: integer('Requests in flight at once; more get 429. 0 or less: 10.', { default: 0 }),
  }),
  /** Effective `sendLoadingState` (per model, else global). */
  sendLoadingState: modelField({
    decode: (f) => (f.isSet ? f.bool(false) : undefined),
    resolve: (own, { globals }) => own ?? globals.sendLoadingState,
    schema: boolean('Stream loading progress to a streamed chat request while the model starts; absent: the global sendLoadingState.'),
  }),
  filters: modelField({
    decode: decodeFilters,
    leftoverMacros: { stripParams: 'named' },
    schema: filtersSchema('How request bodies are rewritten before they go upstream (JSON bodies only).'),
  }),
  capabilities: modelField({
    decode: decodeCapabilities,
    resolve: resolveCapabilities,
    leftoverMacros: 'block',
    schema: CAPABILITIES_SCHEMA,
  }),
  /** Upstream transport limits in seconds, 0 = none (timeouts.ts; defaults Go's DefaultTransport). */
  timeouts: modelField({
    decode: (f) => decodeTimeouts(f, DEFAULT_MODEL_TIMEOUTS),
    schema: timeoutsSchema('Transport limits to this model\'s server, in seconds.', DEFAULT_MODEL_TIMEOUTS),
  }),
  /**
   * `ignoreWebsockets`: websocket upgrades never start, queue for or keep alive the model
   * (reference 4.10). Forced on for `comfyui_auto` (reference 3.9).
   */
  compat: modelField({
    decode: decodeCompat,
    resolve: resolveCompat,
    schema: block('Compatibility switches.', {
      ignoreWebsockets: boolean('Websocket upgrades never start the model, queue or take a slot; while it is not ready they get 409. Forced on for comfyui_auto.', {
        default: false,
      }),
    }),
  }),
  /** llmsnap's keys (model-sleep.ts): `enable` puts the model to sleep on a swap instead of stopping it. */
  sleepMode: modelField({ decode: (f) => f.string('disable'), resolve: resolveSleepMode, schema: SLEEP_MODE_SCHEMA }),
  /** The calls that put it to sleep, in order; timeouts effective (else sleepRequestTimeout). */
  sleepEndpoints: modelField({
    decode: decodeSleepEndpoints,
    resolve: resolveSleepEndpoints('sleepEndpoints'),
    leftoverMacros: { endpoint: 'named', body: 'named' },
    schema: sleepEndpointsSchema('sleepEndpoints'),
  }),
  /** The calls that wake it, in order; timeouts effective (else wakeRequestTimeout). */
  wakeEndpoints: modelField({
    decode: decodeSleepEndpoints,
    resolve: resolveSleepEndpoints('wakeEndpoints'),
    leftoverMacros: { endpoint: 'named', body: 'named' },
    schema: sleepEndpointsSchema('wakeEndpoints'),
  }),
};

/** llama-swap model keys swapstate does not implement yet: accepted with a warning. */
export const MODEL_UNSUPPORTED_KEYS: readonly string[] = [];

/** A decoded model before the global defaults and the rules that need the whole config. */
export interface ModelDraft extends Drafts<typeof MODEL_FIELDS> {
  id: string;
  field: Field;
}

/** One `models.<id>` entry, defaults applied. */
export interface ModelConfig extends Values<typeof MODEL_FIELDS> {
  id: string;
}

export function decodeModel(id: string, field: Field): ModelDraft {
  return { id, field, ...decodeFields(field, MODEL_FIELDS, MODEL_UNSUPPORTED_KEYS) };
}

/** -1 means globalTTL; any other negative is an error. */
function resolveTtl(ttl: number, { id, field, globals }: ModelFieldContext): number {
  const effective = ttl === -1 ? globals.globalTTL : ttl;
  if (effective < 0) field.fail(`model ${id}: invalid TTL value ${effective}`);
  checkSeconds(effective, `model ${id}: ttl`, field.where);
  return effective;
}

/** 0 means the global unloadTimeout; a negative is an error. */
function resolveUnloadTimeout(seconds: number, { id, field, globals }: ModelFieldContext): number {
  if (seconds < 0) field.fail(`model ${id}: invalid unloadTimeout value ${seconds}`);
  checkSeconds(seconds, `model ${id}: unloadTimeout`, field.where);
  return seconds === 0 ? globals.unloadTimeout : seconds;
}

/** `compat` as written (absent: every option off). */
function decodeCompat(field: Field): { ignoreWebsockets: boolean } {
  field.keys(['ignoreWebsockets']);
  return { ignoreWebsockets: field.get('ignoreWebsockets').bool(false) };
}

function resolveCompat(compat: { ignoreWebsockets: boolean }, { id }: ModelFieldContext): { ignoreWebsockets: boolean } {
  return id === COMFYUI_MODEL_ID ? { ...compat, ignoreWebsockets: true } : compat;
}

function resolveConcurrencyLimit(limit: number, { id }: ModelFieldContext): number {
  const effective = limit > 0 ? limit : DEFAULT_CONCURRENCY_LIMIT;
  return id === COMFYUI_MODEL_ID ? Math.max(effective, COMFYUI_MIN_CONCURRENCY) : effective;
}

/** An absolute http(s) URL (proxy-url.ts says why llama-swap's leniency is not kept). */
function checkProxy(proxy: string, { id, field }: ModelFieldContext): void {
  const problem = invalidProxyUrl(proxy);
  if (problem) field.fail(`model ${id}: invalid proxy URL ${JSON.stringify(proxy)}: ${problem}`);
}

