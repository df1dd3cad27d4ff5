/**
 * The Node flags swapstate runs with (issue 16: the young generation's size, no allocation-site
 * pretenuring, no Maglev; docs/perf/issue16-phase9.md) are written twice: in the `swapstate`
 * command's shebang and in `npm start`. They must be the same, and the Node running this suite
 * must accept every one of them: Node refuses to start on a V8 flag it does not know, so a
 * flag a future Node line drops would stop swapstate from starting at all.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from './cli-harness.ts';

/** The flags between `node` and the first argument that is not a flag. */
function flagsAfterNode(words: string[]): string[] {
  const at = words.indexOf('node');
  if (at === -1) throw new Error(`no node in ${words.join(' ')}`);
  const out: string[] = [];
  for (const w of words.slice(at + 1)) {
    if (!w.startsWith('--') || w === '--import') break;
    out.push(w);
  }
  return out;
}

const shebang = readFileSync(join(ROOT, 'src/main.ts'), 'utf8').split('\n', 1)[0]!;
const start = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts.start!;

describe("swapstate's Node flags", () => {
  const fromShebang = flagsAfterNode(shebang.replace(/^#!\/usr\/bin\/env -S /, '').split(/\s+/));
  const fromStart = flagsAfterNode(start.split(/\s+/));

  it('the shebang and npm start pass the same ones', () => {
    expect(fromShebang).toContain('--no-maglev');
    expect(fromShebang).toContain('--no-allocation-site-pretenuring');
    expect(fromStart).toEqual(fromShebang);
  });

  it(`this Node (${process.version}) accepts them all`, () => {
    const r = spawnSync(process.execPath, [...fromShebang, '-e', 'process.stdout.write("ok")'], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('ok');
    expect(r.status).toBe(0);
  });
});
