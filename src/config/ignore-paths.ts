/**
 * `upstream.ignorePaths` (reference 3.8): paths under `/upstream/<model>/` that must not load
 * a model (a browser fetching `favicon.ico` from a model's web UI should not trigger a swap).
 *
 * llama-swap compiles these with Go's RE2. JavaScript's syntax is nearly a superset for the
 * patterns people write, except that RE2 takes flags as a leading group (`(?i)\.png$`) and
 * Node 20 does not; `compileIgnorePath` accepts that leading group and turns it into flags.
 * Any layer matching these patterns must use it rather than `new RegExp`.
 */

/** llama-swap's default: common static-asset suffixes. */
export const DEFAULT_IGNORE_PATHS: readonly string[] = ['.*\\.(js|json|css|png|gif|jpg|jpeg|ico|txt)$'];

const LEADING_FLAGS = /^\(\?([imsU]+)\)/;

/**
 * Compiles one ignore pattern, unanchored like Go's `MatchString`.
 *
 * @example compileIgnorePath('(?i)\\.PNG$').test('/a.png') // true
 * @throws SyntaxError for an invalid pattern (or an RE2 flag JavaScript lacks, `U`).
 */
export function compileIgnorePath(source: string): RegExp {
  const flags = LEADING_FLAGS.exec(source);
  if (!flags) return new RegExp(source);
  const letters = flags[1]!;
  if (letters.includes('U')) throw new SyntaxError('the RE2 flag U (ungreedy) is not supported');
  return new RegExp(source.slice(flags[0].length), [...new Set(letters)].join(''));
}
