/**
 * How large a config value may be. Each bound is what Node (or TCP) can actually honour, so a
 * value past it fails at load with a message naming the key, instead of misbehaving later:
 * Node runs a timer longer than 2^31-1 ms after 1 ms (a `ttl` of 25 days would unload the model
 * right after every request), a port above 65535 cannot be bound, and a Buffer has a
 * platform-defined maximum length.
 */
import { constants as bufferConstants } from 'node:buffer';
import { ConfigError } from './config-error.ts';

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

/**
 * The largest config document swapstate reads (1 MiB). Real configs are tens of KiB; `yaml`
 * parses dense documents at about 1 MB/s, so the bound also bounds how long a reload may
 * block the server.
 */
export const MAX_CONFIG_BYTES = 1024 * 1024;

/** MAX_CONFIG_BYTES as the messages say it. */
export const MAX_CONFIG_SIZE_TEXT = `1 MiB (${MAX_CONFIG_BYTES} bytes)`;

/** How deep collections may nest, as written and after aliases are expanded. */
export const MAX_NESTING = 100;

/**
 * How many values aliases may create in all. Anchors that alias other anchors multiply ("a
 * billion laughs": 9 levels of 9 aliases are 387 million values in a few hundred bytes);
 * `<<: *defaults` in every model of a large config stays in the thousands.
 */
export const MAX_ALIAS_VALUES = 100_000;

/**
 * How much text macro substitution may produce in all (4 MiB; a large config produces a few
 * hundred KiB). A macro that references another twice, itself referenced twice, and so on,
 * doubles per level: 40 levels would be terabytes.
 */
export const MAX_MACRO_TEXT = 4 * 1024 * 1024;
