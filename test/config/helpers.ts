/**
 * Helpers for the config tests: YAML written inline with any indentation, loaded as
 * `config.yaml` with a private environment, and errors caught for exact-message assertions.
 */
import { loadConfigText } from '../../src/config/load.ts';
import { ConfigError, type Config } from '../../src/config/types.ts';

/** Removes the first line break and the common indentation, so line 1 is the first YAML line. */
export function yaml(strings: TemplateStringsArray, ...values: unknown[]): string {
  // Cooked text: write `\${PORT}` in a test to get a literal `${PORT}`.
  const text = strings.reduce((out, part, i) => out + part + (i < values.length ? String(values[i]) : ''), '').replace(/^\n/, '');
  const indents = text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => /^ */.exec(line)![0].length);
  const cut = Math.min(...indents, Infinity);
  return text
    .split('\n')
    .map((line) => line.slice(Math.min(cut, /^ */.exec(line)![0].length)))
    .join('\n');
}

export function load(text: string, env: NodeJS.ProcessEnv = {}): Config {
  return loadConfigText(text, 'config.yaml', env);
}

/** The ConfigError `text` fails with (fails the test when it loads). */
export function loadError(text: string, env: NodeJS.ProcessEnv = {}): ConfigError {
  try {
    load(text, env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected the config to be rejected, but it loaded');
}
