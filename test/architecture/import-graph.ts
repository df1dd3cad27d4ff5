/**
 * Reads every import of the source tree and holds it against the layer rules.
 *
 * Imports are read with TypeScript's own parser, not with a regular expression, so a
 * specifier split over lines, an `export ... from`, a dynamic `import()` and an inline
 * `import('...').Type` are all seen. Type-only imports count like any other: a type is a
 * piece of another layer's design, and a change there breaks this file's build all the same
 * (`config/runtime-inputs.ts` broke "config is data" with `import type` alone).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, posix, relative, sep } from 'node:path';
import ts from 'typescript';

/** One import: `file` (from the root, with `/`) names `specifier` on `line`. */
export interface ImportEdge {
  file: string;
  line: number;
  specifier: string;
  /** The file it resolves to (from the root), or null for a package or builtin. */
  target: string | null;
  /** A relative specifier that names no file. */
  unresolved: boolean;
}

/** The layers, each a folder from the root; a file in none of them (entry, ui, demo) is in no layer. */
export const LAYERS = {
  core: 'src/core/',
  config: 'src/config/',
  observability: 'src/observability/',
  runtime: 'src/runtime/',
  http: 'src/http/',
  machines: 'machines/',
} as const;
export type Layer = keyof typeof LAYERS;

export interface Rule {
  from: Layer;
  /** Layers `from` must not import. */
  never?: Layer[];
  /** When set, `from` may import only files of these layers, and no package or builtin. */
  only?: Layer[];
  why: string;
}

export const RULES: Rule[] = [
  {
    from: 'config',
    never: ['machines', 'observability', 'runtime', 'http'],
    why: 'config is data: it knows no actor, log sink or transport; the runtime adapts it for the machines',
  },
  { from: 'observability', never: ['http', 'runtime'], why: 'observability watches: it imports neither routes nor the runtime' },
  { from: 'http', never: ['machines'], why: 'http talks to actors only through the runtime' },
  {
    from: 'machines',
    never: ['runtime', 'http', 'observability', 'config'],
    why: 'machines get side effects by .provide, not by import; they build on the pure core alone',
  },
  { from: 'core', only: ['core'], why: 'the decision tree is pure: it imports nothing outside src/core' },
];

const SOURCE = /\.(ts|mts|js|mjs)$/;

/** Every source file under `dirs` (from `root`), as root-relative paths with `/`. */
export function sourceFiles(root: string, dirs: string[]): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(join(root, dir), { withFileTypes: true })) {
      const path = posix.join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (SOURCE.test(entry.name)) out.push(path);
    }
  };
  for (const dir of dirs) walk(dir);
  return out.sort();
}

/** The module specifiers of one file's text, with their lines. */
export function specifiersOf(fileName: string, text: string): Array<{ specifier: string; line: number }> {
  const source = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, true);
  const found: Array<{ specifier: string; line: number }> = [];
  const add = (node: ts.Node | undefined) => {
    if (!node || !ts.isStringLiteralLike(node)) return;
    found.push({ specifier: node.text, line: source.getLineAndCharacterOfPosition(node.getStart()).line + 1 });
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) add(node.moduleSpecifier);
    else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) add(node.moduleReference.expression);
    else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) add(node.arguments[0]);
    else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) add(node.argument.literal);
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/** Resolves a relative specifier as Node would (a `.js` specifier may stand for its `.ts`). */
function resolve(root: string, file: string, specifier: string): string | null {
  const abs = join(root, dirname(file), specifier);
  const candidates = [abs, abs.replace(/\.js$/, '.ts'), abs.replace(/\.mjs$/, '.mts')];
  const hit = candidates.find((c) => existsSync(c));
  return hit === undefined ? null : relative(root, hit).split(sep).join('/');
}

/** Every import of every file in `files`. */
export function readImports(root: string, files: string[]): ImportEdge[] {
  const edges: ImportEdge[] = [];
  for (const file of files) {
    for (const { specifier, line } of specifiersOf(file, readFileSync(join(root, file), 'utf8'))) {
      const relativeSpec = specifier.startsWith('./') || specifier.startsWith('../');
      const target = relativeSpec ? resolve(root, file, specifier) : null;
      edges.push({ file, line, specifier, target, unresolved: relativeSpec && target === null });
    }
  }
  return edges;
}

export function layerOf(file: string): Layer | null {
  for (const [layer, folder] of Object.entries(LAYERS) as Array<[Layer, string]>) if (file.startsWith(folder)) return layer;
  return null;
}

const where = (e: ImportEdge) => `${e.file}:${e.line} imports '${e.specifier}'`;

/** Each import that breaks a rule, as one line naming the file, the import and the rule. */
export function ruleBreaks(edges: ImportEdge[], rules: Rule[] = RULES): string[] {
  const out: string[] = [];
  for (const e of edges) {
    if (e.unresolved) {
      out.push(`${where(e)}: no such file`);
      continue;
    }
    const from = layerOf(e.file);
    if (from === null) continue;
    const to = e.target === null ? null : layerOf(e.target);
    for (const rule of rules) {
      if (rule.from !== from) continue;
      const forbidden = rule.only
        ? to === null || !rule.only.includes(to)
        : to !== null && (rule.never ?? []).includes(to);
      if (!forbidden) continue;
      const what = rule.only ? `${from} imports only ${rule.only.join(', ')}` : `${from} -> ${to} is forbidden`;
      out.push(`${where(e)}${e.target && e.target !== e.specifier ? ` (${e.target})` : ''}: ${what}: ${rule.why}`);
    }
  }
  return out;
}

/**
 * Every import cycle, one line each: the files around the loop and the import that makes
 * each step. Found as the strongly connected components of the file graph (Tarjan), each
 * shown by one shortest loop through its first file.
 */
export function importCycles(edges: ImportEdge[]): string[] {
  const next = new Map<string, ImportEdge[]>();
  for (const e of edges) {
    if (e.target === null) continue;
    if (!next.has(e.file)) next.set(e.file, []);
    next.get(e.file)!.push(e);
  }
  const nodes = [...new Set(edges.flatMap((e) => (e.target === null ? [e.file] : [e.file, e.target])))].sort();
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];
  let counter = 0;
  const strongConnect = (v: string): void => {
    index.set(v, counter);
    low.set(v, counter);
    counter++;
    stack.push(v);
    onStack.add(v);
    for (const e of next.get(v) ?? []) {
      const w = e.target!;
      if (!index.has(w)) {
        strongConnect(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) !== index.get(v)) return;
    const component: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      onStack.delete(w);
      component.push(w);
    } while (w !== v);
    const selfLoop = (next.get(v) ?? []).some((e) => e.target === v);
    if (component.length > 1 || selfLoop) components.push(component.sort());
  };
  for (const v of nodes) if (!index.has(v)) strongConnect(v);
  return components.map((component) => {
    const loop = shortestLoop(component[0]!, new Set(component), next);
    return `import cycle: ${[...loop.map((e) => e.file), component[0]].join(' -> ')} (${loop.map(where).join('; ')})`;
  });
}

/** The shortest path of imports from `start` back to itself, inside `within` (breadth first). */
function shortestLoop(start: string, within: Set<string>, next: Map<string, ImportEdge[]>): ImportEdge[] {
  const via = new Map<string, ImportEdge>();
  const queue = [start];
  while (queue.length > 0) {
    const v = queue.shift()!;
    for (const e of next.get(v) ?? []) {
      const w = e.target!;
      if (!within.has(w)) continue;
      if (w === start) {
        const path = [e];
        for (let at = v; at !== start; at = via.get(at)!.file) path.unshift(via.get(at)!);
        return path;
      }
      if (!via.has(w)) {
        via.set(w, e);
        queue.push(w);
      }
    }
  }
  return [];
}
