/**
 * What Go's mux answers a request no route takes: 405 with `Allow` when some route has the
 * path with other methods, else 404. Read from the registered routes (route-list.ts), so it
 * always matches what is served.
 */
import type { Route } from './route-list.ts';

/** Whether `route` takes `path` (any method). */
function takesPath(route: Route, path: string): boolean {
  return route.prefix ? path.startsWith(route.path) : path === route.path;
}

/**
 * The `Allow` header of Go's 405 for `path`, or null when no route has the path (404). Like
 * Go: every method of every matching pattern, HEAD with GET, sorted. A route of any method
 * takes every request for its paths, so it never leads here.
 */
export function allowedMethods(routes: readonly Route[], path: string): string | null {
  const methods = new Set<string>();
  for (const route of routes) if (route.method !== null && takesPath(route, path)) methods.add(route.method);
  if (methods.size === 0) return null;
  if (methods.has('GET')) methods.add('HEAD');
  return [...methods].sort().join(', ');
}
