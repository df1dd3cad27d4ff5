/**
 * `timeouts` of an upstream transport (reference 2.12, 2.13, 2.6): the same six keys for a
 * local model (`models.<id>.timeouts`) and a peer (`peers.<id>.timeouts`), in seconds, 0
 * disabling a phase's limit. Only the defaults differ: a model's mirror Go's
 * DefaultTransport (no response-header limit), a peer's add a 60 s one.
 */
import type { Field } from './field.ts';
import { checkSeconds, MAX_TIMER_SECONDS } from './limits.ts';
import { block, integer, type JsonSchema } from './schema-shapes.ts';

/** A transport's phase limits in seconds, 0 = none (config/timeouts.ts): a model's or a peer's. */
export interface UpstreamTimeouts {
  connect: number;
  keepalive: number;
  responseHeader: number;
  tlsHandshake: number;
  expectContinue: number;
  idleConn: number;
}

/** llama-swap's model transport defaults (seconds; 0 = no limit): Go's http.DefaultTransport. */
export const DEFAULT_MODEL_TIMEOUTS: Readonly<UpstreamTimeouts> = {
  connect: 30,
  keepalive: 30,
  responseHeader: 0,
  tlsHandshake: 10,
  expectContinue: 1,
  idleConn: 90,
};

/** llama-swap's peer transport defaults: the model's, with a 60 s response-header limit. */
export const DEFAULT_PEER_TIMEOUTS: Readonly<UpstreamTimeouts> = { ...DEFAULT_MODEL_TIMEOUTS, responseHeader: 60 };

export const TIMEOUT_KEYS = Object.keys(DEFAULT_MODEL_TIMEOUTS) as Array<keyof UpstreamTimeouts>;

/**
 * Decodes a `timeouts` mapping (absent: every default). `subject` names it in messages
 * (`peers.p.timeouts`, `models.m.timeouts`). @throws ConfigError for a negative or too large value
 */
export function decodeTimeouts(field: Field, defaults: Readonly<UpstreamTimeouts>, subject: string = field.name): UpstreamTimeouts {
  field.keys(TIMEOUT_KEYS);
  const out = { ...defaults };
  for (const key of TIMEOUT_KEYS) {
    const value = field.get(key);
    const seconds = value.int(defaults[key]);
    // Go turns a negative duration into "no limit" for some phases and an instant failure
    // for others; neither is what anyone writing one meant.
    if (seconds < 0) value.fail(`${subject}.${key} must be >= 0 (seconds; 0 disables it)`);
    checkSeconds(seconds, `${subject}.${key}`, value.where);
    out[key] = seconds;
  }
  return out;
}

const TIMEOUT_TEXT: Readonly<Record<keyof UpstreamTimeouts, string>> = {
  connect: 'Seconds to open the TCP connection',
  keepalive: 'TCP keep-alive period in seconds',
  responseHeader: 'Seconds to wait for the response headers',
  tlsHandshake: 'Seconds for the TLS handshake',
  expectContinue: 'Seconds to wait for 100 Continue',
  idleConn: 'Seconds an idle connection is kept',
};

/** A `timeouts` block in config-schema.json, with its owner's defaults (a model's or a peer's). */
export function timeoutsSchema(description: string, defaults: Readonly<UpstreamTimeouts>): JsonSchema {
  const limit = (key: keyof UpstreamTimeouts): JsonSchema =>
    integer(`${TIMEOUT_TEXT[key]}; 0 disables the limit.`, { minimum: 0, maximum: MAX_TIMER_SECONDS, default: defaults[key] });
  return block(description, Object.fromEntries(TIMEOUT_KEYS.map((key) => [key, limit(key)])));
}
