/**
 * Every error response goes through the catalogue (src/http/error-catalogue.ts): no other
 * source file makes an HttpError, and none writes an error status or a JSON error body by
 * hand. Read from the source, so the rule keeps itself as routes are added.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sources(path);
    return entry.name.endsWith('.ts') ? [relative(root, path)] : [];
  });
}

const files = [...sources(join(root, 'src')), ...sources(join(root, 'machines'))];

/** `file:line: text` for every line of `files` (but `except`) matching `pattern`. */
function sites(pattern: RegExp, except: string[] = []): string[] {
  return files
    .filter((file) => !except.includes(file))
    .flatMap((file) =>
      readFileSync(join(root, file), 'utf8')
        .split('\n')
        .flatMap((line, i) => (pattern.test(line) ? [`${file}:${i + 1}: ${line.trim()}`] : [])),
    );
}

describe('error responses come from the catalogue', () => {
  it('reads the sources it checks', () => {
    expect(files).toContain('src/http/error-catalogue.ts');
    expect(files).toContain('src/http/app.ts');
  });

  it('only the catalogue makes an HttpError', () => {
    expect(sites(/new HttpError\(/, ['src/http/error-catalogue.ts'])).toEqual([]);
  });

  it('no handler writes an error status by hand', () => {
    expect(sites(/\.status\(\s*[45]\d\d|statusCode\s*=\s*[45]\d\d|writeHead\(\s*[45]\d\d|sendStatus\(/)).toEqual([]);
  });

  it('no handler writes a JSON error body by hand', () => {
    expect(sites(/\.end\(JSON\.stringify|\.json\(\s*\{\s*error\b/)).toEqual([]);
  });
});
