/**
 * Routes as data. Every route module records its routes in a {@link RouteList} (`r.get(path,
 * handler)`, as on an Express router), and the server registers them from those records; the
 * same records answer what Go's mux answers for a request no route takes (404, or 405 with
 * `Allow`: allowed-methods.ts). So adding a route is one line in its module, and the 405s can
 * never disagree with what is registered.
 *
 * Paths follow Go's mux (reference 3.2): exact, no trailing-slash or letter-case variants;
 * a prefix route takes every path under it (Go's `/x/{rest...}` patterns); GET answers HEAD.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { NextFunction, Request, Response, Router } from 'express';

/** The method a route answers; null: every method. */
export type RouteMethod = 'GET' | 'POST' | 'PUT' | null;

export type RouteHandler = (req: Request, res: Response, next: NextFunction) => unknown;

/** What every guarded route passes first (route-guard.ts: browser checks, API key). */
export type RouteGuard = (req: IncomingMessage, res: ServerResponse, next: () => void) => void;

export interface Route {
  method: RouteMethod;
  /** The exact path, or with `prefix` the start of every path the route takes. */
  path: string;
  prefix: boolean;
  /** Behind the route guard; false only for llama-swap's public routes (`/health`, redirects). */
  guarded: boolean;
  handler: RouteHandler;
}

/** A path pattern: a string is exact; `under('/ui/')` is every path starting with `/ui/`. */
export type RoutePath = string | { under: string };

export const under = (prefix: string): RoutePath => ({ under: prefix });

/** The routes of one module, in the order they are tried. */
export class RouteList {
  readonly routes: Route[] = [];

  /** @param guarded whether the routes sit behind the route guard (all but the public ones do). */
  constructor(private readonly guarded = true) {}

  get(path: RoutePath, handler: RouteHandler): this {
    return this.add('GET', path, handler);
  }

  post(path: RoutePath, handler: RouteHandler): this {
    return this.add('POST', path, handler);
  }

  put(path: RoutePath, handler: RouteHandler): this {
    return this.add('PUT', path, handler);
  }

  all(path: RoutePath, handler: RouteHandler): this {
    return this.add(null, path, handler);
  }

  private add(method: RouteMethod, path: RoutePath, handler: RouteHandler): this {
    const prefix = typeof path !== 'string';
    this.routes.push({ method, path: prefix ? path.under : path, prefix, guarded: this.guarded, handler });
    return this;
  }
}

/** Registers `routes` on `router` in order, each guarded one behind `guard`. */
export function mountRoutes(router: Pick<Router, 'get' | 'post' | 'put' | 'all'>, routes: readonly Route[], guard: RouteGuard): void {
  for (const route of routes) {
    // A prefix is matched by a RegExp, so Express never decodes the rest of the path: the
    // handlers read the raw target themselves (Express would answer an undecodable `%ff`
    // with a 400 quoting it; in llama-swap it names nothing).
    const path = route.prefix ? new RegExp(`^${route.path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`) : route.path;
    const handlers: RouteHandler[] = route.guarded ? [guard as RouteHandler, route.handler] : [route.handler];
    // Express answers HEAD with a GET route, as Go's mux does.
    if (route.method === 'GET') router.get(path, ...handlers);
    else if (route.method === 'POST') router.post(path, ...handlers);
    else if (route.method === 'PUT') router.put(path, ...handlers);
    else router.all(path, ...handlers);
  }
}
