/**
 * The pieces of wording that several catalogue messages share (error-catalogue.ts): quoting
 * what the client sent, offering the models that exist, saying why no model was found and
 * how long a failed start kept the client waiting.
 *
 * Messages that answer a client's mistake say what the mistake was. llama-swap's text always
 * comes first and the detail after it, so clients that match llama-swap's words (a prefix or
 * substring match; nobody can match the detail, it is new) keep working.
 */
import type { SchedError } from '../core/effects.ts';
import { HEALTH_CHECK_TIMEOUT_PREFIX } from '../core/effects.ts';

/** Client text quoted into a message is cut here: a 60 KB model name must not make a 60 KB error. */
export const QUOTED_CLIENT_TEXT_MAX = 100;

/**
 * Client input (a model name, a Content-Type) as it appears in a message: JSON-quoted, so
 * control characters and quotes show as escapes, and cut to {@link QUOTED_CLIENT_TEXT_MAX}
 * characters plus "…". The envelope renderer escapes the result again for its JSON body.
 */
export function quoteClientText(text: string): string {
  if (text.length <= QUOTED_CLIENT_TEXT_MAX) return JSON.stringify(text);
  let cut = text.slice(0, QUOTED_CLIENT_TEXT_MAX);
  // Never end on half of a surrogate pair.
  const last = cut.charCodeAt(cut.length - 1);
  if (last >= 0xd800 && last <= 0xdbff) cut = cut.slice(0, -1);
  return `${JSON.stringify(cut)}…`;
}

/** The models an unknown-model answer offers instead (see model-suggestions.ts). */
export interface AvailableModels {
  /** Listed model ids and their aliases, closest to the requested name first; at most 10. */
  closest: readonly string[];
  /** How many more there are beyond `closest`. */
  more: number;
}

/** `available models are a, b, c` (+ how many more), or that there are none. */
export function availableText(available: AvailableModels): string {
  if (available.closest.length === 0) return 'no models are available';
  const more = available.more > 0 ? ` and ${available.more} more (GET /v1/models lists them all)` : '';
  return `available models are ${available.closest.join(', ')}${more}`;
}

/** Where a request's model field was looked for. */
export type ModelSource = 'json' | 'form' | 'multipart' | 'query';

/**
 * Why no model could be identified (found by no-model-reason.ts, worded by
 * {@link noModelReasonText}). Data, not text, so every word a client reads stays with the catalogue.
 */
export type NoModelReason =
  /** A GET without `?model=`. */
  | { kind: 'get-without-query' }
  /** A JSON Content-Type with an empty body. */
  | { kind: 'empty-body' }
  /** A JSON Content-Type, but the body does not parse; `detail` is the parser's message. */
  | { kind: 'invalid-json'; detail?: string }
  /** Valid JSON whose top level is `got` (array, string, ...), not an object. */
  | { kind: 'json-not-object'; got: string }
  /** The field is absent. */
  | { kind: 'no-model-field'; source: ModelSource }
  /** The field is there but empty (`""`, or JSON `null`). */
  | { kind: 'empty-model-field'; source: ModelSource; value: 'empty' | 'null' }
  /** multipart/form-data that cannot be parsed (no boundary, truncated, ...). */
  | { kind: 'multipart-unreadable'; detail: string }
  /** An urlencoded body over Go's form limit: its fields are not read. */
  | { kind: 'form-too-large'; limit: number }
  /** An urlencoded body that is JSON: what `curl -d '{...}'` sends. */
  | { kind: 'json-sent-as-form' }
  /** Another (or no) Content-Type: the body is not read; `contentType` null when missing. */
  | { kind: 'body-not-read'; contentType: string | null; emptyBody: boolean }
  /** The model is a pin with an empty target in the active profile (profile-step.ts). */
  | { kind: 'disabled-by-profile'; model: string; profile: string };

const SEND_JSON = 'send the header "Content-Type: application/json"';

const FIELD_OF: Record<ModelSource, string> = {
  json: 'the JSON body\'s "model" field',
  form: 'the form\'s "model" field',
  multipart: 'the multipart form\'s "model" field',
  query: 'the "model" query parameter',
};

/** The words after `no model id could be identified: ` for `reason`. */
export function noModelReasonText(reason: NoModelReason): string {
  switch (reason.kind) {
    case 'get-without-query':
      return 'a GET request names its model in the query string: add ?model= with a model id or alias';
    case 'empty-body':
      return 'the body is empty: send a JSON object with a "model" field';
    case 'invalid-json':
      return `the body is not valid JSON${reason.detail ? ` (${reason.detail})` : ''}`;
    case 'json-not-object':
      return `the JSON body is ${reason.got}, not an object with a "model" field`;
    case 'no-model-field':
      switch (reason.source) {
        case 'json':
          return 'the JSON body has no "model" field';
        case 'multipart':
          return 'the multipart form has no "model" field (and the query no ?model=)';
        case 'form':
          return 'the form has no "model" field (and the query no ?model=)';
        case 'query':
          return 'the query string has no "model" parameter';
      }
      break;
    case 'empty-model-field':
      return `${FIELD_OF[reason.source]} is ${reason.value === 'null' ? 'null' : 'empty'}`;
    case 'multipart-unreadable':
      return `the multipart body cannot be read (${reason.detail})`;
    case 'form-too-large':
      return `the form body is over ${reason.limit} bytes, so its fields are not read`;
    case 'json-sent-as-form':
      return `the body looks like JSON, but its Content-Type is application/x-www-form-urlencoded (what curl -d sends): ${SEND_JSON}`;
    case 'body-not-read': {
      const because = reason.contentType === null ? 'the request has no Content-Type' : `its Content-Type is ${quoteClientText(reason.contentType)}`;
      return reason.emptyBody
        ? 'the request has no body and no ?model=: send a JSON object with a "model" field and the header "Content-Type: application/json"'
        : `the body is not read as JSON because ${because}: ${SEND_JSON}`;
    }
    case 'disabled-by-profile':
      return disabledByProfileText(reason.model, reason.profile);
  }
}

/** `"coder" is disabled while profile "fast" is active`: a pin with an empty target. */
export function disabledByProfileText(model: string, profile: string): string {
  return `${quoteClientText(model)} is disabled while profile ${JSON.stringify(profile)} is active`;
}

/**
 * The tail a failed start's message gets, so it states the time the client actually waited:
 * `health check timed out after 15s` alone reads as 15 s, while the client also waited for
 * the eviction before the start and, when the start failed right after an eviction, for the
 * one retry (swap.machine.ts): twice the timeout and more. E.g.
 * ` (the request waited 31.2s: the start was retried once after evicting b)`.
 *
 * Only a health-check timeout (whose message states a duration) or a retried start gets it:
 * whether a message has the tail then never depends on timing, and a quick crash's message
 * stays exactly what it was.
 */
export function waitedText(e: Pick<SchedError, 'message' | 'retriedAfterEvicting'>, waitedMs: number | undefined): string {
  const retried = e.retriedAfterEvicting !== undefined && e.retriedAfterEvicting.length > 0;
  if (waitedMs === undefined || (!retried && !(e.message ?? '').startsWith(HEALTH_CHECK_TIMEOUT_PREFIX))) return '';
  const waited = `the request waited ${(waitedMs / 1000).toFixed(1)}s`;
  return retried ? ` (${waited}: the start was retried once after evicting ${e.retriedAfterEvicting!.join(', ')})` : ` (${waited})`;
}
