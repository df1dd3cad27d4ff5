/**
 * docs/reliability.md and the fault-matrix tests stay in step: every cell of the matrix either
 * says why it is N/A or names a test that exists, under that cell's trigger, and every test of
 * the matrix is named by some cell. (That the named tests pass is the rest of this folder.)
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const DIR = new URL('./', import.meta.url);
const DOC = readFileSync(new URL('../../docs/reliability.md', import.meta.url), 'utf8');
const TRIGGERS = ['request', 'TTL', 'unload', 'eviction', 'SIGTERM', 'reload'];
const STATES = ['starting', 'ready idle', 'ready busy', 'stopping'];
const LINK = /\[“([^”]+)”\]\(\.\.\/test\/fault-matrix\/([\w.-]+\.test\.ts)\)/g;

interface Row {
  fault: string;
  state: string;
  cells: string[];
}

function matrix(): Row[] {
  const lines = DOC.split('\n');
  const header = lines.findIndex((l) => l.startsWith('| fault | state | request |'));
  expect(header, 'the matrix table').toBeGreaterThan(0);
  expect(lines[header]).toBe(`| fault | state | ${TRIGGERS.join(' | ')} |`);
  const rows: Row[] = [];
  for (let i = header + 2; lines[i]?.startsWith('|'); i++) {
    const cols = lines[i]!.slice(1, -1).split('|').map((c) => c.trim());
    rows.push({ fault: cols[0]!, state: cols[1]!, cells: cols.slice(2) });
  }
  return rows;
}

/** `it('<title>'` of every test file of the matrix but this one. */
function testTitles(): Map<string, string> {
  const titles = new Map<string, string>();
  for (const file of readdirSync(DIR).filter((f) => f.endsWith('.test.ts') && f !== 'matrix-doc.test.ts')) {
    const text = readFileSync(new URL(file, DIR), 'utf8');
    for (const m of text.matchAll(/\bit\('([^']+)'/g)) titles.set(m[1]!, file);
  }
  return titles;
}

describe('docs/reliability.md', () => {
  it('the fault matrix has every fault × state row and a test or a reason in every cell', () => {
    const rows = matrix();
    const faults = [...new Set(rows.map((r) => r.fault))];
    expect(faults).toHaveLength(8);
    expect(rows).toHaveLength(faults.length * STATES.length);
    for (const fault of faults) expect(rows.filter((r) => r.fault === fault).map((r) => r.state)).toEqual(STATES);

    const titles = testTitles();
    const named = new Set<string>();
    let meaningful = 0;
    let na = 0;
    for (const row of rows) {
      expect(row.cells, `${row.fault} × ${row.state}`).toHaveLength(TRIGGERS.length);
      row.cells.forEach((cell, i) => {
        const where = `${row.fault}: ${row.state} × ${TRIGGERS[i]}`;
        if (cell.startsWith('N/A — ')) {
          na++;
          expect(cell.length, `${where}: a reason`).toBeGreaterThan('N/A — '.length + 10);
          return;
        }
        meaningful++;
        const links = [...cell.matchAll(LINK)];
        expect(links, `${where}: one test named`).toHaveLength(1);
        const [, title, file] = links[0]!;
        expect(existsSync(new URL(file!, DIR)), `${where}: ${file} exists`).toBe(true);
        expect(titles.get(title!), `${where}: test "${title}" in ${file}`).toBe(file);
        expect(title!.endsWith(` × ${TRIGGERS[i]}`), `${where}: "${title}" is a test of this trigger`).toBe(true);
        named.add(title!);
      });
    }
    // No test of the matrix is left out of it.
    expect([...titles.keys()].filter((t) => !named.has(t))).toEqual([]);
    // The summary says what the table holds.
    expect(DOC).toContain(`**Summary.** ${meaningful} of the 192 cells`);
    expect(DOC).toContain(`${na} are \`N/A\``);
    expect(DOC).toContain(`(${titles.size} tests:`);
    const classes = [...DOC.matchAll(/^\| [^|]+ \| (\d+) \|$/gm)].map((m) => Number(m[1]));
    expect(classes.reduce((a, b) => a + b, 0)).toBe(na);
    expect(meaningful + na).toBe(192);
  });
});
