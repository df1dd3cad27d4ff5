/**
 * The layer rules keep themselves: every import of src/ and machines/ is read and held
 * against them (import-graph.ts), and a break fails here with the file, the line, the import
 * and the rule it breaks.
 *
 * The intended picture (decisions.md, "Layout"): src/core <- machines <- src/runtime <-
 * src/http, with config as plain data and observability as a watcher any layer may use.
 */
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { importCycles, readImports, ruleBreaks, sourceFiles, specifiersOf, type ImportEdge } from './import-graph.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const files = sourceFiles(ROOT, ['src', 'machines']);
const edges = readImports(ROOT, files);

describe('imports of src/ and machines/', () => {
  it('are all read: the graph holds the imports everyone knows of', () => {
    // A reader that silently found nothing would pass every rule below.
    expect(files.length).toBeGreaterThan(100);
    const has = (file: string, target: string) => edges.some((e) => e.file === file && e.target === target);
    expect(has('machines/scheduler.machine.ts', 'src/core/fifo.ts')).toBe(true);
    expect(has('src/main.ts', 'src/server.ts')).toBe(true);
    expect(edges.some((e) => e.file === 'src/http/app.ts' && e.specifier === 'express')).toBe(true);
  });

  it('break no layer rule', () => {
    expect(ruleBreaks(edges)).toEqual([]);
  });

  it('make no cycle', () => {
    expect(importCycles(edges)).toEqual([]);
  });
});

describe('the import checker', () => {
  const edge = (file: string, specifier: string, target: string | null, line = 1): ImportEdge => ({
    file,
    line,
    specifier,
    target,
    unresolved: false,
  });

  it('sees every way of naming a module, type-only imports included', () => {
    const text = [
      "import type { A } from './a.ts';",
      "import {",
      "  b,",
      "} from '../b.ts';",
      "export { c } from './c.ts';",
      "export * from './d.ts';",
      "import './side-effect.ts';",
      "const e = await import('./e.ts');",
      "type F = import('./f.ts').F;",
      "import g = require('./g.cjs');",
    ].join('\n');
    expect(specifiersOf('x.ts', text)).toEqual([
      { specifier: './a.ts', line: 1 },
      { specifier: '../b.ts', line: 4 },
      { specifier: './c.ts', line: 5 },
      { specifier: './d.ts', line: 6 },
      { specifier: './side-effect.ts', line: 7 },
      { specifier: './e.ts', line: 8 },
      { specifier: './f.ts', line: 9 },
      { specifier: './g.cjs', line: 10 },
    ]);
  });

  it('names the file, the import and the rule of a break', () => {
    const breaks = ruleBreaks([
      edge('src/config/x.ts', '../observability/y.ts', 'src/observability/y.ts', 7),
      edge('src/http/x.ts', '../../machines/p.ts', 'machines/p.ts', 3),
      edge('src/core/x.ts', 'xstate', null),
      edge('src/http/x.ts', '../runtime/r.ts', 'src/runtime/r.ts'),
      edge('src/main.ts', '../machines/p.ts', 'machines/p.ts'),
    ]);
    expect(breaks).toHaveLength(3);
    expect(breaks[0]).toMatch(/^src\/config\/x\.ts:7 imports '\.\.\/observability\/y\.ts' .*: config -> observability is forbidden: config is data/);
    expect(breaks[1]).toMatch(/^src\/http\/x\.ts:3 imports '\.\.\/\.\.\/machines\/p\.ts' .*: http -> machines is forbidden: http talks to actors only through the runtime/);
    expect(breaks[2]).toMatch(/^src\/core\/x\.ts:1 imports 'xstate': core imports only core: the decision tree is pure/);
  });

  it('finds a cycle of type-only imports, and shows it as a loop of imports', () => {
    const cycles = importCycles([
      edge('src/runtime/a.ts', './b.ts', 'src/runtime/b.ts', 2),
      edge('src/runtime/b.ts', './c.ts', 'src/runtime/c.ts', 4),
      edge('src/runtime/c.ts', './a.ts', 'src/runtime/a.ts', 6),
      edge('src/runtime/c.ts', './d.ts', 'src/runtime/d.ts', 7),
    ]);
    expect(cycles).toEqual([
      "import cycle: src/runtime/a.ts -> src/runtime/b.ts -> src/runtime/c.ts -> src/runtime/a.ts " +
        "(src/runtime/a.ts:2 imports './b.ts'; src/runtime/b.ts:4 imports './c.ts'; src/runtime/c.ts:6 imports './a.ts')",
    ]);
  });
});
