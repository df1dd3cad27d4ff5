/**
 * How large a config value may be. Each bound is what Node (or TCP) can actually honour, so a
 * value past it fails at load with a message naming the key, instead of misbehaving later:
 * Node runs a timer longer than 2^31-1 ms after 1 ms (a `ttl` of 25 days would unload the model
 * right after every request), a port above 65535 cannot be bound, and a Buffer has a
 * platform-defined maximum length.
 */
import { constants as bufferConstants } from 'node:buffer';
import { ConfigError } from './types.ts';

/** The longest delay `setTimeout` honours; longer ones fire after 1 ms. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** The longest duration in whole seconds whose milliseconds still fit a timer (2147483). */
export const MAX_TIMER_SECONDS = Math.floor(MAX_TIMER_MS / 1000);

/** The highest TCP port. */
export const MAX_PORT = 65_535;

/** The largest request body that fits one Node Buffer on this platform. */
export const MAX_BUFFER_BYTES = Math.min(bufferConstants.MAX_LENGTH, Number.MAX_SAFE_INTEGER);

/** What `about N days` says for the timer bound, in the messages. */
const ABOUT_DAYS = `about ${Math.floor(MAX_TIMER_MS / 86_400_000)} days`;

/**
 * Fails unless `value` (seconds) fits a timer once multiplied by 1000.
 *
 * @param subject the key as the message names it, with its model prefix (`model m: ttl`).
 * @example checkSeconds(2147484, 'model m: ttl', 'config.yaml:4')
 *   // throws "config.yaml:4: model m: ttl must be at most 2147483 seconds (about 24 days), got 2147484"
 */
export function checkSeconds(value: number, subject: string, where: string | undefined): void {
  if (value > MAX_TIMER_SECONDS) {
    throw new ConfigError(`${subject} must be at most ${MAX_TIMER_SECONDS} seconds (${ABOUT_DAYS}), got ${value}`, where);
  }
}

/** Fails unless `value` (milliseconds) fits a timer. */
export function checkMilliseconds(value: number, subject: string, where: string | undefined): void {
  if (value > MAX_TIMER_MS) {
    throw new ConfigError(`${subject} must be at most ${MAX_TIMER_MS} milliseconds (${ABOUT_DAYS}), got ${value}`, where);
  }
}
