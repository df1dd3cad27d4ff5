/**
 * The web UI: static files under `/ui/` (plain ES modules, CSS and HTML: no build step, no
 * CDN) and the process machine's definition as JSON, from which the UI draws its statecharts
 * (the runtime's machine, read through AppDeps: http never imports machines/).
 *
 * Mounted behind API-key auth like llama-swap's UI. A browser answers the 401's
 * `WWW-Authenticate: Basic` with a login prompt and then sends the credentials with every
 * same-origin request, EventSource included, so no other mechanism is needed.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { extname, join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Request, Response } from 'express';
import type { AppDeps } from './deps.ts';
import { decodePathComponent, parseRequestTarget } from './request-target.ts';
import { goRedirect } from './redirect.ts';
import { RouteList, under } from './route-list.ts';
import { httpErrors } from './error-catalogue.ts';
import { sendError } from './error-response.ts';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
};

/**
 * The folder with index.html. From src (tsx) it is `src/ui` next to `src/http`; tsc compiles
 * src/ to dist/src/ but copies no .html or .css, so from dist the repo's src/ui is used.
 */
export function resolveUiDir(): string {
  const beside = fileURLToPath(new URL('../ui/', import.meta.url));
  if (existsSync(join(beside, 'index.html'))) return beside;
  return fileURLToPath(new URL('../../../src/ui/', import.meta.url));
}

/**
 * The file a `/ui/...` path names inside `root`, or null when the path cannot be one:
 * every segment is decoded, and `..`, `.` or separators hidden in escapes (`%2e%2e`, `%2f`,
 * `%5c`) or NUL bytes are refused, so nothing outside `root` is ever read.
 */
export function uiFilePath(root: string, rest: string): string | null {
  const segments: string[] = [];
  for (const raw of rest.split('/')) {
    if (raw === '') continue;
    const s = decodePathComponent(raw);
    if (s === null || s === '.' || s === '..' || /[/\\\0]/.test(s)) return null;
    segments.push(s);
  }
  const file = join(root, ...segments);
  const base = root.endsWith(sep) ? root : root + sep;
  return file.startsWith(base) || file + sep === base ? file : null;
}

async function sendFile(res: Response, file: string): Promise<boolean> {
  try {
    // A directory fails here too (EISDIR): one read, no separate stat.
    const body = await readFile(file);
    res.status(200);
    res.setHeader('Content-Type', TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream');
    // Always revalidate: the UI is tiny and must never be stale after an upgrade.
    res.setHeader('Cache-Control', 'no-cache');
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.end(body);
    return true;
  } catch {
    return false;
  }
}

function notFound(req: Request, res: Response): void {
  sendError(req, res, httpErrors.routeNotFound());
}

export function uiRoutes(deps: Pick<AppDeps, 'current'>, uiDir: string = resolveUiDir()): RouteList {
  const r = new RouteList();

  // The definition the UI draws: the process machine the runtime runs (startScheduler's
  // `processLogic`), so an extension's states show up by themselves.
  r.get('/api/machines/process', (_req, res) => {
    res.setHeader('Cache-Control', 'no-cache');
    res.json(deps.current().runtime.processChart());
  });

  r.get('/ui', (req, res) => goRedirect(req, res, 301, `/ui/${parseRequestTarget(req.originalUrl)?.query ?? ''}`));

  // uiFilePath decodes the path per segment, not Express (route-list.ts).
  r.get(under('/ui/'), async (req, res) => {
    const path = parseRequestTarget(req.originalUrl)?.path ?? '';
    const rest = path.slice('/ui/'.length);
    const file = uiFilePath(uiDir, rest);
    if (file === null) return notFound(req, res);
    const last = rest.split('/').pop() ?? '';
    if (last !== '' && (await sendFile(res, file))) return;
    // Client-side routes (`/ui/models`, `/ui/`) get the app; a missing asset is a plain 404.
    if (last.includes('.')) return notFound(req, res);
    if (!(await sendFile(res, join(uiDir, 'index.html')))) notFound(req, res);
  });

  return r;
}
