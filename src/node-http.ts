/**
 * Node's `http` module, loaded with `require` rather than an ES `import` (issue 16).
 *
 * An ES import of `node:http` makes Node build the module's namespace from every one of its
 * exports. From Node 22 on, three of them (`WebSocket`, `CloseEvent`, `MessageEvent`) are lazy
 * getters that load Node's bundled undici when read: code swapstate never runs. Measured on
 * Node 24.21: a bare process 43 MB; with `import 'node:http'` 61 MB; with
 * `require('node:http')` 47 MB. Swapstate itself, 3 s after start: 87-88 MB -> 83-84 MB
 * (Node 26 alike; Node 20 has no such getters and is unchanged at 69-71 MB). `require`
 * hands back the module object without reading them.
 *
 * So every runtime use of `node:http` in src/ goes through here; type-only imports are erased
 * and stay as they are. test/architecture/node-http.test.ts keeps it that way.
 */
import { createRequire } from 'node:module';

type Http = typeof import('node:http');

export const http: Http = createRequire(import.meta.url)('node:http') as Http;
