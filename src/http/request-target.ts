/**
 * The request target as Go's HTTP server and ServeMux see it (llama-swap is a Go ServeMux,
 * reference 3.1): the escaped path of an origin-form (`/p?q`) or absolute-form
 * (`http://host/p?q`) target, the 400 for a path Go's URL parser refuses, and the 301 to the
 * cleaned path for one with `.`/`..` segments or empty segments (`//`).
 *
 * Paths stay escaped throughout: `%2F` is never a separator and `%2e%2e` never a `..`, as in
 * Go 1.22+, which cleans `URL.EscapedPath()`.
 */

export interface RequestTarget {
  /** The escaped path, always starting with `/`. */
  path: string;
  /** The query with its `?`, or ''. */
  query: string;
}

const ABSOLUTE_FORM = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#]*/;

/**
 * Splits a request target into escaped path and query. An absolute-form target keeps only its
 * path and query: its host never decides where a request goes (Go routes it by path alike).
 * Null for anything else (e.g. `*` or `host/path`), which Go refuses as a bad request.
 */
export function parseRequestTarget(url: string): RequestTarget | null {
  let rest = url;
  if (!rest.startsWith('/')) {
    const m = ABSOLUTE_FORM.exec(rest);
    if (!m) return null;
    rest = rest.slice(m[0].length);
    if (rest === '' || rest.startsWith('?')) rest = `/${rest}`;
    if (!rest.startsWith('/')) return null;
  }
  const q = rest.indexOf('?');
  return q < 0 ? { path: rest, query: '' } : { path: rest.slice(0, q), query: rest.slice(q) };
}

/** Whether every `%` of `path` starts a valid escape (Go's url.Parse fails otherwise). */
export function hasValidEscapes(path: string): boolean {
  return !/%(?![0-9A-Fa-f]{2})/.test(path);
}

/**
 * Go's `cleanPath` (net/http): `path.Clean` of a rooted path, keeping a trailing slash. Empty
 * and `.` segments go, `..` removes the segment before it and cannot climb above the root.
 */
export function cleanPath(p: string): string {
  if (p === '') return '/';
  const rooted = p.startsWith('/') ? p : `/${p}`;
  const out: string[] = [];
  for (const seg of rooted.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') out.pop();
    else out.push(seg);
  }
  const cleaned = `/${out.join('/')}`;
  return rooted.endsWith('/') && cleaned !== '/' ? `${cleaned}/` : cleaned;
}

/**
 * Decodes one path component like Go's PathValue would, or null when it cannot be decoded
 * (a bad escape, or bytes that are not UTF-8: such a name matches no model anyway).
 */
export function decodePathComponent(s: string): string | null {
  try {
    return decodeURIComponent(s);
  } catch {
    return null;
  }
}
