/**
 * What an upstream's answer says about the work done (reference 7.3): tokens in and out,
 * cached and drafted tokens, prompt and generation speed, from the shapes the servers
 * behind swapstate send:
 *
 * - OpenAI `usage` (`prompt_tokens`/`completion_tokens`, `prompt_tokens_details.cached_tokens`),
 *   the Responses API's `response.usage` and Anthropic's `message.usage` in streams
 *   (`input_tokens`/`output_tokens`, `cache_read_input_tokens`, `input_tokens_details.cached_tokens`);
 * - llama.cpp's `timings`, which win over `usage` where both are present (its counts are the
 *   server's own, and only it knows the speeds): `prompt_n`, `predicted_n`, `cache_n`,
 *   `prompt_per_second`, `predicted_per_second`, `draft_n` with `draft_n_accepted`, and
 *   `prompt_ms + predicted_ms` as a floor of the duration;
 * - vLLM's `metrics`: `time_to_first_token_ms` gives the prompt speed of the uncached part,
 *   `mean_itl_ms` the generation speed, `speculative_decoding` the drafted and accepted tokens.
 *
 * Pure: no I/O, no clock. The caller says how long the exchange took on the wall.
 * "Unknown" is -1 (the datum was looked for and absent) where llama-swap has it so; an answer
 * with nothing to read records all zeros, as there.
 */
// Node's status texts phrase a status as Go's StatusText does (they agree on the common ones).
import { http } from '../node-http.ts';
import { gunzipSync, inflateRawSync, inflateSync } from 'node:zlib';
import { tailMembers } from './json-tail.ts';

/** The `tokens` object of an activity entry, in llama-swap's JSON names. */
export interface TokenMetrics {
  cache_tokens: number;
  draft_tokens: number;
  draft_acc_tokens: number;
  input_tokens: number;
  output_tokens: number;
  prompt_per_second: number;
  tokens_per_second: number;
}

/** Nothing read: all zeros (a non-200, an empty, undecodable or usage-less answer). */
export const ZERO_TOKENS: Readonly<TokenMetrics> = Object.freeze({
  cache_tokens: 0,
  draft_tokens: 0,
  draft_acc_tokens: 0,
  input_tokens: 0,
  output_tokens: 0,
  prompt_per_second: 0,
  tokens_per_second: 0,
});

type Json = unknown;

/** A JSON value as a whole number, the way gjson's `Int()` reads it (strings parsed, else 0). */
function int(v: Json): number {
  if (typeof v === 'number') return Number.isFinite(v) ? Math.trunc(v) : 0;
  if (typeof v === 'string') {
    const n = Number(v);
    return Number.isFinite(n) ? Math.trunc(n) : 0;
  }
  return v === true ? 1 : 0;
}

/** A JSON value as a number, the way gjson's `Float()` reads it. */
function float(v: Json): number {
  if (typeof v === 'number') return Number.isFinite(v) ? v : 0;
  if (typeof v === 'string') {
    const n = Number(v);
    return Number.isFinite(n) ? n : 0;
  }
  return v === true ? 1 : 0;
}

/** A key of an object, or undefined ("does not exist") for anything else. */
function get(obj: Json, key: string): Json {
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) return undefined;
  return (obj as Record<string, Json>)[key];
}

/** Token counts read from one `usage` object; cached -1 when it does not say. */
export interface UsageCounts {
  input: number;
  output: number;
  cached: number;
  /** Whether any of the three was present. */
  ok: boolean;
}

/** Reads a `usage` object, whichever API's spelling it uses. */
export function usageCounts(usage: Json): UsageCounts {
  const out: UsageCounts = { input: 0, output: 0, cached: -1, ok: false };
  if (usage === undefined) return out;
  const pick = (...keys: Array<Json>): Json => keys.find((v) => v !== undefined);
  const input = pick(get(usage, 'prompt_tokens'), get(usage, 'input_tokens'));
  if (input !== undefined) {
    out.input = int(input);
    out.ok = true;
  }
  const output = pick(get(usage, 'completion_tokens'), get(usage, 'output_tokens'));
  if (output !== undefined) {
    out.output = int(output);
    out.ok = true;
  }
  const cached = pick(
    get(usage, 'cache_read_input_tokens'),
    get(get(usage, 'input_tokens_details'), 'cached_tokens'),
    get(get(usage, 'prompt_tokens_details'), 'cached_tokens'),
  );
  if (cached !== undefined) {
    out.cached = int(cached);
    out.ok = true;
  }
  return out;
}

/**
 * What a stream has said so far, one `data:` event at a time: the usage counts (a later
 * positive count replaces an earlier one, a later cached count any earlier one), and the last
 * `timings` and `metrics` objects. Holds no text, so it costs the same for any stream length.
 */
export class StreamUsage {
  input = 0;
  output = 0;
  cached = -1;
  timings: Json = undefined;
  metrics: Json = undefined;
  /** Whether any event carried usage, timings or metrics. */
  seen = false;

  /** One parsed `data:` event. */
  add(event: Json): void {
    for (const usage of [get(event, 'usage'), get(get(event, 'response'), 'usage'), get(get(event, 'message'), 'usage')]) {
      if (usage === undefined) continue;
      const c = usageCounts(usage);
      if (!c.ok) continue;
      this.seen = true;
      if (c.input > 0) this.input = c.input;
      if (c.output > 0) this.output = c.output;
      if (c.cached >= 0) this.cached = c.cached;
    }
    const timings = get(event, 'timings');
    if (timings !== undefined) {
      this.timings = timings;
      this.seen = true;
    }
    const metrics = get(event, 'metrics');
    if (metrics !== undefined) {
      this.metrics = metrics;
      this.seen = true;
    }
  }

  /** The tokens and duration the stream reported, or all zeros when it reported none. */
  result(wallMs: number): { tokens: TokenMetrics; durationMs: number } {
    if (!this.seen) return { tokens: { ...ZERO_TOKENS }, durationMs: wallMs };
    return buildMetrics(wallMs, { input: this.input, output: this.output, cached: this.cached }, this.timings, this.metrics);
  }
}

/**
 * Counts and speeds from usage counts, overridden by llama.cpp `timings` and completed by
 * vLLM `metrics` (reference 7.3; llama-swap's buildMetrics).
 */
export function buildMetrics(
  wallMs: number,
  counts: { input: number; output: number; cached: number },
  timings: Json,
  metrics: Json,
): { tokens: TokenMetrics; durationMs: number } {
  let { input, output, cached } = counts;
  let durationMs = wallMs;
  let promptPerSecond = -1;
  let tokensPerSecond = -1;
  let draft = -1;
  let draftAccepted = -1;
  if (timings !== undefined) {
    input = int(get(timings, 'prompt_n'));
    output = int(get(timings, 'predicted_n'));
    promptPerSecond = float(get(timings, 'prompt_per_second'));
    tokensPerSecond = float(get(timings, 'predicted_per_second'));
    // The server's own clock: a wall time shorter than its work is one that missed the start.
    const timed = Math.trunc(float(get(timings, 'prompt_ms')) + float(get(timings, 'predicted_ms')));
    if (timed > durationMs) durationMs = timed;
    const cacheN = get(timings, 'cache_n');
    if (cacheN !== undefined) cached = int(cacheN);
    const draftN = get(timings, 'draft_n');
    const accepted = get(timings, 'draft_n_accepted');
    if (draftN !== undefined && accepted !== undefined) {
      draft = int(draftN);
      draftAccepted = int(accepted);
    }
  }
  const spec = get(metrics, 'speculative_decoding');
  const specDrafted = get(spec, 'num_draft_tokens');
  const specAccepted = get(spec, 'num_accepted_draft_tokens');
  if (specDrafted !== undefined && specAccepted !== undefined) {
    draft = int(specDrafted);
    draftAccepted = int(specAccepted);
  }
  const ttft = float(get(metrics, 'time_to_first_token_ms'));
  if (ttft > 0) promptPerSecond = (input - Math.max(cached, 0)) / (ttft / 1000);
  const itl = float(get(metrics, 'mean_itl_ms'));
  if (itl > 0) tokensPerSecond = 1000 / itl;
  return {
    tokens: {
      cache_tokens: cached,
      draft_tokens: draft,
      draft_acc_tokens: draftAccepted,
      input_tokens: input,
      output_tokens: output,
      prompt_per_second: promptPerSecond,
      tokens_per_second: tokensPerSecond,
    },
    durationMs,
  };
}

/**
 * A whole (non-SSE) JSON answer: `usage`, `timings` (for `/infill`, an array, from its last
 * element) and `metrics`. All zeros when the body is not JSON or has none of them.
 */
export function parseJsonBody(body: string, path: string, wallMs: number): { tokens: TokenMetrics; durationMs: number } {
  let parsed: Json;
  try {
    parsed = JSON.parse(body);
  } catch {
    return { tokens: { ...ZERO_TOKENS }, durationMs: wallMs };
  }
  const usage = get(parsed, 'usage');
  let timings = get(parsed, 'timings');
  const metrics = get(parsed, 'metrics');
  if (path.startsWith('/infill') && Array.isArray(parsed) && parsed.length > 0) timings = get(parsed[parsed.length - 1], 'timings');
  if (usage === undefined && timings === undefined && metrics === undefined) return { tokens: { ...ZERO_TOKENS }, durationMs: wallMs };
  return buildMetrics(wallMs, usageCounts(usage), timings, metrics);
}

/** The members an answer's usage is read from (a body naming none of them has none). */
const ANSWER_KEYS = ['usage', 'timings', 'metrics'] as const;

/** The same, as bytes: searched in a body's bytes without a conversion per search. */
export const ANSWER_KEY_BYTES: readonly Buffer[] = ANSWER_KEYS.map((k) => Buffer.from(k));

/** Whether `body` names any of {@link ANSWER_KEYS} (a native search per key, none decoded). */
export function namesAnswerKey(body: Buffer): boolean {
  for (const key of ANSWER_KEY_BYTES) if (body.includes(key)) return true;
  return false;
}

/** Answers shorter than this are parsed whole. */
export const TAIL_MIN_BYTES = 4096;

/**
 * {@link parseJsonBody} of an answer's bytes, reading only the members at its end when they
 * hold the usage (json-tail.ts), the whole body when that is not sure. `/infill` answers
 * (arrays) always take the whole parse.
 */
export function parseJsonAnswer(body: Buffer, path: string, wallMs: number): { tokens: TokenMetrics; durationMs: number } {
  // Below TAIL_MIN_BYTES the whole parse is as cheap (measured: 2.2 µs for a 385-byte chat answer, the tail 2.7).
  const tail = body.length < TAIL_MIN_BYTES || path.startsWith('/infill') ? null : tailMembers(body, ANSWER_KEYS);
  if (tail === null) return parseJsonBody(body.toString('utf8'), path, wallMs);
  const usage = tail.get('usage');
  const timings = tail.get('timings');
  const metrics = tail.get('metrics');
  if (usage === undefined && timings === undefined && metrics === undefined) return { tokens: { ...ZERO_TOKENS }, durationMs: wallMs };
  return buildMetrics(wallMs, usageCounts(usage), timings, metrics);
}

/** Every `data:` event of a whole SSE body (the path for compressed streams, decoded at the end). */
export function parseSseBody(body: string, wallMs: number): { tokens: TokenMetrics; durationMs: number } {
  const usage = new StreamUsage();
  for (const line of body.split('\n')) addSseLine(usage, line);
  return usage.result(wallMs);
}

/** One SSE line: a `data:` line's JSON goes to `usage`; anything else (comments, `[DONE]`) is skipped. */
export function addSseLine(usage: StreamUsage, line: string): void {
  const t = line.trim();
  if (!t.startsWith('data:')) return;
  const data = t.slice(5).trim();
  if (data === '' || data === '[DONE]') return;
  try {
    usage.add(JSON.parse(data));
  } catch {
    /* not JSON: llama-swap skips it too */
  }
}

/** Where a human-readable message sits in the error bodies of OpenAI, llama.cpp and others. */
const ERROR_MESSAGE_PATHS: ReadonlyArray<readonly string[]> = [['error', 'message'], ['error'], ['message'], ['detail']];
const MAX_ERROR_MESSAGE = 500;

/**
 * `error_msg` of a non-200 answer: the first non-empty string at `error.message`, `error`,
 * `message` or `detail` (cut at 500 characters), else `<status> <text>`; a body that could
 * not be decompressed says so instead.
 */
export function failedErrorMessage(status: number, body: string | null, decodeError: string | null): string {
  if (decodeError !== null) return `response decode failed: ${decodeError}`;
  if (body !== null && body !== '') {
    let parsed: Json;
    try {
      parsed = JSON.parse(body);
    } catch {
      parsed = undefined;
    }
    for (const path of ERROR_MESSAGE_PATHS) {
      let v: Json = parsed;
      for (const key of path) v = get(v, key);
      if (typeof v === 'string' && v.trim() !== '') {
        const msg = v.trim();
        return msg.length > MAX_ERROR_MESSAGE ? `${msg.slice(0, MAX_ERROR_MESSAGE)}...` : msg;
      }
    }
  }
  const text = http.STATUS_CODES[status];
  return text ? `${status} ${text}` : `HTTP ${status}`;
}

/** The most a compressed answer may expand to here: a bomb must not take the server's memory. */
export const MAX_DECODED_BYTES = 64 * 1024 * 1024;

/**
 * A body in the Content-Encoding it was sent with, decoded: gzip, or deflate (zlib-wrapped as
 * HTTP says, or raw as Go's reader expects); any other encoding is left as it is.
 * @throws Error when the bytes are not what the encoding says.
 */
export function decodeBody(body: Buffer, encoding: string): Buffer {
  const e = encoding.trim().toLowerCase();
  const opts = { maxOutputLength: MAX_DECODED_BYTES };
  if (e === 'gzip' || e === 'x-gzip') return gunzipSync(body, opts);
  if (e === 'deflate') {
    try {
      return inflateSync(body, opts);
    } catch {
      return inflateRawSync(body, opts);
    }
  }
  return body;
}
