/**
 * The config as text, at most MAX_CONFIG_BYTES of it. The bound holds before anything is
 * parsed, and it is read as such: a file (or a FIFO, or /dev/zero) is read up to one byte past
 * the bound, never whole.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { MAX_CONFIG_BYTES, MAX_CONFIG_SIZE_TEXT } from './limits.ts';
import { ConfigError } from './config-error.ts';

/**
 * Reads `path` as UTF-8.
 *
 * @throws ConfigError `cannot read config file: <reason>`, or when it is over MAX_CONFIG_BYTES.
 */
export function readConfigText(path: string): string {
  const buffer = Buffer.alloc(MAX_CONFIG_BYTES + 1);
  let length = 0;
  try {
    const fd = openSync(path, 'r');
    try {
      for (let n = -1; n !== 0 && length < buffer.length; length += n) {
        n = readSync(fd, buffer, length, buffer.length - length, null);
      }
    } finally {
      closeSync(fd);
    }
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new ConfigError(`cannot read config file: ${reason}`, path);
  }
  if (length > MAX_CONFIG_BYTES) throw tooLarge(path);
  return buffer.toString('utf8', 0, length);
}

/** Fails when `text` is over MAX_CONFIG_BYTES (UTF-8). */
export function checkConfigSize(text: string, file: string): void {
  // Most characters are one byte: count only when the text could be over.
  if (text.length * 3 <= MAX_CONFIG_BYTES) return;
  if (text.length > MAX_CONFIG_BYTES || Buffer.byteLength(text) > MAX_CONFIG_BYTES) throw tooLarge(file);
}

function tooLarge(file: string): ConfigError {
  return new ConfigError(`config is larger than ${MAX_CONFIG_SIZE_TEXT}`, file);
}
