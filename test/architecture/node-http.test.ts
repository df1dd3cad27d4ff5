/**
 * `node:http` is loaded with `require`, through src/node-http.ts, and never by an ES import
 * (issue 16): from Node 22 on, an ES import builds the module's namespace, which reads its lazy
 * `WebSocket` getters and loads Node's bundled undici (3-4 MB of swapstate's RSS on Node 24).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { sourceFiles } from './import-graph.ts';

const ROOT = join(import.meta.dirname, '../..');
const HTTP = new Set(['node:http', 'http']);

/** The ES imports of `node:http` in `text` that load it at run time (type-only ones are erased). */
export function valueImportsOfHttp(fileName: string, text: string): number[] {
  const source = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, true);
  const lines: number[] = [];
  const at = (node: ts.Node) => lines.push(source.getLineAndCharacterOfPosition(node.getStart()).line + 1);
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier) && HTTP.has(node.moduleSpecifier.text)) {
      const clause = node.importClause;
      const bindings = clause?.namedBindings;
      const typeOnly =
        clause !== undefined &&
        (clause.isTypeOnly ||
          (clause.name === undefined && bindings !== undefined && ts.isNamedImports(bindings) && bindings.elements.every((e) => e.isTypeOnly)));
      if (!typeOnly) at(node);
    } else if (ts.isExportDeclaration(node) && !node.isTypeOnly && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier) && HTTP.has(node.moduleSpecifier.text)) {
      at(node);
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const arg = node.arguments[0];
      if (arg !== undefined && ts.isStringLiteralLike(arg) && HTTP.has(arg.text)) at(node);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return lines;
}

describe('node:http', () => {
  it('is never imported as an ES module by src/ or machines/ (only type-only imports)', () => {
    const found: string[] = [];
    for (const file of sourceFiles(ROOT, ['src', 'machines'])) {
      // The demo upstream is a separate process (and a test server): not swapstate's memory.
      if (file === 'src/demo/upstream.mjs') continue;
      for (const line of valueImportsOfHttp(file, readFileSync(join(ROOT, file), 'utf8'))) found.push(`${file}:${line}`);
    }
    expect(found).toEqual([]);
  });

  it('the check sees each way of loading it, and lets type-only imports pass', () => {
    const text = [
      "import http from 'node:http';",
      "import { STATUS_CODES, type IncomingMessage } from 'node:http';",
      "import 'http';",
      "export { Agent } from 'node:http';",
      "const h = await import('node:http');",
      "import type { ServerResponse } from 'node:http';",
      "import { type IncomingMessage as I } from 'node:http';",
      "import type * as Http from 'node:http';",
      "type H = typeof import('node:http');",
    ].join('\n');
    expect(valueImportsOfHttp('x.ts', text)).toEqual([1, 2, 3, 4, 5]);
  });

  it("the server's modules, loaded on this Node, do not load Node's bundled undici", () => {
    const out = execFileSync(
      process.execPath,
      [
        '--import',
        'tsx',
        '--input-type=module',
        '-e',
        "await import('./src/server.ts'); await import('./src/http/front.ts'); process.stdout.write(JSON.stringify(process.moduleLoadList.filter((m) => m.includes('undici'))));",
      ],
      { cwd: ROOT, encoding: 'utf8', timeout: 60_000 },
    );
    expect(JSON.parse(out)).toEqual([]);
  });
});
