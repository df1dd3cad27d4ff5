/**
 * `upstream.ignorePaths` (reference 3.8): paths under `/upstream/<model>/` that must not load
 * a model (a browser fetching `favicon.ico` from a model's web UI should not trigger a swap).
 *
 * llama-swap compiles these with Go's RE2. JavaScript's syntax is nearly a superset for the
 * patterns people write, except that RE2 takes flags as a leading group (`(?i)\.png$`) and
 * Node 20 does not; `compileIgnorePath` accepts that leading group and turns it into flags.
 * Any layer matching these patterns must use it rather than `new RegExp`.
 */

import { setFlagsFromString } from 'node:v8';

/** llama-swap's default: common static-asset suffixes. */
export const DEFAULT_IGNORE_PATHS: readonly string[] = ['.*\\.(js|json|css|png|gif|jpg|jpeg|ico|txt)$'];

const LEADING_FLAGS = /^\(\?([imsU]+)\)/;

/**
 * Whether V8's linear-time regular expression engine (the `l` flag) can be used; the V8 flag
 * that makes the `l` flag known is set once, here. It changes nothing for other expressions.
 *
 * Why: these patterns run against request paths anyone can send (no key is needed without
 * `apiKeys`), and V8's default engine backtracks. llama-swap's own default, unanchored like
 * Go's `MatchString`, cost 316 ms of blocking CPU on one 15 000-dot path; RE2, which
 * llama-swap uses, is linear by design. The linear engine gives the same guarantee here.
 */
export const LINEAR_ENGINE = enableLinearEngine();

function enableLinearEngine(): boolean {
  try {
    setFlagsFromString('--enable-experimental-regexp-engine');
    return new RegExp('a', 'l').test('a');
  } catch {
    return false;
  }
}

/**
 * Compiles one ignore pattern, unanchored like Go's `MatchString`, on V8's linear-time engine
 * where it can run there. It cannot run case-insensitive patterns, look-arounds,
 * back-references or large counted repeats; those use the default engine
 * ({@link runsInLinearTime} tells which, so the config loader can warn).
 *
 * @example compileIgnorePath('(?i)\\.PNG$').test('/a.png') // true
 * @throws SyntaxError for an invalid pattern (or an RE2 flag JavaScript lacks, `U`).
 */
export function compileIgnorePath(source: string): RegExp {
  const leading = LEADING_FLAGS.exec(source);
  let pattern = source;
  let flags = '';
  if (leading) {
    const letters = leading[1]!;
    if (letters.includes('U')) throw new SyntaxError('the RE2 flag U (ungreedy) is not supported');
    pattern = source.slice(leading[0].length);
    flags = [...new Set(letters)].join('');
  }
  const compiled = new RegExp(pattern, flags); // a syntax error is reported as such
  if (!LINEAR_ENGINE) return compiled;
  try {
    return new RegExp(pattern, `${flags}l`);
  } catch {
    return compiled; // valid, but not for the linear engine
  }
}

/** Whether a compiled pattern runs in time linear in the path it is matched against. */
export function runsInLinearTime(re: RegExp): boolean {
  return re.flags.includes('l');
}
